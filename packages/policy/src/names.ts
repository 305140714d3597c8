/**
 * Module names and the companion naming contract (docs/design.md §2, contract v1).
 *
 * kmod folds `-` to `_` in module names, except between `[` and `]` (libkmod-util.c
 * `modname_normalize`, kmod 30), and so does the kernel when it loads a module. The companion of
 * module `M` is the file `M-btf.ko`, loaded as `M_btf`; the kernel's own globals go into
 * `vmlinux-btf.ko`. A name ending in `-btf`/`_btf` is a companion and never has one.
 */
import { fnmatch } from './glob.js';

export const COMPANION_SUFFIX = '-btf';
export const VMLINUX = 'vmlinux';
export const VMLINUX_COMPANION = 'vmlinux-btf';

/** MODULE_NAME_LEN is 64 - sizeof(unsigned long) on 64-bit kernels: 55 characters and a NUL. */
export const MODULE_NAME_MAX = 55;

/** kmod's modname_normalize: `-` → `_` outside `[...]`. */
export function foldName(name: string): string {
  let out = '';
  let inBracket = false;
  for (const c of name) {
    if (c === '[') inBracket = true;
    else if (c === ']') inBracket = false;
    out += c === '-' && !inBracket ? '_' : c;
  }
  return out;
}

/** A module file name (`kernel/fs/ext4/ext4.ko.xz`) → its folded module name (`ext4`). */
export function moduleNameFromPath(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const m = /^(.+)\.ko(?:\.(?:xz|zst|gz))?$/.exec(base);
  return m ? foldName(m[1]) : undefined;
}

export function isCompanion(name: string): boolean {
  return /[-_]btf$/.test(name);
}

/** Folded name of the companion of `name` (`ext4` → `ext4_btf`); undefined for a companion. */
export function companionOf(name: string): string | undefined {
  return isCompanion(name) ? undefined : `${foldName(name)}_btf`;
}

/** The spelling used in config files and modprobe arguments (`ext4` → `ext4-btf`). */
export function companionSpelling(name: string): string {
  return `${name}${COMPANION_SUFFIX}`;
}

/** Folded parent of a companion name (`nf_tables-btf` → `nf_tables`), else undefined. */
export function parentOf(name: string): string | undefined {
  return isCompanion(name) ? foldName(name.slice(0, -4)) : undefined;
}

/**
 * A strict module name, safe to pass as one argument: the characters module file names use
 * (`[A-Za-z0-9_-]`), 1 to 55 of them. Aliases (`pci:v…`, `fs-*`) are rejected on purpose.
 */
export function isStrictModuleName(name: string): boolean {
  return name.length >= 1 && name.length <= MODULE_NAME_MAX && /^[A-Za-z0-9_-]+$/.test(name) && !name.startsWith('-');
}

/** Does `name` match a policy pattern (a name or glob), both sides folded? */
export function matchesPattern(pattern: string, name: string): boolean {
  return fnmatch(foldName(pattern), foldName(name));
}

export function matchesAny(patterns: readonly string[], name: string): string | undefined {
  return patterns.find((p) => matchesPattern(p, name));
}
