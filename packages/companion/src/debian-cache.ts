/**
 * One Debian kernel's inputs, found or fetched into the cache:
 *
 *   <cache>/debs/                      linux-image-<kver>[-dbg]_*.deb (apt-get download: the host's
 *                                      apt, or the trixie tree's for a trixie kernel, suite.ts)
 *   <cache>/kernels/<kver>/image/      the image package unpacked + `depmod -b` (modules.dep); in
 *                                      Debian unstable's 7.2 packaging linux-image-<kver> is a
 *                                      metapackage and the files are in the linux-binary (vmlinuz),
 *                                      linux-modules (.ko.xz) and linux-base (config, modules.builtin*)
 *                                      packages of the same kver it depends on: all are unpacked
 *   <cache>/kernels/<kver>/dbg/        only the members of the -dbg package asked for so far
 *   <cache>/kernels/<kver>/vmlinux.btf the `.BTF` section of the -dbg vmlinux (= the running
 *                                      kernel's /sys/kernel/btf/vmlinux)
 *
 * The -dbg package is ~860 MB compressed; members are streamed out of `dpkg-deb --fsys-tarfile`
 * by name, never unpacked whole. Every step writes to a temporary name and renames when done.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BadDataError, ElfFile, MAX_OBJECT_FILE, NotFoundError, childProcess, openElfFile, openRegularFile, readRegularFile, runChecked } from '@kbtf/binary';
import { type Log, silent } from './log.js';

export const DEFAULT_CACHE = '/var/cache/kbtf';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KBTF_CACHE || DEFAULT_CACHE;
}

/** Module file name → module name as written (`nf_tables.ko.xz` → `nf_tables`). */
export function moduleFileName(file: string): string {
  return basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '');
}

/** The kernel's folding of a module name: `-` → `_` (kmod and kernel/module agree). */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

export interface ModuleEntry {
  name: string;
  /** Path relative to lib/modules/<kver>, as in modules.dep (`kernel/fs/ext4/ext4.ko`). */
  rel: string;
  deps: string[];
}

export class KernelTree {
  readonly root: string;
  readonly dbgRoot: string;
  private index?: Map<string, ModuleEntry>;

  constructor(
    readonly cache: string,
    readonly kver: string,
    readonly log: Log = silent,
    /** A lib/modules/<kver> directory to use instead of the unpacked image package. */
    readonly modulesDirOverride?: string,
    /** How a missing package is downloaded (the host's apt, or a trixie tree's: suite.ts). */
    readonly fetch: DebFetcher = hostFetcher,
  ) {
    this.root = join(cache, 'kernels', kver);
    this.dbgRoot = join(this.root, 'dbg');
  }

  get modulesDir(): string {
    return this.modulesDirOverride ?? join(this.root, 'image/lib/modules', this.kver);
  }

  get dbgVmlinux(): string {
    return join(this.dbgRoot, 'usr/lib/debug/boot', `vmlinux-${this.kver}`);
  }

  get vmlinuxBtf(): string {
    return join(this.root, 'vmlinux.btf');
  }

  /** The DWARF twin of an installed module: usr/lib/debug/lib/modules/<kver>/<rel without .xz>. */
  dbgModule(rel: string): string {
    return join(this.dbgRoot, this.dbgMember(rel));
  }

  private dbgMember(rel: string): string {
    return join('usr/lib/debug/lib/modules', this.kver, rel.replace(/\.(xz|zst|gz)$/, ''));
  }

  /** Unpack linux-image-<kver> and its split parts (for the module files and modules.dep), once. */
  async ensureImage(download: boolean): Promise<void> {
    if (this.modulesDirOverride || existsSync(join(this.root, 'image/.kbtf-complete'))) return;
    const deb = await findDeb(this.cache, `linux-image-${this.kver}`, download, this.log, this.fetch);
    const parts: string[] = [];
    for (const pkg of splitImageParts(this.kver, await debField(deb, 'Depends'))) parts.push(await findDeb(this.cache, pkg, download, this.log, this.fetch));
    const tmp = join(this.root, `image.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const d of [deb, ...parts]) {
      this.log(`unpacking ${basename(d)}`);
      await runChecked('dpkg-deb', ['-x', d, tmp]);
    }
    if (!existsSync(join(tmp, 'lib/modules', this.kver)) && !existsSync(join(tmp, 'usr/lib/modules', this.kver))) {
      throw new NotFoundError(`${basename(deb)}${parts.length ? ` and ${parts.map((p) => basename(p)).join(', ')}` : ''} hold no lib/modules/${this.kver}`);
    }
    // Merged-/usr packages ship usr/lib/modules: give both layouts a lib/modules.
    if (!existsSync(join(tmp, 'lib/modules', this.kver)) && existsSync(join(tmp, 'usr/lib/modules', this.kver))) {
      mkdirSync(join(tmp, 'lib/modules'), { recursive: true });
      cpSync(join(tmp, 'usr/lib/modules', this.kver), join(tmp, 'lib/modules', this.kver), { recursive: true });
    }
    await runChecked('depmod', ['-b', tmp, this.kver]);
    // The image package first: imageDeb() reads it for the kernel's exact version.
    writeFileSync(join(tmp, '.kbtf-complete'), [deb, ...parts].map((d) => `${basename(d)}\n`).join(''));
    // Another build for this kernel finished first: keep its tree, which may be in use.
    if (existsSync(join(this.root, 'image/.kbtf-complete'))) {
      rmSync(tmp, { recursive: true, force: true });
      return;
    }
    rmSync(join(this.root, 'image'), { recursive: true, force: true });
    renameSync(tmp, join(this.root, 'image'));
  }

  /** The linux-image-<kver> .deb the unpacked image came from (for its exact version). */
  imageDeb(): string {
    const marker = join(this.root, 'image/.kbtf-complete');
    if (!existsSync(marker)) throw new NotFoundError(`${this.kver}'s image is not unpacked in ${this.root} (kbtf companion provision --kernel ${this.kver})`);
    return join(this.cache, 'debs', readFileSync(marker, 'utf8').split('\n')[0].trim());
  }

  /** modules.dep as name → entry (names as the file names have them, not folded). */
  modules(): Map<string, ModuleEntry> {
    if (this.index) return this.index;
    const dep = join(this.modulesDir, 'modules.dep');
    if (!existsSync(dep)) throw new NotFoundError(`${dep} not found: no module tree for ${this.kver}`);
    const index = new Map<string, ModuleEntry>();
    for (const line of readFileSync(dep, 'utf8').split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const rel = line.slice(0, colon);
      const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleFileName);
      const name = moduleFileName(rel);
      index.set(normalizeModuleName(name), { name, rel, deps });
    }
    this.index = index;
    return index;
  }

  module(name: string): ModuleEntry {
    const e = this.modules().get(normalizeModuleName(name));
    if (!e) throw new NotFoundError(`module ${name} is not in ${this.kver}'s modules.dep`);
    return e;
  }

  /** `names` and everything they depend on (modules.dep is already transitive), in a stable order. */
  withDependencies(names: readonly string[]): ModuleEntry[] {
    const out = new Map<string, ModuleEntry>();
    for (const n of names) {
      const e = this.module(n);
      for (const d of e.deps) out.set(normalizeModuleName(d), this.module(d));
      out.set(normalizeModuleName(e.name), e);
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Extract from linux-image-<kver>-dbg whatever of `rels` (and vmlinux if asked) is not here yet. */
  async ensureDbg(rels: readonly string[], vmlinux: boolean, download: boolean): Promise<void> {
    const members = rels.map((r) => this.dbgMember(r)).filter((m) => !existsSync(join(this.dbgRoot, m)));
    const bootVmlinux = join('usr/lib/debug/boot', `vmlinux-${this.kver}`);
    // In 7.2's packaging boot/vmlinux-KVER is a symlink to lib/modules/KVER/vmlinux: ask for both,
    // the second optional (older packages have only the first, a file).
    const optional = [join('usr/lib/debug/lib/modules', this.kver, 'vmlinux')];
    if (vmlinux && !existsSync(this.dbgVmlinux)) members.push(bootVmlinux);
    if (members.length === 0) return;
    const deb = await findDeb(this.cache, `linux-image-${this.kver}-dbg`, download, this.log, this.fetch);
    this.log(`extracting ${members.length} file(s) from ${basename(deb)}`);
    const tmp = join(this.root, `dbg.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      await extractMembers(deb, tmp, members.map((m) => `./${m}`), members.includes(bootVmlinux) ? optional.map((m) => `./${m}`) : []);
      for (const m of members) {
        let src = join(tmp, m);
        // A symlink within the package (boot/vmlinux-KVER): the file it names, extracted beside it.
        if (existsSync(src) && lstatSync(src).isSymbolicLink()) src = resolvePath(dirname(src), readlinkSync(src));
        if (!existsSync(src) || !src.startsWith(`${tmp}/`)) throw new NotFoundError(`${basename(deb)} has no ${m}`);
        mkdirSync(dirname(join(this.dbgRoot, m)), { recursive: true });
        renameSync(src, join(this.dbgRoot, m));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** vmlinux BTF: the `.BTF` section of the -dbg vmlinux, cached beside it. */
  ensureVmlinuxBtf(): string {
    if (existsSync(this.vmlinuxBtf)) return this.vmlinuxBtf;
    if (!existsSync(this.dbgVmlinux)) throw new NotFoundError(`${this.dbgVmlinux} not found (extract it from linux-image-${this.kver}-dbg)`);
    const { elf, close } = openElfFile(this.dbgVmlinux, { littleEndian64: true });
    try {
      const btf = elf.sectionBytes('.BTF');
      const tmp = `${this.vmlinuxBtf}.tmp`;
      writeFileSync(tmp, btf);
      renameSync(tmp, this.vmlinuxBtf);
    } finally {
      close();
    }
    return this.vmlinuxBtf;
  }
}

/**
 * The packages of the same kernel that a split linux-image-<kver> metapackage depends on
 * (linux-binary-, linux-modules-, linux-base-<kver>: Debian unstable's 7.2 packaging), from its
 * Depends field; none for a classic image package, whose Depends names no such package.
 */
export function splitImageParts(kver: string, depends: string): string[] {
  const names = depends.split(/[,|]/).map((d) => d.trim().split(/[\s(]/)[0]);
  return ['binary', 'modules', 'base'].map((p) => `linux-${p}-${kver}`).filter((p) => names.includes(p));
}

/** One control field of a .deb (`dpkg-deb -f`), empty when absent. */
async function debField(deb: string, field: string): Promise<string> {
  return (await runChecked('dpkg-deb', ['-f', deb, field])).stdout.trim();
}

/** Downloads `pkg`'s .deb into `dir` (the host's `apt-get download`, or a tree's: suite.ts). */
export type DebFetcher = (pkg: string, dir: string) => Promise<void>;

/** The host's apt: `apt-get download pkg` in `dir`. */
export const hostFetcher: DebFetcher = async (pkg, dir) => {
  await runChecked('apt-get', ['download', pkg], { cwd: dir });
};

/** `<cache>/debs/<pkg>_*.deb`, downloaded with `fetch` (default `apt-get download`) when allowed. */
export async function findDeb(cache: string, pkg: string, download: boolean, log: Log = silent, fetch: DebFetcher = hostFetcher): Promise<string> {
  const dir = join(cache, 'debs');
  const find = () =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'))
          .map((f) => join(dir, f))
      : [];
  let found = find();
  if (found.length === 0) {
    if (!download) throw new NotFoundError(`${pkg} is not in ${dir} (allow downloads, or apt-get download ${pkg} there)`);
    mkdirSync(dir, { recursive: true });
    log(`apt-get download ${pkg}`);
    await fetch(pkg, dir);
    found = find();
    if (found.length === 0) throw new NotFoundError(`apt-get download ${pkg} left no .deb in ${dir}`);
  }
  return found.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** `dpkg-deb --fsys-tarfile DEB | tar -x -C DIR -T LIST`, streamed: the .deb is never unpacked whole. */
function extractMembers(deb: string, dir: string, members: readonly string[], optional: readonly string[] = []): Promise<void> {
  const list = join(dir, '.members');
  writeFileSync(list, [...members, ...optional].join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const dpkg = childProcess().spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
    // --no-wildcards: member names are literal paths, whatever characters they hold.
    const tar = childProcess().spawn('tar', ['-x', '-f', '-', '-C', dir, '--no-wildcards', '-T', list], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    dpkg.stderr.on('data', (b: Buffer) => (err += b.toString()));
    tar.stderr.on('data', (b: Buffer) => (err += b.toString()));
    dpkg.stdout.pipe(tar.stdin);
    tar.stdin.on('error', () => {});
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code === 2 && what === 'tar -x' && onlyOptionalMissing(err, optional)) code = 0;
      if (code !== 0 && !failed) {
        failed = true;
        reject(new NotFoundError(`${what} failed (exit ${code}) extracting from ${basename(deb)}: ${err.trim().split('\n').slice(-4).join(' | ')}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    dpkg.on('close', done('dpkg-deb --fsys-tarfile'));
    tar.on('close', done('tar -x'));
  });
}

/** tar's complaints are all "NAME: Not found in archive" for names in `optional` (and its closing line). */
export function onlyOptionalMissing(stderr: string, optional: readonly string[]): boolean {
  const lines = stderr.split('\n').filter((l) => l.startsWith('tar: '));
  const missing = lines.map((l) => /^tar: (.*): Not found in archive$/.exec(l)?.[1]);
  const closing = (l: string) => l === 'tar: Exiting with failure status due to previous errors';
  return lines.length > 0 && lines.every((l, i) => closing(l) || (missing[i] !== undefined && optional.includes(missing[i])));
}

/** An installed module's bytes, decompressed (.ko.xz, .ko.zst, .ko.gz or plain .ko). */
export async function readModule(path: string): Promise<Uint8Array> {
  // A regular file of at most MAX_OBJECT_FILE, else a typed refusal (docs/limits.md): /dev/zero or a
  // FIFO given as a module must not be read forever.
  if (path.endsWith('.xz') || path.endsWith('.zst')) {
    // xz and zstd read the file themselves: only check what it is (nothing read twice).
    closeSync(openRegularFile(path, 'a kernel module').fd);
    const [cmd, args] = path.endsWith('.xz') ? ['xz', ['-dc', path]] : ['zstd', ['-dcq', path]];
    return (await runChecked(cmd, args, { binary: true })).bytes!;
  }
  const bytes = readRegularFile(path, MAX_OBJECT_FILE, 'a kernel module');
  return path.endsWith('.gz') ? gunzipSync(bytes) : bytes;
}

/** Refuse DWARF that was not built with the module: their GNU build-ids must be equal. */
export function checkBuildId(module: ElfFile, dwarf: ElfFile): string {
  const want = module.buildId();
  const got = dwarf.buildId();
  if (!want) throw new BadDataError(module.source, undefined, 'the module has no GNU build-id note: cannot match it to its DWARF');
  if (!got) throw new BadDataError(dwarf.source, undefined, 'the DWARF file has no GNU build-id note: cannot match it to the module');
  if (want !== got) {
    throw new BadDataError(dwarf.source, undefined, `DWARF does not match the module: build-id ${got} here, ${want} in ${module.source}`);
  }
  return want;
}
