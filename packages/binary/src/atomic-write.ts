/**
 * Writing a file whole or not at all: the bytes go to a temporary file in the same directory (so the
 * rename stays on one file system), which is then renamed over the target. A reader sees the old
 * file or the new one, never half of one; on any failure the temporary file is removed and the
 * target left as it was. Used for verify's `--report`, policy's `hook` output and the companion
 * summaries.
 */
import { basename, dirname, join } from 'node:path';
import * as nodeFs from 'node:fs';

/** The part of `node:fs` the write needs; policy passes its root's (a memfs volume in tests). */
export interface AtomicWriteFs {
  writeFileSync(path: string, data: string | Uint8Array, options?: { mode?: number }): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

export interface AtomicWriteOptions {
  /** Permission bits of a new file (before the umask); node's default 0o666 when absent. */
  mode?: number;
  fs?: AtomicWriteFs;
}

let sequence = 0;

/**
 * Write `data` to `path` through `.<name>.<pid>.<n>.tmp` beside it. Two processes (or two writes of
 * one) never share a temporary name. Errors of the file system are thrown as they come (the caller
 * knows what the file was for); the temporary file is gone by then.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const fs = options.fs ?? nodeFs;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${sequence++}.tmp`);
  try {
    fs.writeFileSync(tmp, data, options.mode === undefined ? undefined : { mode: options.mode });
    fs.renameSync(tmp, path);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never created, or already gone */
    }
    throw err;
  }
}
