/**
 * Companion decisions: for one module, should its companion load, and why. Order of the rules:
 * a companion never has a companion; mode `off` loads none; an exclude pattern (cmdline first, then
 * policy) wins over everything else; mode `always` loads every companion; mode `on-demand` loads
 * only those the policy includes or requires. Whether the companion exists on disk is a separate
 * fact (`hasCompanion`), reported rather than failed unless the module is required.
 */
import { foldName, isCompanion, matchesPattern, VMLINUX } from './names.js';
import type { Settings } from './settings.js';
import type { Source } from './setting-source.js';

export type DecisionReason = 'is-companion' | 'mode-off' | 'excluded' | 'mode-always' | 'included' | 'required' | 'on-demand';

export interface Decision {
  module: string;
  load: boolean;
  reason: DecisionReason;
  /** The setting that decided. */
  source: Source;
  /** The pattern that matched, for include/exclude/required. */
  pattern?: string;
  required: boolean;
}

export function decide(settings: Settings, name: string): Decision {
  const module = foldName(name);
  const req = settings.required.find((r) => matchesPattern(r.pattern, module));
  const base = { module, required: !!req };
  if (module === VMLINUX) {
    return { ...base, load: settings.vmlinux.value, reason: settings.vmlinux.value ? (settings.mode.value === 'always' ? 'mode-always' : 'included') : settings.mode.value === 'off' ? 'mode-off' : 'on-demand', source: settings.vmlinux.source };
  }
  if (isCompanion(module)) return { ...base, load: false, reason: 'is-companion', source: { kind: 'default' } };
  if (settings.mode.value === 'off') return { ...base, load: false, reason: 'mode-off', source: settings.mode.source };
  const ex = settings.exclude.find((e) => matchesPattern(e.pattern, module));
  if (ex) return { ...base, load: false, reason: 'excluded', source: ex.source, pattern: ex.pattern };
  if (settings.mode.value === 'always') return { ...base, load: true, reason: 'mode-always', source: settings.mode.source };
  const inc = settings.include.find((e) => matchesPattern(e.pattern, module));
  if (inc) return { ...base, load: true, reason: 'included', source: inc.source, pattern: inc.pattern };
  if (req) return { ...base, load: true, reason: 'required', source: req.source, pattern: req.pattern };
  return { ...base, load: false, reason: 'on-demand', source: settings.mode.source };
}
