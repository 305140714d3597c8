import { Root, readSettings, readModulesDir, syncCompanions, realRunner, type SyncStatus } from '@kbtf/policy';
import type { Command } from '../cli/command.js';

export const command: Command = {
  name: 'sync',
  summary: 'load the companions of modules already loaded (from /proc/modules) with modprobe',
  usage: ['sync [--dry-run] [--json]'],
  help: `For each module in /proc/modules whose companion the settings select and modules.dep has, runs
'modprobe -- M-btf' unless M_btf is already loaded; then checks /sys/kernel/btf/M_btf exists (a
companion whose BTF the kernel rejected loads anyway on CONFIG_MODULE_ALLOW_BTF_MISMATCH kernels).
Running it twice does nothing the second time. Exit 1 when a companion failed.`,
  options: { 'dry-run': { type: 'boolean', short: 'n' } },
  async run({ values, out, env }) {
    const root = new Root('/');
    const settings = readSettings(root);
    const mods = readModulesDir(root);
    const report = await syncCompanions(root, settings, mods, realRunner(env), { dryRun: !!values['dry-run'] });
    if (out.json) out.document({ ...report, actions: report.actions.map(({ decision, ...a }) => ({ ...a, reason: decision.reason })) });
    else {
      const interesting: SyncStatus[] = ['loaded', 'would-load', 'failed', 'no-btf', 'no-companion'];
      for (const a of report.actions) if (interesting.includes(a.status)) out.line(`${a.status.padEnd(14)} ${a.companion}${a.message ? `: ${a.message}` : ''}`);
      const count = (s: SyncStatus) => report.actions.filter((a) => a.status === s).length;
      out.line(`mode ${settings.mode.value}: ${count('loaded')} loaded, ${count('would-load')} to load, ${count('already-loaded')} already loaded, ${count('no-companion')} without companion, ${report.failed} failed`);
    }
    return report.failed ? 1 : 0;
  },
};
