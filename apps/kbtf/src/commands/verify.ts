import { MAX_OBJECT_FILE, readRegularFile, UsageError, writeFileAtomic } from '@kbtf/binary';
import { btfBytesFromFile } from '@kbtf/btf';
import { renderReport, renderSummary, verifyMany, verifyOne, type DumpOutcome } from '@kbtf/verify';
import { defineCommand } from '../cli/command.js';
import { jsonReplacer } from '../cli/output.js';

export const command = defineCommand({
  name: 'verify',
  summary: 'check that a vmcore holds kallsyms and all the BTF a debugger needs (companions included)',
  usage: ['verify VMCORE... [--policy FILE] [--cmdline STR] [--lookup EXPR]... [--exit-on self-contained|policy] [--jobs N] [--all-vars] [--vmlinux-btf FILE] [--report FILE] [--json]'],
  help: `
Opens each dump (ELF, kdump-compressed, flattened; FILE1,FILE2 = one makedumpfile --split set) and
gives two answers (docs/verify.md):
  self-contained  can the dump be debugged with nothing but itself? kallsyms and vmlinux BTF decode,
                  every loaded module has valid BTF of its own, vmlinux_btf and every module's
                  companion M_btf are loaded, accepted by the kernel, valid split BTF, every variable
                  they describe resolves, and the self-test lookups resolve (init_uts_ns.name.release,
                  jiffies_64, panic_cpu, tainted_mask, saved_command_line, one global per companion).
                  What each module lacks is listed; out-of-tree modules (taint O) are named as such.
  policy          was what the crashed host was configured to load loaded (its saved_command_line,
                  then --cmdline/--policy): the companions the policy wants, checked as above.

Options:
  --policy FILE       the policy file (YAML, docs/policy.md) the machine used
  --cmdline STR       judge by this kernel command line instead of the dump's
  --lookup EXPR       also resolve EXPR (jiffies_64, init_uts_ns.name.release, ext4:some_global);
                      a failure makes both answers negative
  --exit-on ANSWER    the exit code follows self-contained (the default) or policy
  --jobs N            verify several dumps in N worker threads
  --all-vars          list every variable in --json, not only the problems
  --vmlinux-btf FILE  vmlinux BTF from a file instead of the dump
  --json              one JSON document (schema kbtf-verify/1, docs/verify.md); JSON Lines for several dumps
  --report FILE       also write the JSON document to FILE (one dump; written whole, through a
                      temporary file, only when the dump could be read: not on exit 2)

Exit codes: 0 self-contained (--exit-on policy: complete), 1 not self-contained (incomplete),
2 unreadable input (several dumps: the highest).`,
  options: {
    policy: { type: 'string' },
    cmdline: { type: 'string' },
    lookup: { type: 'string', multiple: true },
    jobs: { type: 'string', short: 'j' },
    'all-vars': { type: 'boolean' },
    'vmlinux-btf': { type: 'string' },
    report: { type: 'string' },
    'exit-on': { type: 'string' },
  },
  async run({ args, values, out }) {
    if (args.length === 0) throw new UsageError('verify: no VMCORE given');
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`verify: --jobs must be a whole number from 1 to 64`);
    const options = {
      cmdline: values.cmdline,
      policyFile: values.policy,
      lookups: values.lookup ?? [],
      allVars: !!values['all-vars'],
      vmlinuxBtf: values['vmlinux-btf'] ? btfBytesFromFile(readRegularFile(values['vmlinux-btf'], MAX_OBJECT_FILE, 'vmlinux BTF')) : undefined,
    };
    const exitOn = values['exit-on'] ?? 'self-contained';
    if (exitOn !== 'self-contained' && exitOn !== 'policy') throw new UsageError(`verify: --exit-on takes self-contained or policy, not '${exitOn}'`);
    const passed = (o: DumpOutcome) => (exitOn === 'policy' ? o.report!.verdict === 'complete' : o.report!.selfContained.verdict === 'self-contained');
    const code = (o: DumpOutcome) => (o.error ? 2 : passed(o) ? 0 : 1);

    const report = values.report;
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
    const summary = renderSummary(results.map((r) => ({ selfContained: r.report?.selfContained.verdict, verdict: r.report?.verdict, error: r.error?.message })));
    if (out.json) out.stderr.write(`${summary}\n`);
    else out.line(summary);
    return Math.max(...results.map(code));
  },
});

/** FILE written whole or not at all (writeFileAtomic); a failure is a USAGE error naming it. */
function writeReport(file: string, text: string): void {
  try {
    writeFileAtomic(file, text);
  } catch (err) {
    throw new UsageError(`verify: cannot write --report ${file}: ${(err as Error).message}`);
  }
}
