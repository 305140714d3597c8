/**
 * arm64 dumps in the vmcore readers: NT_PRSTATUS laid out as aarch64's struct elf_prstatus (392
 * bytes: pr_reg = struct user_pt_regs, 34 × 8, at 112; arch/arm64/include/uapi/asm/ptrace.h), the
 * ELF e_machine EM_AARCH64 (183), and the kdump header's utsname.machine (makedumpfile copies the
 * kernel's "aarch64"; QEMU writes "Unknown" for targets without ELF_MACHINE_UNAME).
 */
import { describe, expect, it } from 'vitest';
import { openVmcoreSource } from './open.js';
import { MemorySource } from './source.js';
import { buildElf, buildKdump } from './test-writer.js';
import { EM_AARCH64, machineByElf, parsePrStatus } from './machine.js';

const VMCOREINFO_ARM64 =
  'OSRELEASE=6.1.0-test-arm64\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff80000a0b0000\nNUMBER(VA_BITS)=48\n' +
  'NUMBER(kimage_voffset)=0xffff7fffc7e00000\nNUMBER(PHYS_OFFSET)=0x40000000\nNUMBER(TCR_EL1_T1SZ)=16\nKERNELOFFSET=0\n';

/** struct elf_prstatus of aarch64: 392 bytes; x0..x30, sp, pc, pstate from offset 112. */
function prstatusArm64(pc: bigint, pid: number): Uint8Array {
  const d = new Uint8Array(392);
  const dv = new DataView(d.buffer);
  dv.setInt32(32, pid, true);
  dv.setUint16(12, 9, true); // pr_cursig
  for (let i = 0; i < 31; i++) dv.setBigUint64(112 + i * 8, BigInt(i), true);
  dv.setBigUint64(112 + 31 * 8, 0xffff80000800bf00n, true); // sp
  dv.setBigUint64(112 + 32 * 8, pc, true);
  dv.setBigUint64(112 + 33 * 8, 0x600003c5n, true); // pstate
  dv.setInt32(112 + 34 * 8, 1, true); // pr_fpvalid
  return d;
}

describe('aarch64 dumps', () => {
  it('parses aarch64 NT_PRSTATUS (392 bytes) and refuses a descriptor shorter than its pr_reg', () => {
    const m = machineByElf(EM_AARCH64)!;
    expect(m.name).toBe('aarch64');
    const p = parsePrStatus(prstatusArm64(0xffff800008123456n, 7), m, true, 0, 't')!;
    expect(p.registers.pc).toBe(0xffff800008123456n);
    expect(p.registers.sp).toBe(0xffff80000800bf00n);
    expect(p.registers.x30).toBe(30n);
    expect(p.registers.pstate).toBe(0x600003c5n);
    expect([p.pid, p.signal]).toEqual([7, 9]);
    expect(Object.keys(p.registers)).toHaveLength(34);
    expect(parsePrStatus(new Uint8Array(112 + 33 * 8), m, true, 0, 't')).toBeUndefined();
  });

  it('an ELF dump with e_machine 183 is aarch64, its CPUs read from aarch64 NT_PRSTATUS', () => {
    const bytes = buildElf({
      machine: EM_AARCH64,
      segments: [{ paddr: 0x40000000n, data: new Uint8Array(4096).fill(5) }],
      notes: [
        { name: 'CORE', type: 1, desc: prstatusArm64(0xffff800008000010n, 1) },
        { name: 'CORE', type: 1, desc: prstatusArm64(0xffff800008000020n, 0) },
        { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(VMCOREINFO_ARM64) },
      ],
    });
    const core = openVmcoreSource(new MemorySource('arm64.core', bytes));
    expect(core.machine).toBe('aarch64');
    expect(core.header.e_machine).toBe(183);
    expect(core.prstatus.map((p) => p.registers.pc)).toEqual([0xffff800008000010n, 0xffff800008000020n]);
    expect(core.vmcoreinfo?.numbers.get('kimage_voffset')).toBe(0xffff7fffc7e00000n);
    expect(core.read(0x40000000n, 2)).toEqual(new Uint8Array([5, 5]));
  });

  it("a kdump's machine: utsname 'aarch64' as is; empty, 'Unknown' or 'arm64' from VMCOREINFO (kimage_voffset)", () => {
    const open = (machine: string, vmcoreinfo: string): string => {
      const bytes = buildKdump({
        maxMapnr: 16,
        pages: new Map([[1, new Uint8Array(4096).fill(1)]]),
        vmcoreinfo,
        machine,
        notes: [
          { name: 'CORE', type: 1, desc: prstatusArm64(0xffff800008000010n, 1) },
          { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(vmcoreinfo) },
        ],
      });
      const core = openVmcoreSource(new MemorySource('arm64.kdump', bytes));
      if (core.machine === 'aarch64') expect(core.prstatus[0].registers.pc).toBe(0xffff800008000010n);
      return core.machine;
    };
    const x86 = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffff82a0a000\n';
    expect(open('aarch64', VMCOREINFO_ARM64)).toBe('aarch64');
    expect(open('', VMCOREINFO_ARM64)).toBe('aarch64');
    expect(open('Unknown', VMCOREINFO_ARM64)).toBe('aarch64');
    expect(open('arm64', VMCOREINFO_ARM64)).toBe('aarch64');
    expect(open('', x86)).toBe('x86_64');
    expect(open('x86_64', x86)).toBe('x86_64');
  });
});
