/**
 * The per-architecture table: ELF e_machine → name, default page size and the layout of
 * NT_PRSTATUS's `pr_reg` (struct elf_prstatus, include/linux/elfcore.h, 6.1):
 *   struct elf_siginfo pr_info (3 × int = 12); short pr_cursig (+2 pad); unsigned long pr_sigpend,
 *   pr_sighold; pid_t pr_pid, pr_ppid, pr_pgrp, pr_sid; 4 × struct timeval (16 each) → pr_reg at
 *   112 on every 64-bit architecture; then int pr_fpvalid.
 * Register order is the architecture's elf_gregset_t: x86_64 struct user_regs_struct
 * (arch/x86/include/asm/user_64.h), arm64 struct user_pt_regs (x0..x30, sp, pc, pstate).
 */
import { Cursor } from '@kbtf/binary';
import type { PrStatus } from './contract.js';

export interface Machine {
  name: string;
  elfMachine: number;
  pageSize: number;
  /** Register names in pr_reg order (each an unsigned long). */
  prRegs: readonly string[];
}

const X86_64_REGS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;

const AARCH64_REGS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate'];

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export const MACHINES: readonly Machine[] = [
  { name: 'x86_64', elfMachine: EM_X86_64, pageSize: 4096, prRegs: X86_64_REGS },
  { name: 'aarch64', elfMachine: EM_AARCH64, pageSize: 4096, prRegs: AARCH64_REGS },
];

export function machineByElf(e: number): Machine | undefined {
  return MACHINES.find((m) => m.elfMachine === e);
}

export function machineByName(name: string): Machine | undefined {
  return MACHINES.find((m) => m.name === name);
}

const PR_PID = 32;
const PR_CURSIG = 12;
const PR_REG = 112;

/** Parse one 64-bit NT_PRSTATUS descriptor; undefined when it is too short for the machine. */
export function parsePrStatus(desc: Uint8Array, machine: Machine, littleEndian: boolean, index: number, source: string): PrStatus | undefined {
  if (desc.byteLength < PR_REG + machine.prRegs.length * 8) return undefined;
  const c = new Cursor(desc, { littleEndian, source });
  const registers: Record<string, bigint> = {};
  machine.prRegs.forEach((r, i) => (registers[r] = c.u64At(PR_REG + i * 8)));
  return { index, pid: c.i32At(PR_PID), signal: c.u16At(PR_CURSIG), registers };
}
