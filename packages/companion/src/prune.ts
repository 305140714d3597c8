/**
 * From pahole's raw output to the companion's BTF (docs/design.md §2): split BTF on vmlinux BTF holding
 * the VARs of the module's globals, the DATASECs that group them, and the closure of the types they
 * need that vmlinux BTF lacks. pahole's split encoding has already deduplicated against the base,
 * so "lacks" = "lives in the split part"; everything else pahole emits (FUNC, FUNC_PROTO of
 * functions, types only functions use) is dropped.
 *
 * The pruning itself is @kbtf/btf's `pruneSplit` (roots = the DATASECs; it also repairs pahole
 * 1.30's duplicate DATASEC entries at one offset and drops the bogus `.debug_info` DATASEC); this
 * wrapper adds the numbers the batch summary reports.
 */
import { parseBtf, pruneSplit, sectionAnchorsType, writeBtf, type AnchorInput, type Btf } from '@kbtf/btf';
import { EMPTY_DATASEC, realignDatasecs } from './datasec.js';
import type { ElfFile } from '@kbtf/binary';

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
  /** VAR entries moved to the section and offset of the module's own symbol (datasec.ts). */
  movedEntries: number;
  /** vmlinux: enumerators of `kbtf_section_anchors` (sections and symbols anchored; @kbtf/btf anchors.ts). */
  anchors?: number;
}

export interface PruneResult {
  btf: Uint8Array;
  stats: PruneStats;
}

/**
 * Prune pahole's split BTF `raw` (on `base`, the kernel's vmlinux BTF) to a companion's BTF. With
 * the module's ELF (its -dbg file), VARs are first put where its symbol table says (datasec.ts).
 */
export function pruneCompanionBtf(raw: Uint8Array, base: Btf, source = 'pahole BTF', elf?: ElfFile, anchors?: AnchorInput): PruneResult {
  let btf = parseBtf(raw, { base, source });
  const rawTypes = btf.count;
  let movedEntries = 0;
  if (elf) {
    const r = realignDatasecs(btf, elf);
    movedEntries = r.moved;
    if (r.moved) btf = parseBtf(writeBtf(r.types, { base }), { base, source: `${source} (realigned)` });
  }
  const r = pruneSplit(btf, { dropDatasecs: ['.debug_info', EMPTY_DATASEC] });
  // The vmlinux companion: one ENUM64 of section anchors after the pruned types (contract version 2).
  const anchorType = anchors && sectionAnchorsType(btf.firstId + r.types.length, anchors);
  const bytes = anchorType ? writeBtf([...r.types, anchorType], { base, littleEndian: btf.littleEndian }) : r.bytes;
  return {
    btf: bytes,
    stats: {
      rawTypes,
      types: r.types.length,
      vars: r.types.filter((t) => t.kind === 'var').length,
      datasecs: r.types.filter((t) => t.kind === 'datasec').length,
      duplicateEntries: r.droppedEntries.length,
      droppedDatasecs: r.droppedDatasecs.filter((d) => d !== EMPTY_DATASEC),
      movedEntries,
      ...(anchorType ? { anchors: anchorType.values.length } : {}),
    },
  };
}
