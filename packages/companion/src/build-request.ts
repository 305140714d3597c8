/**
 * What `kbtf companion build` asks for, and which of the two builds it is:
 *  - file mode (`--module M.ko --dwarf M.debug.ko --vmlinux-btf FILE`): one companion from explicit
 *    files into OUT/M-btf.ko; the kernel release, unless given, is the module's vermagic;
 *  - kernel mode (`--kernel KVER MODULE… | --all | --vmlinux`): a Debian kernel's companions, fetched
 *    into the cache, written to OUT/lib/modules/KVER/updates/kbtf.
 * A request mixing the two, or missing what its mode needs, is a UsageError before anything runs.
 */
import { ElfFile, UnsupportedError, UsageError } from '@kbtf/binary';
import { archOfMachine, buildTools, checkMachine, isForeign, kernelArchOf, type KernelArch } from './arch.js';
import { ensureForeignHeaders } from './foreign.js';
import { buildForKernel, companionDir, resolvePahole } from './batch.js';
import { buildCompanions, type CompanionResult } from './build.js';
import { moduleFileName, readModule } from './debian-cache.js';
import type { Log } from './log.js';
import { checkHeaders, headersDir } from './stub.js';

export interface BuildRequest {
  /** Cache of packages, DWARF and the pahole tree. */
  cache: string;
  /** Module names (kernel mode). */
  modules: readonly string[];
  kernel?: string;
  all?: boolean;
  deps?: boolean;
  vmlinux?: boolean;
  /** Output root; default `.` (file mode) or CACHE/companions (kernel mode). */
  out?: string;
  headers?: string;
  pahole?: string;
  download: boolean;
  workDir?: string;
  /** File mode: the module, its -dbg DWARF and the kernel's vmlinux BTF. */
  module?: string;
  dwarf?: string;
  vmlinuxBtf?: string;
  log?: Log;
}

export type BuildMode = 'file' | 'kernel';

export interface BuildOutcome {
  kver: string;
  /** Where the companions were written. */
  outDir: string;
  results: CompanionResult[];
}

/** The mode a request asks for, refusing one that mixes the modes or lacks what its mode needs. */
export function buildMode(r: BuildRequest): BuildMode {
  if (r.module || r.dwarf) {
    if (!r.module || !r.dwarf || !r.vmlinuxBtf) throw new UsageError('companion build: file mode needs --module, --dwarf and --vmlinux-btf');
    if (r.modules.length > 0 || r.all || r.deps || r.vmlinux) throw new UsageError('companion build: file mode takes no module names, --all, --deps or --vmlinux');
    return 'file';
  }
  if (!r.kernel) throw new UsageError('companion build: --kernel KVER is required (or file mode: --module/--dwarf/--vmlinux-btf)');
  if (r.modules.length === 0 && !r.all && !r.vmlinux) throw new UsageError('companion build: name modules, or give --all or --vmlinux');
  return 'kernel';
}

/** Build what the request asks for (see buildMode). */
export async function buildRequested(r: BuildRequest): Promise<BuildOutcome> {
  if (buildMode(r) === 'file') return buildFromFiles(r, r.module!, r.dwarf!, r.vmlinuxBtf!);
  const kver = r.kernel!;
  const out = r.out ?? `${r.cache}/companions`;
  const results = await buildForKernel({
    cache: r.cache, kver, modules: r.modules, all: !!r.all, deps: !!r.deps, vmlinux: !!r.vmlinux, out,
    headers: r.headers, pahole: r.pahole, download: r.download, workDir: r.workDir, log: r.log,
  });
  return { kver, outDir: companionDir(out, kver), results };
}

async function buildFromFiles(r: BuildRequest, module: string, dwarf: string, vmlinuxBtf: string): Promise<BuildOutcome> {
  const elf = ElfFile.fromBytes(await readModule(module), module, { littleEndian64: true });
  const kver = r.kernel ?? vermagicRelease(elf);
  const arch = moduleArch(elf, kver);
  // A foreign kernel's headers are unpacked into the cache (foreign.ts) unless given.
  const headers = r.headers ?? (isForeign(arch) ? await ensureForeignHeaders(r.cache, kver, arch, r.download, r.log) : headersDir(kver));
  checkHeaders(headers, kver);
  const tools = buildTools(arch, headers);
  const pahole = await resolvePahole(r.cache, r.pahole, r.download, r.log);
  const outDir = r.out ?? '.';
  const results = await buildCompanions([{ of: moduleFileName(module), module, dwarf }], {
    kver, headers, vmlinuxBtf, pahole, outDir, workDir: r.workDir, log: r.log, tools,
  });
  return { kver, outDir, results };
}

/**
 * The architecture of a module file: its e_machine, which must be the one its kernel release names
 * (`…-arm64` is EM_AARCH64); a release naming none (a custom kernel) takes the module's.
 */
export function moduleArch(elf: ElfFile, kver: string): KernelArch {
  const named = kernelArchOf(kver);
  if (named) {
    checkMachine(elf, named, kver);
    return named;
  }
  const arch = archOfMachine(elf.machine);
  if (!arch) throw new UnsupportedError(`${elf.source}: e_machine ${elf.machine}: companions are built for amd64 and arm64 kernels`);
  return arch;
}

/** The kernel release a module was built for: `vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions` → `6.1.0-56-amd64`. */
export function vermagicRelease(elf: ElfFile): string {
  const vm = elf.modinfo().get('vermagic')?.[0];
  if (!vm) throw new UsageError(`${elf.source} has no vermagic: pass --kernel KVER`);
  return vm.split(' ')[0];
}
