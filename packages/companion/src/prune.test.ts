import { describe, expect, it } from 'vitest';
import { parseBtf, readSectionAnchors, validateBtf, writeBtf, type BtfType, type CompositeType } from '@kbtf/btf';
import { pruneCompanionBtf } from './prune.js';

const base = parseBtf(
  writeBtf([
    { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitsOffset: 0, bits: 32 },
    { id: 2, kind: 'struct', name: 'foo', size: 4, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
  ] as BtfType[]),
  { source: 'base' },
);

// What pahole 1.30 writes for a module: split on `base`, with functions, a duplicate entry and the
// bogus .debug_info DATASEC.
const raw = writeBtf(
  [
    { id: 3, kind: 'struct', name: 'bar', size: 8, members: [{ name: 'x', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'f', type: 2, bitOffset: 32, bitfieldSize: 0 }] },
    { id: 4, kind: 'var', name: 'v1', type: 3, linkage: 0 },
    { id: 5, kind: 'var', name: 'v2', type: 1, linkage: 1 },
    { id: 6, kind: 'var', name: 'dup', type: 1, linkage: 1 },
    { id: 7, kind: 'func_proto', name: '', type: 1, params: [{ name: 'p', type: 12 }] },
    { id: 8, kind: 'func', name: 'f', type: 7, linkage: 1 },
    { id: 9, kind: 'datasec', name: '.data', size: 16, vars: [{ type: 5, offset: 8, size: 4 }, { type: 4, offset: 0, size: 8 }, { type: 6, offset: 8, size: 4 }] },
    { id: 10, kind: 'var', name: 'note', type: 1, linkage: 0 },
    { id: 11, kind: 'datasec', name: '.debug_info', size: 4, vars: [{ type: 10, offset: 0, size: 4 }] },
    { id: 12, kind: 'ptr', name: '', type: 3 },
    { id: 13, kind: 'decl_tag', name: 'tag', type: 4, componentIdx: -1 },
  ] as BtfType[],
  { base },
);

describe('pruneCompanionBtf', () => {
  const r = pruneCompanionBtf(raw, base, 'test');
  const out = parseBtf(r.btf, { base, source: 'pruned' });
  const types = [...out.types()].filter((t) => t.id >= out.firstId);

  it('keeps VARs, DATASECs and the split types they need, in order, renumbered', () => {
    expect(types.map((t) => `${t.id} ${t.kind} ${t.name}`)).toEqual(['3 struct bar', '4 var v1', '5 var v2', '6 datasec .data']);
    expect(out.typeOfKind(4, 'var').type).toBe(3);
    expect(out.typeOfKind(5, 'var').type).toBe(1); // base ids unchanged
    expect((out.type(3) as CompositeType).members.map((m) => m.type)).toEqual([1, 2]);
  });

  it('sorts DATASEC entries and drops the duplicate at one offset', () => {
    expect(out.typeOfKind(6, 'datasec').vars).toEqual([{ type: 4, offset: 0, size: 8 }, { type: 5, offset: 8, size: 4 }]);
    expect(r.stats.duplicateEntries).toBe(1);
  });

  it('drops the .debug_info DATASEC, functions, tags and unreachable types', () => {
    expect(r.stats.droppedDatasecs).toEqual(['.debug_info']);
    expect(types.some((t) => t.kind === 'func' || t.kind === 'decl_tag' || t.kind === 'func_proto' || t.kind === 'ptr' || t.name === 'note' || t.name === 'dup')).toBe(false);
    expect(r.stats).toMatchObject({ rawTypes: 11, types: 4, vars: 2, datasecs: 1 });
    expect(r.btf.byteLength).toBeLessThan(raw.byteLength);
  });
});


describe('pruneCompanionBtf with section anchors (vmlinux, docs/design.md §2)', () => {
  const stext = 0xffff800008010000n;
  const anchors = {
    sections: new Map([['.data', 0xffff800009cb0000n], ['.head.text', 0xffff800008000000n], ['.data..percpu', 0n]]),
    symbols: new Map([['__init_end', 0xffff800009cb0000n]]),
    reference: stext,
  };
  const r = pruneCompanionBtf(raw, base, 'test', undefined, anchors);
  const out = parseBtf(r.btf, { base, source: 'pruned' });

  it('appends one ENUM64 kbtf_section_anchors after the pruned types: section/symbol − _stext, signed; sections at 0 left out', () => {
    const last = out.type(out.endId - 1);
    expect(last).toMatchObject({ kind: 'enum64', name: 'kbtf_section_anchors', size: 8, signed: true });
    expect(readSectionAnchors(out)).toEqual(new Map([
      ['kbtf_sec__data', 0x1ca0000n], ['kbtf_sec__head_text', -0x10000n], ['kbtf_sym___init_end', 0x1ca0000n],
    ]));
    expect(r.stats.anchors).toBe(3);
    expect(r.stats.vars).toBe(2);
  });

  it('the kernel accepts it when the module loads (6.1 and current rules)', () => {
    for (const kernel of ['6.1', 'current'] as const) expect(validateBtf(r.btf, { base, mode: 'module', kernel }).errors).toEqual([]);
  });

  it('refuses two sections that escape to one enumerator', () => {
    const clash = { ...anchors, sections: new Map([['.data.x', 1n], ['.data_x', 2n]]) };
    expect(() => pruneCompanionBtf(raw, base, 'test', undefined, clash)).toThrow(/section \.data\.x and section \.data_x both escape to kbtf_sec__data_x/);
  });

  it('a companion without anchors (version 1) reads as none', () => {
    expect(readSectionAnchors(parseBtf(pruneCompanionBtf(raw, base, 'test').btf, { base, source: 'v1' }))).toBeUndefined();
  });
});
