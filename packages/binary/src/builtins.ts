/**
 * Node built-ins that most commands never use, loaded on first use. The CLI is one bundle, and
 * every `import` of a built-in in it runs when the bundle loads: child_process (which brings net,
 * dgram and the stream stack), crypto and worker_threads took 10–25 ms of every run, a tenth of `kbtf verify` on a
 * dump without companions, which uses neither.
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);
let cp: typeof import('node:child_process') | undefined;
let crypto: typeof import('node:crypto') | undefined;
let threads: typeof import('node:worker_threads') | undefined;

/** node:child_process, loaded on the first call. */
export function childProcess(): typeof import('node:child_process') {
  return (cp ??= load('node:child_process') as typeof import('node:child_process'));
}

/** node:worker_threads, loaded on the first call (verify --jobs). */
export function workerThreads(): typeof import('node:worker_threads') {
  return (threads ??= load('node:worker_threads') as typeof import('node:worker_threads'));
}

/** The hex digest of `bytes` (node:crypto, loaded on the first call). */
export function digestHex(algorithm: 'sha256' | 'md5', bytes: Uint8Array): string {
  crypto ??= load('node:crypto') as typeof import('node:crypto');
  return crypto.createHash(algorithm).update(bytes).digest('hex');
}
