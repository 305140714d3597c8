/**
 * Formats makedumpfile here cannot write, or that the lab does not produce, made from real pages:
 * - snappy and zstd kdump files whose pages are real guest pages compressed by the real libraries
 *   (snappyjs, the zstd CLI), written by the unit tests' kdump writer;
 * - a real `makedumpfile --split` set, made from the lab's makedumpfile ELF.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compress as snappyCompress } from 'snappyjs';
import { afterAll, describe, expect, it } from 'vitest';
import { KdumpCore, openVmcore, openVmcoreSource, MemorySource, type OpenedVmcore } from '@kbtf/vmcore';
import { buildKdump } from '../../packages/vmcore/src/test-writer.js';
import { labPath } from '../lab.js';

const VARIANT = '6.1-4level';

function kdump(core: OpenedVmcore): KdumpCore {
  if (!(core instanceof KdumpCore)) throw new Error(`${core.path}: not a kdump file`);
  return core;
}
const dir = mkdtempSync(join(tmpdir(), 'kbtf-vmcore-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('real pages through snappy and zstd', () => {
  const ref = openVmcore(labPath(VARIANT, 'mkd-zlib.kdump'), { progress: false });
  afterAll(() => ref.close());
  const present = ref.ranges().filter((r) => r.state === 'present');
  const r = rng(99);
  const pages = new Map<number, Uint8Array>();
  while (pages.size < 300) {
    const range = present[Math.floor(r() * present.length)];
    const n = Number((range.end - range.start) / 4096n);
    const pfn = Number(range.start / 4096n) + Math.floor(r() * n);
    pages.set(pfn, ref.read(BigInt(pfn) * 4096n, 4096));
  }
  const maxMapnr = kdump(ref).maxMapnr;

  const cases: [string, number, (p: Uint8Array) => Uint8Array][] = [
    ['snappy', 0x4, (p) => snappyCompress(p)],
    ['zstd', 0x20, (p) => new Uint8Array(execFileSync('zstd', ['-q', '-c', '-3'], { input: p }))],
  ];
  for (const [name, flag, compress] of cases) {
    it(`reads ${name} pages identically to the makedumpfile zlib dump`, () => {
      let compressed = 0;
      const file = buildKdump({
        maxMapnr,
        pages,
        vmcoreinfo: ref.vmcoreinfo!.raw,
        encode: (p) => {
          const c = compress(p);
          if (c.length >= p.length) return { flags: 0, data: p }; // as makedumpfile: store raw when it does not shrink
          compressed++;
          return { flags: flag, data: c };
        },
      });
      const core = openVmcoreSource(new MemorySource(`${name}.kdump`, file));
      expect(compressed).toBeGreaterThan(100);
      expect(core.compression()).toContain(name);
      for (const [pfn, want] of pages) expect(Buffer.from(core.read(BigInt(pfn) * 4096n, 4096)).equals(Buffer.from(want)), `pfn ${pfn}`).toBe(true);
      expect(core.vmcoreinfo?.osRelease).toBe(ref.vmcoreinfo?.osRelease);
    });
  }
});

describe('a real makedumpfile --split set', () => {
  it('opens the parts as one view that reads like the whole', () => {
    const parts = [join(dir, 'split.1'), join(dir, 'split.2'), join(dir, 'split.3')];
    execFileSync('makedumpfile', ['--split', '-c', '-d', '31', labPath(VARIANT, 'mkd-elf.core'), ...parts], { stdio: 'ignore' });
    const whole = openVmcore(labPath(VARIANT, 'mkd-elf.core'), { progress: false });
    const split = openVmcore(parts, { progress: false });
    expect(split.format).toBe('kdump-split');
    expect(Number(split.header['sub.split'])).toBe(1);
    const r = rng(3);
    let compared = 0;
    const maxPfn = kdump(split).maxMapnr;
    for (let i = 0; i < 3000; i++) {
      const addr = BigInt(Math.floor(r() * maxPfn)) * 4096n;
      if (!split.isPresent(addr, 4096)) continue;
      expect(whole.isPresent(addr, 4096)).toBe(true);
      expect(Buffer.from(split.read(addr, 4096)).equals(Buffer.from(whole.read(addr, 4096))), `0x${addr.toString(16)}`).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(200);
    // Each part alone serves its own range only.
    const one = openVmcore(parts[1], { progress: false });
    const f = kdump(one).files[0];
    expect(f.startPfn).toBeGreaterThan(0);
    const outside = split.ranges().find((x) => x.state === 'present' && x.end <= BigInt(f.startPfn) * 4096n)!;
    expect(() => one.read(outside.start, 1)).toThrow(/not-in-dump/);
    for (const c of [whole, split, one]) c.close();
  });
});
