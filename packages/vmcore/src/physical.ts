/**
 * The physical-memory read path every format shares. A format supplies `chunk` (bytes at an
 * address, up to a limit, never crossing the format's own unit: a cached file block for ELF, a
 * decoded page for kdump) and `stateAt` (what the dump holds at an address and how far that state
 * runs). `read` stitches chunks across page boundaries and never papers over a gap: the first
 * address that cannot be served raises a FaultError naming it and the reason.
 */
import { FaultError, UsageError } from '@kbtf/binary';
import type { PageState, PhysRange } from './contract.js';

export interface StateRun {
  state: PageState;
  /** First address past the run (exclusive); > the queried address. */
  end: bigint;
}

export const MAX_READ = 1 << 30;

export abstract class PhysicalReader {
  abstract readonly pageSize: number;

  /** Bytes at `paddr`, 1 ≤ length ≤ maxLen. Throws FaultError('physical', paddr, …). */
  protected abstract chunk(paddr: bigint, maxLen: number): Uint8Array;

  /** State at `paddr` and where that state ends. */
  abstract stateAt(paddr: bigint): StateRun;

  read(paddr: bigint, length: number): Uint8Array {
    this.checkArguments('read', paddr, length);
    const out = new Uint8Array(length);
    this.copyRange(paddr, length, out, 0);
    return out;
  }

  readInto(paddr: bigint, length: number, dest: Uint8Array, at: number): void {
    this.checkArguments('read', paddr, length);
    if (!Number.isSafeInteger(at) || at < 0 || at + length > dest.byteLength) throw new UsageError(`read: ${length} bytes at ${at} do not fit a ${dest.byteLength}-byte buffer`);
    this.copyRange(paddr, length, dest, at);
  }

  private copyRange(paddr: bigint, length: number, dest: Uint8Array, at: number): void {
    let done = 0;
    while (done < length) done += this.copyChunk(done === 0 ? paddr : paddr + BigInt(done), length - done, dest, at + done);
  }

  /** Copy `chunk(paddr, maxLen)` into `out` at `at`; its length. A format may decode straight into `out`. */
  protected copyChunk(paddr: bigint, maxLen: number, out: Uint8Array, at: number): number {
    const c = this.chunk(paddr, maxLen);
    out.set(c, at);
    return c.byteLength;
  }

  check(paddr: bigint, length: number): void {
    this.checkArguments('check', paddr, length);
    let done = 0;
    while (done < length) done += this.chunkLength(done === 0 ? paddr : paddr + BigInt(done), length - done);
  }

  /**
   * The length of `chunk(paddr, maxLen)`, with the same faults (a kdump page is still decoded),
   * without making a view of the bytes: `check` runs once per variable verified.
   */
  protected chunkLength(paddr: bigint, maxLen: number): number {
    return this.chunk(paddr, maxLen).byteLength;
  }

  isPresent(paddr: bigint, length: number): boolean {
    if (paddr < 0n || length < 0) return false;
    const end = paddr + BigInt(length);
    let at = paddr;
    while (at < end) {
      const run = this.stateAt(at);
      if (run.state !== 'present') return false;
      at = run.end;
    }
    return true;
  }

  /** What read and check refuse before any page: a bad length (usage), a negative address (fault). */
  protected checkArguments(op: 'read' | 'check', paddr: bigint, length: number): void {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) throw new UsageError(`${op}: bad length ${length}`);
    if (paddr < 0n) throw new FaultError('physical', paddr, 'not-in-dump', 'negative address');
  }

  /** Throw the FaultError that `stateAt` implies for a non-present address. */
  protected fault(paddr: bigint, state: PageState, detail?: string): never {
    if (state === 'present') throw new FaultError('physical', paddr, 'bad-data', detail ?? 'present page could not be read');
    throw new FaultError('physical', paddr, state, detail);
  }
}

/** Append a run to a range list, merging with the previous run when contiguous and same state. */
export function pushRange(out: PhysRange[], start: bigint, end: bigint, state: PageState): void {
  if (end <= start) return;
  const last = out[out.length - 1];
  if (last && last.end === start && last.state === state) last.end = end;
  else out.push({ start, end, state });
}
