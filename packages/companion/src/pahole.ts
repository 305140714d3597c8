/**
 * pahole, the DWARF → BTF encoder. Global-variable BTF needs pahole ≥ 1.28
 * (`--btf_features=global_var`, dwarves commit "btf_encoder: add global_var feature", 1.28).
 * Debian bookworm ships 1.24, trixie 1.30, so the builder runs trixie's pahole from a
 * debootstrap'd trixie tree (docs/design.md §2, §9) — not by mixing suites on the host.
 *
 * The tree's pahole is started through the tree's own dynamic loader with the tree's library path,
 * so it sees host paths directly: no chroot, no bind mounts, and no copying of 500 MB DWARF files
 * into the tree. (pahole opens only the files named on its command line.)
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnsupportedError, NotFoundError, run, runChecked } from '@kbtf/binary';
import { type Log, silent } from './log.js';

/** The oldest pahole that encodes global variables. */
export const MIN_PAHOLE: readonly [number, number] = [1, 28];

/**
 * The BTF features a companion is encoded with. `global_var` is the point; the rest match what
 * Debian's own kernels are built with, `encode_force` keeps going past DWARF pahole cannot encode.
 * `--btf_features_strict` makes pahole fail on a feature it does not know instead of ignoring it.
 */
export const BTF_FEATURES = ['encode_force', 'var', 'float', 'enum64', 'decl_tag', 'type_tag', 'optimized_func', 'consistent_func', 'global_var'];

export interface Pahole {
  /** argv prefix that starts pahole (loader + library path + binary, or just a binary). */
  argv: readonly string[];
  version: string;
}

/** "v1.30" / "v1.24-dirty" → [1, 30]. */
export function parsePaholeVersion(text: string): [number, number] | undefined {
  const m = /v?(\d+)\.(\d+)/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Fails with a clear message when pahole is older than 1.28. */
export function checkPaholeVersion(version: string, where: string): void {
  const v = parsePaholeVersion(version);
  if (!v) throw new UnsupportedError(`${where}: cannot parse pahole's version ${JSON.stringify(version)}`);
  if (v[0] < MIN_PAHOLE[0] || (v[0] === MIN_PAHOLE[0] && v[1] < MIN_PAHOLE[1])) {
    throw new UnsupportedError(
      `${where} is pahole ${v.join('.')}, too old: companion BTF needs pahole >= ${MIN_PAHOLE.join('.')} ` +
        `(--btf_features=global_var). Debian bookworm has 1.24; let kbtf use trixie's pahole ` +
        `(kbtf companion provision) or pass --pahole with a pahole >= ${MIN_PAHOLE.join('.')}`,
    );
  }
}

/** argv for the pahole of a debootstrap'd tree, through the tree's loader. */
export function treePaholeArgv(tree: string): string[] {
  return [join(tree, 'usr/lib64/ld-linux-x86-64.so.2'), '--library-path', join(tree, 'usr/lib/x86_64-linux-gnu'), join(tree, 'usr/bin/pahole')];
}

/** Ask a pahole for its version and check it is new enough. */
export async function probePahole(argv: readonly string[]): Promise<Pahole> {
  const [cmd, ...rest] = argv;
  const r = await run(cmd, [...rest, '--version']);
  if (r.code !== 0) throw new NotFoundError(`${argv.join(' ')} --version failed (exit ${r.code}): ${r.stderr.trim()}`);
  const version = r.stdout.trim();
  checkPaholeVersion(version, argv[argv.length - 1]);
  return { argv, version };
}

export interface ProvisionOptions {
  /** Debian mirror; default: the first `/debian` URI of the host's apt sources. */
  mirror?: string;
  suite?: string;
  log?: Log;
}

/**
 * The trixie tree with `dwarves` at `<cache>/trixie`, made once (debootstrap --variant=minbase,
 * ~60 s and ~300 MB here) into `trixie.tmp` and renamed when complete, so an interrupted run never
 * leaves a half tree that looks usable.
 */
export async function ensurePaholeTree(cache: string, opts: ProvisionOptions = {}): Promise<string> {
  const log = opts.log ?? silent;
  const suite = opts.suite ?? 'trixie';
  const tree = join(cache, suite);
  const marker = join(tree, '.kbtf-complete');
  if (existsSync(marker)) return tree;
  if (existsSync(join(tree, 'usr/bin/pahole'))) {
    writeFileSync(marker, `${suite}\n`);
    return tree;
  }
  const mirror = opts.mirror ?? debianMirror();
  const tmp = `${tree}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  log(`provisioning pahole: debootstrap --variant=minbase --include=dwarves ${suite} ${tmp} ${mirror}`);
  await runChecked('debootstrap', ['--variant=minbase', '--include=dwarves', suite, tmp, mirror]);
  writeFileSync(join(tmp, '.kbtf-complete'), `${suite}\n`);
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  return tree;
}

/** The Debian mirror the host's apt already uses (deb822 `URIs:` or one-line `deb URI suite`). */
export function debianMirror(files = aptSourceFiles()): string {
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const m = /^\s*(?:URIs:|deb\s+(?:\[[^\]]*\]\s+)?)\s*(\S+\/debian)\/?(?=\s|$)/.exec(line);
      if (m) return m[1];
    }
  }
  return 'http://deb.debian.org/debian';
}

function aptSourceFiles(): string[] {
  const dir = '/etc/apt/sources.list.d';
  const listed = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(sources|list)$/.test(f)).sort().map((f) => join(dir, f)) : [];
  return ['/etc/apt/sources.list', ...listed];
}

/** Run pahole -J on one DWARF file, writing split BTF on `baseBtf` to `out`. */
export async function encodeBtf(pahole: Pahole, dwarf: string, baseBtf: string | undefined, out: string): Promise<void> {
  const [cmd, ...rest] = pahole.argv;
  const args = [...rest, '-J', `--btf_features_strict=${BTF_FEATURES.join(',')}`];
  if (baseBtf) args.push(`--btf_base=${baseBtf}`);
  args.push(`--btf_encode_detached=${out}`, dwarf);
  await runChecked(cmd, args);
  if (!existsSync(out)) throw new NotFoundError(`pahole wrote no BTF for ${dwarf}`);
}
