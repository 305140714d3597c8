// `kbtf check` on the lab's real initramfs image: with mode always, it must report exactly the
// modules the guest actually loaded (its own /proc/modules) as lacking companions (the lab
// image ships none), and resolve dependencies and softdeps the way kmod did in the guest.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPath } from '../lab.js';
import { Root, checkRoot, parseProcModules } from '@kbtf/policy';

for (const variant of ['6.1-4level', '6.12-4level']) {
  describe(`kbtf check on the lab image ${variant}`, () => {
    it('reports exactly the loaded modules as lacking companions', () => {
      const img = labPath(variant, 'build/initrd.img');
      const dir = mkdtempSync(join(tmpdir(), 'kbtf-lab-root-'));
      execFileSync('sh', ['-c', 'zstd -dcq "$1" | (cd "$2" && cpio -idm --quiet)', 'sh', img, dir]);
      const report = checkRoot(new Root(dir), { lists: ['/etc/lab/modules'], cmdline: 'btf_companions=always crashkernel=256M' });
      // The guest's own list; vmlinux too: mode always selects vmlinux-btf, which the image lacks.
      const want = [...new Set(parseProcModules(readFileSync(labPath(variant, 'proc-modules.txt'), 'utf8'))), 'vmlinux'].sort();
      expect(report.missingCompanions).toEqual(want);
      expect(report.findings.filter((f) => f.code === 'companion-missing').map((f) => f.module).sort()).toEqual(want);
    });
  });
}
