import { UsageError } from '@kbtf/binary';
import { Root, readSettings, readModulesDir, renderConfig, writeIfChanged, upToDate } from '@kbtf/policy';
import { defineCommand } from '../cli/command.js';

export const command = defineCommand({
  name: 'modprobe-config',
  summary: 'render the modprobe.d softdeps that make kmod load companions (and the vmlinux-btf load)',
  usage: ['modprobe-config [--root DIR] [--configured] [--kernel KVER] [--cmdline STR] [--output FILE] [--modules-load FILE] [--check] [--json]'],
  help: `Writes 'softdep M post: M-btf' for every module of KVER's modules.dep that the policy selects and
whose companion is in modules.dep (keeping the pre:/post: lists of the softdep it replaces), sorted.
vmlinux-btf is loaded at boot through a modules-load.d file (--modules-load).
Without --output the modprobe.d text goes to stdout. Files are written atomically (temporary file +
rename) and only when their content changes. --check writes nothing and exits 1 when a file differs.
Paths are host paths. The shipped unit runs:
  kbtf modprobe-config --output /run/modprobe.d/kbtf.conf --modules-load /run/modules-load.d/kbtf.conf
--configured reads the settings of the configured boot even on the running system, as for a root
tree: the boot loader's command line (BLS entries, /etc/kernel/cmdline, /etc/default/grub and
grub.d) instead of /proc/cmdline, the sysctl.d files instead of /proc/sys; the initramfs-tools hook
uses it (with --kernel, the kernel being packed).`,
  options: { root: { type: 'string' }, configured: { type: 'boolean' }, kernel: { type: 'string' }, cmdline: { type: 'string' }, output: { type: 'string', short: 'o' }, 'modules-load': { type: 'string' }, check: { type: 'boolean' } },
  run({ values, out }) {
    const dir = values.root ?? '/';
    const root = values.configured ? new ConfiguredRoot(dir) : new Root(dir);
    const host = new Root('/');
    const output = values.output;
    const modulesLoad = values['modules-load'];
    if (values.check && !output && !modulesLoad) throw new UsageError('modprobe-config: --check needs --output and/or --modules-load');
    const settings = readSettings(root, { cmdline: values.cmdline, kernel: values.kernel, configuredCmdline: !root.isLive });
    const mods = readModulesDir(root, values.kernel);
    const r = renderConfig(root, settings, mods, { ignoreFiles: output ? [output] : [] });
    const files: { path: string; status: string }[] = [];
    for (const [path, text] of [[output, r.modprobe], [modulesLoad, r.modulesLoad]] as const) {
      if (!path) continue;
      if (values.check) files.push({ path, status: upToDate(host, path, text) ? 'up-to-date' : 'differs' });
      else files.push({ path, status: writeIfChanged(host, path, text) });
    }
    const differs = files.some((f) => f.status === 'differs');
    if (out.json) out.document({ kernel: r.kernel, mode: settings.mode, softdeps: r.softdeps.map(({ decision: _d, ...s }) => s), vmlinux: { load: r.vmlinux.load, present: r.vmlinux.present }, missingCompanions: r.missing, files, text: output ? undefined : r.modprobe });
    else {
      if (!output) out.stdout.write(r.modprobe);
      for (const f of files) out.line(`${f.path}: ${f.status}`);
      if (r.missing.length) out.warn(`${r.missing.length} selected modules have no companion in ${mods.depFile}`);
    }
    return differs ? 1 : 0;
  },
});

/** A root read as a tree even when it is the running system's: no /proc/cmdline, no /proc/sys. */
class ConfiguredRoot extends Root {
  override get isLive(): boolean {
    return false;
  }
}
