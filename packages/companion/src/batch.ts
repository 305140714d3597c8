/**
 * Companions for a Debian kernel by version: resolve the modules (a list, their dependencies, or all
 * of them), fetch what is missing into the cache, build, and lay the result out for depmod:
 *
 *   <out>/lib/modules/<kver>/updates/kbtf/<M>-btf.ko
 *
 * (`updates/` is searched before `kernel/` by depmod's default search order; the names never clash.)
 * Copy the tree onto the target root and run `depmod <kver>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, writeFileAtomic } from '@kbtf/binary';
import { buildCompanions, type CompanionJob, type CompanionResult } from './build.js';
import { hostFetcher, KernelTree, normalizeModuleName, type ModuleEntry } from './debian-cache.js';
import { probePahole, treePaholeArgv, type Pahole } from './pahole.js';
import { checkHeaders, headersDir, isCompanionName, VMLINUX } from './stub.js';
import { ensureTreeKbuild, kernelSuite, paholeSuite, suiteTree, treeFetcher, type KernelToolchain, type TreeSuite } from './suite.js';
import { buildTools, kernelArch } from './arch.js';
import { foreignToolchain, isForeignKernel } from './foreign.js';
import type { Log } from './log.js';

export interface KernelBuildOptions {
  cache: string;
  kver: string;
  /** Module names; empty with `all` for every module of the kernel. */
  modules: readonly string[];
  all?: boolean;
  /** Add the modules' dependencies (modules.dep). */
  deps?: boolean;
  /** Build vmlinux-btf.ko too. */
  vmlinux?: boolean;
  /** Output root: companions go to <out>/lib/modules/<kver>/updates/kbtf. */
  out: string;
  headers?: string;
  /** A pahole binary to use instead of the cache's trixie tree. */
  pahole?: string;
  /** Allow apt-get download and debootstrap. */
  download?: boolean;
  modulesDir?: string;
  workDir?: string;
  log?: Log;
}

export function companionDir(out: string, kver: string): string {
  return join(out, 'lib/modules', kver, 'updates/kbtf');
}

/** The pahole to use: an explicit binary, or a tree's from the cache (trixie's unless told: provisioned when allowed). */
export async function resolvePahole(cache: string, explicit: string | undefined, download: boolean, log?: Log, suite: TreeSuite = 'trixie'): Promise<Pahole> {
  if (explicit) return probePahole([explicit]);
  return probePahole(treePaholeArgv(await suiteTree(cache, suite, download, log)));
}

/** The module entries a kernel-mode run covers: a list (with --deps, their dependencies) or every module. */
export function resolveEntries(tree: KernelTree, opts: Pick<KernelBuildOptions, 'modules' | 'all' | 'deps'>): ModuleEntry[] {
  let entries: ModuleEntry[];
  if (opts.all) {
    if (opts.modules.length > 0) throw new UsageError('give module names or --all, not both');
    entries = [...tree.modules().values()].sort((a, b) => a.name.localeCompare(b.name));
  } else {
    entries = opts.deps ? tree.withDependencies(opts.modules) : opts.modules.map((m) => tree.module(m));
  }
  return entries.filter((e) => !isCompanionName(normalizeModuleName(e.name)));
}

/**
 * What building for `kver` needs from its Debian suite (suite.ts): the kbuild tree, the chroot the
 * stubs are built in (trixie kernels), and how packages are fetched. Refuses before any download
 * when the host's headers are missing; a trixie kernel's headers are installed into the trixie tree,
 * a foreign (arm64) kernel's unpacked into the cache (foreign.ts).
 */
export async function kernelToolchain(opts: Pick<KernelBuildOptions, 'cache' | 'kver' | 'headers' | 'download' | 'log'>): Promise<KernelToolchain> {
  const download = opts.download ?? true;
  // Another architecture (an arm64 kernel here): cross-built against headers unpacked in the cache.
  if (isForeignKernel(opts.kver)) return foreignToolchain(opts);
  const suite = kernelSuite(opts.kver);
  if (suite === 'host') {
    const headers = opts.headers ?? headersDir(opts.kver);
    checkHeaders(headers, opts.kver);
    return { suite, headers, fetch: hostFetcher };
  }
  const tree = await suiteTree(opts.cache, suite, download, opts.log);
  const fetch = treeFetcher(tree, opts.log);
  if (opts.headers) {
    checkHeaders(opts.headers, opts.kver);
    return { suite, headers: opts.headers, fetch };
  }
  const headers = await ensureTreeKbuild(tree, opts.kver, download, opts.log);
  return { suite, headers, chroot: tree, fetch };
}

export async function buildForKernel(opts: KernelBuildOptions): Promise<CompanionResult[]> {
  const download = opts.download ?? true;
  // Refuse before any download when the headers are missing or pahole is too old.
  const toolchain = await kernelToolchain(opts);
  const tools = buildTools(kernelArch(opts.kver), toolchain.headers);
  const pahole = await resolvePahole(opts.cache, opts.pahole, download, opts.log, paholeSuite(opts.kver));

  const tree = new KernelTree(opts.cache, opts.kver, opts.log, opts.modulesDir, toolchain.fetch);
  await tree.ensureImage(download);
  const entries = resolveEntries(tree, opts);
  if (entries.length === 0 && !opts.vmlinux) throw new UsageError('nothing to build: name modules, --all, or --vmlinux');
  await tree.ensureDbg(
    entries.map((e) => e.rel),
    true, // vmlinux BTF comes from the -dbg vmlinux either way
    download,
  );
  const vmlinuxBtf = tree.ensureVmlinuxBtf();
  const jobs: CompanionJob[] = entries.map((e) => ({ of: e.name, module: join(tree.modulesDir, e.rel), dwarf: tree.dbgModule(e.rel) }));
  if (opts.vmlinux) jobs.push({ of: VMLINUX, dwarf: tree.dbgVmlinux });
  const results = await buildCompanions(jobs, {
    kver: opts.kver,
    headers: toolchain.headers,
    chroot: toolchain.chroot,
    tools,
    vmlinuxBtf,
    pahole,
    outDir: companionDir(opts.out, opts.kver),
    workDir: opts.workDir,
    log: opts.log,
  });
  writeSummaryFile(opts.out, opts.kver, pahole.version, results);
  return results;
}

/** `<out>/kbtf-companions-<kver>.json`: what was built, with the sizes of the summary table. */
export function summaryFile(out: string, kver: string): string {
  return join(out, `kbtf-companions-${kver}.json`);
}

export interface SummaryFile {
  kernel: string;
  pahole: string;
  dir: string;
  companions: (SummaryRow & { file: string; buildId: string | null; types: number; rawTypes: number; duplicateEntries: number; droppedDatasecs: string[] })[];
  total: SummaryRow;
}

/**
 * Writes the summary, merged with the one already there: rows of companions this run did not
 * rebuild are kept while their file exists, so the file describes the whole directory (a later
 * `kbtf companion package` reuses what it lists).
 */
function writeSummaryFile(out: string, kver: string, pahole: string, results: readonly CompanionResult[]): void {
  const { rows } = summaryRows(results);
  const fresh: SummaryFile['companions'] = rows.map((row, i) => ({
    ...row,
    file: results[i].file,
    buildId: results[i].buildId ?? null,
    types: results[i].stats.types,
    rawTypes: results[i].stats.rawTypes,
    duplicateEntries: results[i].stats.duplicateEntries,
    droppedDatasecs: results[i].stats.droppedDatasecs,
  }));
  const rebuilt = new Set(fresh.map((c) => c.module));
  const kept = (readSummaryFile(out, kver)?.companions ?? []).filter((c) => !rebuilt.has(c.module) && existsSync(c.file));
  const companions = [...kept, ...fresh].sort((a, b) => (a.module === VMLINUX ? 1 : b.module === VMLINUX ? -1 : a.module.localeCompare(b.module)));
  const sum = (k: keyof Omit<SummaryRow, 'module'>) => companions.reduce((a, r) => a + r[k], 0);
  const doc: SummaryFile = {
    kernel: kver,
    pahole,
    dir: companionDir(out, kver),
    companions,
    total: { module: 'total', moduleBtf: sum('moduleBtf'), raw: sum('raw'), companion: sum('companion'), ko: sum('ko'), vars: sum('vars') },
  };
  const file = summaryFile(out, kver);
  // Two builds for one kernel may finish together (the lab and an admin): each its own temporary name.
  writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n');
}

/** The summary of `<out>` for `kver`, or undefined when there is none (or it is unreadable). */
export function readSummaryFile(out: string, kver: string): SummaryFile | undefined {
  const file = summaryFile(out, kver);
  if (!existsSync(file)) return undefined;
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as SummaryFile;
    return doc.kernel === kver && Array.isArray(doc.companions) ? doc : undefined;
  } catch {
    return undefined;
  }
}

export interface SummaryRow {
  module: string;
  moduleBtf: number;
  raw: number;
  companion: number;
  ko: number;
  vars: number;
}

export function summaryRows(results: readonly CompanionResult[]): { rows: SummaryRow[]; total: SummaryRow } {
  const rows = results.map((r) => ({ module: r.of, moduleBtf: r.moduleBtfSize, raw: r.rawBtfSize, companion: r.btfSize, ko: r.koSize, vars: r.stats.vars }));
  const sum = (k: keyof Omit<SummaryRow, 'module'>) => rows.reduce((a, r) => a + r[k], 0);
  return { rows, total: { module: 'total', moduleBtf: sum('moduleBtf'), raw: sum('raw'), companion: sum('companion'), ko: sum('ko'), vars: sum('vars') } };
}

/** The batch summary as a Markdown table (also readable as plain text). */
export function formatSummary(results: readonly CompanionResult[]): string[] {
  const { rows, total } = summaryRows(results);
  const pct = (a: number, b: number) => (b > 0 ? `${Math.round((100 * a) / b)} %` : '—');
  const head = ['module', 'own .BTF', 'pahole raw', 'companion .BTF', 'vs own', 'companion .ko', 'VARs'];
  const line = (r: SummaryRow) => [r.module, kb(r.moduleBtf), kb(r.raw), kb(r.companion), pct(r.companion, r.moduleBtf), kb(r.ko), String(r.vars)];
  const cells = [...rows.map(line), line(total)];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (c: string[]) => `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.map(fmt)];
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}
