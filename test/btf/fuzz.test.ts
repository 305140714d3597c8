/**
 * Bounded fuzzing: mutations of real BTF (a lab module's split BTF and a small base blob) must give
 * a result or a typed KbtfError from parse, every query, every printer and the validator — never
 * another exception or a hang. Deterministic (seeded), bounded by iterations and time.
 */
import { describe, expect, it } from 'vitest';
import { KbtfError } from '@kbtf/binary';
import { formatC, formatRaw, parseBtf, sizeOf, validateBtf, type Btf } from '@kbtf/btf';
import { TestBtf, rng } from '../../packages/btf/src/test-builder.js';
import { labKernels, labModuleBtf, labVmlinuxBtf } from './lab-btf.js';

const INTERESTING = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x00ffffff, 0x0fffffff, 12, 24];

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const op = r();
    if (op < 0.4) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
    else if (op < 0.8) {
      const at = Math.floor(r() * (b.length - 4)) & ~3;
      new DataView(b.buffer).setUint32(at, INTERESTING[Math.floor(r() * INTERESTING.length)], true);
    } else if (op < 0.9) return b.subarray(0, Math.floor(r() * b.length));
    else {
      const at = 4 + Math.floor(r() * 20);
      new DataView(b.buffer).setUint32(at & ~3, Math.floor(r() * 0x100000000), true);
    }
  }
  return b;
}

function outcome(f: () => number): string {
  try {
    return `= ${f()}`;
  } catch (e) {
    if (!(e instanceof KbtfError)) throw e;
    return `${e.constructor.name}: ${e.message}`;
  }
}

/** Btf.datasecEntries (columns read from the record) against the decoded type's vars. */
function expectSameEntries(btf: Btf, id: number): void {
  const t = btf.typeOfKind(id, 'datasec');
  const e = btf.datasecEntries(id);
  expect(
    Array.from(e.types, (type, i) => ({ type, offset: e.offsets[i], size: e.sizes[i] })),
    `datasecEntries [${id}]`,
  ).toEqual(t.vars);
}

function exercise(bytes: Uint8Array, base?: Btf): void {
  const v = validateBtf(bytes, { base });
  expect(typeof v.valid).toBe('boolean');
  try {
    const btf = parseBtf(bytes, { base });
    for (const t of btf.types()) {
      // Btf.sizeof reads records without decoding; the decoding sizeOf is the reference.
      expect(outcome(() => btf.sizeof(t.id)), `sizeof [${t.id}]`).toBe(outcome(() => sizeOf(btf, t.id)));
      if (t.kind === 'datasec') expectSameEntries(btf, t.id);
      try {
        btf.sizeof(t.id);
        btf.alignof(t.id);
        btf.resolve(t.id);
      } catch (e) {
        if (!(e instanceof KbtfError)) throw e;
      }
    }
    formatRaw(btf);
    if (!base) formatC(btf);
  } catch (e) {
    if (!(e instanceof KbtfError)) throw e;
  }
}

describe('fuzz: mutated BTF gives typed errors only', () => {
  it('small base blob and a real module split blob, 3000 mutations, < 20 s', () => {
    const b = new TestBtf();
    const int = b.int('int');
    const s = b.struct('node', 16, [['val', int, 0], ['next', 3, 64], ['bits', int, 96, 3]], { kflag: true });
    b.ptr(s);
    b.enum('e', 4, [['A', 1], ['B', -1]], true);
    b.enum64('e64', 8, [['C', 1n << 40n]]);
    const arr = b.array(int, int, 4);
    b.typedef('arr_t', arr);
    const v = b.var('x', int);
    b.datasec('.data', 8, [[v, 0, 4]]);
    const proto = b.funcProto(int, [['a', int], ['', 0]]);
    b.func('f', proto);
    b.declTag('tag', s, 0);
    b.typeTag('user', 3);
    b.float('double', 8);
    const small = b.build();
    const k = labKernels()[0];
    const vm = parseBtf(labVmlinuxBtf(k));
    const mod = labModuleBtf(k, 'loop');
    const r = rng(0x6b627466);
    const deadline = Date.now() + 20_000;
    let runs = 0;
    for (; runs < 3000 && Date.now() < deadline; runs++) {
      if (runs % 2) exercise(mutate(small, r));
      else exercise(mutate(mod, r), vm);
    }
    expect(runs).toBeGreaterThan(500);
  });

  it('Btf.sizeof and datasecEntries (read from the records) equal the decoding sizeOf and the decoded vars on every type of each lab kernel\'s vmlinux BTF', () => {
    let sized = 0;
    let datasecs = 0;
    for (const k of labKernels()) {
      const btf = parseBtf(labVmlinuxBtf(k));
      for (let id = 1; id < btf.endId; id++) {
        const want = outcome(() => sizeOf(btf, id));
        expect(outcome(() => btf.sizeof(id)), `${k.kver} [${id}]`).toBe(want);
        if (want.startsWith('=')) sized++;
        if (btf.kindOf(id) === 'datasec') {
          expectSameEntries(btf, id);
          datasecs++;
        }
      }
    }
    expect(sized).toBeGreaterThan(50_000);
    expect(datasecs).toBeGreaterThan(0);
  });

  it('hostile counts stay bounded: huge vlen, huge section lengths, loops', () => {
    const b = new TestBtf();
    b.raw('x', (4 << 24) | 0xffff, 8);
    expect(() => parseBtf(b.build())).toThrow(KbtfError);
    expect(validateBtf(b.build()).errors[0].message).toMatch(/^meta_left:0 meta_needed:786420$/);
    const big = new TestBtf();
    big.int('int');
    expect(() => parseBtf(big.build({ typeLen: 0xfffffff0 }))).toThrow(KbtfError);
    expect(() => parseBtf(big.build({ hdrLen: 0xffffffff }))).toThrow(KbtfError);
    const loop = new TestBtf();
    loop.typedef('a', 2);
    loop.typedef('b', 1);
    const btf = parseBtf(loop.build());
    expect(() => btf.sizeof(1)).toThrow(KbtfError);
    expect(() => btf.resolve(1)).toThrow(KbtfError);
    expect(formatRaw(btf)).toMatch(/TYPEDEF 'a' type_id=2/);
  });
});
