import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compress as snappyCompress } from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { BadDataError, FaultError } from '@kbtf/binary';
import { openVmcore, openVmcoreSource } from './open.js';
import { MemorySource } from './source.js';
import { buildKdump, zlibPage, type KdumpOptions } from './test-writer.js';

const VMCOREINFO = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\nNUMBER(phys_base)=-27262976\nKERNELOFFSET=1e800000\n';

/** Pages with recognisable content: byte i of pfn p = (p * 7 + i) & 0xff, some all-zero. */
function pages(pfns: number[]): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const p of pfns) m.set(p, p % 5 === 0 ? new Uint8Array(4096) : Uint8Array.from({ length: 4096 }, (_, i) => (p * 7 + (i >> 3)) & 0xff));
  return m;
}
const PFNS = [1, 2, 3, 5, 8, 9, 10, 11, 100, 101, 600, 1000, 1001, 1002, 2047];
const EXCLUDED = [4, 6, 7, 200, 201];

function build(o: Partial<KdumpOptions> = {}): Uint8Array {
  return buildKdump({ maxMapnr: 2048, pages: pages(PFNS), excluded: EXCLUDED, vmcoreinfo: VMCOREINFO, physBase: 0x1234n, ...o });
}
const open = (bytes: Uint8Array) => openVmcoreSource(new MemorySource('test.kdump', bytes));

function fault(f: () => unknown): FaultError {
  try {
    f();
  } catch (e) {
    if (e instanceof FaultError) return e;
    throw e;
  }
  throw new Error('no fault');
}

function expectAllPages(core: ReturnType<typeof open>, want = pages(PFNS)): void {
  for (const [pfn, data] of want) expect(Buffer.from(core.read(BigInt(pfn) * 4096n, 4096)).equals(Buffer.from(data)), `pfn ${pfn}`).toBe(true);
}

describe('KdumpCore', () => {
  it('reads raw pages and reads across page boundaries', () => {
    const core = open(build());
    expect(core.format).toBe('kdump');
    expectAllPages(core);
    const across = core.read(2n * 4096n - 4n, 8);
    expect([...across]).toEqual([...pages([1]).get(1)!.subarray(4092), ...pages([2]).get(2)!.subarray(0, 4)]);
  });

  const encoders: [string, KdumpOptions['encode']][] = [
    ['zlib', zlibPage],
    ['snappy', (p) => ({ flags: 4, data: snappyCompress(p) })],
    ['zstd', (_p, pfn) => ({ flags: 0x20, data: compressedBy('zstd', pfn) })],
    ['lzo', (_p, pfn) => ({ flags: 2, data: compressedBy('lzo', pfn) })],
    ['mixed', (p, pfn) => (pfn % 2 ? zlibPage(p) : { flags: 4, data: snappyCompress(p) })],
  ];
  for (const [name, encode] of encoders) {
    it(`decodes ${name} pages`, () => {
      const core = open(build({ encode }));
      expectAllPages(core);
      expect(core.compression()).toEqual(name === 'mixed' ? ['snappy', 'zlib'] : [name]);
    });
  }

  it('fails excluded frames with "excluded", holes and pfns past max_mapnr with "not-in-dump"', () => {
    const core = open(build());
    const e = fault(() => core.read(4n * 4096n + 8n, 8));
    expect(e.reason).toBe('excluded');
    expect(e.address).toBe(4n * 4096n + 8n);
    expect(e.message).toContain('0x4008');
    expect(fault(() => core.read(3n * 4096n + 4090n, 16)).address).toBe(4n * 4096n);
    expect(fault(() => core.read(50n * 4096n, 1)).reason).toBe('not-in-dump');
    expect(fault(() => core.read(5000n * 4096n, 1)).reason).toBe('not-in-dump');
  });

  it('shares one stored zero page and counts it', () => {
    const core = open(build({ shareZero: true, encode: zlibPage }));
    expectAllPages(core);
    const zeroPfns = PFNS.filter((p) => p % 5 === 0).length;
    expect(core.pageCounts()).toEqual({ present: PFNS.length, excluded: EXCLUDED.length, lost: 0, zero: zeroPfns });
  });

  it('a descriptor relabelling the shared zero page is judged on its own, whichever pfn is read first', () => {
    // pfn 5 and 10 share the stored zero page; relabel pfn 10's descriptor as LZO (flags 2).
    const bytes = build({ shareZero: true });
    const descAt = 4 * 4096;
    const inRange = PFNS.filter((p) => p < 2048);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(descAt + 24 * inRange.indexOf(10) + 12, 2, true);
    for (const order of [[5, 10], [10, 5]]) {
      const core = open(bytes);
      const seen = order.map((pfn) => {
        try {
          return core.read(BigInt(pfn) * 4096n, 16).every((b) => b === 0) ? 'zero' : 'data';
        } catch (e) {
          return (e as FaultError).reason;
        }
      });
      expect(Object.fromEntries(order.map((pfn, i) => [pfn, seen[i]])), `order ${order.join(',')}`).toEqual({ 5: 'zero', 10: 'bad-data' });
    }
  });

  it('reports ranges from both bitmaps', () => {
    const r = open(build()).ranges();
    const at = (pfn: number) => r.find((x) => x.start <= BigInt(pfn) * 4096n && BigInt(pfn) * 4096n < x.end)?.state;
    expect([at(0), at(1), at(3), at(4), at(7), at(8), at(12), at(200), at(2047)]).toEqual(['not-in-dump', 'present', 'present', 'excluded', 'excluded', 'present', 'not-in-dump', 'excluded', 'present']);
    expect(r[r.length - 1].end).toBe(2048n * 4096n);
    for (let i = 1; i < r.length; i++) expect(r[i].start).toBe(r[i - 1].end);
  });

  it('incomplete dumps: zero descriptors are lost pages', () => {
    const core = open(build({ lost: [9, 1001] }));
    expect(core.incomplete).toBe(true);
    expect(fault(() => core.read(9n * 4096n, 1)).reason).toBe('lost');
    expect(core.read(10n * 4096n, 1)[0]).toBe(pages([10]).get(10)![0]);
    expect(core.isPresent(9n * 4096n, 1)).toBe(false);
    expect(core.pageCounts().lost).toBe(2);
    expect(core.ranges().filter((x) => x.state === 'lost').map((x) => Number(x.start / 4096n))).toEqual([9, 1001]);
  });

  it('incomplete dumps cut inside the descriptor table lose the missing pages', () => {
    const bytes = build({ status: 0x8 });
    const descAt = 4 * 4096; // header, sub-header, two bitmap blocks
    const core = open(bytes.slice(0, descAt + 24 * 5 + 10));
    // Descriptors 0-4 survive but point past the end; 5 onwards are gone: all lost, none bad data.
    for (const pfn of [1, 8, 9, 2047]) expect(fault(() => core.read(BigInt(pfn) * 4096n, 1)).reason).toBe('lost');
    expect(() => core.read(4n * 4096n, 1)).toThrow(/excluded/);
  });

  it('VMCOREINFO phys_base wins over the sub-header (QEMU 7.2 writes it wrong)', () => {
    const core = open(build());
    expect(core.physBase).toBe(-27262976n);
    expect(core.header['sub.phys_base']).toBe(0x1234n);
    expect(open(build({ vmcoreinfo: undefined })).physBase).toBe(0x1234n);
  });

  it('reads header versions 1 to 6', () => {
    for (let v = 1; v <= 6; v++) {
      const core = open(build({ headerVersion: v, vmcoreinfo: v >= 3 ? VMCOREINFO : undefined }));
      expect(core.read(8n * 4096n, 4096)[5]).toBe(pages([8]).get(8)![5]);
      expect(core.header.header_version).toBe(v);
      if (v >= 3) expect(core.vmcoreinfo?.osRelease).toBe('6.1.0-test');
    }
  });

  it('parses NT_PRSTATUS from the sub-header notes', () => {
    const desc = new Uint8Array(336);
    new DataView(desc.buffer).setBigUint64(112 + 16 * 8, 0xffffffff81234567n, true);
    const core = open(build({ notes: [{ name: 'CORE', type: 1, desc }, { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(VMCOREINFO) }] }));
    expect(core.prstatus[0].registers.rip).toBe(0xffffffff81234567n);
  });

  it('opens a --split set as one view', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-split-'));
    const ranges = [
      [0, 9],
      [9, 1001],
      [1001, 2048],
    ];
    const paths = ranges.map(([start, end], i) => {
      const p = join(dir, `part${i}`);
      writeFileSync(p, build({ split: { start, end }, encode: zlibPage }));
      return p;
    });
    const core = openVmcore([paths[2], paths[0], paths[1]]);
    expect(core.format).toBe('kdump-split');
    expectAllPages(core);
    expect(fault(() => core.read(200n * 4096n, 1)).reason).toBe('excluded');
    expect(core.pageCounts()).toMatchObject({ present: PFNS.length, excluded: EXCLUDED.length });
    const partial = openVmcore(paths[1]);
    expect(partial.read(10n * 4096n, 1)[0]).toBe(pages([10]).get(10)![0]);
    expect(fault(() => partial.read(1n * 4096n, 1)).reason).toBe('not-in-dump');
    core.close();
    partial.close();
  });

  it('throws BadDataError with an offset when truncated at every structural boundary', () => {
    const bytes = build({ encode: zlibPage });
    for (const cut of [0, 7, 100, 463, 4096, 4096 + 50, 8192, 8192 + 2048, 12288, 16384, 16384 + 24 * 3]) {
      let err: unknown;
      try {
        open(bytes.slice(0, cut));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(BadDataError);
      expect((err as BadDataError).offset, `cut at ${cut}`).toBeTypeOf('number');
    }
    // Cut inside page data, not marked incomplete: refused at open, naming the descriptor that
    // points past the end (it used to open, and only the pages past the cut faulted).
    expect(() => open(bytes.slice(0, bytes.length - 10))).toThrow(/truncated: page data runs to \d+, past end of file/);
    // The same cut in a dump marked incomplete opens; the cut page is lost.
    const core = open(build({ encode: zlibPage, status: 0x8 }).slice(0, bytes.length - 10));
    expect(fault(() => core.read(2047n * 4096n, 1)).reason).toBe('lost');
  });

  it('refuses a block size that contradicts VMCOREINFO PAGESIZE', () => {
    expect(() => open(build({ vmcoreinfo: VMCOREINFO.replace('PAGESIZE=4096', 'PAGESIZE=16384') }))).toThrow(/offset 0x1ac: block_size 4096 contradicts VMCOREINFO PAGESIZE=16384/);
    expect(() => open(build({ pageSize: 65536, vmcoreinfo: VMCOREINFO.replace('PAGESIZE=4096', 'PAGESIZE=12288') }))).toThrow(/block_size 65536 contradicts/);
  });

  it("reads QEMU's aarch64 kdump: 64 KiB blocks of a 4 KiB-page kernel", () => {
    const big = new Uint8Array(65536).map((_, i) => (i >> 12) + 1);
    const core = open(build({ pageSize: 65536, maxMapnr: 4, pages: new Map([[2, big]]) }));
    expect(core.pageSize).toBe(65536);
    expect(core.read(2n * 65536n + 5n * 4096n, 2)).toEqual(new Uint8Array([6, 6]));
    expect(() => core.read(65536n, 1)).toThrow(FaultError);
  });

  it('rejects hostile header values', () => {
    const b = build();
    const bad = (patch: (dv: DataView) => void, re: RegExp) => {
      const c = b.slice();
      patch(new DataView(c.buffer));
      expect(() => open(c)).toThrow(re);
    };
    bad((dv) => dv.setInt32(428, 4095, true), /block_size/);
    bad((dv) => dv.setUint32(436, 0x7fffffff, true), /bitmap_blocks/);
    bad((dv) => dv.setUint32(436, 0, true), /bitmap_blocks 0 \(max_mapnr 2048\): an empty dump/);
    bad((dv) => dv.setBigUint64(4096 + 96, 1n << 40n, true), /max_mapnr/);
    bad((dv) => dv.setInt32(8, 99, true), /header_version 99/);
  });

  it('a corrupt compressed page is a bad-data fault, not zeros', () => {
    const b = build({ encode: zlibPage });
    const c = b.slice();
    c.fill(0x55, c.length - 200); // smash the last page's zlib stream
    expect(fault(() => open(c).read(2047n * 4096n, 1)).reason).toBe('bad-data');
  });
});

/**
 * Pages compressed by the real compressors makedumpfile uses (the zstd CLI; liblzo2's
 * lzo1x_1_compress through python3-lzo), committed so that the unit tier needs neither:
 * testdata/make-kdump-pages.mjs made them from the same pages as pages(PFNS) here.
 */
const realPages = JSON.parse(readFileSync(new URL('./testdata/kdump-pages.json', import.meta.url), 'utf8')) as Record<'lzo' | 'zstd', Record<string, string>>;
function compressedBy(tool: 'lzo' | 'zstd', pfn: number): Uint8Array {
  const b64 = realPages[tool][pfn];
  if (b64 === undefined) throw new Error(`testdata/kdump-pages.json has no ${tool} page for pfn ${pfn}: rerun testdata/make-kdump-pages.mjs`);
  return new Uint8Array(Buffer.from(b64, 'base64'));
}
