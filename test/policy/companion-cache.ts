/**
 * The real companions built by `kbtf companion build` (packages/companion; CI runs
 * tools/lab/lab-companions.sh before the tests) and the kernels they were built for, from
 * $KBTF_CACHE (default /var/cache/kbtf). A missing cache is a test failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Root, readSettings, readModulesDir, renderConfig } from '@kbtf/policy';
import { labKernel, labPath } from '../lab.js';

export const kbtfCache = process.env.KBTF_CACHE ?? '/var/cache/kbtf';

export interface CachedKernel {
  kver: string;
  /** The kernel's own module tree (unpacked linux-image, depmod'd). */
  modules: string;
  /** Raw vmlinux BTF. */
  vmlinuxBtf: string;
  /** Directory of the built companions (`M-btf.ko`). */
  companions: string;
}

/**
 * The cached kernel of a series ('6.1', '6.12') with its companions: the release the lab's
 * companion guest of that series booted (a cache may hold older ABIs too); throws when missing.
 */
export function cachedKernel(series: string): CachedKernel {
  const base = join(kbtfCache, 'companions/lib/modules');
  const kver = labKernel(`${series}-companions`);
  const hint = `(run: bash tools/lab/lab-companions.sh ${series}, see docs/companions.md)`;
  const k: CachedKernel = {
    kver,
    modules: join(kbtfCache, 'kernels', kver, 'image/lib/modules', kver),
    vmlinuxBtf: join(kbtfCache, 'kernels', kver, 'vmlinux.btf'),
    companions: join(base, kver, 'updates/kbtf'),
  };
  for (const p of [join(k.modules, 'modules.dep'), k.vmlinuxBtf, join(k.companions, 'loop-btf.ko'), join(k.companions, 'vmlinux-btf.ko')]) {
    if (!existsSync(p)) throw new Error(`companion cache missing: ${p} ${hint}`);
  }
  return k;
}

/** In-tree path (relative to the module dir) of a module of the kernel's own tree, e.g. kernel/drivers/block/loop.ko.xz; `-` and `_` are equal. */
export function modulePath(k: CachedKernel, name: string): string {
  for (const line of readFileSync(join(k.modules, 'modules.dep'), 'utf8').split('\n')) {
    const p = line.slice(0, line.indexOf(':'));
    if (p.slice(p.lastIndexOf('/') + 1).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_') === name.replace(/-/g, '_')) return p;
  }
  throw new Error(`${name} is not in ${k.modules}/modules.dep`);
}

function place(src: string, dst: string): void {
  mkdirSync(dirname(dst), { recursive: true });
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

export const CHECK_CMDLINE = 'btf_companions=always crashkernel=256M';

export interface TreeSpec {
  /** Modules of the kernel's own tree to put in (no dependencies are added). */
  modules: string[];
  /** `updates/kbtf/<file name>` → host file (a real companion, or anything posing as one). */
  companions: Record<string, string>;
  /** Names for /etc/modules-load.d/test.conf. */
  load: string[];
}

/**
 * A root tree: only the listed modules of the real kernel tree (hard links), the given companion
 * files in updates/kbtf, `depmod -b`, a modules-load.d list, kbtf modprobe-config's rendering in
 * /etc/modprobe.d/kbtf.conf (mode from CHECK_CMDLINE) and kdump-tools enabled, so that a tree whose
 * companions are all valid gives no finding at all.
 */
export function buildTree(k: CachedKernel, spec: TreeSpec): string {
  const root = mkdtempSync(join(tmpdir(), 'kbtf-check-tree-'));
  const mdir = join(root, 'lib/modules', k.kver);
  for (const m of spec.modules) {
    const p = modulePath(k, m);
    place(join(k.modules, p), join(mdir, p));
  }
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    if (existsSync(join(k.modules, f))) place(join(k.modules, f), join(mdir, f));
  }
  for (const [name, src] of Object.entries(spec.companions)) place(src, join(mdir, 'updates/kbtf', name));
  execFileSync('depmod', ['-b', root, k.kver], { stdio: ['ignore', 'ignore', 'pipe'] });
  mkdirSync(join(root, 'etc/modules-load.d'), { recursive: true });
  writeFileSync(join(root, 'etc/modules-load.d/test.conf'), spec.load.map((m) => `${m}\n`).join(''));
  mkdirSync(join(root, 'etc/default'), { recursive: true });
  writeFileSync(join(root, 'etc/default/kdump-tools'), 'USE_KDUMP=1\n');
  const tree = new Root(root);
  const r = renderConfig(tree, readSettings(tree, { cmdline: CHECK_CMDLINE }), readModulesDir(tree, k.kver));
  mkdirSync(join(root, 'etc/modprobe.d'), { recursive: true });
  writeFileSync(join(root, 'etc/modprobe.d/kbtf.conf'), r.modprobe);
  return root;
}

/** Unpack a lab initrd (zstd cpio, build/initrd.img of a lab variant) into a fresh directory. */
export function unpackLabImage(variant: string): string {
  const img = labPath(variant, 'build/initrd.img');
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-lab-root-'));
  execFileSync('sh', ['-c', 'zstd -dcq "$1" | (cd "$2" && cpio -idm --quiet)', 'sh', img, dir]);
  return dir;
}
