/**
 * The code-less stub a companion is made from, built by the kernel's own kbuild against
 * `linux-headers-<kver>`, so that vermagic, `__versions` (modversions of module_layout), `.modinfo`
 * `name=` and `.gnu.linkonce.this_module` are exactly what that kernel's loader expects.
 *
 * kbuild says "Skipping BTF generation ... due to unavailability of vmlinux" (the headers package
 * has no vmlinux): the stub comes out with no `.BTF`, and the builder adds the companion's.
 * The stubs of a batch are built by one `make` per 500 (one modpost run each): ~1.3 s for one,
 * far less each for many.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { NotFoundError, UsageError, runChecked } from '@kbtf/binary';

/** Companion contract v1 (docs/design.md §2): the `.modinfo` key naming the module a companion serves. */
export const COMPANION_MODINFO_KEY = 'btf_companion_of';
export const VMLINUX = 'vmlinux';

/** `ext4` → `ext4-btf` (file `ext4-btf.ko`, loaded name `ext4_btf`). */
export function companionName(of: string): string {
  return `${of}-btf`;
}

/** A companion of a companion is never built or looked for. */
export function isCompanionName(name: string): boolean {
  return /[-_]btf$/.test(name);
}

const MODULE_NAME = /^[A-Za-z0-9_-]{1,55}$/;

export function checkModuleName(of: string): void {
  // MODULE_NAME_LEN is 56 (64 - sizeof(unsigned long)) including the NUL and our "_btf" suffix.
  if (!MODULE_NAME.test(of) || of.length + 4 > 55) throw new UsageError(`${JSON.stringify(of)} is not a module name a companion can be built for`);
  if (isCompanionName(of)) throw new UsageError(`${of} is itself a companion: companions of companions are never built`);
}

/** The C source of the stub for module `of`: module info only, no code, no data. */
export function stubSource(of: string): string {
  checkModuleName(of);
  return [
    '// SPDX-License-Identifier: GPL-2.0-only',
    `// kbtf companion of ${of}: no code; its .BTF section holds the BTF of ${of}'s global variables.`,
    '#include <linux/module.h>',
    '',
    `MODULE_INFO(${COMPANION_MODINFO_KEY}, "${of}");`,
    `MODULE_DESCRIPTION("BTF of the global variables of ${of} (kbtf companion)");`,
    'MODULE_LICENSE("GPL");',
    '',
  ].join('\n');
}

/** Check that `dir` is a usable kbuild tree for external modules. */
export function checkHeaders(dir: string, kver: string): void {
  const missing = ['Makefile', 'Module.symvers', 'scripts/mod/modpost', 'include/config/auto.conf'].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new NotFoundError(
      `kernel headers for ${kver} missing or incomplete in ${dir} (no ${missing.join(', ')}): ` +
        `apt-get install linux-headers-${kver}, or pass --headers DIR`,
    );
  }
}

/** Default headers location of a Debian kernel. */
export function headersDir(kver: string): string {
  return `/usr/src/linux-headers-${kver}`;
}

/**
 * Stubs per kbuild run. kbuild passes a directory's whole object list to one `sh -c` (e.g. for
 * modules.order), and Linux caps a single argument at 128 KiB (MAX_ARG_STRLEN): 4,024 stubs in one
 * directory failed with "Argument list too long". 500 paths stay far below it.
 */
export const STUBS_PER_MAKE = 500;

/**
 * Write the stubs for `names` under `dir` and build them with kbuild, one make per chunk; returns
 * name → .ko path. With `chroot`, make runs inside that tree (a trixie kernel's kbuild needs
 * trixie's gcc-14): `headers` and `dir` must both lie under it.
 */
export async function buildStubs(
  names: readonly string[],
  headers: string,
  dir: string,
  jobs = 2,
  perMake = STUBS_PER_MAKE,
  chroot?: string,
  /** More make arguments: `ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-` for a cross build (arch.ts). */
  makeArgs: readonly string[] = [],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let start = 0, chunk = 0; start < names.length; start += perMake, chunk++) {
    const part = names.slice(start, start + perMake);
    const cdir = names.length > perMake ? join(dir, String(chunk)) : dir;
    mkdirSync(cdir, { recursive: true });
    const objs: string[] = [];
    for (const of of part) {
      const base = companionName(of);
      writeFileSync(join(cdir, `${base}.c`), stubSource(of));
      objs.push(`${base}.o`);
    }
    writeFileSync(join(cdir, 'Kbuild'), `obj-m := ${objs.join(' ')}\n`);
    // The stubs' directory is a fresh temporary one: mapped to a fixed name, it leaves no trace in
    // the debug info the linker hashes into the GNU build-id, so a rebuilt companion is the same file.
    const prefixMap = (d: string) => `KCFLAGS=-ffile-prefix-map=${d}=/kbtf-companion`;
    if (chroot) {
      // trixie's headers ship a BTF-only vmlinux, so its kbuild would run pahole and resolve_btfids
      // on every stub (seconds each) to give it a .BTF and a distilled .BTF.base that the builder
      // replaces and removes anyway. Unset on make's command line, the option only skips that step
      // (Makefile.modfinal); the C code still sees the kernel's autoconf.h.
      const make = ['make', '-s', `-j${jobs}`, '-C', insideTree(chroot, headers), `M=${insideTree(chroot, cdir)}`, prefixMap(insideTree(chroot, cdir)), 'CONFIG_DEBUG_INFO_BTF_MODULES=', ...makeArgs, 'modules'];
      // 7.2's objtool reads /proc ("read_stack_limit: fopen failed" in a bare chroot): make runs with
      // the tree's /proc mounted in a private mount namespace, gone when make exits.
      const inNs = ['-m', '--fork', 'sh', '-c', 'mount -t proc proc "$1/proc" && exec chroot "$@"', 'sh', chroot];
      await runChecked('unshare', [...inNs, ...make], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root' } });
    } else {
      await runChecked('make', ['-s', `-j${jobs}`, '-C', headers, `M=${cdir}`, prefixMap(cdir), ...makeArgs, 'modules']);
    }
    for (const of of part) {
      const ko = join(cdir, `${companionName(of)}.ko`);
      if (!existsSync(ko)) throw new NotFoundError(`kbuild produced no ${ko}`);
      out.set(of, ko);
    }
  }
  return out;
}

/** A host path under `tree` as the tree sees it (`/var/cache/kbtf/trixie/usr/src/x` → `/usr/src/x`). */
export function insideTree(tree: string, path: string): string {
  const rel = relative(tree, path);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new UsageError(`${path} is not inside the tree ${tree}`);
  return `/${rel}`;
}
