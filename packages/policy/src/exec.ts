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

export function realRunner(env: NodeJS.ProcessEnv = process.env): Runner {
  return (program, args) =>
    new Promise((resolve) => {
      execFile(program, args, { env, maxBuffer: 16 * 1024 * 1024, shell: false }, (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        const code = e ? (typeof e.code === 'number' ? e.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: e && typeof e.code === 'string' ? `${program}: ${e.message}` : String(stderr) });
      });
    });
}
