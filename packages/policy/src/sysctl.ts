/**
 * sysctl settings: the live value when the running kernel has the knob, else what the sysctl.d
 * configuration of a root tree would set at boot.
 *
 * Rules (systemd-sysctl, sysctl.d(5), systemd 252; procps `sysctl --system`):
 * - directories, highest priority first: /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
 *   /usr/lib/sysctl.d, /lib/sysctl.d; only `*.conf` files;
 * - a basename in a higher directory replaces the same basename below it; a symlink to /dev/null
 *   with that basename masks it (an empty file overrides it with nothing);
 * - the surviving files are applied in basename order, later assignments win per key;
 *   /etc/sysctl.conf is applied last (procps; systemd links it as 99-sysctl.conf);
 * - lines: `#` and `;` start comments, `key = value`, a leading `-` on the key ignores a failure to
 *   set it (the value still counts), keys may use `.` or `/` as separator (if the first separator is
 *   `/`, `/` and `.` swap), and keys may be globs (systemd ≥ 245).
 */
import { Root } from './root-tree.js';
import { confFiles, type ConfFiles } from './conf-files.js';
import { fnmatch, isGlob } from './glob.js';
import type { Source } from './setting-source.js';

export const SYSCTL_DIRS = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];
export const SYSCTL_CONF = '/etc/sysctl.conf';
export const BTF_SYSCTL_KEY = 'kernel.btf_companions';
export const BTF_SYSCTL_PROC = '/proc/sys/kernel/btf_companions';

export interface SysctlAssignment {
  key: string;
  value: string;
  ignoreFailure: boolean;
  source: Source;
}

export interface SysctlWarning {
  file: string;
  line: number;
  message: string;
}

/** Normalize a key to dotted form (`kernel/btf_companions` → `kernel.btf_companions`). */
export function normalizeSysctlKey(key: string): string {
  const firstSep = key.search(/[./]/);
  if (firstSep < 0 || key[firstSep] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

export function parseSysctlFile(text: string, file: string, warnings: SysctlWarning[] = []): SysctlAssignment[] {
  const out: SysctlAssignment[] = [];
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const eq = line.indexOf('=');
    if (eq < 0) {
      warnings.push({ file, line: idx + 1, message: `line is not 'key = value': ${line.slice(0, 80)}` });
      return;
    }
    let key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const ignoreFailure = key.startsWith('-');
    if (ignoreFailure) key = key.slice(1).trim();
    if (!key) {
      warnings.push({ file, line: idx + 1, message: 'empty key' });
      return;
    }
    out.push({ key: normalizeSysctlKey(key), value, ignoreFailure, source: { kind: 'sysctl', file, line: idx + 1 } });
  });
  return out;
}

/** The sysctl.d files that apply, in application order, after masking and overriding. */
export function sysctlFiles(root: Root): ConfFiles {
  const found = confFiles(root, SYSCTL_DIRS, '.conf');
  if (root.kind(SYSCTL_CONF) === 'file') found.files.push(SYSCTL_CONF);
  return found;
}

/** The value `key` gets from the sysctl.d configuration (last assignment wins), with its source. */
export function configuredSysctl(root: Root, key: string, warnings: SysctlWarning[] = []): SysctlAssignment | undefined {
  const want = normalizeSysctlKey(key);
  let found: SysctlAssignment | undefined;
  for (const file of sysctlFiles(root).files) {
    for (const a of parseSysctlFile(root.readText(file), file, warnings)) {
      if (a.key === want || (isGlob(a.key) && fnmatch(a.key, want))) found = a;
    }
  }
  return found;
}

/**
 * `kernel.btf_companions`: live from /proc/sys when the root is the running system and the kernel
 * has the knob; otherwise from the sysctl.d configuration.
 */
export function readBtfSysctl(root: Root, warnings: SysctlWarning[] = []): SysctlAssignment | undefined {
  if (root.isLive) {
    const live = root.readTextIfExists(BTF_SYSCTL_PROC);
    if (live !== undefined) return { key: BTF_SYSCTL_KEY, value: live.trim(), ignoreFailure: false, source: { kind: 'sysctl', file: BTF_SYSCTL_PROC } };
  }
  return configuredSysctl(root, BTF_SYSCTL_KEY, warnings);
}
