/**
 * modprobe.d lines that make kmod load each companion right after its module:
 * `softdep M post: M-btf`.
 *
 * kmod uses only the FIRST softdep line that matches a module (libkmod-module.c,
 * kmod_module_get_softdeps: "find only the first command, as modprobe from module-init-tools
 * does"), and modprobe.d lines come before depmod's modules.softdep (the modules' own
 * MODULE_SOFTDEP). A bare `softdep libcrc32c post: libcrc32c-btf` therefore drops libcrc32c's own
 * `pre: crc32c`: libcrc32c then fails to init and xfs, btrfs and nf_tables fail with "Unknown symbol"
 * (seen in the lab on 6.1.0-56). So each line carries the module's own pre/post softdeps too, merged
 * from every modules.softdep line for it (btrfs has four).
 *
 * The policy layer's `kbtf modprobe-config` is the supported way to write this file; this helper
 * exists so the builder and the lab can boot companions before and independently of it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeModuleName } from './debian-cache.js';
import { companionName, VMLINUX } from './stub.js';

export interface Softdeps {
  pre: string[];
  post: string[];
}

/** modules.softdep → folded module name → merged pre/post lists (order kept, duplicates dropped). */
export function parseSoftdeps(text: string): Map<string, Softdeps> {
  const out = new Map<string, Softdeps>();
  for (const raw of text.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (words[0] !== 'softdep' || words.length < 2) continue;
    const name = normalizeModuleName(words[1]);
    const e = out.get(name) ?? { pre: [], post: [] };
    let list: string[] | undefined;
    for (const w of words.slice(2)) {
      if (w === 'pre:') list = e.pre;
      else if (w === 'post:') list = e.post;
      else if (list && !list.includes(w)) list.push(w);
    }
    out.set(name, e);
  }
  return out;
}

/** One `softdep` line per module in `of` (vmlinux excluded: it is loaded at boot, not after a module). */
export function softdepConfig(of: readonly string[], modulesDir?: string): string {
  const file = modulesDir ? join(modulesDir, 'modules.softdep') : undefined;
  const own = file && existsSync(file) ? parseSoftdeps(readFileSync(file, 'utf8')) : new Map<string, Softdeps>();
  const lines = ['# kbtf companions: load M-btf right after M (modules\' own softdeps kept: kmod uses only the first match)'];
  for (const m of [...of].sort()) {
    if (m === VMLINUX) continue;
    const e = own.get(normalizeModuleName(m)) ?? { pre: [], post: [] };
    const pre = e.pre.length > 0 ? ` pre: ${e.pre.join(' ')}` : '';
    lines.push(`softdep ${m}${pre} post: ${[...e.post, companionName(m)].join(' ')}`);
  }
  return lines.join('\n') + '\n';
}
