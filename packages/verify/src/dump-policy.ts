/**
 * The policy a crashed kernel ran with. A dump carries its command line (`saved_command_line`) but
 * no file system, so the settings are computed over a virtual root that holds only what the user
 * gives: the policy file (`--policy`, placed at /etc/kbtf/policy.yaml) and the command line (the
 * dump's, or `--cmdline`). The sysctl is not recorded in the dump (stock kernels have no
 * kernel.btf_companions), so it plays no part.
 */
import { KbtfError, MAX_TEXT_FILE, readRegularFile } from '@kbtf/binary';
import { posix } from 'node:path';
import { Root, readSettings, type FileSystem, type Settings } from '@kbtf/policy';

const POLICY_IN_TREE = '/etc/kbtf/policy.yaml';

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}

/** A read-only file system holding exactly `files` (in-tree path → text). */
export function virtualFs(files: Map<string, string>): FileSystem {
  const dirs = new Set<string>(['/']);
  for (const f of files.keys()) for (let d = posix.dirname(f); d !== '/'; d = posix.dirname(d)) dirs.add(d);
  const stat = (p: string) => {
    const file = files.get(p);
    if (file === undefined && !dirs.has(p)) throw enoent(p);
    return { isFile: () => file !== undefined, isDirectory: () => file === undefined, isSymbolicLink: () => false, size: file?.length ?? 0 };
  };
  const readOnly = () => {
    throw Object.assign(new Error('read-only virtual root'), { code: 'EROFS' });
  };
  return {
    readFileSync(p) {
      const f = files.get(p);
      if (f === undefined) throw enoent(p);
      return f;
    },
    readdirSync(p) {
      if (!dirs.has(p)) throw enoent(p);
      const prefix = p === '/' ? '/' : `${p}/`;
      const names = new Set<string>();
      for (const x of [...files.keys(), ...dirs]) if (x !== p && x.startsWith(prefix)) names.add(x.slice(prefix.length).split('/')[0]);
      return [...names].sort();
    },
    lstatSync: stat,
    readlinkSync: (p) => {
      throw enoent(p);
    },
    existsSync: (p) => files.has(p) || dirs.has(p),
    writeFileSync: readOnly,
    renameSync: readOnly,
    mkdirSync: readOnly,
    unlinkSync: readOnly,
  };
}

/**
 * Settings from a command line and an optional policy file (host path). `cmdlineLabel` names where
 * the line came from in every source (`saved_command_line` for the dump's own, `--cmdline`).
 */
export function dumpSettings(cmdline: string, policyFile?: string, cmdlineLabel = '--cmdline'): Settings {
  const files = new Map<string, string>();
  if (policyFile) files.set(POLICY_IN_TREE, Buffer.from(readRegularFile(policyFile, MAX_TEXT_FILE, 'a policy file')).toString('utf8'));
  let settings: Settings;
  try {
    settings = readSettings(new Root('/', virtualFs(files)), { cmdline });
  } catch (err) {
    // Name the user's file, not the virtual path, in the error too.
    if (policyFile && err instanceof KbtfError) throw err.withMessage(err.message.split(POLICY_IN_TREE).join(policyFile));
    throw err;
  }
  // Name the user's file, not the virtual path, in every source.
  if (policyFile) renameSources(settings, POLICY_IN_TREE, policyFile);
  if (cmdlineLabel !== '--cmdline') renameSources(settings, '--cmdline', cmdlineLabel);
  return settings;
}

function renameSources(value: unknown, from: string, to: string, depth = 0): void {
  if (depth > 6 || value === null || typeof value !== 'object') return;
  const rec = value as Record<string, unknown>;
  if (rec.file === from) rec.file = to;
  for (const v of Object.values(rec)) renameSources(v, from, to, depth + 1);
}
