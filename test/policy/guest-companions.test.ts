// In the companion lab guests (tools/lab/lab-companions.sh: stock Debian kernels booted with
// btf_companions=always, the real companions in the initramfs' module tree, and the kmod config
// that `kbtf modprobe-config` rendered in /etc/modprobe.d), modules loaded through kmod bring their
// companions with them:
// - the guest's /proc/modules (newest first) lists each `M_btf` directly above `M`: kmod loaded it
//   right after M, as the softdep's post: list does (the image's /etc/lab/modules also names the
//   companions, but only after every parent module: loaded from there they would all sit on top);
// - every loaded module whose companion is in the image has it loaded;
// - the config in the guest's image is byte for byte what `kbtf modprobe-config` renders for that
//   root (the kernel's module tree with the companions, depmod'd, as the lab script makes it) and
//   for the image's own module tree.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labJson, labPath } from '../lab.js';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { parseProcModules } from '@kbtf/policy';
import { cachedKernel, unpackLabImage } from './companion-cache.js';

interface Truth {
  kernel: string;
  cmdline: string;
  modules: { name: string }[];
  modprobe_failed: string[];
}

async function render(root: string, kver: string): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'kbtf-render-')), 'kbtf.conf');
  const r = await runCli(['modprobe-config', '--root', root, '--kernel', kver, '--cmdline', 'btf_companions=always', '--output', out]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out, 'utf8');
}

for (const series of ['6.1', '6.12']) {
  const variant = `${series}-companions`;
  describe(`the ${variant} guest`, () => {
    it("lists every companion directly above its module in /proc/modules, and every companion the image has for a loaded module is loaded", () => {
      const truth = labJson<Truth>(variant, 'truth.json');
      expect(truth.cmdline).toMatch(/(^|\s)btf_companions=always(\s|$)/);
      const order = truth.modules.map((m) => m.name);
      expect(parseProcModules(readFileSync(labPath(variant, 'proc-modules.txt'), 'utf8'))).toEqual(order);
      const companions = order.filter((n) => n.endsWith('_btf') && n !== 'vmlinux_btf');
      expect(companions.length).toBeGreaterThanOrEqual(10);
      for (const c of companions) {
        const parent = c.slice(0, -'_btf'.length);
        expect({ companion: c, above: order[order.indexOf(c) + 1] }).toEqual({ companion: c, above: parent });
      }
      const dir = unpackLabImage(variant);
      const inImage = readdirSync(join(dir, 'lib/modules', truth.kernel, 'extra')).map((f) => f.replace(/-btf\.ko(\.\w+)?$/, '').replace(/-/g, '_'));
      const parents = order.filter((n) => !n.endsWith('_btf'));
      const withCompanion = parents.filter((p) => inImage.includes(p));
      expect(withCompanion.filter((p) => !order.includes(`${p}_btf`))).toEqual([]);
      expect(order).toContain('vmlinux_btf');
      expect(truth.modprobe_failed).toEqual([]);
    });

    it('runs the config kbtf modprobe-config renders for that root', { timeout: 180_000 }, async () => {
      const truth = labJson<Truth>(variant, 'truth.json');
      const k = cachedKernel(series);
      expect(k.kver).toBe(truth.kernel);
      const dir = unpackLabImage(variant);
      const inImage = readFileSync(join(dir, 'etc/modprobe.d/kbtf.conf'), 'utf8');
      expect(readFileSync(labPath(variant, 'build/modprobe.d/kbtf.conf'), 'utf8')).toBe(inImage);
      expect(inImage).toMatch(/^softdep ext4 pre: crypto-crc32c post: ext4-btf$/m);
      // The root lab-companions.sh renders from: the kernel's tree, the companions in updates/kbtf, depmod.
      const root = mkdtempSync(join(tmpdir(), 'kbtf-guest-root-'));
      const mdir = join(root, 'lib/modules', k.kver);
      mkdirSync(join(mdir, 'updates/kbtf'), { recursive: true });
      execFileSync('cp', ['-al', join(k.modules, 'kernel'), join(mdir, 'kernel')]);
      for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) if (existsSync(join(k.modules, f))) copyFileSync(join(k.modules, f), join(mdir, f));
      for (const f of readdirSync(k.companions)) copyFileSync(join(k.companions, f), join(mdir, 'updates/kbtf', f));
      execFileSync('depmod', ['-b', root, k.kver]);
      try {
        expect(await render(root, k.kver)).toBe(inImage);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
      // ...and the image's own module tree renders the same.
      expect(await render(dir, truth.kernel)).toBe(inImage);
    });
  });
}
