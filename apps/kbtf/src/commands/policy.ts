import { Root, readSettings, formatSource, decide } from '@kbtf/policy';
import { defineCommand } from '../cli/command.js';

const show = defineCommand({
  name: 'show',
  summary: 'print every effective companion setting and the source that set it',
  usage: ['policy show [--root DIR] [--cmdline STR] [--kernel KVER] [--module M]... [--json]'],
  help: `Precedence: kernel cmdline > sysctl kernel.btf_companions > policy file > default (on-demand).
For --root other than /, the command line is the boot loader's configured one (BLS entries,
/etc/kernel/cmdline, /etc/default/grub) and sysctl comes from sysctl.d. --module M also prints
the decision for M (any spelling). See docs/policy.md.`,
  options: { root: { type: 'string' }, cmdline: { type: 'string' }, kernel: { type: 'string' }, module: { type: 'string', multiple: true } },
  run({ values, out }) {
    const root = new Root(values.root ?? '/');
    const s = readSettings(root, { cmdline: values.cmdline, kernel: values.kernel });
    const decisions = (values.module ?? []).map((m) => decide(s, m));
    if (out.json) {
      out.document({
        mode: s.mode,
        exclude: s.exclude,
        include: s.include,
        vmlinux: s.vmlinux,
        required: s.required,
        cmdline: s.cmdline ? { line: s.cmdline.line, source: s.cmdline.source } : null,
        policyFile: s.policy?.file ?? null,
        problems: s.problems,
        decisions,
      });
    } else {
      const list = (xs: { pattern: string; source: Parameters<typeof formatSource>[0] }[]) => (xs.length ? xs.map((x) => `${x.pattern} [${formatSource(x.source)}]`).join(', ') : '(none)');
      out.line(`mode      ${s.mode.value}  [${formatSource(s.mode.source)}]`);
      out.line(`vmlinux   ${s.vmlinux.value}  [${formatSource(s.vmlinux.source)}]`);
      out.line(`exclude   ${list(s.exclude)}`);
      out.line(`include   ${list(s.include)}`);
      out.line(`required  ${list(s.required)}`);
      out.line(`cmdline   ${s.cmdline ? `${s.cmdline.line}  [${formatSource(s.cmdline.source)}]` : '(none)'}`);
      out.line(`policy    ${s.policy?.file ?? '(no policy file)'}`);
      for (const d of decisions) out.line(`module ${d.module}: companion ${d.load ? 'loads' : 'does not load'} (${d.reason}${d.pattern ? ` ${d.pattern}` : ''}, ${formatSource(d.source)})`);
      for (const p of s.problems) out.warn(`${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
    }
    return s.problems.some((p) => p.severity === 'error') ? 1 : 0;
  },
});

export const command = defineCommand({
  name: 'policy',
  summary: 'companion policy: effective settings and their sources',
  usage: ['policy show [--root DIR] [--cmdline STR] [--json]'],
  subcommands: { show },
});
