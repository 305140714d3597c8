import { MAX_OBJECT_FILE, readRegularFile } from '@kbtf/binary';
import { Root, checkRoot } from '@kbtf/policy';
import { defineCommand } from '../cli/command.js';

export const command = defineCommand({
  name: 'check',
  summary: 'pre-deploy check: will this root tree load companions and keep them in crash dumps?',
  usage: ['check [--root DIR] [--kernel KVER] [--cmdline STR] [--list FILE]... [--all] [--vmlinux-btf FILE] [--json]'],
  help: `Modules checked: modules-load.d and /etc/modules of the tree, plus each --list FILE (an in-tree path,
one name a line, e.g. /etc/initramfs-tools/modules), or every module with --all; then their
dependencies and softdeps. For each that the policy selects: companion in modules.dep, vermagic,
btf_companion_of, the .BTF checks the kernel runs at module load (6.1's rules for 6.1.x) and a split-BTF
parse on the vmlinux BTF (--vmlinux-btf, or the tree's), the softdep kmod will
use, install/blacklist lines. 'required' modules and the modules initramfs-tools' initramfs loads (its
module list, the root file system) are checked too. Then whether anything loads the selected companions
at boot: a softdep file in a persistent modprobe.d directory, kbtf-modprobe-config.service installed,
enabled and not masked, 'kbtf hook' install lines, and for initramfs modules the initramfs-tools hook
(companions-not-wired, initramfs-hook-missing). Then crashkernel= and kdump-tools/kdumpctl. Each finding has a severity,
a code, the file that caused it and a hint (docs/policy.md lists them).
Exit 0 no error findings, 1 error findings, 2 unusable input.`,
  options: {
    root: { type: 'string' },
    kernel: { type: 'string' },
    cmdline: { type: 'string' },
    list: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    'vmlinux-btf': { type: 'string' },
  },
  run({ values, out }) {
    const root = new Root(values.root ?? '/');
    const btfPath = values['vmlinux-btf'];
    const report = checkRoot(root, {
      kernel: values.kernel,
      cmdline: values.cmdline,
      lists: values.list,
      all: !!values.all,
      vmlinuxBtf: btfPath ? readRegularFile(btfPath, MAX_OBJECT_FILE, 'vmlinux BTF') : undefined,
      vmlinuxBtfSource: btfPath,
    });
    if (out.json) out.document(report);
    else {
      out.line(`${report.root}: kernel ${report.kernel}, mode ${report.settings.mode} (${report.settings.modeSource}), ${report.modules.length} modules load`);
      const w = report.wiring;
      const by = [...w.softdepFiles, ...(w.unit.active ? [`${w.unit.name} (enabled${w.unit.runsSync ? ', runs kbtf sync' : ''})`] : []), ...(w.hook.active ? [w.hook.file!] : []), ...(w.installHooks.length ? [`kbtf hook install lines (${w.installHooks.length})`] : [])];
      out.line(`companions loaded at boot by: ${by.length ? by.join(', ') : 'nothing'}; ${w.selected} selected modules have companions${w.notWired.length ? `, ${w.notWired.length} not loaded by anything` : ''}`);
      for (const f of report.findings) {
        const sev = f.severity === 'error' ? out.paint('red', 'error') : f.severity === 'warning' ? out.paint('yellow', 'warning') : 'info';
        out.line(`${sev}: ${f.code}: ${f.file}${f.line ? `:${f.line}` : ''}: ${f.message}`);
        out.line(`    hint: ${f.hint}`);
      }
      out.line(`${report.errors} errors, ${report.findings.length - report.errors} other findings; ${report.missingCompanions.length} selected modules lack companions`);
    }
    return report.errors ? 1 : 0;
  },
});
