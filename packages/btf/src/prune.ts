/**
 * Pruning split BTF for companion modules (docs/design.md §2): keep the roots (by default every DATASEC
 * and the VARs they hold) and every type they reach that the base lacks, renumbered after the base.
 * Two pahole 1.30 quirks are repaired on the way: a variable emitted twice at the same DATASEC
 * offset (the kernel rejects overlapping entries: "Invalid offset") and the bogus `.debug_info`
 * DATASEC holding `.note.Linux` symbols.
 */
import { UsageError } from '@kbtf/binary';
import type { Btf } from './btf.js';
import type { BtfType, DatasecType, VarSecInfo } from './types.js';
import { writeBtf } from './writer.js';

/** Ids a type refers to (0 = void included). */
export function typeRefs(t: BtfType): number[] {
  switch (t.kind) {
    case 'int':
    case 'fwd':
    case 'float':
    case 'enum':
    case 'enum64':
      return [];
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
      return [t.type];
  }
}

/** A copy of `t` with every reference passed through `map`. */
export function remapType(t: BtfType, map: (id: number) => number, newId = t.id): BtfType {
  switch (t.kind) {
    case 'int':
    case 'fwd':
    case 'float':
    case 'enum':
    case 'enum64':
      return { ...t, id: newId };
    case 'array':
      return { ...t, id: newId, type: map(t.type), indexType: map(t.indexType) };
    case 'struct':
    case 'union':
      return { ...t, id: newId, members: t.members.map((m) => ({ ...m, type: map(m.type) })) };
    case 'func_proto':
      return { ...t, id: newId, type: map(t.type), params: t.params.map((p) => ({ ...p, type: map(p.type) })) };
    case 'datasec':
      return { ...t, id: newId, vars: t.vars.map((v) => ({ ...v, type: map(v.type) })) };
    default:
      return { ...t, id: newId, type: map(t.type) };
  }
}

/**
 * Drop DATASEC entries that overlap an earlier one (sorted by offset; pahole 1.30 emits e.g.
 * `bpf_*_proto` and `init_uts_ns` twice at one offset). Returns the fixed type and what was dropped.
 */
export function dedupDatasecEntries(t: DatasecType): { type: DatasecType; dropped: VarSecInfo[] } {
  const sorted = [...t.vars].sort((a, b) => a.offset - b.offset);
  const kept: VarSecInfo[] = [];
  const dropped: VarSecInfo[] = [];
  let end = 0;
  for (const v of sorted) {
    if (kept.length && v.offset < end) dropped.push(v);
    else {
      kept.push(v);
      end = v.offset + v.size;
    }
  }
  return { type: { ...t, vars: kept }, dropped };
}

export interface PruneOptions {
  /** Root type ids (of the split BTF). Default: every kept DATASEC and VARs no DATASEC holds. */
  roots?: number[];
  /** DATASEC names to drop with the VARs only they hold (default ['.debug_info'] — pahole's bogus one). */
  dropDatasecs?: string[];
  /** Drop overlapping DATASEC entries (default true). */
  dedupDatasecs?: boolean;
  littleEndian?: boolean;
}

export interface PruneResult {
  /** The new split BTF blob, on the same base. */
  bytes: Uint8Array;
  /** The kept types, renumbered, in order. */
  types: BtfType[];
  /** Old split id → new id. */
  idMap: Map<number, number>;
  /** DATASEC entries dropped as duplicates, and DATASECs dropped by name. */
  droppedEntries: { datasec: string; entry: VarSecInfo }[];
  droppedDatasecs: string[];
}

/** Prune split BTF to its roots and the non-base types they reach. */
export function pruneSplit(btf: Btf, opts: PruneOptions = {}): PruneResult {
  const base = btf.base;
  if (!base) throw new UsageError(`${btf.source}: pruning needs split BTF (with its base)`);
  const drop = new Set(opts.dropDatasecs ?? ['.debug_info']);
  const dedup = opts.dedupDatasecs ?? true;
  const replaced = new Map<number, BtfType>();
  const droppedEntries: PruneResult['droppedEntries'] = [];
  const droppedDatasecs: string[] = [];
  const droppedIds = new Set<number>();
  const heldByDatasec = new Set<number>();
  for (const t of btf.typesOfKind('datasec')) {
    for (const v of t.vars) heldByDatasec.add(v.type);
    if (drop.has(t.name)) {
      droppedDatasecs.push(t.name);
      droppedIds.add(t.id);
      continue;
    }
    if (dedup) {
      const r = dedupDatasecEntries(t);
      if (r.dropped.length) {
        replaced.set(t.id, r.type);
        for (const e of r.dropped) droppedEntries.push({ datasec: t.name, entry: e });
      }
    }
  }
  const get = (id: number) => replaced.get(id) ?? btf.type(id);
  let roots = opts.roots;
  if (!roots) {
    roots = [];
    for (const id of btf.ids()) {
      const k = btf.kindOf(id);
      if ((k === 'datasec' && !droppedIds.has(id)) || (k === 'var' && !heldByDatasec.has(id))) roots.push(id);
    }
  }
  const keep = new Set<number>();
  const stack: number[] = [];
  for (const r of roots) {
    if (!btf.has(r)) throw new UsageError(`${btf.source}: root type id ${r} out of range`);
    if (r >= btf.firstId && !droppedIds.has(r)) stack.push(r);
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    for (const ref of typeRefs(get(id))) if (ref >= btf.firstId && !keep.has(ref)) stack.push(ref);
  }
  const idMap = new Map<number, number>();
  let next = btf.firstId;
  for (let id = btf.firstId; id < btf.endId; id++) if (keep.has(id)) idMap.set(id, next++);
  const map = (id: number) => (id < btf.firstId ? id : idMap.get(id)!);
  const types: BtfType[] = [];
  for (const [oldId, newId] of idMap) types.push(remapType(get(oldId), map, newId));
  const bytes = writeBtf(types, { base, littleEndian: opts.littleEndian ?? btf.littleEndian });
  return { bytes, types, idMap, droppedEntries, droppedDatasecs };
}
