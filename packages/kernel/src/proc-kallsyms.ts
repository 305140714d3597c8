/**
 * The whole of /proc/kallsyms from a dump, in the kernel's order (kernel/kallsyms.c s_next /
 * update_iter_mod): vmlinux, the modules in list order, then the run-time code lists (ftrace_mod_maps,
 * ftrace trampolines, BPF programs and trampolines, kprobe pages; dynamic-ksyms.ts).
 */
import { KbtfError } from '@kbtf/binary';
import type { DynamicSymbols } from './dynamic-ksyms.js';
import type { Kallsyms } from './kallsyms.js';
import type { KernelModule } from './modules.js';

/** What the listing reads: a Kernel (declared here rather than imported: kernel.ts stays free of it). */
export interface SymbolSources {
  readonly kallsyms: Kallsyms;
  modules(): KernelModule[];
  dynamicSymbols(): DynamicSymbols;
}

/** One line: `emit(address, type, name, tag)`, tag a module name, `bpf`, `__builtin__ftrace`, … */
export type EmitSymbol = (address: bigint, type: string, name: string, module?: string) => void;

export interface ProcKallsymsResult {
  /** The first source that could not be read to its end (what it gave before was emitted). */
  failure?: KbtfError;
  /** With `only`: how many modules and tagged symbols carried that tag (0: no such tag). */
  matched: number;
}

/**
 * Emit every symbol /proc/kallsyms lists, nameless ones left out as the kernel does. `only` keeps the
 * lines of one tag (a module, or bpf, __builtin__ftrace, __builtin__kprobes) and none of vmlinux's.
 * What can be read is emitted even when the module walk, or one module, fails part way, as crash and
 * drgn do on damaged dumps: the first failure is returned, never thrown (a KbtfError; others are).
 */
export function listProcKallsyms(kernel: SymbolSources, only: string | undefined, emit: EmitSymbol): ProcKallsymsResult {
  if (only === undefined) {
    const ks = kernel.kallsyms;
    for (let i = 0; i < ks.count; i++) emit(ks.addresses[i], ks.typeOf(i), ks.names[i]);
  }
  let failure: KbtfError | undefined;
  let modules: KernelModule[] = [];
  try {
    modules = kernel.modules().filter((m) => only === undefined || m.name === only);
  } catch (err) {
    if (!(err instanceof KbtfError)) throw err;
    failure = err.withContext('module list');
  }
  for (const m of modules) {
    try {
      for (const s of m.symbols) if (s.name !== '') emit(s.value, s.type, s.name, m.name);
    } catch (err) {
      if (!(err instanceof KbtfError)) throw err;
      failure ??= err.withContext(`module ${m.name}`);
    }
  }
  const dynamic = kernel.dynamicSymbols();
  const tagged = dynamic.symbols.filter((s) => only === undefined || s.module === only);
  for (const s of tagged) if (s.name !== '') emit(s.address, s.type, s.name, s.module);
  failure ??= dynamic.failures[0];
  return { failure, matched: modules.length + tagged.length };
}
