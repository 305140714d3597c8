/**
 * Which Debian release a kernel belongs to, and where its packages and its kbuild come from.
 *
 * Debian names a kernel ABI after its release: bookworm's own kernels are `6.1.0-N-amd64`,
 * bookworm-backports' `6.12.x+deb12-amd64`, trixie's `6.12.x+deb13-amd64`. A kernel of the host's
 * release is built as always: `apt-get download` on the host, kbuild against the host's
 * `/usr/src/linux-headers-KVER`. A trixie kernel on a bookworm host cannot be: the host's apt
 * does not see trixie, and trixie's headers need trixie's compiler (gcc-14) and kbuild tools.
 * So for a trixie kernel, everything that is trixie's goes through the debootstrap'd trixie tree
 * the builder already keeps for pahole (pahole.ts, `<cache>/trixie`):
 *
 *   - packages (linux-image-KVER, -dbg): `apt-get download` run by the tree's apt, inside it
 *     (chroot), then moved to `<cache>/debs` like the host's;
 *   - kbuild: `make`, gcc-14 and `linux-headers-KVER` (+ its -common and linux-kbuild) installed
 *     with apt into the tree, never on the host; the stubs are built inside it (chroot).
 *
 * pahole still runs through the tree's loader without a chroot, and the module files and DWARF
 * are still read on the host: only kbuild and apt run inside.
 *
 * Debian unstable's kernels (`7.2.13+deb14-amd64` in December 2026: they carry the next release's
 * number) go the same way through a debootstrap'd sid tree, `<cache>/sid`: its gcc-16 and
 * linux-kbuild-7.2 for the stubs, and its pahole (1.32, the version the kernel's own BTF was made
 * with: CONFIG_PAHOLE_VERSION=132) for the companions' BTF. In that packaging linux-image-KVER is a
 * metapackage: debian-cache.ts unpacks the linux-binary/-modules/-base packages it depends on.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { NotFoundError, ToolError, UnsupportedError, run, runChecked } from '@kbtf/binary';
import { hostFetcher, type DebFetcher } from './debian-cache.js';
import { ensurePaholeTree } from './pahole.js';
import { checkHeaders } from './stub.js';
import { type Log, silent } from './log.js';

/** Where a kernel's packages and kbuild come from: the host itself, the trixie tree or the sid tree. */
export type KernelSuite = 'host' | 'trixie' | 'sid';

/** A suite reached through a debootstrap'd tree `<cache>/<suite>`. */
export type TreeSuite = Exclude<KernelSuite, 'host'>;

/** Debian 13 is trixie. */
export const TRIXIE_MAJOR = 13;

/** Kernels of a later release than trixie (+deb14 and up) are unstable's: the sid tree builds them. */
export const SID_MIN_MAJOR = 14;

export interface KernelToolchain {
  suite: KernelSuite;
  /** The kbuild tree, as a host path. */
  headers: string;
  /** Build the stubs inside this tree (chroot); `headers` lies under it. */
  chroot?: string;
  fetch: DebFetcher;
}

/**
 * The Debian major release a kernel release was built for: `+debNN-` in its name, 12 for
 * bookworm's own `X.Y.0-N-flavour` ABI names, undefined for anything else (a custom kernel).
 */
export function debianRelease(kver: string): number | undefined {
  const m = /\+deb(\d+)(?:u\d+)?-/.exec(kver);
  if (m) return Number(m[1]);
  if (/^\d+\.\d+\.0-\d+-[a-z0-9-]+$/.test(kver)) return 12;
  return undefined;
}

/** The host's Debian major release (/etc/os-release VERSION_ID), or undefined. */
export function hostDebianRelease(osRelease = '/etc/os-release'): number | undefined {
  if (!existsSync(osRelease)) return undefined;
  const m = /^VERSION_ID="?(\d+)"?$/m.exec(readFileSync(osRelease, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

/**
 * `host` for a kernel of the host's release (or of no known release), `trixie` for a Debian 13
 * kernel on another host, `sid` for a kernel of a later release (unstable's) on an older host.
 * Refuses the rest: there is no tree for them.
 */
export function kernelSuite(kver: string, host: number | undefined = hostDebianRelease()): KernelSuite {
  const release = debianRelease(kver);
  if (release === undefined || release === host) return 'host';
  if (release === TRIXIE_MAJOR) return 'trixie';
  if (release >= SID_MIN_MAJOR && (host === undefined || host < release)) return 'sid';
  if (release === 12 && (host === undefined || host < TRIXIE_MAJOR)) return 'host';
  throw new UnsupportedError(
    `${kver} is a Debian ${release} kernel and this host is Debian ${host ?? 'unknown'}: companions are built on the host for its own ` +
      `release, through a debootstrap'd trixie tree for Debian ${TRIXIE_MAJOR} kernels and a sid tree for later ones`,
  );
}

/**
 * The tree whose pahole encodes `kver`'s companions: sid's for an unstable kernel (its BTF may use
 * what only the newest pahole knows), trixie's for the rest.
 */
export function paholeSuite(kver: string): TreeSuite {
  return kernelSuite(kver) === 'sid' ? 'sid' : 'trixie';
}

/** `<cache>/<suite>`, debootstrapped (with dwarves) when downloads are allowed and it is missing. */
export async function suiteTree(cache: string, suite: TreeSuite, download: boolean, log: Log = silent): Promise<string> {
  return download ? ensurePaholeTree(cache, { log, suite }) : join(cache, suite);
}

/** A clean environment for commands run inside a tree (the host's PATH may name host-only dirs). */
export function treeEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' };
}

/** `chroot TREE argv…`, checked. */
export function inTree(tree: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Awaited<ReturnType<typeof runChecked>>> {
  return runChecked('chroot', [tree, ...argv], { env: { ...treeEnv(), ...env } });
}

/** Wait up to 10 minutes for another apt in the same tree instead of failing on its lock. */
const APT_LOCK = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Acquire::Retries=3'];

/** The tree's package lists are refreshed when older than this. */
const LISTS_MAX_AGE_MS = 12 * 3600 * 1000;

/** `apt-get update` in the tree when its lists are missing or stale (or when `force`). */
export async function ensureTreeAptLists(tree: string, log: Log = silent, force = false): Promise<void> {
  const lists = join(tree, 'var/lib/apt/lists');
  const newest = existsSync(lists)
    ? Math.max(0, ...readdirSync(lists).filter((f) => f.endsWith('_Packages') || f.endsWith('_InRelease')).map((f) => statSync(join(lists, f)).mtimeMs))
    : 0;
  if (!force && newest > 0 && Date.now() - newest < LISTS_MAX_AGE_MS) return;
  ensureResolvConf(tree);
  log(`apt-get update in ${tree}`);
  await inTree(tree, ['apt-get', ...APT_LOCK, '-q', 'update']);
}

/** The tree resolves names as the host does (debootstrap may leave it without a resolv.conf). */
function ensureResolvConf(tree: string): void {
  const conf = join(tree, 'etc/resolv.conf');
  if (existsSync(conf) && statSync(conf).size > 0) return;
  if (existsSync('/etc/resolv.conf')) {
    rmSync(conf, { force: true });
    copyFileSync('/etc/resolv.conf', conf);
  }
}

/**
 * Downloads through the tree's apt: `apt-get download PKG` inside the tree, in a scratch directory
 * under its /tmp, then moved to `dir`. A package the lists do not know triggers one `apt-get
 * update` and a retry (Debian removes superseded kernels from the mirror, and adds new ones).
 */
export function treeFetcher(tree: string, log: Log = silent): DebFetcher {
  return async (pkg, dir) => {
    await ensureTreeAptLists(tree, log);
    mkdirSync(join(tree, 'tmp'), { recursive: true });
    const scratch = mkdtempSync(join(tree, 'tmp', 'kbtf-download-'));
    try {
      const argv = ['sh', '-c', 'cd "$1" && shift && exec apt-get "$@"', 'sh', `/${relative(tree, scratch)}`, ...APT_LOCK, '-q', 'download', pkg];
      try {
        await inTree(tree, argv);
      } catch (err) {
        if (!(err instanceof ToolError) || !/Unable to locate|Can't select|has no installation candidate/.test(err.result.stderr)) throw err;
        await ensureTreeAptLists(tree, log, true);
        await inTree(tree, argv);
      }
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(scratch).filter((n) => n.endsWith('.deb'))) moveFile(join(scratch, f), join(dir, f));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  };
}

function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    copyFileSync(from, `${to}.tmp`);
    renameSync(`${to}.tmp`, to);
  }
}

/** How `kver`'s packages are fetched: the host's apt, or the trixie or sid tree's (made when downloads are allowed). */
export async function suiteFetcher(cache: string, kver: string, download: boolean, log: Log = silent): Promise<DebFetcher> {
  const suite = kernelSuite(kver);
  if (suite === 'host') return hostFetcher;
  return treeFetcher(await suiteTree(cache, suite, download, log), log);
}

/** What a tree kernel's stubs need in the tree, besides the headers package's own dependencies (gcc, linux-kbuild). */
export const TREE_KBUILD_PACKAGES = ['make'];

/** A kernel installed into the tree gets no initramfs. */
const NO_INITRD = { INITRD: 'No' };

/** `dpkg-query` in the tree: is every one of `pkgs` installed? */
async function treeHasPackages(tree: string, pkgs: readonly string[]): Promise<boolean> {
  const r = await run('chroot', [tree, 'dpkg-query', '-W', '-f', '${Package} ${Status}\\n', ...pkgs], { env: treeEnv() });
  const ok = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' install ok installed')).map((l) => l.split(' ')[0]));
  return pkgs.every((p) => ok.has(p));
}

/**
 * `linux-headers-KVER` and `make` installed in the tree (with apt, inside it; its dependencies
 * bring gcc-14 and linux-kbuild), once. Returns the headers as a host path.
 *
 * trixie's linux-headers-KVER depends on linux-image-KVER, so the image is installed into the tree
 * too (~110 MB). Its postinst would build an initramfs for it (a minute of CPU, for nothing):
 * `INITRD=No` is the switch /etc/kernel/postinst.d/initramfs-tools honours.
 */
export async function ensureTreeKbuild(tree: string, kver: string, download: boolean, log: Log = silent): Promise<string> {
  const headers = join(tree, 'usr/src', `linux-headers-${kver}`);
  const pkgs = [...TREE_KBUILD_PACKAGES, `linux-headers-${kver}`];
  if (!existsSync(join(tree, 'usr/bin/pahole'))) throw new NotFoundError(`no debootstrap'd tree at ${tree} (kbtf companion provision --kernel ${kver})`);
  if (!(await treeHasPackages(tree, pkgs))) {
    if (!download) {
      throw new NotFoundError(`linux-headers-${kver} is not installed in the tree ${tree}: kbtf companion provision --kernel ${kver} (or allow downloads)`);
    }
    await ensureTreeAptLists(tree, log);
    log(`apt-get install ${pkgs.join(' ')} in ${tree}`);
    const install = ['apt-get', ...APT_LOCK, '-q', '-y', '--no-install-recommends', 'install', ...pkgs];
    try {
      await inTree(tree, install, NO_INITRD);
    } catch (err) {
      if (!(err instanceof ToolError) || !/Unable to locate|has no installation candidate/.test(err.result.stderr)) throw err;
      await ensureTreeAptLists(tree, log, true);
      await inTree(tree, install, NO_INITRD);
    }
    await inTree(tree, ['apt-get', 'clean']); // the .debs apt kept in the tree: ~150 MB
  }
  checkHeaders(headers, kver);
  return headers;
}
