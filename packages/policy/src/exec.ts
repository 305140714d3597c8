/**
 * Running programs: always execFile (argv, never a shell), with a runner interface so tests can
 * record calls. The real runner resolves the program on PATH like execvp.
 */
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Runner = (program: string, args: string[]) => Promise<RunResult>;

/** systemd's default PATH: used when the environment has none (kmod install lines, early boot units, tests). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function realRunner(env: NodeJS.ProcessEnv = process.env): Runner {
  if (env.PATH === undefined) env = { ...env, PATH: DEFAULT_PATH };
  return (program, args) =>
    new Promise((resolve) => {
      execFile(program, args, { env, maxBuffer: 16 * 1024 * 1024, shell: false }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        const code = e ? (typeof e.code === 'number' ? e.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: e && typeof e.code === 'string' ? `${program}: ${e.message}` : String(stderr) });
      });
    });
}
