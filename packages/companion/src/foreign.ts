/**
 * A kernel of another architecture than the host's (arm64 on this amd64 host): its packages come
 * from the host's apt (arm64 as a dpkg foreign architecture), and its kbuild tree is unpacked,
 * never installed, into the cache:
 *
 *   <cache>/kernels/<kver>/headers/usr/src/linux-headers-<kver>          linux-headers-<kver> (arm64)
 *   <cache>/kernels/<kver>/headers/usr/src/linux-headers-<abi>-common    linux-headers-<abi>-common (all)
 *   <cache>/kernels/<kver>/headers/usr/lib/linux-kbuild-<series>         linux-kbuild-<series> of the HOST's
 *                                                                        architecture, the headers' exact version
 *
 * The packages' relative links (`scripts -> ../../lib/linux-kbuild-6.1/scripts`) resolve inside
 * that root, so fixdep, modpost and genksyms are host binaries built from the same source as the
 * kernel; the one absolute path, the arch Makefile's `include /usr/src/linux-headers-…-common/Makefile`,
 * is pointed at the unpacked copy. The compiler is bookworm's cross gcc (arch.ts).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BadDataError, NotFoundError, ToolError, UnsupportedError, run, runChecked } from '@kbtf/binary';
import { hostArch, isForeign, kernelArch, type KernelArch } from './arch.js';
import { findDeb, hostFetcher, type DebFetcher } from './debian-cache.js';
import type { Log } from './log.js';
import { checkHeaders } from './stub.js';
import { kernelSuite, suiteFetcher, type KernelToolchain } from './suite.js';

/** Is `kver` a kernel of another architecture than this host's? */
export function isForeignKernel(kver: string): boolean {
  return isForeign(kernelArch(kver));
}

/** The host's apt, for packages of a foreign architecture: refuses clearly when dpkg does not know that architecture. */
export function foreignFetcher(arch: KernelArch): DebFetcher {
  return async (pkg, dir) => {
    try {
      await hostFetcher(pkg, dir);
    } catch (err) {
      if (!(err instanceof ToolError) || !/Unable to locate|Can't select|has no installation candidate/.test(err.result.stderr)) throw err;
      const foreign = (await run('dpkg', ['--print-foreign-architectures'])).stdout.split('\n');
      if (foreign.includes(arch.deb)) throw err;
      throw new NotFoundError(`apt cannot download ${pkg}: ${arch.deb} is not a dpkg architecture here (dpkg --add-architecture ${arch.deb} && apt-get update)`);
    }
  };
}

/** How `kver`'s packages are fetched: the foreign-architecture fetcher, or its suite's (suite.ts). */
export async function kernelFetcher(cache: string, kver: string, download: boolean, log?: Log): Promise<DebFetcher> {
  const arch = kernelArch(kver);
  if (isForeign(arch)) return foreignFetcher(arch);
  return suiteFetcher(cache, kver, download, log);
}

/** The toolchain of a foreign kernel: only of the host's Debian release (no cross build inside a tree). */
export async function foreignToolchain(opts: { cache: string; kver: string; headers?: string; download?: boolean; log?: Log }): Promise<KernelToolchain> {
  const arch = kernelArch(opts.kver);
  const suite = kernelSuite(opts.kver);
  if (suite !== 'host') {
    throw new UnsupportedError(`${opts.kver}: ${arch.deb} companions are built on this ${hostArch().deb} host only for kernels of its own Debian release`);
  }
  const headers = opts.headers ?? (await ensureForeignHeaders(opts.cache, opts.kver, arch, opts.download ?? true, opts.log));
  checkHeaders(headers, opts.kver);
  return { suite, headers, fetch: foreignFetcher(arch) };
}

/** `dpkg-deb -f DEB FIELD…` as a map. */
async function debFields(deb: string, ...fields: string[]): Promise<Map<string, string>> {
  const r = await runChecked('dpkg-deb', ['-f', deb, ...fields]);
  const out = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^([A-Za-z-]+): (.*)$/gm)) out.set(m[1], m[2].trim());
  return out;
}

/** `<cache>/debs/PKG_VERSION_ARCH.deb`, downloaded as `PKG[:ARCH]=VERSION` when missing. */
async function exactDeb(cache: string, pkg: string, version: string, arch: string, download: boolean, fetch: DebFetcher, log?: Log): Promise<string> {
  const file = join(cache, 'debs', `${pkg}_${version.replace(/^\d+:/, '')}_${arch}.deb`);
  if (existsSync(file)) return file;
  if (!download) throw new NotFoundError(`${basename(file)} is not in ${join(cache, 'debs')} (allow downloads)`);
  mkdirSync(join(cache, 'debs'), { recursive: true });
  log?.(`apt-get download ${pkg}=${version} (${arch})`);
  await fetch(`${arch === 'all' ? pkg : `${pkg}:${arch}`}=${version}`, join(cache, 'debs'));
  if (!existsSync(file)) throw new NotFoundError(`apt-get download ${pkg}=${version} left no ${basename(file)}`);
  return file;
}

/**
 * The kbuild tree of a foreign kernel, unpacked into `<cache>/kernels/<kver>/headers` once (see the
 * top of this file). Returns `…/usr/src/linux-headers-<kver>`.
 */
export async function ensureForeignHeaders(cache: string, kver: string, arch: KernelArch, download: boolean, log?: Log): Promise<string> {
  const root = join(cache, 'kernels', kver, 'headers');
  const headers = join(root, 'usr/src', `linux-headers-${kver}`);
  if (existsSync(join(root, '.kbtf-complete'))) return headers;
  const fetch = foreignFetcher(arch);
  const deb = await findDeb(cache, `linux-headers-${kver}`, download, log, fetch);
  const f = await debFields(deb, 'Version', 'Depends');
  const version = f.get('Version');
  const depends = (f.get('Depends') ?? '').split(',').map((d) => d.trim().split(/[\s(:]/)[0]);
  const common = depends.find((d) => /^linux-headers-.*-common$/.test(d));
  const kbuild = depends.find((d) => d.startsWith('linux-kbuild-'));
  if (!version || !common || !kbuild) throw new BadDataError(deb, undefined, `no Version, -common or linux-kbuild in its control (Depends: ${f.get('Depends') ?? ''})`);
  const debs = [
    deb,
    await exactDeb(cache, common, version, 'all', download, fetch, log),
    // The kbuild programs run here: the host's architecture, built from the same source upload.
    await exactDeb(cache, kbuild, version, hostArch().deb, download, hostFetcher, log),
  ];
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const d of debs) {
      log?.(`unpacking ${basename(d)}`);
      await runChecked('dpkg-deb', ['-x', d, tmp]);
    }
    const makefile = join(tmp, 'usr/src', `linux-headers-${kver}`, 'Makefile');
    if (!existsSync(makefile)) throw new NotFoundError(`${basename(deb)} has no usr/src/linux-headers-${kver}/Makefile`);
    const text = readFileSync(makefile, 'utf8');
    const abs = /^include (\/usr\/src\/\S+\/Makefile)$/m.exec(text);
    if (!abs || !existsSync(join(tmp, abs[1]))) throw new BadDataError(makefile, undefined, `does not include a Makefile of the unpacked -common package: ${JSON.stringify(text.trim())}`);
    writeFileSync(makefile, text.replace(abs[0], `include ${join(root, abs[1])}`));
    checkHeaders(join(tmp, 'usr/src', `linux-headers-${kver}`), kver);
    writeFileSync(join(tmp, '.kbtf-complete'), debs.map((d) => basename(d)).join('\n') + '\n');
    if (existsSync(join(root, '.kbtf-complete'))) return headers; // another build finished first
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return headers;
}
