/**
 * The file-system view every policy function reads through. A root tree (`--root DIR`, an image,
 * or a memfs volume in tests) is addressed with absolute in-tree paths (`/etc/modprobe.d`); `Root`
 * joins them onto its directory. Symlinks are not followed out of the tree: a symlink whose target
 * is `/dev/null` is a mask (systemd, kmod), anything else is read through `readlink` relative to the
 * root.
 */
import * as nodeFs from 'node:fs';
import { posix } from 'node:path';
import { NotFoundError, BadDataError, MAX_OBJECT_FILE, MAX_TEXT_FILE, writeFileAtomic } from '@kbtf/binary';

/** The subset of `node:fs` (synchronous) that policy needs; `memfs`'s `fs` satisfies it too. */
export interface FileSystem {
  readFileSync(path: string): Uint8Array | string;
  readdirSync(path: string): unknown[];
  lstatSync(path: string): { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; size: number | bigint };
  readlinkSync(path: string): unknown;
  existsSync(path: string): boolean;
  writeFileSync(path: string, data: string | Uint8Array, options?: { mode?: number }): void;
  renameSync(from: string, to: string): void;
  mkdirSync(path: string, options?: { recursive?: boolean }): unknown;
  unlinkSync(path: string): void;
}

export const realFs: FileSystem = nodeFs;

/** What a path is, without following a final symlink unless it stays inside the root. */
export type EntryKind = 'file' | 'dir' | 'masked' | 'symlink' | 'missing';

/** A directory tree seen as a root file system. */
export class Root {
  constructor(
    readonly dir: string,
    readonly fs: FileSystem = realFs,
  ) {}

  /** True when this is the running system's own root (live /proc and /sys may be read). */
  get isLive(): boolean {
    return posix.resolve(this.dir) === '/';
  }

  /**
   * Host path of an in-tree absolute path. For the host's own root a relative path is a host path
   * relative to the working directory (a command-line `--output etc/x.conf`), not `/etc/x.conf`.
   */
  path(p: string): string {
    if (!p.startsWith('/') && this.isLive) return posix.resolve(p);
    return posix.join(this.dir, p);
  }

  kind(p: string): EntryKind {
    let st;
    try {
      st = this.fs.lstatSync(this.path(p));
    } catch {
      return 'missing';
    }
    if (st.isSymbolicLink()) {
      const target = String(this.fs.readlinkSync(this.path(p)));
      if (target === '/dev/null') return 'masked';
      const resolved = target.startsWith('/') ? target : posix.join(posix.dirname(p), target);
      const k = resolved === p ? 'missing' : this.kind(resolved);
      return k === 'missing' ? 'symlink' : k;
    }
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    return 'missing';
  }

  exists(p: string): boolean {
    const k = this.kind(p);
    return k === 'file' || k === 'dir';
  }

  /** In-tree path a symlink chain ends at (bounded), or `p` itself. */
  resolve(p: string): string {
    let cur = p;
    for (let i = 0; i < 16; i++) {
      let st;
      try {
        st = this.fs.lstatSync(this.path(cur));
      } catch {
        return cur;
      }
      if (!st.isSymbolicLink()) return cur;
      const target = String(this.fs.readlinkSync(this.path(cur)));
      cur = target.startsWith('/') ? target : posix.join(posix.dirname(cur), target);
    }
    throw new BadDataError(p, undefined, 'too many levels of symbolic links');
  }

  /**
   * File bytes; NotFoundError when absent. Only a regular file of at most `maxBytes` is read: a
   * device node (an image's /dev/zero behind a symlink), a FIFO or a directory would block, never
   * end, or fail deep in a parser.
   */
  readBytes(p: string, maxBytes = MAX_OBJECT_FILE): Uint8Array {
    const host = this.path(this.resolve(p));
    let st;
    try {
      st = this.fs.lstatSync(host);
    } catch (err) {
      throw new NotFoundError(`${p}: cannot read (${(err as Error).message.split('\n')[0]})`, { cause: err });
    }
    if (!st.isFile()) throw new BadDataError(p, undefined, `not a regular file (${st.isDirectory() ? 'a directory' : 'a device, pipe or socket'})`);
    if (Number(st.size) > maxBytes) throw new BadDataError(p, undefined, `${st.size} bytes: larger than kbtf reads for this file (${maxBytes} bytes)`);
    try {
      const data = this.fs.readFileSync(host);
      return typeof data === 'string' ? new TextEncoder().encode(data) : data;
    } catch (err) {
      throw new NotFoundError(`${p}: cannot read (${(err as Error).message.split('\n')[0]})`, { cause: err });
    }
  }

  /** Text of a configuration file (at most MAX_TEXT_FILE bytes). */
  readText(p: string, maxBytes = MAX_TEXT_FILE): string {
    return new TextDecoder().decode(this.readBytes(p, maxBytes));
  }

  /** Text of a file, or undefined when it is absent (masked counts as absent). */
  readTextIfExists(p: string): string | undefined {
    return this.kind(p) === 'file' ? this.readText(p) : undefined;
  }

  /** Entry names of a directory, sorted bytewise; [] when absent. */
  list(p: string): string[] {
    if (this.kind(p) !== 'dir') return [];
    return this.fs
      .readdirSync(this.path(this.resolve(p)))
      .map(String)
      .sort(compareBytes);
  }

  /** Write whole or not at all: a temporary file in the same directory renamed over the target. */
  writeAtomic(p: string, text: string): void {
    this.fs.mkdirSync(this.path(posix.dirname(p)), { recursive: true });
    writeFileAtomic(this.path(p), text, { mode: 0o644, fs: this.fs });
  }
}

/** strcmp order (what kmod and systemd sort config files by). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
