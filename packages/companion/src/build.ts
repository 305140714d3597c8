/**
 * The companion pipeline for a set of modules of one kernel:
 *
 *   1. preflight   every check that can refuse the whole run, before anything is built: module names,
 *                  headers, the DWARF's build-id against the module's
 *   2. encode      pahole -J (global_var) on the DWARF, split on vmlinux BTF      → raw/<M>.btf
 *   3. prune       VARs + DATASECs + the types vmlinux lacks; pahole's bugs fixed  → btf/<M>.btf
 *   4. stub        code-less modules with MODULE_INFO(btf_companion_of, "M"), one kbuild run
 *   5. assemble    objcopy --strip-debug --remove-section .BTF[.base] --add-section .BTF=btf/<M>.btf → ko/<M>-btf.ko
 *   6. check       read each .ko back as the kernel's loader will; BTF by the kernel's rules
 *   7. write       only when every companion passed: each renamed into place atomically
 *
 * Nothing is written to the output directory unless every step succeeded for every module.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfFile, NotFoundError, openElfFile, runChecked, withContext, writeFileAtomic } from '@kbtf/binary';
import { parseBtf } from '@kbtf/btf';
import { checkBuildId, readModule } from './debian-cache.js';
import { encodeBtf, type Pahole } from './pahole.js';
import { pruneCompanionBtf, type PruneStats } from './prune.js';
import { buildStubs, checkHeaders, checkModuleName, companionName, VMLINUX } from './stub.js';
import { checkCompanion } from './check.js';
import { vmlinuxAnchors } from './anchors.js';
import { checkMachine, kernelArch, nativeTools, type BuildTools } from './arch.js';
import { type Log, silent } from './log.js';

export interface CompanionJob {
  /** Module name as its file has it (`nf_tables`), or `vmlinux`. */
  of: string;
  /** The installed module file (.ko, .ko.xz, .ko.zst): its build-id and own BTF size. Not for vmlinux. */
  module?: string;
  /** The DWARF: the -dbg module, or the -dbg vmlinux. */
  dwarf: string;
}

export interface BuildOptions {
  kver: string;
  /** linux-headers-<kver> (kbuild tree). */
  headers: string;
  /** The kernel's vmlinux BTF (raw BTF file). */
  vmlinuxBtf: string;
  pahole: Pahole;
  /** Directory the companions are written to, as `<M>-btf.ko`. */
  outDir: string;
  /** Build the stubs inside this tree (chroot; a trixie kernel's kbuild, suite.ts). `headers` lies under it. */
  chroot?: string;
  /** make arguments and objcopy for the kernel's architecture (arch.ts); default: the host's, native. */
  tools?: BuildTools;
  /** Keep the work directory (raw/pruned BTF, stubs) here instead of a temporary one. */
  workDir?: string;
  log?: Log;
  jobs?: number;
}

export interface CompanionResult {
  of: string;
  /** `<M>-btf` */
  companion: string;
  file: string;
  buildId?: string;
  /** The module's own `.BTF` (vmlinux: the vmlinux BTF). */
  moduleBtfSize: number;
  /** pahole's split BTF before pruning. */
  rawBtfSize: number;
  /** The companion's `.BTF`. */
  btfSize: number;
  /** The companion file. */
  koSize: number;
  stats: PruneStats;
}

interface Prepared {
  job: CompanionJob;
  buildId?: string;
  moduleBtfSize: number;
  /** The module's vermagic: a companion's must be the same. */
  vermagic?: string;
}

/** Step 1: refuse early, with nothing built and nothing written. */
export async function preflight(jobs: readonly CompanionJob[], opts: Pick<BuildOptions, 'kver' | 'headers' | 'vmlinuxBtf' | 'tools'>): Promise<Prepared[]> {
  checkHeaders(opts.headers, opts.kver);
  const arch = opts.tools?.arch ?? kernelArch(opts.kver);
  if (!existsSync(opts.vmlinuxBtf)) throw new NotFoundError(`vmlinux BTF ${opts.vmlinuxBtf} not found`);
  const out: Prepared[] = [];
  for (const job of jobs) {
    checkModuleName(job.of);
    if (!existsSync(job.dwarf)) throw new NotFoundError(`DWARF for ${job.of} not found: ${job.dwarf}`);
    const dw = openElfFile(job.dwarf, { littleEndian64: true });
    try {
      checkMachine(dw.elf, arch, opts.kver);
      if (job.of === VMLINUX) {
        out.push({ job, buildId: dw.elf.buildId(), moduleBtfSize: statSync(opts.vmlinuxBtf).size });
        continue;
      }
      if (!job.module) throw new NotFoundError(`no module file given for ${job.of}`);
      if (!existsSync(job.module)) throw new NotFoundError(`module file ${job.module} not found`);
      const mod = ElfFile.fromBytes(await readModule(job.module), job.module, { littleEndian64: true });
      checkMachine(mod, arch, opts.kver);
      const buildId = checkBuildId(mod, dw.elf);
      const own = mod.section('.BTF');
      out.push({ job, buildId, moduleBtfSize: own ? own.size : 0, vermagic: mod.modinfo().get('vermagic')?.[0] });
    } catch (err) {
      throw withContext(err, job.of);
    } finally {
      dw.close();
    }
  }
  return out;
}

export async function buildCompanions(jobs: readonly CompanionJob[], opts: BuildOptions): Promise<CompanionResult[]> {
  const log = opts.log ?? silent;
  const tools = opts.tools ?? nativeTools(kernelArch(opts.kver));
  const prepared = await preflight(jobs, { ...opts, tools });
  // Every module of a kernel has its vermagic: the stubs must come out with the same.
  const vermagic = prepared.find((p) => p.vermagic)?.vermagic;
  const work = opts.workDir ?? mkdtempSync(join(tmpdir(), 'kbtf-companion-'));
  for (const d of ['raw', 'btf', 'stub', 'ko']) mkdirSync(join(work, d), { recursive: true });
  const stubTrees: string[] = [];
  try {
    const base = parseBtf(readFileSync(opts.vmlinuxBtf), { source: opts.vmlinuxBtf });
    const built = new Map<string, { raw: number; btf: Uint8Array; stats: PruneStats }>();
    await forEachPooled(prepared, opts.jobs ?? 2, async (p) => {
      const { of } = p.job;
      try {
        const raw = join(work, 'raw', `${of}.btf`);
        await encodeBtf(opts.pahole, p.job.dwarf, opts.vmlinuxBtf, raw);
        const rawBytes = readFileSync(raw);
        // Modules are relocatable: st_value is an offset in the symbol's section (datasec.ts).
        // vmlinux is linked: its symbols are addresses and pahole's sections are right.
        // vmlinux's sections are anchored to _stext in its companion (anchors.ts, docs/design.md §2).
        const dwarf = openElfFile(p.job.dwarf, { littleEndian64: true });
        let pruned;
        try {
          pruned = of === VMLINUX
            ? pruneCompanionBtf(rawBytes, base, raw, undefined, vmlinuxAnchors(dwarf.elf, p.job.dwarf))
            : pruneCompanionBtf(rawBytes, base, raw, dwarf.elf);
        } finally {
          dwarf.close();
        }
        if (pruned.stats.movedEntries) log(`${of}: ${pruned.stats.movedEntries} VARs moved to their symbol's section and offset (pahole used sh_addr)`);
        if (pruned.stats.vars === 0) {
          log(`${of}: no global variables, no companion`);
          return;
        }
        writeFileSync(join(work, 'btf', `${of}.btf`), pruned.btf);
        built.set(of, { raw: rawBytes.byteLength, btf: pruned.btf, stats: pruned.stats });
        log(`${of}: pahole ${rawBytes.byteLength} B → ${pruned.btf.byteLength} B, ${pruned.stats.vars} VARs${pruned.stats.anchors ? `, ${pruned.stats.anchors} section anchors` : ''}`);
      } catch (err) {
        throw withContext(err, of);
      }
    });
    const todo = prepared.filter((p) => built.has(p.job.of));
    if (todo.length === 0) return [];
    log(`building ${todo.length} stub module(s) against ${opts.headers}${opts.chroot ? ` (inside ${opts.chroot})` : ''}`);
    // Inside a tree, the stubs must be too: a scratch directory under its /tmp, removed after.
    const stubDir = opts.chroot ? mkdtempSync(join(opts.chroot, 'tmp', 'kbtf-stubs-')) : join(work, 'stub');
    if (opts.chroot) stubTrees.push(stubDir);
    const stubs = await buildStubs(todo.map((p) => p.job.of), opts.headers, stubDir, opts.jobs ?? 2, undefined, opts.chroot, tools.make);
    const results: CompanionResult[] = [];
    for (const p of todo) {
      const { of } = p.job;
      const b = built.get(of)!;
      const ko = join(work, 'ko', `${companionName(of)}.ko`);
      // 6.12's kbuild leaves a small placeholder .BTF in the stub: replace it. Where kbuild finds a
      // pahole >= 1.28 (the trixie tree has one), it also adds a distilled base, `.BTF.base`: the
      // 6.12 loader then reads .BTF as split on that base and relocates it (btf_relocate), which
      // would misread ours (split on the full vmlinux BTF). Drop it.
      await runChecked(tools.objcopy, [
        '--strip-debug', '--remove-section=.BTF', '--remove-section=.BTF.base', `--add-section=.BTF=${join(work, 'btf', `${of}.btf`)}`, stubs.get(of)!, ko,
      ]);
      const bytes = readFileSync(ko);
      try {
        checkCompanion(bytes, ko, { of, kver: opts.kver, btf: b.btf, base, arch: tools.arch, vermagic });
      } catch (err) {
        throw withContext(err, of);
      }
      results.push({
        of,
        companion: companionName(of),
        file: join(opts.outDir, `${companionName(of)}.ko`),
        buildId: p.buildId,
        moduleBtfSize: p.moduleBtfSize,
        rawBtfSize: b.raw,
        btfSize: b.btf.byteLength,
        koSize: bytes.byteLength,
        stats: b.stats,
      });
    }
    // Every companion passed: now, and only now, write them.
    mkdirSync(opts.outDir, { recursive: true });
    for (const r of results) writeFileAtomic(r.file, readFileSync(join(work, 'ko', `${r.companion}.ko`)));
    return results;
  } finally {
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
    for (const d of stubTrees) rmSync(d, { recursive: true, force: true });
  }
}

/** Run `fn` over `items` with at most `limit` at a time (pahole is single-threaded); first error wins. */
async function forEachPooled<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
