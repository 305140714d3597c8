/**
 * `kbtf check`: does anything in the tree make kmod load the companions the policy selects?
 * (what counts as wiring: wiring.ts)
 *
 * - `companions-not-wired` (error): the policy selects modules whose companion is in modules.dep
 *   (mode `always`: every module; `on-demand`: those `include` or `required` names), but for some
 *   of them no configuration kmod reads at boot loads the companion: no softdep in a persistent
 *   modprobe.d file, no enabled kbtf-modprobe-config.service, no `kbtf hook` install line (and
 *   they are not initramfs modules the initramfs wires). A softdep of another file that sorts
 *   before kbtf.conf is a different problem (`softdep-shadowed`, reported where the module loads).
 * - `initramfs-hook-missing`: a selected module the initramfs loads (its module list, or the root
 *   file system's module) gets no companion there. The unit renders /run/modprobe.d/kbtf.conf after
 *   switch_root, when that module is already loaded, so a softdep no longer fires for it: an error,
 *   unless the enabled unit also runs `kbtf sync`, which loads the companions of modules already
 *   loaded (then a warning: they load when the unit runs, not with their module). Without any such
 *   module found, initramfs-tools without the hook stays a warning in mode `always`.
 * - `install-in-initramfs` (error): a `kbtf hook` install line for an initramfs module, in a file
 *   mkinitramfs copies: the initramfs has no kbtf, so the module itself fails to load there.
 */
import { Root } from './root-tree.js';
import { companionOf, foldName } from './names.js';
import { softdepFor, installFor, type ModprobeConfig } from './modprobe-d.js';
import type { Softdep } from './modules.js';
import { DEFAULT_MODPROBE_OUTPUT } from './render.js';
import { HOOK_PATH, INITRAMFS_MODPROBE_DIRS, KBTF_PROGRAM, UNIT_NAME, type HookWiring, type InitramfsView, type UnitWiring } from './wiring.js';
import type { Finding, LoadedModule } from './finding.js';

export interface WiringReport {
  /** Persistent modprobe.d files (not the unit's /run rendering) with a softdep that loads a companion. */
  softdepFiles: string[];
  unit: UnitWiring;
  hook: HookWiring;
  /** Modules whose `install` line runs `kbtf hook` (and the tree has the program). */
  installHooks: string[];
  /** initramfs-tools' view: what its initramfs loads by name, with dependencies (`loaded`). */
  initramfs?: InitramfsView & { loaded: LoadedModule[] };
  /** How many modules the policy selects that have a companion in modules.dep. */
  selected: number;
  /** Of those, the ones whose companion nothing loads (`companions-not-wired`). */
  notWired: string[];
}

/** How kmod would load `module`'s companion with this configuration. */
export interface CompanionLoad {
  /** The first softdep for the module (the one kmod uses). */
  softdep?: Softdep;
  /** That softdep loads the companion. */
  bySoftdep: boolean;
  install?: ModprobeConfig['install'][number];
  /** The install line runs `kbtf hook` and its program is in the tree. */
  byHookLine: boolean;
  /** The install line runs `kbtf hook`, but its program is missing from the tree. */
  hookProgramMissing?: string;
}

export function companionLoad(root: Root, cfg: ModprobeConfig, module: string): CompanionLoad {
  const comp = companionOf(module)!;
  const softdep = softdepFor(cfg, module);
  const bySoftdep = !!softdep && [...softdep.pre, ...softdep.post].some((p) => foldName(p) === comp);
  const install = installFor(cfg, module);
  const isHook = !!install && /(^|\/)kbtf\s+hook\s/.test(install.command);
  const program = install?.command.split(/\s+/)[0];
  const missing = isHook && program?.startsWith('/') && root.kind(program) !== 'file' ? program : undefined;
  return { softdep, bySoftdep, install, byHookLine: isHook && !missing, hookProgramMissing: missing };
}

/** A softdep from a file that sorts before kbtf.conf: kmod takes it instead of kbtf's own line. */
export function shadowsKbtf(sd: Softdep): boolean {
  const base = sd.at.file.slice(sd.at.file.lastIndexOf('/') + 1);
  return base !== 'kbtf.conf' && base < 'kbtf.conf';
}

function isPersistent(file: string): boolean {
  return !file.startsWith('/run/');
}

/** The softdep is in a file mkinitramfs copies into the image (on merged-/usr trees /lib is /usr/lib). */
function inInitramfsConfig(root: Root, file: string): boolean {
  const dirs = [...INITRAMFS_MODPROBE_DIRS, ...(root.resolve('/lib') === '/usr/lib' || root.resolve('/lib') === 'usr/lib' ? ['/usr/lib/modprobe.d'] : [])];
  return dirs.some((d) => file.startsWith(`${d}/`)) || /\/modules\.softdep$/.test(file);
}

function sample(names: string[], n = 8): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

export interface WiringInput {
  root: Root;
  /** kmod's view at boot: persistent files, plus the unit's rendering when the unit is active. */
  cfg: ModprobeConfig;
  /** Selected modules with a companion in modules.dep (renderConfig's softdeps). */
  selected: string[];
  unit: UnitWiring;
  hook: HookWiring;
  initramfs?: InitramfsView & { loaded: LoadedModule[] };
  /** Mode `always` (initramfs-tools without the hook is worth a warning even with no known initramfs module). */
  always: boolean;
}

export function checkWiring(w: WiringInput, add: (f: Finding) => void): WiringReport {
  const { root, cfg, unit, hook, initramfs } = w;
  const loads = new Map(w.selected.map((m) => [m, companionLoad(root, cfg, m)]));
  const softdepFiles = [...new Set([...loads.values()].filter((l) => l.bySoftdep && isPersistent(l.softdep!.at.file)).map((l) => l.softdep!.at.file))].sort();
  const installHooks = [...loads.entries()].filter(([, l]) => l.byHookLine).map(([m]) => m);
  const inInitramfs = new Set((initramfs?.loaded ?? []).map((m) => m.name));
  const initramfsWired = (m: string) => hook.active || (loads.get(m)?.bySoftdep === true && inInitramfsConfig(root, loads.get(m)!.softdep!.at.file));
  const notWired = w.selected.filter((m) => {
    const l = loads.get(m)!;
    if (l.bySoftdep || l.byHookLine) return false;
    if (l.softdep && shadowsKbtf(l.softdep)) return false;
    return !(inInitramfs.has(m) && initramfsWired(m));
  });
  if (notWired.length) {
    const none = notWired.length === w.selected.length;
    const found = [
      softdepFiles.length ? `softdeps in ${softdepFiles.join(', ')} load other companions` : 'no modprobe.d file (/etc/modprobe.d, /usr/local/lib/modprobe.d, /usr/lib/modprobe.d, /lib/modprobe.d) has a companion softdep',
      ...(root.kind(DEFAULT_MODPROBE_OUTPUT) === 'file' && !unit.active ? [`${DEFAULT_MODPROBE_OUTPUT} does not survive a reboot`] : []),
      unit.active ? `${unit.file} is enabled (${unit.enabledBy.join(', ')})` : unit.problem!,
      hook.active ? `${hook.file} covers only modules loaded from the initramfs` : hook.problem!,
      ...(installHooks.length ? [`'kbtf hook' install lines cover only ${sample(installHooks)}`] : []),
    ];
    add({
      severity: 'error',
      code: 'companions-not-wired',
      file: unit.file ?? unit.masked ?? `/usr/lib/systemd/system/${UNIT_NAME}`,
      message: `${none ? 'nothing in the tree loads the companions the policy selects' : 'the softdeps do not cover every companion the policy selects'}: ${notWired.length} of ${w.selected.length} modules (${sample(notWired)}) would load without their companion; ${found.join('; ')}`,
      hint:
        `install and enable ${UNIT_NAME} (${unit.file ?? `/usr/lib/systemd/system/${UNIT_NAME}`}, enabled by the link /etc/systemd/system/sysinit.target.wants/${UNIT_NAME}: ` +
        `systemctl --root ROOT enable ${UNIT_NAME}${unit.masked ? `; unmask: rm ${unit.masked}` : ''}; it runs ${KBTF_PROGRAM}), ` +
        `or render the softdeps into /etc/modprobe.d/kbtf.conf (kbtf modprobe-config --root ROOT --output ROOT/etc/modprobe.d/kbtf.conf, again after installing companions); ` +
        `modules loaded from the initramfs also need ${HOOK_PATH} (executable) and update-initramfs -u`,
    });
  }
  if (initramfs) checkInitramfs(w, loads, initramfsWired, softdepFiles.some((f) => inInitramfsConfig(root, f)), add);
  return { softdepFiles, unit, hook, installHooks, initramfs, selected: w.selected.length, notWired };
}

/** `copied`: a softdep file the image gets (mkinitramfs copies it, and follows its softdeps to the companions). */
function checkInitramfs(w: WiringInput, loads: Map<string, CompanionLoad>, wired: (m: string) => boolean, copied: boolean, add: (f: Finding) => void): void {
  const { unit, hook, initramfs } = w;
  let specific = 0;
  for (const m of initramfs!.loaded) {
    if (!loads.has(m.name) || wired(m.name)) continue;
    specific++;
    const late = unit.active && unit.runsSync;
    add({
      severity: late ? 'warning' : 'error',
      code: 'initramfs-hook-missing',
      file: hook.file ?? HOOK_PATH,
      module: m.name,
      message:
        `${m.name} loads from the initramfs (${m.why}) where nothing loads ${m.name}-btf (${hook.problem}; no softdep for it in ${INITRAMFS_MODPROBE_DIRS.join(' or ')}, which mkinitramfs copies); ` +
        (late
          ? `${unit.file} runs kbtf sync after switch_root, so ${m.name}-btf loads then, not with ${m.name}: a crash before it lacks the companion`
          : `${unit.active ? `${unit.file} renders ${DEFAULT_MODPROBE_OUTPUT} after ${m.name} is loaded and does not run kbtf sync` : 'no kbtf sync runs after boot'}, so ${m.name}-btf never loads`),
      hint: `install ${HOOK_PATH} (mode 755, with ${KBTF_PROGRAM}) and run update-initramfs -u${late ? '' : `; or have ${UNIT_NAME} run '${KBTF_PROGRAM} sync' after boot (a later load)`}`,
    });
  }
  // A `kbtf hook` install line goes into the image with its file, but /usr/bin/kbtf does not (node
  // is not in an initramfs): kmod there runs the line, it fails, and the module does not load at all.
  for (const m of initramfs!.loaded) {
    const inst = installFor(w.cfg, m.name);
    if (!inst || !/(^|\/)kbtf\s+hook\s/.test(inst.command) || !inInitramfsConfig(w.root, inst.at.file)) continue;
    add({
      severity: 'error',
      code: 'install-in-initramfs',
      file: inst.at.file,
      line: inst.at.line,
      module: m.name,
      message: `${m.name} loads from the initramfs (${m.why}), and mkinitramfs copies ${inst.at.file} into it; kmod there runs '${inst.command}', but the initramfs has no ${KBTF_PROGRAM}: ${m.name} fails to load`,
      hint: `remove the install line for ${m.name} (the unit's softdeps and ${HOOK_PATH} load its companion), or move it to a file mkinitramfs does not copy (/usr/local/lib/modprobe.d)`,
    });
  }
  if (!specific && !hook.active && !copied && w.always) {
    add({ severity: 'warning', code: 'initramfs-hook-missing', file: hook.file ?? HOOK_PATH, message: `initramfs-tools is installed but the kbtf hook is not usable (${hook.problem}) and no softdep file is copied into the image: modules the initramfs loads (storage drivers, by udev) come without companions`, hint: `install ${HOOK_PATH} (mode 755) and run update-initramfs -u` });
  }
}
