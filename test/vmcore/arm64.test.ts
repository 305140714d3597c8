/**
 * arm64 dumps in @kbtf/vmcore, end to end on the arm64 lab guests (keys and CI rule:
 * test/kernel/arm64-lab.ts): every format opens as aarch64 with one NT_PRSTATUS per CPU laid out as
 * struct user_pt_regs, QEMU's kdump-compressed files carry 64 KiB blocks of a 4 KiB-page kernel,
 * every page two formats both hold reads identically, and `kbtf info` reports what the guest said.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labPath } from '../lab.js';
import { arm64KeysToTest } from '../kernel/arm64-lab.js';

interface Truth {
  kernel: string;
  kaslr_offset: string;
  kernel_code_phys: string;
}

const PAGE = 4096;

describe.each(arm64KeysToTest())('arm64 lab %s', (key) => {
  const truth = labJson<Truth>(key, 'truth.json');
  const dumps = labJson<{ dumps: { file: string }[] }>(key, 'manifest.json').dumps.map((d) => d.file);
  const cores = new Map<string, OpenedVmcore>();
  const core = (f: string): OpenedVmcore => {
    let c = cores.get(f);
    if (!c) cores.set(f, (c = openVmcore(labPath(key, f), { progress: false })));
    return c;
  };
  afterAll(() => cores.forEach((c) => c.close()));

  it('every format is aarch64, with one user_pt_regs NT_PRSTATUS per CPU whose pc is a kernel address', () => {
    for (const f of dumps) {
      const c = core(f);
      expect(c.machine, f).toBe('aarch64');
      expect(c.vmcoreinfo?.pageSize, f).toBe(PAGE);
      expect(c.prstatus.length, f).toBe(2); // the lab's -smp 2
      for (const p of c.prstatus) {
        expect(Object.keys(p.registers), f).toHaveLength(34);
        expect(p.registers.pc >= 0xfff0000000000000n, `${f} pc ${p.registers.pc.toString(16)}`).toBe(true);
      }
    }
    // QEMU's aarch64 kdump blocks are 64 KiB (target/arm/arch_dump.c), the kernel's pages 4 KiB.
    expect(core('qemu-kdump.kdump').pageSize).toBe(65536);
    expect(core('qemu-kdump.flat').pageSize).toBe(65536);
  });

  it('every 4 KiB page present in two formats reads identically (random sample + the kernel image)', () => {
    const ref = core('qemu-elf.core');
    const ranges = ref.ranges().filter((r) => r.state === 'present');
    let s = 0x5eed;
    const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const addrs: bigint[] = [];
    for (let i = 0; i < 2000; i++) {
      const r = ranges[Math.floor(rnd() * ranges.length)];
      addrs.push(((r.start + BigInt(Math.floor(rnd() * Number(r.end - r.start)))) / BigInt(PAGE)) * BigInt(PAGE));
    }
    for (let i = 0; i < 1024; i++) addrs.push(BigInt(truth.kernel_code_phys) + BigInt(i * PAGE));
    const compared = new Map<string, number>(dumps.map((f) => [f, 0]));
    for (const addr of addrs) {
      const want = ref.read(addr, PAGE);
      for (const f of dumps.slice(1)) {
        if (!core(f).isPresent(addr, PAGE)) continue;
        expect(Buffer.compare(Buffer.from(core(f).read(addr, PAGE)), Buffer.from(want)), `${f} at ${addr.toString(16)}`).toBe(0);
        compared.set(f, compared.get(f)! + 1);
      }
    }
    for (const f of dumps.slice(1)) expect(compared.get(f), f).toBeGreaterThan(500);
  });

  it('kbtf info reports OSRELEASE, PAGESIZE and KERNELOFFSET of the ground truth', async () => {
    for (const f of dumps) {
      const { code, stdout, stderr } = await runCli(['info', labPath(key, f), '--json']);
      expect(code, stderr).toBe(0);
      const d = JSON.parse(stdout) as { release: string; vmcoreinfo: { pageSize: number }; kernelOffset: string; cpus: { registers: Record<string, string> }[] };
      expect(d.release, f).toBe(truth.kernel);
      expect(d.vmcoreinfo.pageSize, f).toBe(PAGE);
      expect(BigInt(d.kernelOffset), f).toBe(BigInt(truth.kaslr_offset));
      expect(Object.keys(d.cpus[0].registers), f).toContain('pc');
    }
    const human = await runCli(['info', labPath(key, 'qemu-kdump.kdump')]);
    expect(human.stdout).toMatch(/^cpu 0: pid \d+ pc 0xfff[0-9a-f]{13} sp 0xfff[0-9a-f]{13}$/m);
  });
});
