import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { UsageError } from '@kbtf/binary';
import { btfBytesFromFile } from '@kbtf/btf';
import { renderReport, renderSummary, verifyMany, verifyOne, type DumpOutcome } from '@kbtf/verify';
import type { Command } from '../cli/command.js';
import { jsonReplacer } from '../cli/output.js';

export const command: Command = {
  name: 'verify',
  summary: 'check that a vmcore holds kallsyms and all the BTF a debugger needs (companions included)',
  usage: ['verify VMCORE... [--policy FILE] [--cmdline STR] [--lookup EXPR]... [--jobs N] [--all-vars] [--vmlinux-btf FILE] [--report FILE] [--json]'],
  help: `
Opens each dump (ELF, kdump-compressed, flattened; FILE1,FILE2 = one makedumpfile --split set) and
checks, in order: the dump, VMCOREINFO, kallsyms, vmlinux BTF, every loaded module's own BTF, the
policy the crashed kernel ran with (its saved_command_line, then --cmdline/--policy), and for every
module whose companion the policy wants: M_btf is loaded, the kernel accepted its BTF, it is valid
split BTF, and every variable it describes resolves to a readable, typed value.

Options:
  --policy FILE       the policy file (YAML, docs/policy.md) the machine used
  --cmdline STR       judge by this kernel command line instead of the dump's
  --lookup EXPR       also resolve EXPR (jiffies_64, init_uts_ns.name.release, ext4:some_global)
  --jobs N            verify several dumps in N worker threads
  --all-vars          list every variable in --json, not only the problems
  --vmlinux-btf FILE  vmlinux BTF from a file instead of the dump
  --json              one JSON document (schema kbtf-verify/1, docs/verify.md); JSON Lines for several dumps
  --report FILE       also write the JSON document to FILE (one dump; written whole, through a
                      temporary file, only when the dump could be read: not on exit 2)

Exit codes: 0 complete, 1 incomplete, 2 unreadable input (several dumps: the highest).`,
  options: {
    policy: { type: 'string' },
    cmdline: { type: 'string' },
    lookup: { type: 'string', multiple: true },
    jobs: { type: 'string', short: 'j' },
    'all-vars': { type: 'boolean' },
    'vmlinux-btf': { type: 'string' },
    report: { type: 'string' },
  },
  async run({ args, values, out }) {
    if (args.length === 0) throw new UsageError('verify: no VMCORE given');
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`verify: --jobs must be a whole number from 1 to 64`);
    const options = {
      cmdline: values.cmdline as string | undefined,
      policyFile: values.policy as string | undefined,
      lookups: (values.lookup as string[] | undefined) ?? [],
      allVars: !!values['all-vars'],
      vmlinuxBtf: values['vmlinux-btf'] ? btfBytesFromFile(readFileSync(values['vmlinux-btf'] as string)) : undefined,
    };
    const code = (o: DumpOutcome) => (o.error ? 2 : o.report!.verdict === 'complete' ? 0 : 1);

    const report = values.report as string | undefined;
    if (report !== undefined && (report === '' || args.length !== 1)) throw new UsageError('verify: --report FILE takes one VMCORE');
    if (args.length === 1) {
      const o = verifyOne(args[0], options);
      if (o.error) {
        out.diagnostic(o.error.code, `${o.path}: ${o.error.message}`);
        return 2;
      }
      if (report !== undefined) writeReport(report, JSON.stringify(o.report, jsonReplacer, 2) + '\n');
      if (out.json) out.document(o.report);
      else out.line(renderReport(o.report!, (s, t) => out.paint(s, t)));
      return code(o);
    }

    const tty = !out.json && !!out.stderr.isTTY;
    let done = 0;
    const progress = () => tty && out.stderr.write(`\r[${'#'.repeat(Math.round((done / args.length) * 30)).padEnd(30)}] ${done}/${args.length}`);
    progress();
    const results = await verifyMany(args, options, jobs, (o) => {
      done++;
      if (tty) out.stderr.write('\r\x1b[K');
      if (out.json) out.record(o.error ? { schema: 'kbtf-verify/1', path: o.path, error: o.error } : o.report);
      else if (o.error) out.diagnostic(o.error.code, `${o.path}: ${o.error.message}`);
      else out.line(renderReport(o.report!, (s, t) => out.paint(s, t)) + '\n');
      progress();
    });
    if (tty) out.stderr.write('\r\x1b[K');
    const summary = renderSummary(results.map((r) => ({ verdict: r.report?.verdict, error: r.error?.message })));
    if (out.json) out.stderr.write(`${summary}\n`);
    else out.line(summary);
    return Math.max(...results.map(code));
  },
};

/** FILE written whole or not at all (temporary file beside it, then rename). */
function writeReport(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new UsageError(`verify: cannot write --report ${file}: ${(err as Error).message}`);
  }
}
