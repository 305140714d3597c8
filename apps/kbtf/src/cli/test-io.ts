import { main } from '../main.js';

/** Run the CLI in-process with captured streams (for tests). */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = { NO_COLOR: '1' }): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
  });
  return { code, stdout, stderr };
}
