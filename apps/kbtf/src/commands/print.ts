import { UsageError } from '@kbtf/binary';
import { evaluate, formatObject, openKernel } from '@kbtf/kernel';
import type { Command } from '../cli/command.js';

export const command: Command = {
  name: 'print',
  summary: 'print kernel variables and objects from a vmcore, the way drgn prints them',
  usage: ['print VMCORE EXPR... [--btf FILE] [--json]'],
  help: `Evaluates each C expression against the dump, with types from BTF found in the dump (no DWARF):
  kbtf print VMCORE init_uts_ns.name.release jiffies_64 saved_command_line modules
  kbtf print VMCORE '*(struct module *)0xffffffffc0a1a000' 'per_cpu(runqueues, 1).nr_running'
Globals come from VARs in vmlinux BTF, the loaded vmlinux_btf companion, or kbtf's bootstrap table
(modules, btf_modules, jiffies_64, init_uts_ns, saved_command_line, tainted_mask, …).
Operators: . -> [N] * & (type) per_cpu(VAR, CPU). --btf FILE takes vmlinux BTF from FILE.
--json: { "values": [ { "expression", "type", "address", "text" } ] }.
Exit 0, or 2 when an expression cannot be evaluated or the dump cannot be read.`,
  options: { btf: { type: 'string' } },
  async run({ args, values, out }) {
    if (args.length < 2) throw new UsageError('print: give a VMCORE and at least one expression');
    const kernel = openKernel(args[0], { btfPath: values.btf as string | undefined });
    try {
      const results = args.slice(1).map((expression) => {
        const obj = evaluate(kernel, expression);
        return { expression, type: obj.typeName, address: obj.address === undefined ? null : `0x${obj.address.toString(16)}`, text: formatObject(obj) };
      });
      if (out.json) out.document({ values: results });
      else for (const r of results) out.line(r.text);
      return 0;
    } finally {
      kernel.close();
    }
  },
};
