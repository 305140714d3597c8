import { UsageError } from '@kbtf/binary';
import { listProcKallsyms, openKernel } from '@kbtf/kernel';
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
      const { failure, matched } = listProcKallsyms(kernel, only, emit);
      if (!failure && only !== undefined && matched === 0) throw new UsageError(`symbols: no module '${only}' in the dump`);
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
