/**
 * Addresses and lengths a user types (`kbtf read DUMP --virt 0xffffffff81000000 4096`): `0x` hex or
 * decimal, `_` allowed as a digit separator, at most 64 bits. Anything else is a UsageError naming
 * the argument and the text, never a NaN or a silently truncated number.
 */
import { UsageError } from './errors.js';

/** Parse `0x…` hex or decimal into a non-negative bigint below 2^64; `what` names the argument in the error. */
export function parseAddress(text: string, what: string): bigint {
  const t = text.trim().replace(/_/g, '');
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) throw new UsageError(`${what} '${text}' is not a number (0x hex or decimal)`);
  const v = BigInt(t);
  if (v >= 1n << 64n) throw new UsageError(`${what} '${text}' does not fit in 64 bits`);
  return v;
}
