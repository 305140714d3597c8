/**
 * Verifying several dumps: in worker threads (`jobs` > 1, from the built package), else one after
 * the other in this thread. Results arrive in completion order through `onResult`; the returned
 * array is in input order.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KbtfError, workerThreads } from '@kbtf/binary';
import type { VerifyReport } from './report.js';
import { verifyDump, type VerifyOptions } from './verify.js';

export interface DumpOutcome {
  /** The dump as given (a comma-joined list is one `makedumpfile --split` set). */
  path: string;
  report?: VerifyReport;
  error?: { code: string; message: string };
}

export function verifyOne(path: string, options: VerifyOptions): DumpOutcome {
  try {
    return { path, report: verifyDump(path.includes(',') ? path.split(',') : path, options) };
  } catch (err) {
    if (err instanceof KbtfError) return { path, error: { code: err.code, message: err.message } };
    const e = err as Error;
    return { path, error: { code: 'INTERNAL', message: e.stack ?? String(e) } };
  }
}

export async function verifyMany(paths: string[], options: VerifyOptions, jobs: number, onResult: (o: DumpOutcome, index: number) => void = () => {}): Promise<DumpOutcome[]> {
  const out = new Array<DumpOutcome>(paths.length);
  const workerFile = fileURLToPath(new URL('./worker.js', import.meta.url));
  const n = Math.max(1, Math.min(jobs, paths.length));
  if (n === 1 || !existsSync(workerFile)) {
    for (let i = 0; i < paths.length; i++) {
      out[i] = verifyOne(paths[i], options);
      onResult(out[i], i);
      await new Promise((r) => setImmediate(r)); // let progress output flush
    }
    return out;
  }
  let next = 0;
  const runWorker = () =>
    new Promise<void>((resolve, reject) => {
      const w = new (workerThreads().Worker)(workerFile, { workerData: { options } });
      const feed = () => {
        if (next >= paths.length) {
          void w.terminate().then(() => resolve());
          return;
        }
        const i = next++;
        w.once('message', (o: DumpOutcome) => {
          out[i] = o;
          onResult(o, i);
          feed();
        });
        w.postMessage({ path: paths[i] });
      };
      w.once('error', reject);
      feed();
    });
  await Promise.all(Array.from({ length: n }, runWorker));
  return out;
}
