/**
 * The configuration-directory rule systemd and kmod share: directories in priority order, only
 * names with the given suffix, the same basename in a higher directory replaces a lower one, a
 * symlink to /dev/null masks the basename, and the survivors are taken in basename order.
 */
import { Root, compareBytes } from './root-tree.js';

export interface ConfFiles {
  /** In-tree paths, in application order. */
  files: string[];
  /** Masking entries (symlinks to /dev/null). */
  masked: string[];
  /** Files hidden by a same-named file in a higher directory: hidden → winner. */
  overridden: { path: string; by: string }[];
}

/** `skip`: in-tree paths treated as absent (e.g. a file rendered at boot that a tree's copy does not stand for). */
export function confFiles(root: Root, dirs: readonly string[], suffix: string, skip: ReadonlySet<string> = new Set()): ConfFiles {
  const chosen = new Map<string, string>();
  const masked: string[] = [];
  const maskedNames = new Map<string, string>();
  const overridden: ConfFiles['overridden'] = [];
  for (const dir of dirs) {
    for (const name of root.list(dir)) {
      if (!name.endsWith(suffix)) continue;
      const path = `${dir}/${name}`;
      if (skip.has(path)) continue;
      const winner = chosen.get(name) ?? maskedNames.get(name);
      if (winner) {
        if (root.kind(path) === 'file') overridden.push({ path, by: winner });
        continue;
      }
      const kind = root.kind(path);
      if (kind === 'masked') {
        masked.push(path);
        maskedNames.set(name, path);
      } else if (kind === 'file') chosen.set(name, path);
    }
  }
  const files = [...chosen.keys()].sort(compareBytes).map((n) => chosen.get(n)!);
  return { files, masked, overridden };
}
