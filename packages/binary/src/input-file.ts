/**
 * Opening the files a user names (dumps, BTF blobs, modules, policy files). Every reader goes
 * through here so that what is not a regular file is refused in one place, with one message:
 * `/dev/zero` would otherwise be read until memory runs out, a directory fails with EISDIR deep in
 * a parser, and `-`/a pipe cannot serve the positioned reads a dump needs. Operating-system errors
 * become kbtf errors naming the path (`fileError`), never an INTERNAL one.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { BadDataError, KbtfError, NotFoundError, UsageError } from './errors.js';

/** What the operating system said, as a kbtf error that names the path. */
export function fileError(path: string, err: unknown): KbtfError {
  if (err instanceof KbtfError) return err;
  const e = err as NodeJS.ErrnoException;
  const why = ERRNO_TEXT[e.code ?? ''] ?? e.code ?? (e as Error).message;
  if (e.code === 'ENOENT') return new NotFoundError(`${path}: ${why}`, { cause: err });
  if (e.code !== undefined && USER_ERRNOS.has(e.code)) return new UsageError(`${path}: ${why}`, { cause: err });
  return new BadDataError(path, undefined, `cannot read: ${why}`, { cause: err });
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EIO: 'input/output error',
};
/** Errors about the path the user gave rather than about the bytes in it. */
const USER_ERRNOS = new Set(['EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

/**
 * Open `path` for positioned reads: a regular file, or a USAGE error saying what it is instead.
 * `what` names the expected content in the message ("a vmcore").
 */
export function openRegularFile(path: string, what = 'the input'): { fd: number; size: number } {
  if (path === '-') throw new UsageError(`-: ${what} must be a regular file (positioned reads; a pipe or terminal cannot serve them)`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever; the
    // descriptor is refused below anyway, and reads of a regular file never block.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fileError(path, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${path}: ${what} must be a regular file, not ${fileKind(st)}`);
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw fileError(path, err);
  }
}

/**
 * The whole of a regular file, at most `maxBytes` (a larger one is refused before anything is
 * read: kernel objects, BTF and policy files are megabytes, not gigabytes).
 */
export function readRegularFile(path: string, maxBytes: number, what = 'the input'): Uint8Array {
  const { fd, size } = openRegularFile(path, what);
  try {
    if (size > maxBytes) throw new BadDataError(path, undefined, `${size} bytes: larger than kbtf reads for ${what} (${maxBytes} bytes)`);
    const out = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, out, done, size - done, done);
      if (n === 0) throw new BadDataError(path, done, `file shrank while being read (${size} bytes expected)`);
      done += n;
    }
    return out;
  } catch (err) {
    throw fileError(path, err);
  } finally {
    closeSync(fd);
  }
}

function fileKind(st: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a pipe';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** Upper bound for one BTF blob or kernel object read whole (vmlinux BTF is ~5 MiB; a -dbg vmlinux ~600 MiB is never read whole). */
export const MAX_OBJECT_FILE = 1024 * 1024 * 1024;

/** Upper bound for a configuration or text file read whole (policy files, saved /proc files). */
export const MAX_TEXT_FILE = 16 * 1024 * 1024;
