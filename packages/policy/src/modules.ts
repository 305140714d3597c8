/**
 * A kernel's modules directory: where it is, `modules.dep` (which names exist and where their
 * files are), `modules.softdep` (MODULE_SOFTDEP of the modules themselves), and the boot-time
 * module list of modules-load.d.
 *
 * modules.dep (depmod, kmod 30): one line per module, `PATH: DEP DEP…`, paths relative to the
 * modules directory (absolute for modules outside it), files `.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`.
 */
import { release } from 'node:os';
import { BadDataError, NotFoundError, UsageError } from '@kbtf/binary';
import { Root } from './root-tree.js';
import { confFiles } from './conf-files.js';
import { moduleNameFromPath, foldName } from './names.js';
import type { Location } from './setting-source.js';

export interface ModuleEntry {
  /** Folded name. */
  name: string;
  /** Path as modules.dep writes it. */
  path: string;
  /** In-tree absolute path of the file. */
  file: string;
  deps: string[];
  /** 1-based line in modules.dep. */
  line: number;
}

export interface ModulesDir {
  kernel: string;
  /** In-tree path, `/lib/modules/KVER` or `/usr/lib/modules/KVER`. */
  dir: string;
  depFile: string;
  modules: Map<string, ModuleEntry>;
}

const MODULE_ROOTS = ['/lib/modules', '/usr/lib/modules'];

/** Which kernel: the given one, the running one for the live root, or the only one in the tree. */
export function resolveKernel(root: Root, kernel?: string): string {
  if (kernel) return kernel;
  if (root.isLive) return release();
  const found = new Set<string>();
  for (const r of MODULE_ROOTS) for (const k of root.list(r)) if (root.kind(`${r}/${k}/modules.dep`) === 'file') found.add(k);
  if (found.size === 1) return [...found][0];
  if (found.size === 0) throw new NotFoundError(`${root.dir}: no /lib/modules/*/modules.dep (is this a root tree? give --kernel)`);
  throw new UsageError(`${root.dir}: several kernels (${[...found].sort().join(', ')}): choose one with --kernel`);
}

export function modulesDirPath(root: Root, kernel: string): string {
  for (const r of MODULE_ROOTS) if (root.kind(`${r}/${kernel}`) === 'dir') return `${r}/${kernel}`;
  throw new NotFoundError(`${root.dir}: no modules directory for kernel ${kernel} (${MODULE_ROOTS.map((r) => `${r}/${kernel}`).join(', ')})`);
}

export function parseModulesDep(text: string, source: string, dir: string): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) throw new BadDataError(`${source}:${idx + 1}`, undefined, `expected 'PATH: DEPS', got '${line.slice(0, 80)}'`);
    const path = line.slice(0, colon).trim();
    const name = moduleNameFromPath(path);
    if (!name) throw new BadDataError(`${source}:${idx + 1}`, undefined, `not a module file name: '${path.slice(0, 80)}'`);
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    // depmod writes each name once; if a tree has two, the first line is the one kmod uses.
    if (!modules.has(name)) modules.set(name, { name, path, file: path.startsWith('/') ? path : `${dir}/${path}`, deps, line: idx + 1 });
  });
  return modules;
}

export function readModulesDir(root: Root, kernel?: string): ModulesDir {
  const k = resolveKernel(root, kernel);
  const dir = modulesDirPath(root, k);
  const depFile = `${dir}/modules.dep`;
  if (root.kind(depFile) !== 'file') throw new NotFoundError(`${depFile}: missing (run depmod ${k})`);
  return { kernel: k, dir, depFile, modules: parseModulesDep(root.readText(depFile), depFile, dir) };
}

/** A `softdep` directive, from modules.softdep or modprobe.d. */
export interface Softdep {
  module: string;
  pre: string[];
  post: string[];
  at: Location;
}

/** Parse `softdep MOD pre: A B post: C` (the part after `softdep`). */
export function parseSoftdepArgs(words: string[], at: Location): Softdep | undefined {
  if (words.length < 2) return undefined;
  const sd: Softdep = { module: foldName(words[0]), pre: [], post: [], at };
  let list: string[] | undefined;
  for (const w of words.slice(1)) {
    if (w === 'pre:') list = sd.pre;
    else if (w === 'post:') list = sd.post;
    else if (list) list.push(w);
  }
  return sd;
}

/** modules-load.d directories (systemd-modules-load), highest priority first. */
export const MODULES_LOAD_DIRS = ['/etc/modules-load.d', '/run/modules-load.d', '/usr/local/lib/modules-load.d', '/usr/lib/modules-load.d', '/lib/modules-load.d'];

export interface BootModule {
  name: string;
  at: Location;
}

/**
 * Modules loaded at boot by name: modules-load.d (`#`/`;` comments, one name a line) and Debian's
 * /etc/modules (same syntax; systemd links it as modules-load.d/modules.conf).
 */
export function bootModules(root: Root, extraFiles: string[] = [], skip?: ReadonlySet<string>): BootModule[] {
  const { files } = confFiles(root, MODULES_LOAD_DIRS, '.conf', skip);
  const all = [...files];
  if (root.kind('/etc/modules') === 'file' && !files.some((f) => root.resolve(f) === '/etc/modules')) all.push('/etc/modules');
  all.push(...extraFiles);
  const out: BootModule[] = [];
  const seen = new Set<string>();
  for (const file of all) {
    root.readText(file).split('\n').forEach((raw, idx) => {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) return;
      const name = foldName(line.split(/\s+/)[0]);
      if (seen.has(name)) return;
      seen.add(name);
      out.push({ name, at: { file, line: idx + 1 } });
    });
  }
  return out;
}
