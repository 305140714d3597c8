/**
 * End to end on the lab's real dumps (tools/lab): every format of one guest serves the same
 * bytes for every page both hold; makedumpfile's excluded pages fail as excluded; `kbtf info`
 * reports what the guest itself printed (truth.json).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FaultError } from '@kbtf/binary';
import { openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labPath, labVariants } from '../lab.js';

const DUMPS = ['qemu-elf.core', 'qemu-elf-paging.core', 'qemu-kdump.flat', 'qemu-kdump.kdump', 'mkd-zlib.kdump', 'mkd-lzo.kdump', 'mkd-elf.core'] as const;
const REFERENCE = 'qemu-elf.core';

interface Truth {
  kernel: string;
  kaslr_offset: string;
  phys_base: string;
  kernel_code_phys: string;
}

/** A small deterministic PRNG (so a failure names a reproducible pfn). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

function catchFault(f: () => unknown): FaultError | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof FaultError) return e;
    throw e;
  }
  return undefined;
}

describe.each(labVariants)('lab %s', (variant) => {
  const truth = labJson<Truth>(variant, 'truth.json');
  const cores = new Map<string, OpenedVmcore>();
  const core = (f: string): OpenedVmcore => {
    let c = cores.get(f);
    if (!c) cores.set(f, (c = openVmcore(labPath(variant, f), { progress: false })));
    return c;
  };
  afterAll(() => cores.forEach((c) => c.close()));

  it('opens every format with the expected kind', () => {
    expect(DUMPS.map((f) => core(f).format)).toEqual(['elf', 'elf', 'kdump-flattened', 'kdump', 'kdump', 'kdump', 'elf']);
    expect(core('qemu-elf-paging.core').virtualSegments.length).toBeGreaterThan(1000);
    expect(core('qemu-elf.core').virtualSegments).toHaveLength(0);
    expect(core('mkd-lzo.kdump').compression()).toContain('lzo');
    expect(core('mkd-zlib.kdump').compression()).toContain('zlib');
    for (const f of DUMPS) expect(core(f).prstatus.length, f).toBeGreaterThan(0);
  });

  it('every page present in two formats reads identically (random sample + a full slice)', () => {
    const ref = core(REFERENCE);
    const pageSize = ref.pageSize;
    const maxPfn = Number(ref.ranges().at(-1)!.end / BigInt(pageSize));
    const r = rng(0x5eed);
    const pfns = new Set<number>();
    for (let i = 0; i < 3000; i++) pfns.add(Math.floor(r() * maxPfn));
    const kernelPfn = Number(BigInt(truth.kernel_code_phys) / BigInt(pageSize));
    for (let p = kernelPfn; p < kernelPfn + 2048; p++) pfns.add(p); // the kernel image: kept by every dump level
    const compared = new Map<string, number>(DUMPS.map((f) => [f, 0]));
    for (const pfn of pfns) {
      const addr = BigInt(pfn) * BigInt(pageSize);
      const present = DUMPS.filter((f) => core(f).isPresent(addr, pageSize));
      if (present.length < 2) continue;
      const want = core(present[0]).read(addr, pageSize);
      for (const f of present.slice(1)) {
        expect(same(core(f).read(addr, pageSize), want), `${f} vs ${present[0]} at pfn ${pfn}`).toBe(true);
        compared.set(f, compared.get(f)! + 1);
      }
    }
    // Every format took part, the filtered ones included.
    for (const [f, n] of compared) if (f !== DUMPS[0]) expect(n, f).toBeGreaterThan(500);
  });

  it('pages makedumpfile excluded fail with "excluded", naming the address', () => {
    for (const f of ['mkd-zlib.kdump', 'mkd-lzo.kdump', 'mkd-elf.core']) {
      const c = core(f);
      const excluded = c.ranges().filter((x) => x.state === 'excluded');
      expect(excluded.length, f).toBeGreaterThan(0);
      const r = rng(7);
      for (let i = 0; i < 200; i++) {
        const range = excluded[Math.floor(r() * excluded.length)];
        const addr = range.start + BigInt(Math.floor(r() * Number(range.end - range.start)));
        const err = catchFault(() => c.read(addr, 1));
        expect(err?.reason, `${f} ${addr.toString(16)}`).toBe('excluded');
        expect(err?.address).toBe(addr);
        expect(core(REFERENCE).isPresent(addr, 1)).toBe(true); // it was RAM: the filter removed it
      }
    }
  });

  it('check() fails exactly where read() fails, with the same reason and address, in every format', () => {
    const outcome = (f: () => unknown): string => {
      const err = catchFault(f);
      return err ? `${err.reason}@${err.address.toString(16)}` : 'ok';
    };
    for (const f of DUMPS) {
      const c = core(f);
      const ranges = c.ranges();
      const r = rng(0xc4ec);
      const starts: bigint[] = [];
      // Across every kind of boundary the dump has (present/excluded/not-in-dump), and at random.
      for (const x of ranges.slice(0, 400)) starts.push(x.start > 300n ? x.start - 300n : 0n, x.end - 1n);
      const top = ranges.at(-1)!.end + 0x10000n;
      for (let i = 0; i < 300; i++) starts.push(BigInt(Math.floor(r() * Number(top))));
      let failed = 0;
      for (const at of starts) {
        const len = 1 + Math.floor(r() * 3 * c.pageSize);
        const want = outcome(() => c.read(at, len));
        expect(outcome(() => c.check(at, len)), `${f} ${at.toString(16)}+${len}`).toBe(want);
        if (want !== 'ok') failed++;
      }
      expect(failed, `${f}: some ranges fail`).toBeGreaterThan(f.startsWith('mkd-') ? 10 : 0);
      expect(failed, `${f}: some ranges read`).toBeLessThan(starts.length);
    }
  });

  it('kdump files agree with each other on what is present', () => {
    const a = core('mkd-zlib.kdump').ranges();
    expect(core('mkd-lzo.kdump').ranges()).toEqual(a);
    expect(core('qemu-kdump.flat').ranges()).toEqual(core('qemu-kdump.kdump').ranges());
    expect(core('mkd-zlib.kdump').pageCounts().excluded).toBeGreaterThan(1000);
  });

  it('kbtf info reports OSRELEASE, PAGESIZE, KERNELOFFSET and phys_base of the ground truth', async () => {
    for (const f of DUMPS) {
      const { code, stdout, stderr } = await runCli(['info', labPath(variant, f), '--json']);
      expect(code, stderr).toBe(0);
      const d = JSON.parse(stdout);
      expect(d.release, f).toBe(truth.kernel);
      expect(d.pageSize, f).toBe(4096);
      expect(d.vmcoreinfo.pageSize, f).toBe(4096);
      expect(BigInt(d.kernelOffset), f).toBe(BigInt(truth.kaslr_offset));
      expect(signedHex(d.physBase), f).toBe(signedHex(truth.phys_base));
      expect(d.pages.present, f).toBeGreaterThan(1000);
    }
    const human = await runCli(['info', labPath(variant, 'qemu-kdump.flat')]);
    expect(human.stdout).toContain(`release       ${truth.kernel}`);
  });

  it('kbtf read --phys prints the same bytes as the reference, and fails excluded pages', async () => {
    const addr = BigInt(truth.kernel_code_phys);
    const want = Buffer.from(core(REFERENCE).read(addr, 64)).toString('hex');
    for (const f of ['mkd-lzo.kdump', 'qemu-kdump.flat']) {
      const { code, stdout } = await runCli(['read', labPath(variant, f), '--phys', `0x${addr.toString(16)}`, '64', '--json']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout).hex).toBe(want);
    }
    const text = await runCli(['read', labPath(variant, 'mkd-zlib.kdump'), '--phys', `0x${addr.toString(16)}`, '32']);
    expect(text.stdout.split('\n')[0]).toMatch(new RegExp(`^${addr.toString(16).padStart(16, '0')}  ${want.slice(0, 2)} `));
    const ex = core('mkd-zlib.kdump').ranges().find((x) => x.state === 'excluded')!;
    const bad = await runCli(['read', labPath(variant, 'mkd-zlib.kdump'), '--phys', `0x${ex.start.toString(16)}`, '8']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`kbtf: FAULT: physical address 0x${ex.start.toString(16)}: excluded`);
  });
});

function signedHex(s: string): bigint {
  return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
}
