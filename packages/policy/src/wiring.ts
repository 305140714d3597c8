/**
 * What in a root tree makes the companions load at boot (`kbtf check`, docs/policy.md). A policy that
 * selects companions does nothing by itself: kmod loads a companion only through a `softdep` (or a
 * `kbtf hook` install line), and those come from one of
 * 1. a rendered softdep file in a persistent modprobe.d directory (`/etc/modprobe.d/kbtf.conf`);
 * 2. `kbtf-modprobe-config.service`, installed, enabled (a symlink in a `<target>.wants/` or
 *    `.requires/` directory of a target the boot reaches; the package enables it for
 *    sysinit.target) and not masked: it renders `/run/modprobe.d/kbtf.conf` at every boot, after
 *    the initramfs and before systemd-udevd and systemd-modules-load;
 * 3. for modules loaded from the initramfs, which are loaded before that unit runs: the
 *    initramfs-tools hook (`/usr/share/initramfs-tools/hooks/kbtf`, executable: mkinitramfs skips
 *    others), or a softdep in `/etc/modprobe.d` or `/lib/modprobe.d`, the directories mkinitramfs
 *    copies into the image (initramfs-tools 0.142 mkinitramfs; its manual_add_modules runs
 *    `modprobe --show-depends` without `--ignore-install`, which follows softdeps, so the
 *    companion's file is copied too).
 * A file in `/run` is not wiring: it does not survive a reboot. The unit and the hook run
 * `/usr/bin/kbtf`; without it in the tree neither does anything.
 */
import { Root } from './root-tree.js';
import { foldName } from './names.js';
import { fnmatch } from './glob.js';
import type { ModulesDir } from './modules.js';
import type { Location } from './setting-source.js';

export const UNIT_NAME = 'kbtf-modprobe-config.service';
export const KBTF_PROGRAM = '/usr/bin/kbtf';
export const HOOK_PATHS = ['/etc/initramfs-tools/hooks/kbtf', '/usr/share/initramfs-tools/hooks/kbtf'];
/** The hook as the package installs it (for hints). */
export const HOOK_PATH = '/usr/share/initramfs-tools/hooks/kbtf';
/** systemd's unit search path for the system manager, highest priority first (systemd.unit(5)). */
export const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];
/** Targets an ordinary boot reaches: a `.wants/` link under one of these starts the unit at boot. */
export const BOOT_TARGETS = ['sysinit.target', 'basic.target', 'local-fs.target', 'multi-user.target', 'graphical.target', 'default.target'];
/** The modprobe.d directories mkinitramfs copies into the image (initramfs-tools 0.142). */
export const INITRAMFS_MODPROBE_DIRS = ['/etc/modprobe.d', '/lib/modprobe.d'];

export interface UnitWiring {
  name: string;
  /** The unit file systemd would load (first unit directory holding the name). */
  file?: string;
  /** The `/dev/null` symlink that masks it. */
  masked?: string;
  /** Enablement links for targets the boot reaches (`/etc/systemd/system/sysinit.target.wants/…`). */
  enabledBy: string[];
  /** Enablement links for other targets (not counted). */
  enabledElsewhere: string[];
  /** `WantedBy=`/`RequiredBy=` of its `[Install]` section. */
  wantedBy: string[];
  /** The program of its `ExecStart=`, and whether the tree has it. */
  program?: string;
  programPresent: boolean;
  /** An `Exec*=` line runs `kbtf sync` (loads the companions of modules already loaded). */
  runsSync: boolean;
  /** Installed, not masked, enabled for a boot target, its program present. */
  active: boolean;
  /** Why it does not count (when not active). */
  problem?: string;
}

export interface HookWiring {
  file?: string;
  /** Executable and /usr/bin/kbtf is in the tree. */
  active: boolean;
  problem?: string;
}

export interface InitramfsLoad {
  name: string;
  /** Why the initramfs loads it: its module list (file:line) or the root file system. */
  why: string;
}

/** initramfs-tools' view of what the initramfs loads by name (udev's hardware loads are unknowable offline). */
export interface InitramfsView {
  tool: 'initramfs-tools';
  /** `MODULES=` (most, dep, list, netboot) and where it was set. */
  modules: string;
  modulesAt?: Location;
  loads: InitramfsLoad[];
}

function lstatMode(root: Root, p: string): number | undefined {
  try {
    const st = root.fs.lstatSync(root.path(root.resolve(p))) as { mode?: number | bigint };
    return st.mode === undefined ? undefined : Number(st.mode);
  } catch {
    return undefined;
  }
}

/** Unit directories that count for a tree: `/run` only for the live root (a tree's /run is not there at boot). */
function unitDirs(root: Root): string[] {
  return UNIT_DIRS.filter((d) => root.isLive || !d.startsWith('/run/'));
}

interface UnitFile {
  exec: string[][];
  wantedBy: string[];
}

/** The `Exec*=` command lines (words, prefixes `-@:+!` dropped) and `[Install]` targets of a unit file. */
export function parseUnitFile(text: string): UnitFile {
  const out: UnitFile = { exec: [], wantedBy: [] };
  let section = '';
  for (const raw of text.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const kv = /^(\w+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    if (section === 'Service' && /^ExecStart(Pre|Post)?$/.test(key) && value) {
      const words = value.split(/\s+/);
      words[0] = words[0].replace(/^[-@:+!]+/, '');
      if (key === 'ExecStart') out.exec.unshift(words);
      else out.exec.push(words);
    }
    if (section === 'Install' && (key === 'WantedBy' || key === 'RequiredBy')) out.wantedBy.push(...value.split(/\s+/).filter(Boolean));
  }
  return out;
}

export function readUnitWiring(root: Root, name = UNIT_NAME): UnitWiring {
  const w: UnitWiring = { name, enabledBy: [], enabledElsewhere: [], wantedBy: [], programPresent: false, runsSync: false, active: false };
  for (const d of unitDirs(root)) {
    const k = root.kind(`${d}/${name}`);
    if (k === 'masked') {
      w.masked = `${d}/${name}`;
      break;
    }
    if (k === 'file') {
      w.file = `${d}/${name}`;
      break;
    }
  }
  if (w.file) {
    const unit = parseUnitFile(root.readText(w.file));
    w.wantedBy = unit.wantedBy;
    w.program = unit.exec[0]?.[0];
    w.programPresent = !!w.program && root.kind(w.program) === 'file';
    w.runsSync = unit.exec.some((words) => {
      const i = words.findIndex((x) => x === 'kbtf' || x.endsWith('/kbtf'));
      return i >= 0 && words[i + 1] === 'sync' && !words.includes('--dry-run') && !words.includes('-n');
    });
  }
  const targets = new Set([...BOOT_TARGETS, ...w.wantedBy]);
  for (const d of unitDirs(root)) {
    for (const e of root.list(d)) {
      const m = /^(.+)\.(wants|requires)$/.exec(e);
      if (!m || root.kind(`${d}/${e}`) !== 'dir') continue;
      const link = `${d}/${e}/${name}`;
      const k = root.kind(link);
      if (k !== 'file' && k !== 'symlink') continue;
      (targets.has(m[1]) ? w.enabledBy : w.enabledElsewhere).push(link);
    }
  }
  w.active = !!w.file && !w.masked && w.enabledBy.length > 0 && w.programPresent;
  if (!w.active) w.problem = unitProblem(w);
  return w;
}

function unitProblem(w: UnitWiring): string {
  const where = UNIT_DIRS.filter((d) => !d.startsWith('/run/') && d !== '/etc/systemd/system').map((d) => `${d}/${w.name}`).join(', ');
  if (w.masked) return `${w.name} is masked (${w.masked} → /dev/null)`;
  if (!w.file) return `${w.name} is not installed (looked in ${where})`;
  if (!w.enabledBy.length) {
    const target = w.wantedBy[0] ?? 'sysinit.target';
    const other = w.enabledElsewhere.length ? `; ${w.enabledElsewhere.join(', ')} is for a target a boot does not reach` : '';
    return `${w.file} is installed but not enabled (no /etc/systemd/system/${target}.wants/${w.name}${other})`;
  }
  return `${w.file} runs ${w.program ?? '(no ExecStart=)'}, which is not in the tree`;
}

export function readHookWiring(root: Root): HookWiring {
  const file = HOOK_PATHS.find((p) => root.kind(p) === 'file');
  if (!file) return { active: false, problem: `no initramfs-tools hook (${HOOK_PATHS.join(', ')})` };
  const mode = lstatMode(root, file);
  if (mode !== undefined && (mode & 0o111) === 0) return { file, active: false, problem: `${file} is not executable (mkinitramfs skips it)` };
  if (root.kind(KBTF_PROGRAM) !== 'file') return { file, active: false, problem: `${file} runs ${KBTF_PROGRAM}, which is not in the tree` };
  return { file, active: true };
}

/** initramfs-tools is installed in the tree. */
export function hasInitramfsTools(root: Root): boolean {
  return root.kind('/usr/share/initramfs-tools') === 'dir' || root.kind('/etc/initramfs-tools/initramfs.conf') === 'file' || root.kind('/usr/sbin/mkinitramfs') === 'file';
}

/** Files mkinitramfs sources for its settings, in order (initramfs.conf, then conf.d; /etc's conf.d masks /usr/share's by name). */
function initramfsConfFiles(root: Root): string[] {
  const ok = (n: string) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n) && !/\.dpkg-/.test(n);
  const files = ['/etc/initramfs-tools/initramfs.conf'];
  const etc = root.list('/etc/initramfs-tools/conf.d');
  for (const n of root.list('/usr/share/initramfs-tools/conf.d')) if (ok(n) && !etc.includes(n)) files.push(`/usr/share/initramfs-tools/conf.d/${n}`);
  for (const n of etc) if (ok(n)) files.push(`/etc/initramfs-tools/conf.d/${n}`);
  return files.filter((f) => root.kind(f) === 'file');
}

/**
 * What initramfs-tools' initramfs loads by name: the modules of `/etc/initramfs-tools/modules` and
 * `/usr/share/initramfs-tools/modules.d/*` (force-loaded in every MODULES mode), and for MODULES=most
 * or dep the root file system's module (`/` in /etc/fstab, by name or `fs-TYPE` alias). Undefined
 * when initramfs-tools is not installed.
 */
export function readInitramfs(root: Root, mods: ModulesDir, aliases: { pattern: string; module: string }[]): InitramfsView | undefined {
  if (!hasInitramfsTools(root)) return undefined;
  const view: InitramfsView = { tool: 'initramfs-tools', modules: 'most', loads: [] };
  for (const f of initramfsConfFiles(root)) {
    root.readText(f).split('\n').forEach((l, i) => {
      const m = /^\s*MODULES\s*=\s*["']?(\w+)/.exec(l);
      if (m) {
        view.modules = m[1];
        view.modulesAt = { file: f, line: i + 1 };
      }
    });
  }
  const seen = new Set<string>();
  const add = (name: string, why: string) => {
    const f = foldName(name);
    if (seen.has(f)) return;
    seen.add(f);
    view.loads.push({ name: f, why });
  };
  const lists = ['/etc/initramfs-tools/modules', ...root.list('/usr/share/initramfs-tools/modules.d').map((n) => `/usr/share/initramfs-tools/modules.d/${n}`)];
  for (const file of lists.filter((f) => root.kind(f) === 'file')) {
    root.readText(file).split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line && !line.startsWith('#')) add(line.split(/\s+/)[0], `${file}:${i + 1} (initramfs)`);
    });
  }
  if (view.modules === 'most' || view.modules === 'dep') {
    const fstab = root.readTextIfExists('/etc/fstab') ?? '';
    fstab.split('\n').forEach((raw, i) => {
      const w = raw.trim().split(/\s+/);
      if (w[0]?.startsWith('#') || w[1] !== '/' || !w[2] || ['auto', 'rootfs', 'none'].includes(w[2])) return;
      const f = foldName(w[2]);
      const name = mods.modules.has(f) ? f : aliases.find((a) => fnmatch(a.pattern, `fs-${w[2]}`))?.module;
      if (name && mods.modules.has(name)) add(name, `root file system ${w[2]} (/etc/fstab:${i + 1}, initramfs MODULES=${view.modules})`);
    });
  }
  return view;
}
