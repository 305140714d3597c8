import { KbtfError, UsageError } from '@kbtf/binary';
import { openKernel, type KernelModule } from '@kbtf/kernel';
import { defineCommand } from '../cli/command.js';

/** Lines per write: /proc/kallsyms of a distribution kernel is ~150,000 lines. */
const BATCH = 8192;

export const command = defineCommand({
  name: 'symbols',
  summary: 'list every kernel, module, BPF, ftrace and kprobe symbol in a vmcore, as /proc/kallsyms does',
  usage: ['symbols VMCORE [--module NAME] [--json]'],
  help: `Decodes kallsyms from the dump's memory (through VMCOREINFO, no DWARF), each module's
mod->kallsyms and the kernel's run-time code lists, and prints them in /proc/kallsyms order: vmlinux,
modules in list order, ftrace_mod_maps, ftrace trampolines ([__builtin__ftrace]), BPF programs and
trampolines ([bpf]), kprobe instruction pages ([__builtin__kprobes]).
Format: "%016x %c %s", tagged symbols followed by "\\t[tag]". --module NAME lists the symbols of
one tag (a module, or bpf, __builtin__ftrace, __builtin__kprobes).
--json: { "symbols": [ { "address", "type", "name", "module"? } ] }.
Exit 0, or 2 when the dump cannot be read; symbols read before a failure (a module list that\nbreaks off, one module's symbols) are printed first, the failure goes to stderr.`,
  options: { module: { type: 'string' }, btf: { type: 'string' } },
  run({ args, values, out }) {
    if (args.length !== 1) throw new UsageError('symbols: give one VMCORE');
    const kernel = openKernel(args[0], { btfPath: values.btf });
    try {
      const only = values.module;
      const rows: { address: bigint; type: string; name: string; module?: string }[] = [];
      const lines: string[] = [];
      const emit = (address: bigint, type: string, name: string, module?: string): void => {
        if (out.json) rows.push(module ? { address, type, name, module } : { address, type, name });
        else {
          lines.push(`${address.toString(16).padStart(16, '0')} ${type} ${name}${module ? `\t[${module}]` : ''}`);
          if (lines.length >= BATCH) out.stdout.write(lines.splice(0).join('\n') + '\n');
        }
      };
      if (only === undefined) {
        const ks = kernel.kallsyms;
        for (let i = 0; i < ks.count; i++) emit(ks.addresses[i], ks.typeOf(i), ks.names[i]);
      }
      // What could be read is printed even when the module walk (or one module) fails part way, as
      // crash and drgn do on damaged dumps; the failure follows on stderr, exit 2.
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
      // BPF programs, ftrace and kprobe code: after the modules, as kernel/kallsyms.c update_iter_mod().
      const dynamic = kernel.dynamicSymbols();
      const tagged = dynamic.symbols.filter((s) => only === undefined || s.module === only);
      for (const s of tagged) if (s.name !== '') emit(s.address, s.type, s.name, s.module);
      failure ??= dynamic.failures[0];
      if (!failure && only !== undefined && modules.length === 0 && tagged.length === 0) throw new UsageError(`symbols: no module '${only}' in the dump`);
      if (out.json) out.document({ symbols: rows.map((r) => ({ ...r, address: `0x${r.address.toString(16)}` })) });
      else if (lines.length) out.stdout.write(lines.join('\n') + '\n');
      if (failure) {
        out.error(failure);
        return 2;
      }
      return 0;
    } finally {
      kernel.close();
    }
  },
});
