/**
 * `kbtf sync`: load the companions of modules that are already loaded (booted before the config
 * existed, or loaded by something that bypassed kmod). Reads /proc/modules, decides per module,
 * and runs the real `modprobe` for each missing companion. Running it again does nothing.
 * A companion that loads but does not register BTF (`/sys/kernel/btf/M_btf` absent: the kernel
 * rejected its BTF, CONFIG_MODULE_ALLOW_BTF_MISMATCH) is reported as a failure.
 *
 * A dry run asks the real modprobe what it would do (`modprobe -n -v -- M-btf`: kmod resolves the
 * companion through modules.dep and the modprobe.d config and prints the insmod it would run,
 * changing nothing) and reports that plan; a companion kmod cannot resolve is a failure. With
 * `modprobeArgs` (`-d ROOT -S KVER -C ROOT/etc/modprobe.d`, rootModprobeArgs) the dry run works on a root tree.
 */
import { Root } from './root-tree.js';
import { decide, type Decision } from './decide.js';
import { companionOf, isCompanion, foldName, VMLINUX, VMLINUX_COMPANION } from './names.js';
import type { ModulesDir } from './modules.js';
import type { Settings } from './settings.js';
import type { Runner } from './exec.js';

export type SyncStatus = 'loaded' | 'would-load' | 'already-loaded' | 'not-selected' | 'no-companion' | 'failed' | 'no-btf';

export interface SyncAction {
  module: string;
  companion: string;
  status: SyncStatus;
  decision: Decision;
  message?: string;
  /** Dry run: what `modprobe -n -v` would run (`insmod /lib/modules/.../M-btf.ko`), one per line. */
  plan?: string[];
}

export interface SyncReport {
  kernel: string;
  dryRun: boolean;
  actions: SyncAction[];
  failed: number;
}

/** Names of loaded modules from /proc/modules (`name size refs deps state addr`). */
export function parseProcModules(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean)
    .map(foldName);
}

export interface SyncOptions {
  dryRun?: boolean;
  /** The modprobe program (default `modprobe`, found on PATH). */
  modprobe?: string;
  /** Arguments before the module in every modprobe call, e.g. `['-d', ROOT, '-S', KVER]`. */
  modprobeArgs?: string[];
  /** The loaded modules in /proc/modules format; default: the root's /proc/modules. */
  procModules?: string;
}

/**
 * The modprobe arguments that make kmod work on a root tree instead of the running system:
 * `-d ROOT` (its /lib/modules), `-S KVER` (that kernel's modules.dep), and `-C ROOT/etc/modprobe.d`
 * when the tree has that directory (else kmod would read the host's). None for the live root.
 */
export function rootModprobeArgs(root: Root, kernel: string): string[] {
  if (root.isLive) return [];
  const args = ['-d', root.dir, '-S', kernel];
  if (root.kind('/etc/modprobe.d') === 'dir') args.push('-C', root.path('/etc/modprobe.d'));
  return args;
}

export async function syncCompanions(root: Root, settings: Settings, mods: ModulesDir, runner: Runner, options: SyncOptions = {}): Promise<SyncReport> {
  const loaded = new Set(parseProcModules(options.procModules ?? root.readText('/proc/modules')));
  const modprobe = options.modprobe ?? 'modprobe';
  const pre = options.modprobeArgs ?? [];
  const actions: SyncAction[] = [];
  const targets = [...loaded].filter((m) => !isCompanion(m)).sort();
  targets.unshift(VMLINUX);
  for (const module of targets) {
    const decision = decide(settings, module);
    const comp = module === VMLINUX ? foldName(VMLINUX_COMPANION) : companionOf(module)!;
    const spelled = module === VMLINUX ? VMLINUX_COMPANION : `${module}-btf`;
    const base = { module, companion: spelled, decision };
    if (!decision.load) {
      actions.push({ ...base, status: 'not-selected' });
      continue;
    }
    if (loaded.has(comp)) {
      actions.push({ ...base, status: 'already-loaded' });
      continue;
    }
    if (!mods.modules.has(comp)) {
      actions.push({ ...base, status: 'no-companion' });
      continue;
    }
    if (options.dryRun) {
      const r = await runner(modprobe, [...pre, '-n', '-v', '--', spelled]);
      const plan = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
      if (r.code !== 0) actions.push({ ...base, status: 'failed', message: (r.stderr || r.stdout).trim() || `modprobe -n exited ${r.code}` });
      else actions.push({ ...base, status: 'would-load', plan });
      continue;
    }
    const r = await runner(modprobe, [...pre, '--', spelled]);
    if (r.code !== 0) {
      actions.push({ ...base, status: 'failed', message: (r.stderr || r.stdout).trim() || `modprobe exited ${r.code}` });
      continue;
    }
    const btf = `/sys/kernel/btf/${comp}`;
    if (root.isLive || root.kind('/sys/kernel/btf') === 'dir') {
      if (root.kind(btf) !== 'file') {
        actions.push({ ...base, status: 'no-btf', message: `loaded, but ${btf} is missing: the kernel rejected its BTF (see dmesg)` });
        continue;
      }
    }
    actions.push({ ...base, status: 'loaded' });
  }
  return { kernel: mods.kernel, dryRun: !!options.dryRun, actions, failed: actions.filter((a) => a.status === 'failed' || a.status === 'no-btf').length };
}
