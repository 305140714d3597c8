/**
 * From pahole's raw output to the companion's BTF (DESIGN.md §2): split BTF on vmlinux BTF holding
 * the VARs of the module's globals, the DATASECs that group them, and the closure of the types they
 * need that vmlinux BTF lacks. pahole's split encoding has already deduplicated against the base,
 * so "lacks" = "lives in the split part"; everything else pahole emits (FUNC, FUNC_PROTO of
 * functions, types only functions use) is dropped.
 *
 * It also repairs what pahole 1.30 gets wrong, checked against the 6.1 loader
 * (kernel/bpf/btf.c, btf_datasec_check_meta):
 *  - the same variable twice at one DATASEC offset (48 in Debian's 6.1 vmlinux: `bpf_*_proto`,
 *    `init_uts_ns`, …): entries must be sorted and must not overlap ("Invalid offset"); keep the
 *    first of each overlapping run;
 *  - a DATASEC named `.debug_info` for `.note.Linux` symbols: not a loaded section; dropped;
 *  - a DATASEC left with no entries ("vlen == 0") or of size 0 ("size == 0"): dropped;
 *  - an entry past its section's end ("Invalid offset+size"): dropped.
 */
import { UsageError } from '@kbtf/binary';
import { parseBtf, writeBtf, type Btf, type BtfType, type DatasecType, type VarSecInfo } from '@kbtf/btf';

/** DATASECs pahole emits that are no loaded section of the module. */
export const BOGUS_DATASECS: ReadonlySet<string> = new Set(['.debug_info']);

export interface PruneStats {
  /** Types in pahole's split BTF. */
  rawTypes: number;
  /** Types kept. */
  types: number;
  vars: number;
  datasecs: number;
  /** DATASEC entries dropped because they overlapped an earlier one (duplicates). */
  duplicateEntries: number;
  /** DATASECs dropped as bogus, empty or zero-sized. */
  droppedDatasecs: string[];
}

export interface PruneResult {
  btf: Uint8Array;
  stats: PruneStats;
}

/** Clean a DATASEC's entries to what the kernel accepts; `dropped` counts the removed ones. */
export function cleanDatasec(sec: DatasecType): { vars: VarSecInfo[]; dropped: number } {
  const sorted = [...sec.vars].sort((a, b) => a.offset - b.offset || a.type - b.type);
  const vars: VarSecInfo[] = [];
  let end = 0;
  for (const v of sorted) {
    if (v.size === 0 || v.offset < end || v.offset + v.size > sec.size || v.type === 0) continue;
    vars.push(v);
    end = v.offset + v.size;
  }
  return { vars, dropped: sec.vars.length - vars.length };
}

/** Ids a type refers to. */
export function typeRefs(t: BtfType): number[] {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'func':
    case 'var':
    case 'decl_tag':
      return [t.type];
    case 'array':
      return [t.type, t.indexType];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'func_proto':
      return [t.type, ...t.params.map((p) => p.type)];
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}

/** A copy of `t` with every reference mapped through `map`. */
export function remapType(t: BtfType, map: (id: number) => number): BtfType {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'func':
    case 'var':
    case 'decl_tag':
      return { ...t, type: map(t.type) };
    case 'array':
      return { ...t, type: map(t.type), indexType: map(t.indexType) };
    case 'struct':
    case 'union':
      return { ...t, members: t.members.map((m) => ({ ...m, type: map(m.type) })) };
    case 'func_proto':
      return { ...t, type: map(t.type), params: t.params.map((p) => ({ ...p, type: map(p.type) })) };
    case 'datasec':
      return { ...t, vars: t.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return t;
  }
}

/**
 * Prune pahole's split BTF `raw` (on `base`, the kernel's vmlinux BTF) to a companion's BTF.
 * The kept types keep their relative order; ids are renumbered from the base's end.
 */
export function pruneCompanionBtf(raw: Uint8Array, base: Btf, source = 'pahole BTF'): PruneResult {
  const btf = parseBtf(raw, { base, source });
  const first = btf.firstId;
  const stats: PruneStats = { rawTypes: btf.count, types: 0, vars: 0, datasecs: 0, duplicateEntries: 0, droppedDatasecs: [] };

  // Roots: the cleaned DATASECs of the split part.
  const replaced = new Map<number, BtfType>();
  const keep = new Set<number>();
  const work: number[] = [];
  for (const t of btf.types()) {
    if (t.id < first || t.kind !== 'datasec') continue;
    const { vars, dropped } = cleanDatasec(t);
    if (BOGUS_DATASECS.has(t.name) || vars.length === 0 || t.size === 0) {
      stats.droppedDatasecs.push(t.name);
      continue;
    }
    stats.duplicateEntries += dropped;
    replaced.set(t.id, { ...t, vars });
    keep.add(t.id);
    work.push(...vars.map((v) => v.type));
  }
  // Closure over the split part (ids below `first` are vmlinux's and stay as they are).
  while (work.length > 0) {
    const id = work.pop()!;
    if (id < first || keep.has(id)) continue;
    keep.add(id);
    work.push(...typeRefs(btf.type(id)));
  }
  // DECL_TAGs on kept types (btf_decl_tag on a global or its struct) come along.
  for (const t of btf.types()) {
    if (t.id >= first && t.kind === 'decl_tag' && keep.has(t.type)) keep.add(t.id);
  }

  const ids = [...keep].sort((a, b) => a - b);
  const newId = new Map<number, number>(ids.map((id, i) => [id, first + i]));
  const map = (id: number): number => {
    if (id < first) return id;
    const n = newId.get(id);
    if (n === undefined) throw new UsageError(`${source}: kept type refers to dropped type [${id}]`);
    return n;
  };
  const types = ids.map((id) => remapType(replaced.get(id) ?? btf.type(id), map));
  for (const t of types) {
    if (t.kind === 'var') stats.vars++;
    else if (t.kind === 'datasec') stats.datasecs++;
  }
  stats.types = types.length;
  return { btf: writeBtf(types, { base }), stats };
}
