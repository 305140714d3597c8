import { describe, expect, it } from 'vitest';
import { BadDataError } from '@kbtf/binary';
import { FlattenedSource } from './flattened.js';
import { openVmcoreSource } from './open.js';
import { MemorySource } from './source.js';
import { buildElf, buildKdump, flatten, zlibPage } from './test-writer.js';

const pagesOf = (n: number) => new Map(Array.from({ length: n }, (_, i) => [i * 3 + 1, new Uint8Array(4096).fill(i + 1)] as const));

describe('flattened format', () => {
  const kdump = buildKdump({ maxMapnr: 512, pages: pagesOf(20), excluded: [2, 3], encode: zlibPage, vmcoreinfo: 'OSRELEASE=6.1.0-flat\n' });

  it('reads a kdump file through the record index, without reassembly', () => {
    for (const recordSize of [1000, 4096, 65536]) {
      const core = openVmcoreSource(new MemorySource('t.flat', flatten(kdump, recordSize)));
      expect(core.format).toBe('kdump-flattened');
      expect(core.vmcoreinfo?.osRelease).toBe('6.1.0-flat');
      for (let i = 0; i < 20; i++) expect(core.read(BigInt(i * 3 + 1) * 4096n + 100n, 1)[0]).toBe(i + 1);
      expect(() => core.read(2n * 4096n, 1)).toThrow(/excluded/);
    }
  });

  it('later records overwrite earlier ones (makedumpfile rewrites its header)', () => {
    const src = new FlattenedSource(new MemorySource('t.flat', flatten(kdump, 3000, true)));
    expect(Buffer.from(src.read(0, 8)).toString('latin1')).toBe('KDUMP   ');
    expect(Buffer.from(src.read(0, kdump.length)).equals(Buffer.from(kdump))).toBe(true);
    expect(src.size).toBe(kdump.length);
  });

  it('reads a flattened ELF core (makedumpfile -E -F)', () => {
    const elf = buildElf({ segments: [{ paddr: 0x2000n, data: new Uint8Array(8192).fill(9) }] });
    const core = openVmcoreSource(new MemorySource('e.flat', flatten(elf, 777)));
    expect(core.format).toBe('elf');
    expect(core.header.flattened).toBe(true);
    expect(core.read(0x2ffen, 4)).toEqual(new Uint8Array([9, 9, 9, 9]));
  });

  it('throws BadDataError on truncation at every record boundary and on bad records', () => {
    const flat = flatten(kdump, 4096);
    for (const cut of [0, 20, 4096, 4096 + 8, 4096 + 16 + 100, flat.length - 16, flat.length - 1]) {
      expect(() => new FlattenedSource(new MemorySource('cut.flat', flat.slice(0, cut))), `cut ${cut}`).toThrow(BadDataError);
    }
    const bad = flat.slice();
    new DataView(bad.buffer).setBigInt64(4096 + 8, 1n << 50n, false);
    expect(() => new FlattenedSource(new MemorySource('bad.flat', bad))).toThrow(/bad flattened record/);
  });

  it('checks the header type and version (makedumpfile writes 1 and 1)', () => {
    const flat = flatten(kdump, 4096);
    const at = (off: number, v: bigint) => {
      const c = flat.slice();
      new DataView(c.buffer).setBigInt64(off, v, false);
      return () => new FlattenedSource(new MemorySource('h.flat', c));
    };
    expect(at(16, 2n)).toThrow(/offset 0x10: flattened header type 2, not 1/);
    expect(at(16, 0n)).toThrow(BadDataError);
    expect(at(24, 2n)).toThrow(/flattened format version 2/);
  });

  it('reports indexing progress', () => {
    const seen: number[] = [];
    const flat = flatten(kdump, 4096);
    new FlattenedSource(new MemorySource('p.flat', flat), { progress: (done) => seen.push(done) });
    expect(seen[seen.length - 1]).toBe(flat.length);
  });

  /** A flattened file from explicit records, and what `makedumpfile -R` would make of it. */
  function records(list: [number, Uint8Array][]): { flat: Uint8Array; whole: Uint8Array } {
    const size = list.reduce((m, [o, d]) => Math.max(m, o + d.length), 0);
    const whole = new Uint8Array(size);
    const parts: Uint8Array[] = [];
    const head = new Uint8Array(4096);
    head.set(Buffer.from('makedumpfile'));
    new DataView(head.buffer).setBigInt64(16, 1n, false);
    new DataView(head.buffer).setBigInt64(24, 1n, false);
    parts.push(head);
    for (const [o, d] of [...list, [-1, undefined] as unknown as [number, Uint8Array]]) {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setBigInt64(0, BigInt(o), false);
      new DataView(h.buffer).setBigInt64(8, d ? BigInt(d.length) : -1n, false);
      parts.push(h);
      if (d) {
        parts.push(d);
        whole.set(d, o);
      }
    }
    return { flat: Buffer.concat(parts), whole };
  }

  it('overlapping records in any order read as -R would reassemble them', () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let round = 0; round < 50; round++) {
      const list: [number, Uint8Array][] = [];
      for (let r = 0; r < 1 + rand(40); r++) list.push([rand(300), new Uint8Array(1 + rand(60)).fill(1 + rand(250))]);
      const { flat, whole } = records(list);
      const src = new FlattenedSource(new MemorySource('r.flat', flat));
      expect(src.size).toBe(whole.length);
      expect(Buffer.from(src.read(0, whole.length)).equals(Buffer.from(whole)), `round ${round}`).toBe(true);
      for (let k = 0; k < 20; k++) {
        const at = rand(whole.length);
        const n = rand(whole.length - at + 1);
        expect(Buffer.from(src.read(at, n)).equals(Buffer.from(whole.subarray(at, at + n)))).toBe(true);
      }
    }
  });

  it('400,000 one-byte records in descending order index in one sweep (was quadratic: minutes)', () => {
    const n = 400_000;
    const flat = new Uint8Array(4096 + n * 17 + 16);
    flat.set(Buffer.from('makedumpfile'));
    const dv = new DataView(flat.buffer);
    dv.setBigInt64(16, 1n, false);
    dv.setBigInt64(24, 1n, false);
    let p = 4096;
    for (let i = n - 1; i >= 0; i--, p += 17) {
      dv.setBigInt64(p, BigInt(i), false);
      dv.setBigInt64(p + 8, 1n, false);
      flat[p + 16] = i & 0xff;
    }
    dv.setBigInt64(p, -1n, false);
    dv.setBigInt64(p + 8, -1n, false);
    const src = new FlattenedSource(new MemorySource('desc.flat', flat));
    expect(src.records).toBe(n);
    const got = src.read(0, n);
    for (let i = 0; i < n; i += 997) expect(got[i]).toBe(i & 0xff);
  });
});
