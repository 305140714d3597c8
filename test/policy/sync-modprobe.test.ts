// `kbtf sync --dry-run --root` against this host's real modprobe (kmod): a root tree made of the
// real kernel's modules that a plain lab guest loaded (its /proc/modules, .lab/<series>-4level) plus
// the real companions, depmod'd. Every loaded module with a companion gets a plan from
// `modprobe -d ROOT -S KVER -n -v -- M-btf` (the companion's insmod), the others are reported
// without one, an excluded module is not selected, and with the companion guest's /proc/modules
// (companions loaded) there is nothing left to do. Nothing is loaded: --root refuses without --dry-run.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labJson, labPath } from '../lab.js';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { parseProcModules } from '@kbtf/policy';
import { buildTree, cachedKernel, modulePath } from './companion-cache.js';

interface SyncDoc {
  kernel: string;
  dryRun: boolean;
  failed: number;
  actions: { module: string; companion: string; status: string; plan?: string[]; reason: string }[];
}

for (const series of ['6.1', '6.12']) {
  describe(`kbtf sync --dry-run on a ${series} root with the real modprobe`, () => {
    const k = cachedKernel(series);
    const variant = `${series}-4level`;

    function tree(): { root: string; loaded: string[]; withCompanion: Set<string> } {
      const truth = labJson<{ kernel: string }>(variant, 'truth.json');
      expect(truth.kernel).toBe(k.kver);
      const loaded = [...new Set(parseProcModules(readFileSync(labPath(variant, 'proc-modules.txt'), 'utf8')))];
      const files = readdirSync(k.companions).filter((f) => f.endsWith('-btf.ko'));
      const companions = Object.fromEntries(files.map((f) => [f, join(k.companions, f)]));
      const withCompanion = new Set(files.map((f) => f.replace(/-btf\.ko$/, '').replace(/-/g, '_')));
      const root = buildTree(k, { modules: loaded.map((m) => modulePath(k, m).split('/').pop()!.replace(/\.ko(\.\w+)?$/, '')), companions, load: [] });
      return { root, loaded, withCompanion };
    }

    it("plans each loaded module's companion with modprobe -n -v; excluded and companion-less modules get none", async () => {
      const { root, loaded, withCompanion } = tree();
      const r = await runCli(['sync', '--dry-run', '--json', '--root', root, '--kernel', k.kver, '--cmdline', 'btf_companions=always btf_companions.exclude=e1000', '--proc-modules', labPath(variant, 'proc-modules.txt')]);
      const doc = JSON.parse(r.stdout) as SyncDoc;
      expect(doc.dryRun).toBe(true);
      expect(doc.actions.filter((a) => a.status === 'failed')).toEqual([]);
      expect(doc.failed).toBe(0);
      const by = new Map(doc.actions.map((a) => [a.module, a]));
      expect([...by.keys()].sort()).toEqual([...loaded, 'vmlinux'].sort());
      expect(by.get('e1000')?.status).toBe('not-selected');
      const planned = [...by.values()].filter((a) => a.status === 'would-load');
      expect(planned.map((a) => a.module).sort()).toEqual([...loaded, 'vmlinux'].filter((m) => m !== 'e1000' && withCompanion.has(m)).sort());
      expect(planned.length).toBeGreaterThanOrEqual(10);
      expect(r.code, r.stderr).toBe(0);
      // The file keeps the module file's spelling (crc32c-intel.ko → crc32c-intel-btf.ko); kmod folds - and _.
      const fold = (p: string) => p.replace(/[^/]*$/, (b) => b.replace(/-/g, '_'));
      for (const a of planned) expect((a.plan ?? []).map(fold)).toEqual([fold(`insmod ${root}/lib/modules/${k.kver}/updates/kbtf/${a.companion}.ko`)]);
      expect([...by.values()].filter((a) => a.status === 'no-companion').map((a) => a.module).sort()).toEqual(loaded.filter((m) => !withCompanion.has(m)).sort());
    });

    it('with the companion guest\'s /proc/modules there is nothing to do; a real load on a root is refused', async () => {
      const { root } = tree();
      const r = await runCli(['sync', '--dry-run', '--json', '--root', root, '--kernel', k.kver, '--cmdline', 'btf_companions=always', '--proc-modules', labPath(`${series}-companions`, 'proc-modules.txt')]);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as SyncDoc;
      expect(doc.actions.filter((a) => a.status === 'would-load')).toEqual([]);
      expect(doc.actions.filter((a) => a.status === 'already-loaded').length).toBeGreaterThanOrEqual(10);
      const refused = await runCli(['sync', '--root', root, '--kernel', k.kver, '--proc-modules', labPath(variant, 'proc-modules.txt')]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/needs --dry-run/);
    });
  });
}
