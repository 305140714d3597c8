/**
 * The architecture a kernel's companions are built for, and what building them on this host takes.
 *
 * Debian names a kernel flavour after its architecture (`6.1.0-57-amd64`, `6.1.0-57-cloud-amd64`,
 * `6.1.0-57-arm64`, `6.1.0-57-rt-arm64`, `6.12.x+deb12-arm64-16k`): `--kernel KVER` selects all of
 * it. A kernel of the host's architecture is built as always (host gcc, objcopy); another one is
 * cross-built: kbuild with `ARCH=… CROSS_COMPILE=<gnu>-` (bookworm's gcc-aarch64-linux-gnu) and that
 * triplet's objcopy. Every ELF the builder reads or writes must be of the kernel's `e_machine`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BadDataError, EM_AARCH64, EM_X86_64, NotFoundError, UnsupportedError, type ElfFile } from '@kbtf/binary';

export interface KernelArch {
  /** Debian architecture: package names, `Architecture:`, dpkg's foreign architectures. */
  deb: 'amd64' | 'arm64';
  /** e_machine of the kernel's modules. */
  machine: number;
  /** kbuild's ARCH. */
  kbuild: string;
  /** GNU triplet: the CROSS_COMPILE prefix and the cross binutils' names. */
  gnu: string;
  /** The arch word that ends its vermagic (MODULE_ARCH_VERMAGIC; x86_64 has none with Debian's config). */
  vermagicArch: string;
  /** Debian's cross toolchain packages (bookworm) for building on another host. */
  crossPackages: readonly string[];
}

export const AMD64: KernelArch = {
  deb: 'amd64', machine: EM_X86_64, kbuild: 'x86', gnu: 'x86_64-linux-gnu', vermagicArch: '', crossPackages: ['gcc-x86-64-linux-gnu', 'binutils-x86-64-linux-gnu'],
};
export const ARM64: KernelArch = {
  deb: 'arm64', machine: EM_AARCH64, kbuild: 'arm64', gnu: 'aarch64-linux-gnu', vermagicArch: 'aarch64', crossPackages: ['gcc-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu'],
};
const ARCHES = [AMD64, ARM64];

/** The architecture a Debian kernel release names (`…-arm64`, `…-rt-arm64`, `…-arm64-16k`), or undefined. */
export function kernelArchOf(kver: string): KernelArch | undefined {
  const m = /-(amd64|arm64)(?:-16k)?$/.exec(kver);
  return m ? ARCHES.find((a) => a.deb === m[1]) : undefined;
}

export function archOfMachine(machine: number): KernelArch | undefined {
  return ARCHES.find((a) => a.machine === machine);
}

/** This machine's architecture (what `objcopy` and `gcc` build for). */
export function hostArch(nodeArch: string = process.arch): KernelArch {
  if (nodeArch === 'x64') return AMD64;
  if (nodeArch === 'arm64') return ARM64;
  throw new UnsupportedError(`companions are built on amd64 or arm64 hosts, not ${nodeArch}`);
}

/** The kernel's architecture: its release's flavour, else (a custom kernel) the host's. */
export function kernelArch(kver: string, host: KernelArch = hostArch()): KernelArch {
  return kernelArchOf(kver) ?? host;
}

export function isForeign(arch: KernelArch, host: KernelArch = hostArch()): boolean {
  return arch.deb !== host.deb;
}

/** Refuse an ELF file (module, DWARF, stub, companion) of another machine than the kernel's. */
export function checkMachine(elf: ElfFile, arch: KernelArch, kver: string): void {
  if (elf.machine === arch.machine) return;
  const got = archOfMachine(elf.machine);
  throw new BadDataError(
    elf.source, 0x12,
    `e_machine ${elf.machine}${got ? ` (${got.deb})` : ''}, but ${kver} is an ${arch.deb} kernel (e_machine ${arch.machine})`,
  );
}

/** How the stubs are built and assembled for a kernel of `arch`. */
export interface BuildTools {
  arch: KernelArch;
  /** Extra `make` arguments (ARCH, CROSS_COMPILE), empty for a native build. */
  make: string[];
  objcopy: string;
}

export function nativeTools(arch: KernelArch = hostArch()): BuildTools {
  return { arch, make: [], objcopy: 'objcopy' };
}

/** An executable of that name on PATH, or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  return path.split(delimiter).filter(Boolean).map((d) => join(d, name)).find((f) => existsSync(f));
}

/**
 * The tools for `arch` on this host. Cross: `ARCH=<kbuild> CROSS_COMPILE=<gnu>-`, and both the
 * compiler the headers name (Debian's `.kernelvariables`: `CC = $(CROSS_COMPILE)gcc-12`) and
 * `<gnu>-objcopy` must be installed; refused (NotFoundError naming the packages) otherwise.
 */
export function buildTools(arch: KernelArch, headers: string, host: KernelArch = hostArch(), path = process.env.PATH ?? ''): BuildTools {
  if (!isForeign(arch, host)) return nativeTools(arch);
  const vars = join(headers, '.kernelvariables');
  const gcc = existsSync(vars) ? /\$\(CROSS_COMPILE\)(gcc(?:-\d+)?)/.exec(readFileSync(vars, 'utf8'))?.[1] ?? 'gcc' : 'gcc';
  const missing = [`${arch.gnu}-${gcc}`, `${arch.gnu}-objcopy`].filter((t) => !onPath(t, path));
  if (missing.length > 0) {
    throw new NotFoundError(
      `building ${arch.deb} companions on this ${host.deb} host needs ${missing.join(' and ')}: apt-get install ${arch.crossPackages.join(' ')}`,
    );
  }
  return { arch, make: [`ARCH=${arch.kbuild}`, `CROSS_COMPILE=${arch.gnu}-`], objcopy: `${arch.gnu}-objcopy` };
}
