/**
 * kmod's configuration as modprobe would see it (libkmod-config.c, kmod 30):
 * - modprobe.d directories, highest first: /etc, /run, /usr/local/lib, /lib (Debian's DISTCONFDIR;
 *   /usr/lib on others: both are read); only `*.conf`; first file with a basename wins, a
 *   /dev/null symlink masks; then every file is parsed in basename order;
 * - the modules directory's `modules.softdep` (the modules' own MODULE_SOFTDEP) is sorted in among
 *   them by its basename, so a `softdep` in e.g. `kbtf.conf` comes before it;
 * - `#` comments whole lines, `\` at the end of a line continues it;
 * - module names in `blacklist`, `install`, `softdep`, `options` are folded (`-` → `_`) and matched
 *   with fnmatch against the module's name;
 * - for `softdep` and `install` only the FIRST matching entry counts ("as modprobe from
 *   module-init-tools does"), so an earlier file's softdep for M hides a later one.
 * The kernel command line adds `modprobe.blacklist=a,b` (names not folded).
 */
import { Root } from './root-tree.js';
import { confFiles } from './conf-files.js';
import { foldName } from './names.js';
import { fnmatch } from './glob.js';
import { parseSoftdepArgs, type Softdep } from './modules.js';
import type { Location } from './setting-source.js';
import type { Cmdline } from './cmdline.js';
import { paramEq } from './cmdline.js';

export const MODPROBE_DIRS = ['/etc/modprobe.d', '/run/modprobe.d', '/usr/local/lib/modprobe.d', '/usr/lib/modprobe.d', '/lib/modprobe.d'];

export interface ModprobeConfig {
  /** Files in parse order (in-tree paths). */
  files: string[];
  masked: string[];
  overridden: { path: string; by: string }[];
  blacklist: { module: string; at: Location }[];
  install: { module: string; command: string; at: Location }[];
  softdeps: Softdep[];
}

/** Logical lines of a kmod config file: `\` continuations joined, comments and blanks dropped. */
export function logicalLines(text: string): { words: string[]; line: number; text: string }[] {
  const out: { words: string[]; line: number; text: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i];
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i];
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    out.push({ words: t.split(/\s+/), line: start + 1, text: t });
  }
  return out;
}

export function parseModprobeFile(text: string, file: string, into: ModprobeConfig): void {
  for (const { words, line, text: t } of logicalLines(text)) {
    const at = { file, line };
    const [cmd, name] = words;
    if (!name) continue;
    if (cmd === 'blacklist') into.blacklist.push({ module: foldName(name), at });
    else if (cmd === 'install') into.install.push({ module: foldName(name), command: t.replace(/^install\s+\S+\s*/, ''), at });
    else if (cmd === 'softdep') {
      const sd = parseSoftdepArgs(words.slice(1), at);
      if (sd) into.softdeps.push(sd);
    }
  }
}

/** kmod's view of a root's configuration for a kernel's modules directory (if given). */
export function readModprobeConfig(root: Root, modulesDir?: string, extra?: { path: string; text: string }, skip?: ReadonlySet<string>): ModprobeConfig {
  const found = confFiles(root, MODPROBE_DIRS, '.conf', skip);
  const files = [...found.files];
  if (extra && !files.some((f) => basename(f) === basename(extra.path))) {
    const idx = files.findIndex((f) => basename(f) > basename(extra.path));
    files.splice(idx < 0 ? files.length : idx, 0, extra.path);
  }
  if (modulesDir && root.kind(`${modulesDir}/modules.softdep`) === 'file') {
    // conf_files_insert_sorted(): modules.softdep goes in by basename order.
    const sd = `${modulesDir}/modules.softdep`;
    const idx = files.findIndex((f) => basename(f) > 'modules.softdep');
    // (kmod inserts it like any other config file; equal names cannot occur: it is not *.conf.)
    files.splice(idx < 0 ? files.length : idx, 0, sd);
  }
  const cfg: ModprobeConfig = { files, masked: found.masked, overridden: found.overridden, blacklist: [], install: [], softdeps: [] };
  for (const f of files) parseModprobeFile(extra && f === extra.path ? extra.text : root.readText(f), f, cfg);
  return cfg;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * The first entry of `list` whose (fnmatch) name matches `module`, as kmod takes it. A full tree
 * has a softdep per module (4000 on Debian's 6.1), so a linear fnmatch scan per module is
 * quadratic: literal names are looked up in a map, only glob names are scanned, and the earlier
 * of the two wins. The index is built once per list (lists are complete once read; a filtered
 * copy gets its own).
 */
function firstMatch<T extends { module: string }>(list: T[], module: string): T | undefined {
  let idx = nameIndexes.get(list);
  if (!idx || idx.size !== list.length) {
    idx = { size: list.length, literal: new Map(), globs: [] };
    for (let i = 0; i < list.length; i++) {
      const name = list[i].module;
      if (/[*?[\\]/.test(name)) idx.globs.push({ index: i, pattern: name });
      else if (!idx.literal.has(name)) idx.literal.set(name, i);
    }
    nameIndexes.set(list, idx);
  }
  const m = foldName(module);
  let best = idx.literal.get(m) ?? list.length;
  for (const g of idx.globs) {
    if (g.index >= best) break;
    if (fnmatch(g.pattern, m)) {
      best = g.index;
      break;
    }
  }
  return list[best];
}

interface NameIndex {
  size: number;
  literal: Map<string, number>;
  globs: { index: number; pattern: string }[];
}
const nameIndexes = new WeakMap<object, NameIndex>();

export function softdepFor(cfg: ModprobeConfig, module: string): Softdep | undefined {
  return firstMatch(cfg.softdeps, module);
}

export function installFor(cfg: ModprobeConfig, module: string): ModprobeConfig['install'][number] | undefined {
  return firstMatch(cfg.install, module);
}

export function blacklisted(cfg: ModprobeConfig, module: string, cmdline?: Cmdline): Location | undefined {
  const m = foldName(module);
  const hit = cfg.blacklist.find((b) => b.module === m);
  if (hit) return hit.at;
  for (const p of cmdline?.params ?? []) {
    if (paramEq(p.name, 'modprobe.blacklist') && (p.value ?? '').split(',').includes(m)) {
      return { file: cmdline?.source.file ?? 'cmdline', line: cmdline?.source.line ?? 0 };
    }
  }
  return undefined;
}
