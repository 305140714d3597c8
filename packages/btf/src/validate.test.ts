import { describe, expect, it } from 'vitest';
import { validateBtf } from './validate.js';
import { parseBtf } from './btf.js';
import { K, TestBtf } from './test-builder.js';
import { HEADER_CASES, META_CASES, RESOLVE_CASES, RESOLVE_QUIRKS, good, stringsFirst } from './test-validate-cases.js';

function expectError(bytes: Uint8Array, message: string | RegExp, opts: Parameters<typeof validateBtf>[1] = {}) {
  const r = validateBtf(bytes, opts);
  expect(r.valid).toBe(false);
  expect(r.errors[0].message).toMatch(typeof message === 'string' ? new RegExp(`^${message.replace(/[[\]().*+?^$|\\]/g, '\\$&')}$`) : message);
  return r.errors[0];
}

describe('validateBtf: valid input', () => {
  it('accepts a small valid blob in both modes and both byte orders', () => {
    expect(validateBtf(good().build())).toMatchObject({ valid: true, errors: [] });
    expect(validateBtf(good().build(), { mode: 'module' }).valid).toBe(true);
    expect(validateBtf(good().build({ littleEndian: false })).valid).toBe(true);
    expect(validateBtf(good().build({ littleEndian: false }), { littleEndian: true }).errors[0].message).toBe('Invalid magic');
  });
});

describe('validateBtf: header and string section (btf_parse_hdr, btf_parse_str_sec)', () => {
  for (const [name, make, msg] of HEADER_CASES) it(name, () => expectError(make(), msg));
  it('String section is not at the end', () => expectError(stringsFirst(), 'String section is not at the end'));
});

describe('validateBtf: per-type meta checks (btf_check_all_metas)', () => {
  for (const [name, add, msg] of META_CASES) {
    it(name, () => {
      const b = good();
      add(b);
      const e = expectError(b.build(), msg, { mode: 'module' });
      expect(e.typeId).toBe(10);
    });
  }
  it("6.1 rules reject kind_flag on tags; 'current' accepts TYPE_TAG with kind_flag", () => {
    const b = good();
    b.rec(K.TYPE_TAG, 'user', 1, [], 0, true);
    expect(validateBtf(b.build()).valid).toBe(true);
    expectError(b.build(), 'Invalid btf_info kind_flag', { kernel: '6.1' });
  });
  it("DECL_TAG kind_flag: 6.1 rejects it; 'current' (as 6.18) accepts it with or without a component", () => {
    for (const comp of [-1, 0, 1]) {
      const b = good();
      b.rec(K.DECL_TAG, 'aligned(8)', 4, [comp], 0, true);
      expect(validateBtf(b.build(), { kernel: 'current' }).errors).toEqual([]);
      expect(expectError(b.build(), 'Invalid btf_info kind_flag', { kernel: '6.1', mode: 'module' }).typeId).toBe(10);
    }
    const bad = good();
    bad.rec(K.DECL_TAG, 'aligned(8)', 4, [2], 0, true);
    expectError(bad.build(), 'Invalid component_idx');
  });
});

describe('validateBtf: resolve (btf_check_all_types, BPF loads)', () => {
  for (const [name, add, msg] of RESOLVE_CASES) {
    it(name, () => {
      const b = good();
      add(b);
      const bytes = b.build();
      const e = expectError(bytes, msg);
      expect(e.typeId).toBeGreaterThanOrEqual(10);
    });
  }
  for (const [name, add, want] of RESOLVE_QUIRKS) {
    it(`kernel quirk: ${name}`, () => {
      const b = good();
      add(b);
      const r = validateBtf(b.build());
      if (!want) expect(r.errors).toEqual([]);
      else expect(r.errors[0]).toMatchObject({ message: want[0], typeId: want[1] });
    });
  }
  it("Type tags don't precede modifiers", () => {
    const b = good();
    b.typeTag('user', 11);
    b.ref(K.CONST, 12);
    b.typeTag('rcu', 1);
    expectError(b.build(), "Type tags don't precede modifiers", { mode: 'module' });
  });
});

describe('validateBtf: split BTF against its base', () => {
  it('continues ids and string offsets, and checks references into the base', () => {
    const baseBytes = good().build();
    const base = parseBtf(baseBytes);
    const split = new TestBtf(base.endId, base.strings.end);
    const p = split.ptr(4); // pointer to base struct node
    const v = split.var('mod_counter', p);
    split.datasec('.data', 8, [[v, 0, 8]]);
    const bytes = split.build({ strings: undefined });
    expect(validateBtf(bytes, { base })).toMatchObject({ valid: true });
    expect(parseBtf(bytes, { base }).type(v)).toMatchObject({ kind: 'var', name: 'mod_counter', type: p });
    const bad = new TestBtf(base.endId, base.strings.end);
    bad.var('x', 6); // VAR of a base VAR
    expectError(bad.build(), 'Invalid type_id', { base });
    const badName = new TestBtf(base.endId, base.strings.end);
    badName.raw(base.strings.end + 100, K.INT << 24, 4, 32);
    expectError(badName.build(), `Invalid name_offset:${base.strings.end + 100}`, { base });
  });
});
