/**
 * `kbtf hook MODULE [ARGS]`, for a modprobe.d line
 *     install MODULE /usr/bin/kbtf hook MODULE $CMDLINE_OPTS
 * kmod runs that through `/bin/sh -c` with $CMDLINE_OPTS pasted unquoted, so whatever reaches us
 * may be hostile. The name must be a strict module name (isStrictModuleName) and each argument a
 * module parameter (`key` or `key=value`, no leading `-`, no control characters, bounded length);
 * anything else is refused (exit 2) before any program runs.
 *
 * Then: `modprobe --ignore-install -- MODULE ARGS…` (the module's own load; its exit code is ours),
 * and if the policy selects it, `modprobe --ignore-install -q -- MODULE-btf`. A companion failure,
 * or a policy that cannot be read, is logged to stderr and /dev/kmsg and never fails the module's
 * load. Programs run through execFile: no shell ever sees the name.
 */
import { appendFileSync } from 'node:fs';
import { UsageError } from '@kbtf/binary';
import { decide } from './decide.js';
import type { Root } from './root-tree.js';
import { readModulesDir } from './modules.js';
import { companionOf, isStrictModuleName, isCompanion, foldName } from './names.js';
import { readSettings } from './settings.js';
import type { Runner } from './exec.js';

export const MAX_PARAM_LENGTH = 1024;
export const MAX_PARAMS = 64;

export function validateHookArgs(module: string | undefined, params: string[]): void {
  if (module === undefined) throw new UsageError('hook: missing MODULE');
  if (!isStrictModuleName(module)) {
    const shown = JSON.stringify(module.length > 64 ? `${module.slice(0, 64)}…` : module);
    throw new UsageError(`hook: refusing module name ${shown} (${module.length} chars): a module name is 1 to 55 of [A-Za-z0-9_-]`);
  }
  if (params.length > MAX_PARAMS) throw new UsageError(`hook: ${params.length} parameters (at most ${MAX_PARAMS})`);
  for (const p of params) {
    const bad = p.length === 0 || p.length > MAX_PARAM_LENGTH || p.startsWith('-') || hasControl(p) || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*(=|$)/.test(p);
    if (bad) throw new UsageError(`hook: refusing parameter ${JSON.stringify(p.slice(0, 64))}: expected key or key=value`);
  }
}

export interface HookDeps {
  run: Runner;
  /** Whether the companion of `module` should load (the policy + modules.dep); may throw. */
  wantsCompanion(module: string): boolean;
  log(message: string): void;
  modprobe?: string;
}

export interface HookResult {
  code: number;
  companion: 'loaded' | 'failed' | 'not-selected' | 'skipped';
}

export async function runHook(module: string | undefined, params: string[], deps: HookDeps): Promise<HookResult> {
  validateHookArgs(module, params);
  const name = module!;
  const modprobe = deps.modprobe ?? 'modprobe';
  const own = await deps.run(modprobe, ['--ignore-install', '--', name, ...params]);
  if (own.code !== 0) {
    if (own.stderr) deps.log(own.stderr.trim());
    return { code: own.code, companion: 'skipped' };
  }
  if (isCompanion(name)) return { code: 0, companion: 'not-selected' };
  let want: boolean;
  try {
    want = deps.wantsCompanion(foldName(name));
  } catch (err) {
    deps.log(`kbtf hook: ${name}: cannot decide about its companion: ${(err as Error).message}`);
    return { code: 0, companion: 'failed' };
  }
  if (!want) return { code: 0, companion: 'not-selected' };
  const comp = `${foldName(name)}-btf`;
  const r = await deps.run(modprobe, ['--ignore-install', '-q', '--', comp]);
  if (r.code !== 0) {
    deps.log(`kbtf hook: companion ${comp} of ${name} failed to load (modprobe exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
    return { code: 0, companion: 'failed' };
  }
  return { code: 0, companion: 'loaded' };
}


function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * The hook's rule for MODULE's companion: the root's settings select MODULE (decide) and the
 * kernel's modules.dep has the companion (a selected module without one is no failure). Read afresh
 * on each call: a hook runs once per module load. Throws when the settings or modules.dep cannot be
 * read; runHook logs that and still loads the module.
 */
export function wantsCompanion(root: Root, module: string, kernel?: string): boolean {
  const companion = companionOf(module);
  if (companion === undefined) return false;
  if (!decide(readSettings(root, { kernel }), module).load) return false;
  return readModulesDir(root, kernel).modules.has(companion);
}

/** The kernel log level of the hook's messages (KERN_WARNING, include/linux/kern_levels.h). */
export const KMSG_WARNING = '<4>';

/**
 * The hook's log: each message to `stderr` and to the kernel log (`kmsg`, /dev/kmsg, at
 * KERN_WARNING), so that a companion that failed at boot shows in dmesg beside the module's own
 * messages. Writing the kernel log is best effort: not root, or no /dev/kmsg, leaves stderr only.
 */
export function kmsgLogger(stderr: (text: string) => void, kmsg = '/dev/kmsg'): (message: string) => void {
  return (message) => {
    stderr(`${message}\n`);
    try {
      appendFileSync(kmsg, `${KMSG_WARNING}${message}\n`);
    } catch {
      /* not root, or no /dev/kmsg */
    }
  };
}
