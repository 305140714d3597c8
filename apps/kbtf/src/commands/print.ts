import { KbtfError, UsageError } from '@kbtf/binary';
import { evaluate, exactSymbolizer, formatObject, openKernel } from '@kbtf/kernel';
import { defineCommand } from '../cli/command.js';

export const command = defineCommand({
  name: 'print',
  summary: 'print kernel variables and objects from a vmcore, the way drgn prints them',
  usage: ['print VMCORE EXPR... [--btf FILE] [--json]'],
  help: `Evaluates each C expression against the dump, with types from BTF found in the dump (no DWARF):
  kbtf print VMCORE init_uts_ns.name.release jiffies_64 saved_command_line 'ext4:ext4_fs_type.name'
  kbtf print VMCORE '*(struct module *)0xffffffffc0a1a000' 'per_cpu(runqueues, 1).nr_running'
  kbtf print VMCORE 'container_of(modules.next, struct module, list)->name' 'sizeof(struct task_struct)'
Grammar (C's operators and precedence, drgn's Object semantics):
  primary   integer (int, long or unsigned long as C types it) | global | function | MODULE:global
            | ( expr ) | per_cpu(VAR, CPU) | per_cpu_ptr(PTR, CPU)
            | container_of(PTR, TYPE, MEMBER[.MEMBER|[N]]...)
  postfix   expr.member  expr->member  expr[expr]
  unary     *expr  &expr  -expr  +expr  ~expr  !expr  (TYPE)expr  sizeof(TYPE)  sizeof expr
  binary    * / %   + -   << >>   < > <= >=   == !=   &   ^   |   &&   ||
            (integers: C's usual arithmetic conversions; pointer +/- integer scales by the
            target's size; pointer - pointer counts elements)
  TYPE      struct S, union U, enum E, typedefs, C integer names, with * and [N]: from vmlinux BTF,
            else the loaded modules' BTF
Globals come from VARs in vmlinux BTF, the loaded vmlinux_btf companion (MODULE:global: the
module's companion MODULE_btf), or kbtf's bootstrap table (modules, jiffies_64, init_uts_ns, …).
A pointer to a symbol prints with it, as drgn: (struct module *)__this_module+0x0 = 0xffffffffc0…
(only exact symbol addresses: kallsyms has no sizes). --btf FILE takes vmlinux BTF from FILE.
Each expression is evaluated on its own: one that fails prints its error, the others still print.
--json: { "values": [ { "expression", "type", "address", "text" } | { "expression", "error" } ] }
(the errors also on stderr).
Exit 0; 2 when any expression cannot be evaluated or the dump cannot be read.`,
  options: { btf: { type: 'string' } },
  run({ args, values, out }) {
    if (args.length < 2) throw new UsageError('print: give a VMCORE and at least one expression');
    const kernel = openKernel(args[0], { btfPath: values.btf });
    try {
      const symbolize = exactSymbolizer(kernel);
      let failed = 0;
      const results = args.slice(1).map((expression) => {
        try {
          const obj = evaluate(kernel, expression);
          const text = formatObject(obj, { symbolize });
          if (!out.json) out.line(text);
          return { expression, type: obj.typeName, address: obj.address === undefined ? null : `0x${obj.address.toString(16)}`, text };
        } catch (err) {
          if (!(err instanceof KbtfError)) throw err;
          failed++;
          // With several expressions, a message that does not quote its expression names it.
          const named = args.length === 2 || err.message.startsWith(`'${expression}'`);
          out.diagnostic(err.code, named ? err.message : `${err.message} (in ${shorten(expression)})`);
          return { expression, error: { code: err.code, message: err.message } };
        }
      });
      if (out.json) out.document({ values: results });
      return failed ? 2 : 0;
    } finally {
      kernel.close();
    }
  },
});

/** An expression named in a message, cut to a readable length. */
function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
