/**
 * The one process runner: the companion builder's tools (pahole, make, objcopy, dpkg-deb, apt-get,
 * debootstrap, depmod) and the policy's modprobe. Arguments are always an argv array, never a
 * shell, so a module name or path is never interpreted.
 */
import { childProcess } from './builtins.js';
import { KbtfError, NotFoundError } from './errors.js';

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
  /** Kill the program and fail once stdout and stderr together pass this many bytes. */
  maxBuffer?: number;
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

/** Run `cmd`; NotFoundError when it is not on PATH. A signal gives exit code 128. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult & { bytes?: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let total = 0;
    const take = (list: Buffer[]) => (b: Buffer) => {
      total += b.length;
      if (opts.maxBuffer !== undefined && total > opts.maxBuffer) {
        child.kill();
        reject(new KbtfError('BAD_DATA', `${cmd}: more than ${opts.maxBuffer} bytes of output`));
        return;
      }
      list.push(b);
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new NotFoundError(`${cmd}: command not found`, { cause: e }) : e);
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

/** A runner as the policy's hook and sync take it, so tests can record calls. */
export type Runner = (program: string, args: string[]) => Promise<RunResult>;

/** systemd's default PATH: used when the environment has none (kmod install lines, early boot units, tests). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The real runner: resolves the program on PATH like execvp (DEFAULT_PATH when `env` has none),
 * at most 16 MiB of output; a program that cannot run gives exit code 127 and the reason on stderr,
 * as a shell would.
 */
export function realRunner(env: NodeJS.ProcessEnv = process.env): Runner {
  if (env.PATH === undefined) env = { ...env, PATH: DEFAULT_PATH };
  return async (program, args) => {
    try {
      return await run(program, args, { env, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err instanceof Error && err.cause instanceof Error ? err.cause : (err as Error);
      return { code: 127, stdout: '', stderr: `${program}: ${e.message}` };
    }
  };
}
