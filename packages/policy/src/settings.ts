/**
 * Effective settings (docs/design.md §3, settings contract v1): kernel cmdline > sysctl > policy file >
 * default (`on-demand`). Each value carries the source that set it. An invalid value is reported
 * and ignored, so the next source decides.
 */
import { Root } from './root-tree.js';
import { type Cmdline, lastParam, readCmdline, cmdlineFromString } from './cmdline.js';
import { readBtfSysctl, type SysctlWarning } from './sysctl.js';
import { readPolicy, policySource, MODES, type Mode, type PolicyFile } from './policy-file.js';
import { DEFAULT_SOURCE, type Source, type Sourced } from './setting-source.js';

export const CMDLINE_MODE = 'btf_companions';
export const CMDLINE_EXCLUDE = 'btf_companions.exclude';
export const DEFAULT_MODE: Mode = 'on-demand';

export interface SourcedPattern {
  pattern: string;
  source: Source;
}

export interface SettingsProblem {
  severity: 'error' | 'warning';
  file: string;
  line?: number;
  message: string;
}

export interface Settings {
  mode: Sourced<Mode>;
  /** Never load companions of these (cmdline patterns first, then the policy's). */
  exclude: SourcedPattern[];
  /** In `on-demand` mode, load companions of these anyway. */
  include: SourcedPattern[];
  /** Load vmlinux-btf at boot. Default: mode is `always`. */
  vmlinux: Sourced<boolean>;
  /** Modules that must have a companion (check: error when missing). */
  required: SourcedPattern[];
  cmdline?: Cmdline;
  policy?: PolicyFile;
  problems: SettingsProblem[];
}

export interface SettingsOptions {
  /** Use this command line instead of the root's. */
  cmdline?: string;
  /** For a root tree: the kernel whose BLS entry to prefer. */
  kernel?: string;
  /** Read the boot loader's configured line even on the live root. */
  configuredCmdline?: boolean;
}

function isMode(v: string | undefined): v is Mode {
  return v !== undefined && (MODES as readonly string[]).includes(v);
}

export function readSettings(root: Root, options: SettingsOptions = {}): Settings {
  const problems: SettingsProblem[] = [];
  const cmdline = options.cmdline !== undefined ? cmdlineFromString(options.cmdline) : readCmdline(root, { kernel: options.kernel, preferConfigured: options.configuredCmdline });
  const sysWarnings: SysctlWarning[] = [];
  const sysctl = readBtfSysctl(root, sysWarnings);
  for (const w of sysWarnings) problems.push({ severity: 'warning', file: w.file, line: w.line, message: w.message });
  const policy = readPolicy(root);

  let mode: Sourced<Mode> = { value: DEFAULT_MODE, source: DEFAULT_SOURCE };
  if (policy?.data.mode) mode = { value: policy.data.mode, source: policySource(policy, 'mode') };
  if (sysctl) {
    if (isMode(sysctl.value)) mode = { value: sysctl.value, source: sysctl.source };
    else problems.push({ severity: 'error', file: sysctl.source.file ?? 'sysctl', line: sysctl.source.line, message: `kernel.btf_companions = '${sysctl.value}' is not one of ${MODES.join(', ')}; ignored` });
  }
  const cmdMode = cmdline && lastParam(cmdline.params, CMDLINE_MODE);
  if (cmdMode && cmdline) {
    if (isMode(cmdMode.value)) mode = { value: cmdMode.value, source: cmdline.source };
    else problems.push({ severity: 'error', file: cmdline.source.file ?? 'cmdline', line: cmdline.source.line, message: `${CMDLINE_MODE}=${cmdMode.value ?? ''} is not one of ${MODES.join(', ')}; ignored` });
  }

  const exclude: SourcedPattern[] = [];
  const cmdExclude = cmdline && lastParam(cmdline.params, CMDLINE_EXCLUDE);
  if (cmdExclude && cmdline) {
    for (const p of (cmdExclude.value ?? '').split(',')) if (p.trim()) exclude.push({ pattern: p.trim(), source: cmdline.source });
  }
  for (const p of policy?.data.exclude ?? []) exclude.push({ pattern: p, source: policySource(policy!, 'exclude') });
  const include = (policy?.data.include ?? []).map((p) => ({ pattern: p, source: policySource(policy!, 'include') }));
  const required = (policy?.data.required ?? []).map((p) => ({ pattern: p, source: policySource(policy!, 'required') }));
  const vmlinux: Sourced<boolean> =
    policy?.data.vmlinux !== undefined ? { value: policy.data.vmlinux, source: policySource(policy, 'vmlinux') } : { value: mode.value === 'always', source: { kind: 'default' } };
  if (mode.value === 'off' && vmlinux.source.kind !== 'default' && vmlinux.value) {
    problems.push({ severity: 'warning', file: vmlinux.source.file ?? '', line: vmlinux.source.line, message: "vmlinux: true has no effect while the mode is 'off'" });
  }
  return { mode, exclude, include, vmlinux: mode.value === 'off' ? { value: false, source: mode.source } : vmlinux, required, cmdline, policy, problems };
}
