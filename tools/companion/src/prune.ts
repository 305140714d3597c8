/**
 * From pahole's raw output to the companion's BTF (DESIGN.md §2): split BTF on vmlinux BTF holding
 * the VARs of the module's globals, the DATASECs that group them, and the closure of the types they
 * need that vmlinux BTF lacks. pahole's split encoding has already deduplicated against the base,
 * so "lacks" = "lives in the split part"; everything else pahole emits (FUNC, FUNC_PROTO of
 * functions, types only functions use) is dropped.
 *
 * The pruning itself is @kbtf/btf's `pruneSplit` (roots = the DATASECs; it also repairs pahole
 * 1.30's duplicate DATASEC entries at one offset and drops the bogus `.debug_info` DATASEC); this
 * wrapper adds the numbers the batch summary reports.
 */
import { parseBtf, pruneSplit, type Btf } from '@kbtf/btf';

export interface PruneStats {
  /** Types in pahole's split BTF. */
  rawTypes: number;
  /** Types kept. */
  types: number;
  vars: number;
  datasecs: number;
  /** DATASEC entries dropped because they overlapped an earlier one (duplicates). */
  duplicateEntries: number;
  /** DATASECs dropped by name (pahole's `.debug_info`). */
  droppedDatasecs: string[];
}

export interface PruneResult {
  btf: Uint8Array;
  stats: PruneStats;
}

/** Prune pahole's split BTF `raw` (on `base`, the kernel's vmlinux BTF) to a companion's BTF. */
export function pruneCompanionBtf(raw: Uint8Array, base: Btf, source = 'pahole BTF'): PruneResult {
  const btf = parseBtf(raw, { base, source });
  const r = pruneSplit(btf);
  return {
    btf: r.bytes,
    stats: {
      rawTypes: btf.count,
      types: r.types.length,
      vars: r.types.filter((t) => t.kind === 'var').length,
      datasecs: r.types.filter((t) => t.kind === 'datasec').length,
      duplicateEntries: r.droppedEntries.length,
      droppedDatasecs: r.droppedDatasecs,
    },
  };
}
