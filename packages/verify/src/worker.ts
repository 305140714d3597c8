/** Worker thread for verifyMany: verifies one dump per message. */
import { parentPort, workerData } from 'node:worker_threads';
import { verifyOne } from './pool.js';
import type { VerifyOptions } from './verify.js';

const options = (workerData as { options: VerifyOptions }).options;
parentPort!.on('message', (msg: { path: string }) => {
  parentPort!.postMessage(verifyOne(msg.path, options));
});
