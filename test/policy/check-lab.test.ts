// `kbtf check` on the lab's real initramfs images.
// - The plain lab images ship no companions: with mode always, check must report exactly the
//   modules the guest actually loaded (its own /proc/modules) as lacking companions, resolving
//   dependencies and softdeps the way kmod did in the guest.
// - The companion lab images (tools/lab/lab-companions.sh: the real companions in the image's
//   module tree, kbtf modprobe-config's output in /etc/modprobe.d): the modules reported as lacking
//   companions must be exactly the guest's parent modules (truth.json, not *_btf) that have no
//   `<name>_btf` loaded, and every companion in the image must pass the file checks (vermagic,
//   btf_companion_of, the kernel's module-load BTF checks on that kernel's vmlinux BTF).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { labJson, labPath } from '../lab.js';
import { Root, checkRoot, parseProcModules } from '@kbtf/policy';
import { cachedKernel, unpackLabImage } from './companion-cache.js';

const CMDLINE = 'btf_companions=always crashkernel=256M';

for (const variant of ['6.1-4level', '6.12-4level']) {
  describe(`kbtf check on the lab image ${variant}`, () => {
    it('reports exactly the loaded modules as lacking companions', () => {
      const dir = unpackLabImage(variant);
      const report = checkRoot(new Root(dir), { lists: ['/etc/lab/modules'], cmdline: CMDLINE });
      // The guest's own list; vmlinux too: mode always selects vmlinux-btf, which the image lacks.
      const want = [...new Set(parseProcModules(readFileSync(labPath(variant, 'proc-modules.txt'), 'utf8'))), 'vmlinux'].sort();
      expect(report.missingCompanions).toEqual(want);
      expect(report.findings.filter((f) => f.code === 'companion-missing').map((f) => f.module).sort()).toEqual(want);
    });
  });
}

const FILE_CODES = ['companion-unreadable', 'vermagic-mismatch', 'companion-of-missing', 'companion-of-mismatch', 'companion-no-btf', 'companion-btf-invalid', 'btf-unchecked', 'vmlinux-btf-unreadable'];

for (const series of ['6.1', '6.12']) {
  const variant = `${series}-companions`;
  describe(`kbtf check on the companion lab image ${variant}`, () => {
    it("reports exactly the guest's parent modules without a loaded companion; every companion passes", () => {
      const truth = labJson<{ kernel: string; modules: { name: string }[] }>(variant, 'truth.json');
      const k = cachedKernel(series);
      expect(k.kver).toBe(truth.kernel);
      const dir = unpackLabImage(variant);
      const report = checkRoot(new Root(dir), { lists: ['/etc/lab/modules'], cmdline: CMDLINE, vmlinuxBtf: readFileSync(k.vmlinuxBtf), vmlinuxBtfSource: k.vmlinuxBtf });
      expect(report.kernel).toBe(truth.kernel);
      const loaded = new Set(truth.modules.map((m) => m.name));
      const parents = [...loaded].filter((n) => !n.endsWith('_btf'));
      const want = parents.filter((n) => !loaded.has(`${n}_btf`)).sort();
      expect(want.length).toBeLessThan(parents.length);
      expect(report.missingCompanions).toEqual(want);
      expect(report.findings.filter((f) => f.code === 'companion-missing').map((f) => f.module).sort()).toEqual(want);
      // Every parent the guest loaded is one check says loads (dependencies and softdeps resolved as kmod did).
      const checked = new Set(report.modules.map((m) => m.name));
      expect(parents.filter((n) => !checked.has(n))).toEqual([]);
      // The companions in the image are the real ones: no file finding, and the rendered softdeps are used.
      expect(report.findings.filter((f) => FILE_CODES.includes(f.code))).toEqual([]);
      expect(report.findings.filter((f) => f.code.startsWith('softdep-') || f.code === 'vmlinux-not-loaded')).toEqual([]);
    });
  });
}
