/**
 * Running programs (modprobe): always argv, never a shell, through the one runner of @kbtf/binary
 * (process.ts); the Runner interface lets tests record calls.
 */
export { realRunner, DEFAULT_PATH, type Runner, type RunResult } from '@kbtf/binary';
