/**
 * Running the external tools the builder drives (pahole, make, objcopy, dpkg-deb, apt-get,
 * debootstrap, depmod). Arguments are always passed as an argv array, never through a shell, so a
 * module name or path is never interpreted.
 */
import { spawn } from 'node:child_process';
import { KbtfError, NotFoundError } from '@kbtf/binary';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Raw stdout bytes instead of text (for `dpkg-deb --fsys-tarfile` and decompressors). */
  binary?: boolean;
}

/** A tool failed: names the command and the last lines of its stderr. */
export class ToolError extends KbtfError {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const tail = result.stderr.trim().split('\n').slice(-6).join(' | ');
    super('BAD_DATA', `${command} failed (exit ${result.code})${tail ? `: ${tail}` : ''}`);
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult & { bytes?: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new NotFoundError(`${cmd}: command not found`) : e);
    });
    child.on('close', (code, signal) => {
      const bytes = Buffer.concat(out);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: opts.binary ? '' : bytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        bytes: opts.binary ? bytes : undefined,
      });
    });
  });
}

/** Run and throw a ToolError unless it exits 0. */
export async function runChecked(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult & { bytes?: Buffer }> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new ToolError([cmd, ...args].join(' '), r);
  return r;
}

/** Progress messages; the CLI prints them on stderr, tests collect them. */
export type Log = (message: string) => void;
export const silent: Log = () => {};
