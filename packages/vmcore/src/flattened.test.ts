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

  it('reports indexing progress', () => {
    const seen: number[] = [];
    const flat = flatten(kdump, 4096);
    new FlattenedSource(new MemorySource('p.flat', flat), { progress: (done) => seen.push(done) });
    expect(seen[seen.length - 1]).toBe(flat.length);
  });
});
