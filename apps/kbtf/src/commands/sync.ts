import { MAX_TEXT_FILE, readRegularFile, UsageError } from '@kbtf/binary';
import { Root, readSettings, readModulesDir, rootModprobeArgs, syncCompanions, realRunner, type SyncStatus } from '@kbtf/policy';
import { defineCommand } from '../cli/command.js';

export const command = defineCommand({
  name: 'sync',
  summary: 'load the companions of modules already loaded (from /proc/modules) with modprobe',
  usage: ['sync [--dry-run] [--json]', 'sync --dry-run --root DIR [--kernel KVER] [--cmdline STR] [--proc-modules FILE] [--json]'],
  help: `For each module in /proc/modules whose companion the settings select and modules.dep has, runs
'modprobe -- M-btf' unless M_btf is already loaded; then checks /sys/kernel/btf/M_btf exists (a
companion whose BTF the kernel rejected loads anyway on CONFIG_MODULE_ALLOW_BTF_MISMATCH kernels).
Running it twice does nothing the second time. Exit 1 when a companion failed.
--dry-run asks the real modprobe instead ('modprobe -n -v -- M-btf': what it would insmod, nothing
changes) and prints its plan; a companion kmod cannot resolve is a failure.
--root DIR (dry runs only) plans for a root tree: its settings and modules.dep, modprobe -d DIR -S KVER
-C DIR/etc/modprobe.d, and the loaded modules of --proc-modules FILE (a saved /proc/modules; default
DIR/proc/modules).`,
  options: {
    'dry-run': { type: 'boolean', short: 'n' },
    root: { type: 'string' },
    kernel: { type: 'string' },
    cmdline: { type: 'string' },
    'proc-modules': { type: 'string' },
  },
  async run({ values, out, env }) {
    const root = new Root(values.root ?? '/');
    const dryRun = !!values['dry-run'];
    if (!root.isLive && !dryRun) throw new UsageError('sync: --root other than / needs --dry-run (loading would insert the tree\'s modules into the running kernel)');
    const procFile = values['proc-modules'];
    const settings = readSettings(root, { kernel: values.kernel, cmdline: values.cmdline, configuredCmdline: !root.isLive });
    const mods = readModulesDir(root, values.kernel);
    const report = await syncCompanions(root, settings, mods, realRunner(env), {
      dryRun,
      modprobeArgs: rootModprobeArgs(root, mods.kernel),
      procModules: procFile !== undefined ? new TextDecoder().decode(readRegularFile(procFile, MAX_TEXT_FILE, 'a saved /proc/modules')) : undefined,
    });
    if (out.json) out.document({ ...report, actions: report.actions.map(({ decision, ...a }) => ({ ...a, reason: decision.reason })) });
    else {
      const interesting: SyncStatus[] = ['loaded', 'would-load', 'failed', 'no-btf', 'no-companion'];
      for (const a of report.actions) {
        if (!interesting.includes(a.status)) continue;
        out.line(`${a.status.padEnd(14)} ${a.companion}${a.message ? `: ${a.message}` : ''}`);
        for (const p of a.plan ?? []) out.line(`               ${p}`);
      }
      const count = (s: SyncStatus) => report.actions.filter((a) => a.status === s).length;
      out.line(`mode ${settings.mode.value}: ${count('loaded')} loaded, ${count('would-load')} to load, ${count('already-loaded')} already loaded, ${count('no-companion')} without companion, ${report.failed} failed`);
    }
    return report.failed ? 1 : 0;
  },
});
