/**
 * A kernel's companions as a Debian package, `kbtf-companions-KVER_VERSION_ARCH.deb` (ARCH: the
 * kernel's Debian architecture, amd64 or arm64, arch.ts):
 *
 *   /lib/modules/KVER/updates/kbtf/M-btf.ko        (and vmlinux-btf.ko)
 *   /usr/share/doc/kbtf-companions-KVER/{changelog.gz,copyright}
 *   DEBIAN/{control,md5sums,postinst,postrm,triggers}
 *
 * The companions are more modules of that kernel, so the package is shaped like any out-of-tree
 * module package: it depends on exactly the image package whose modules it was built from
 * (`linux-image-KVER (= version)`, read from that .deb's control: Debian can rebuild an ABI with the
 * same KVER, and split BTF is only valid on the vmlinux BTF it was encoded on), runs `depmod -a KVER`
 * in postinst and postrm when that kernel's module tree is there, and activates initramfs-tools'
 * trigger (the initramfs may carry companions of the modules it loads).
 *
 * The bytes are reproducible: every file's mtime and the ar timestamps are SOURCE_DATE_EPOCH
 * (given, or the image package's own build time), owner root:root, modes fixed, members sorted
 * (dpkg-deb sorts), xz with one thread, the changelog gzip'd without a name or time.
 *
 * Companions are reused from a build root (default `$KBTF_CACHE/companions`, what `kbtf companion
 * build` writes) when its summary lists them with the module's current build-id and they pass the
 * loader-side check on the current vmlinux BTF; the others are built there first.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BadDataError, ElfFile, NotFoundError, UsageError, digestHex, openElfFile, runChecked, withContext } from '@kbtf/binary';
import { parseBtf, readSectionAnchors } from '@kbtf/btf';
import { buildForKernel, companionDir, readSummaryFile, resolveEntries, type KernelBuildOptions } from './batch.js';
import { checkCompanion } from './check.js';
import { KernelTree, readModule } from './debian-cache.js';
import { silent } from './log.js';
import { companionName, VMLINUX } from './stub.js';
import { kernelArch } from './arch.js';
import { kernelFetcher } from './foreign.js';

/** Debian architecture of the companions: the kernel's (`6.1.0-57-arm64` → arm64), the host's for a release naming none. */
export function packageArch(kver: string): string {
  return kernelArch(kver).deb;
}

export const DEFAULT_MAINTAINER = 'kbtf developers <kbtf@users.noreply.github.com>';

/** `kbtf-companions-6.1.0-57-amd64`: a Debian package name (lower case, digits, `+-.`). */
export function packageName(kver: string): string {
  const name = `kbtf-companions-${kver}`;
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new UsageError(`${JSON.stringify(kver)} makes no valid Debian package name (${name})`);
  return name;
}

/** `kbtf-companions-KVER_VERSION_ARCH.deb` (dpkg's `name_version_arch.deb`, epoch dropped). */
export function debFileName(kver: string, version: string): string {
  return `${packageName(kver)}_${version.replace(/^\d+:/, '')}_${packageArch(kver)}.deb`;
}

/** The on-target directory of the companions: depmod searches `updates/` before `kernel/`. */
export function targetDir(kver: string): string {
  return `lib/modules/${kver}/updates/kbtf`;
}

export interface ControlFields {
  kver: string;
  /** The package's version: kbtf's. */
  version: string;
  /** The exact Debian version of linux-image-KVER the companions were built from. */
  imageVersion: string;
  /** The image package's name (`linux-image-KVER`; the unsigned flavour has another). */
  imagePackage?: string;
  installedSizeKiB: number;
  /** Names of the modules (and `vmlinux`) with a companion in the package. */
  modules: readonly string[];
  maintainer?: string;
}

/** A Debian version: [epoch:]upstream[-revision], as dpkg accepts it. */
const DEBIAN_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~-]*$/;

/** DEBIAN/control. Fields in the order dpkg-gencontrol writes them. */
export function renderControl(f: ControlFields): string {
  for (const [what, v] of [['version', f.version], ['image version', f.imageVersion]] as const) {
    if (!DEBIAN_VERSION.test(v)) throw new UsageError(`${JSON.stringify(v)} is not a Debian ${what}`);
  }
  const image = f.imagePackage ?? `linux-image-${f.kver}`;
  const mods = [...f.modules].sort((a, b) => (a === VMLINUX ? -1 : b === VMLINUX ? 1 : a.localeCompare(b)));
  const about =
    `The kbtf companions of ${mods.length} module(s) of the kernel ${f.kver} (${image} ${f.imageVersion}). ` +
    'A companion M-btf.ko holds no code: its .BTF section describes the global variables of module M ' +
    '(vmlinux-btf.ko: of the kernel itself), so that a crash dump of a kernel that loaded them carries ' +
    'the types of every variable kbtf verify reads. kbtf modprobe-config makes kmod load each one right after its module.';
  return [
    `Package: ${packageName(f.kver)}`,
    'Source: kbtf',
    `Version: ${f.version}`,
    `Architecture: ${packageArch(f.kver)}`,
    `Maintainer: ${f.maintainer ?? DEFAULT_MAINTAINER}`,
    `Installed-Size: ${f.installedSizeKiB}`,
    `Depends: ${image} (= ${f.imageVersion})`,
    'Section: kernel',
    'Priority: optional',
    `Description: BTF companion modules for Linux ${f.kver}`,
    ...wrap(about, 78).map((l) => ` ${l}`),
    ' .',
    ' Companions in this package:',
    ...wrap(mods.join(', '), 78).map((l) => ` ${l}`),
    '',
  ].join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * postinst and postrm: `depmod -a KVER` only where that kernel's module tree is (its modules.dep,
 * or the image's modules.order), so that installing the package before or without its kernel (a
 * chroot, an image being built) never fails. depmod then finds the companions in updates/.
 * `$DPKG_ROOT` (set by `dpkg --root --force-script-chrootless`) is honoured: depmod -b there.
 */
export function renderMaintainerScript(kind: 'postinst' | 'postrm', kver: string): string {
  const when = kind === 'postinst' ? 'configure|abort-upgrade|abort-remove|abort-deconfigure' : 'remove|purge|abort-install|abort-upgrade';
  return [
    '#!/bin/sh',
    'set -e',
    '',
    `# kbtf-companions-${kver}: the companions are modules of ${kver}; refresh its modules.dep`,
    '# when that kernel is here. Nothing fails when it is not.',
    `KVER="${kver}"`,
    'MODDIR="$DPKG_ROOT/lib/modules/$KVER"',
    '',
    'case "$1" in',
    `${when})`,
    '\tif [ -e "$MODDIR/modules.dep" ] || [ -e "$MODDIR/modules.order" ]; then',
    '\t\tif command -v depmod >/dev/null 2>&1; then',
    '\t\t\tdepmod ${DPKG_ROOT:+-b "$DPKG_ROOT"} -a "$KVER" || echo "kbtf-companions: depmod -a $KVER failed" >&2',
    '\t\tfi',
    '\tfi',
    '\t;;',
    'esac',
    '',
    'exit 0',
    '',
  ].join('\n');
}

/** RFC 2822 date as Debian changelogs have it, in UTC. */
export function changelogDate(epoch: number): string {
  const d = new Date(epoch * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${day}, ${p(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function renderChangelog(f: Pick<ControlFields, 'kver' | 'version' | 'imageVersion' | 'maintainer'>, epoch: number): string {
  return [
    `${packageName(f.kver)} (${f.version}) unstable; urgency=medium`,
    '',
    `  * Companions built by kbtf ${f.version} from the DWARF of`,
    `    linux-image-${f.kver}-dbg ${f.imageVersion}.`,
    '',
    ` -- ${f.maintainer ?? DEFAULT_MAINTAINER}  ${changelogDate(epoch)}`,
    '',
  ].join('\n');
}

/** debian/copyright (DEP-5): the companions are derived from the kernel's DWARF, so GPL-2 like it. */
export function renderCopyright(epoch: number): string {
  const year = new Date(epoch * 1000).getUTCFullYear();
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: kbtf',
    'Comment: The companion modules are generated from the Linux kernel\'s debug information',
    ' (linux-image-*-dbg) by kbtf, and carry the kernel\'s license.',
    '',
    'Files: *',
    `Copyright: 1991-${year} Linus Torvalds and the Linux kernel authors`,
    `           ${year} the kbtf authors`,
    'License: GPL-2',
    '',
    'License: GPL-2',
    ' This program is free software; you can redistribute it and/or modify it under',
    ' the terms of the GNU General Public License version 2 as published by the Free',
    ' Software Foundation.',
    ' .',
    ' On Debian systems, the complete text of the GNU General Public License version',
    ' 2 can be found in /usr/share/common-licenses/GPL-2.',
    '',
  ].join('\n');
}

/**
 * The build time recorded in a .deb: the ar timestamp of its first member (dpkg-deb writes
 * SOURCE_DATE_EPOCH there, so for Debian's reproducible kernels it is the kernel's build date).
 */
export function debTimestamp(deb: string): number {
  const fd = openSync(deb, 'r');
  try {
    const head = Buffer.alloc(8 + 60);
    readSync(fd, head, 0, head.length, 0);
    if (head.toString('latin1', 0, 8) !== '!<arch>\n') throw new BadDataError(deb, 0, 'not an ar archive (no !<arch> magic)');
    const mtime = Number(head.toString('latin1', 8 + 16, 8 + 28).trim());
    if (!Number.isSafeInteger(mtime) || mtime < 0) throw new BadDataError(deb, 8 + 16, 'bad ar member timestamp');
    return mtime;
  } finally {
    closeSync(fd);
  }
}

/** `dpkg-deb -f DEB Package Version`. */
export async function debIdentity(deb: string): Promise<{ package: string; version: string }> {
  const r = await runChecked('dpkg-deb', ['-f', deb, 'Package', 'Version']);
  const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(r.stdout)?.[1]?.trim();
  const pkg = field('Package');
  const version = field('Version');
  if (!pkg || !version) throw new BadDataError(deb, undefined, `no Package/Version in its control (dpkg-deb -f said ${JSON.stringify(r.stdout)})`);
  return { package: pkg, version };
}

export interface PackageOptions extends Omit<KernelBuildOptions, 'out'> {
  /** Where companions are reused from and built into (default `<cache>/companions`). */
  companions?: string;
  /** Directory the .deb is written to. */
  output: string;
  /** The package version (kbtf's). */
  version: string;
  maintainer?: string;
  /** Fixed time for every timestamp (default: $SOURCE_DATE_EPOCH, else the image .deb's). */
  sourceDateEpoch?: number;
}

export interface PackageResult {
  deb: string;
  package: string;
  version: string;
  depends: string;
  /** Companions in the package, in order, as module names (`vmlinux` included). */
  modules: string[];
  /** Of those, the ones built by this run (the rest were reused). */
  built: string[];
  /** Modules asked for that have no companion (no global variables). */
  without: string[];
  sourceDateEpoch: number;
  bytes: number;
  sha256: string;
}

/** Build (or reuse), stage and `dpkg-deb --build` the companion package of one kernel. */
export async function packageCompanions(opts: PackageOptions): Promise<PackageResult> {
  const log = opts.log ?? silent;
  const download = opts.download ?? true;
  const root = opts.companions ?? join(opts.cache, 'companions');
  const name = packageName(opts.kver);
  if (!opts.all && opts.modules.length === 0 && !opts.vmlinux) throw new UsageError('companion package: name modules, or give --all or --vmlinux');

  // The kernel tree and its module list, fetched through the kernel's suite (host or trixie tree; a foreign architecture's: foreign.ts).
  const fetch = await kernelFetcher(opts.cache, opts.kver, download, log);
  const tree = new KernelTree(opts.cache, opts.kver, log, opts.modulesDir, fetch);
  await tree.ensureImage(download);
  const entries = resolveEntries(tree, opts);
  const wanted = [...entries.map((e) => e.name), ...(opts.vmlinux ? [VMLINUX] : [])];

  // One pass over the ~1 GB -dbg package: the vmlinux (its BTF checks what is reused) together with
  // the DWARF of every module the summary does not list (those will be built for sure).
  const listed = new Set((readSummaryFile(root, opts.kver)?.companions ?? []).filter((c) => existsSync(c.file)).map((c) => c.module));
  await tree.ensureDbg(entries.filter((e) => !listed.has(e.name)).map((e) => e.rel), true, download);
  const vmlinuxBtf = tree.ensureVmlinuxBtf();
  const reusable = await findReusable(root, opts.kver, tree, entries, opts.vmlinux ?? false, vmlinuxBtf);
  const missing = wanted.filter((m) => !reusable.has(m));
  let built: string[] = [];
  if (missing.length > 0) {
    log(`building ${missing.length} companion(s) (${reusable.size} reused from ${root})`);
    const mods = missing.filter((m) => m !== VMLINUX);
    const results = await buildForKernel({ ...opts, modules: mods, all: false, deps: false, vmlinux: missing.includes(VMLINUX), out: root, log });
    built = results.map((r) => r.of);
  } else log(`reusing ${reusable.size} companion(s) from ${root}`);
  const dir = companionDir(root, opts.kver);
  const modules = wanted.filter((m) => existsSync(join(dir, `${companionName(m)}.ko`)) && (reusable.has(m) || built.includes(m)));
  const without = wanted.filter((m) => !modules.includes(m));
  if (modules.length === 0) throw new NotFoundError(`no companion to package for ${opts.kver}: none of ${wanted.join(', ')} has global variables`);

  const imageDeb = tree.imageDeb();
  const image = await debIdentity(imageDeb);
  const epoch = opts.sourceDateEpoch ?? envEpoch() ?? debTimestamp(imageDeb);
  const stage = mkdtempSync(join(tmpdir(), 'kbtf-package-'));
  try {
    const pkgRoot = join(stage, name);
    const files = new Map<string, Uint8Array>();
    for (const m of modules) files.set(`${targetDir(opts.kver)}/${companionName(m)}.ko`, readFileSync(join(dir, `${companionName(m)}.ko`)));
    const fields: Omit<ControlFields, 'installedSizeKiB'> = {
      kver: opts.kver, version: opts.version, imageVersion: image.version, imagePackage: image.package, modules, maintainer: opts.maintainer,
    };
    files.set(`usr/share/doc/${name}/changelog.gz`, gzipSync(renderChangelog(fields, epoch), { level: 9 }));
    files.set(`usr/share/doc/${name}/copyright`, Buffer.from(renderCopyright(epoch)));
    const control = renderControl({ ...fields, installedSizeKiB: installedSize(files) });
    writeStage(pkgRoot, files, {
      control,
      postinst: renderMaintainerScript('postinst', opts.kver),
      postrm: renderMaintainerScript('postrm', opts.kver),
      triggers: 'activate-noawait update-initramfs\n',
    });
    normalizeTimes(pkgRoot, epoch);
    mkdirSync(opts.output, { recursive: true });
    const deb = join(opts.output, debFileName(opts.kver, opts.version));
    const tmp = join(stage, basename(deb));
    await runChecked('dpkg-deb', ['--root-owner-group', '-Zxz', '-z6', '--threads-max=1', '--build', pkgRoot, tmp], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    });
    const bytes = readFileSync(tmp);
    writeFileSync(`${deb}.tmp`, bytes);
    renameSync(`${deb}.tmp`, deb);
    log(`wrote ${deb} (${modules.length} companion(s), Depends: ${image.package} (= ${image.version}))`);
    return {
      deb, package: name, version: opts.version, depends: `${image.package} (= ${image.version})`, modules, built, without,
      sourceDateEpoch: epoch, bytes: bytes.byteLength, sha256: digestHex('sha256', bytes),
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function envEpoch(): number | undefined {
  const v = process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH=${JSON.stringify(v)} is not a number of seconds`);
  return Number(v);
}

/**
 * The companions under `root` that can go into the package as they are: listed in its summary with
 * the build-id of the module (or -dbg vmlinux) this kernel tree has now, and passing the
 * loader-side check on the current vmlinux BTF; a vmlinux companion also needs its section anchors.
 */
async function findReusable(
  root: string, kver: string, tree: KernelTree, entries: readonly { name: string; rel: string }[], vmlinux: boolean, vmlinuxBtf: string,
): Promise<Set<string>> {
  const out = new Set<string>();
  const summary = readSummaryFile(root, kver);
  if (!summary) return out;
  const rows = new Map(summary.companions.map((c) => [c.module, c]));
  const base = parseBtf(readFileSync(vmlinuxBtf), { source: vmlinuxBtf });
  const candidates: { name: string; buildId: () => string | undefined | Promise<string | undefined> }[] = entries.map((e) => ({
    name: e.name,
    buildId: async () => ElfFile.fromBytes(await readModule(join(tree.modulesDir, e.rel)), e.rel, { littleEndian64: true }).buildId(),
  }));
  if (vmlinux) {
    candidates.push({
      name: VMLINUX,
      buildId: () => {
        const f = openElfFile(tree.dbgVmlinux, { littleEndian64: true });
        try {
          return f.elf.buildId();
        } finally {
          f.close();
        }
      },
    });
  }
  const dir = companionDir(root, kver);
  for (const c of candidates) {
    const row = rows.get(c.name);
    const file = join(dir, `${companionName(c.name)}.ko`);
    if (!row || !row.buildId || !existsSync(file)) continue;
    try {
      if ((await c.buildId()) !== row.buildId) continue;
      const bytes = readFileSync(file);
      const btf = ElfFile.fromBytes(bytes, file, { littleEndian64: true }).sectionBytes('.BTF');
      checkCompanion(bytes, file, { of: c.name, kver, btf, base });
      // A vmlinux companion of contract version 1 has no section anchors: rebuilt (docs/design.md §2).
      if (c.name === VMLINUX && !readSectionAnchors(parseBtf(btf, { base, source: file }))) continue;
      out.add(c.name);
    } catch (err) {
      if (err instanceof BadDataError) continue; // rebuilt below
      throw withContext(err, c.name);
    }
  }
  return out;
}

/** dpkg's Installed-Size: KiB per file rounded up, plus one per directory. */
function installedSize(files: ReadonlyMap<string, Uint8Array>): number {
  const dirs = new Set<string>();
  let kib = 0;
  for (const [path, bytes] of files) {
    kib += Math.ceil(bytes.byteLength / 1024);
    for (let d = dirname(path); d !== '.'; d = dirname(d)) dirs.add(d);
  }
  return kib + dirs.size;
}

function writeStage(pkgRoot: string, files: ReadonlyMap<string, Uint8Array>, control: Record<'control' | 'postinst' | 'postrm' | 'triggers', string>): void {
  for (const [path, bytes] of files) {
    const f = join(pkgRoot, path);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, bytes);
    chmodSync(f, 0o644);
  }
  const debian = join(pkgRoot, 'DEBIAN');
  mkdirSync(debian, { recursive: true });
  const sums = [...files.keys()].sort().map((p) => `${digestHex('md5', files.get(p)!)}  ${p}`);
  const meta: [string, string, number][] = [
    ['control', control.control, 0o644],
    ['md5sums', sums.join('\n') + '\n', 0o644],
    ['postinst', control.postinst, 0o755],
    ['postrm', control.postrm, 0o755],
    ['triggers', control.triggers, 0o644],
  ];
  for (const [n, text, mode] of meta) {
    writeFileSync(join(debian, n), text);
    chmodSync(join(debian, n), mode);
  }
  for (const d of walkDirs(pkgRoot)) chmodSync(d, 0o755);
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...walkDirs(join(dir, e.name)));
  return out;
}

/** Every file and directory dated `epoch` (children before parents, so writing them changes nothing after). */
function normalizeTimes(dir: string, epoch: number): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) normalizeTimes(p, epoch);
    else utimesSync(p, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

/** For tests and the CLI: the files a built package holds (`dpkg-deb -c`), as paths without `./`. */
export async function packageContents(deb: string): Promise<string[]> {
  const r = await runChecked('dpkg-deb', ['-c', deb]);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('./') + 2)).filter((p) => p !== '');
}
