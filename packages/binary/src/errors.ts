/**
 * The error classes every kbtf package throws. Each has a stable `code` that scripts may match on
 * and that the CLI prints and maps to an exit code:
 *   BAD_DATA     the input is truncated, corrupt or hostile (names the source and offset)
 *   FAULT        a memory read failed (names the address and why)
 *   NOT_FOUND    a symbol, type, file or note that was looked for is absent
 *   UNSUPPORTED  well-formed input this version cannot handle (arch, format version, …)
 *   USAGE        the caller asked for something that makes no sense
 * Context is added as an error rises with `withContext`, the way cilium/ebpf wraps errors.
 */
export type ErrorCode = 'BAD_DATA' | 'FAULT' | 'NOT_FOUND' | 'UNSUPPORTED' | 'USAGE';

export class KbtfError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** Return an error of the same class whose message is prefixed with `context: `. */
  withContext(context: string): this {
    return this.withMessage(`${context}: ${this.message}`);
  }

  /** Return an error of the same class and fields with another message. */
  withMessage(message: string): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(copy, this);
    Object.defineProperty(copy, 'message', { value: message, enumerable: false, writable: true });
    Object.defineProperty(copy, 'stack', { value: `${this.name}: ${message}`, enumerable: false, writable: true });
    return copy;
  }
}

/** Malformed input: truncated, corrupt, hostile. `source` names the file or blob, `offset` the byte. */
export class BadDataError extends KbtfError {
  readonly source: string;
  readonly offset: number | bigint | undefined;
  constructor(source: string, offset: number | bigint | undefined, message: string, options?: { cause?: unknown }) {
    super('BAD_DATA', offset === undefined ? `${source}: ${message}` : `${source}: offset ${hex(offset)}: ${message}`, options);
    this.source = source;
    this.offset = offset;
  }
}

/** Why a memory read failed. */
export type FaultReason =
  | 'not-in-dump' // no segment or descriptor covers the address
  | 'excluded' // filtered out by makedumpfile's dump level
  | 'lost' // incomplete dump: the page was meant to be there but is not
  | 'not-mapped' // page-table walk found no mapping
  | 'bad-data'; // the page is present but could not be decoded

/** A read of physical or virtual memory that failed. */
export class FaultError extends KbtfError {
  readonly address: bigint;
  readonly space: 'physical' | 'virtual';
  readonly reason: FaultReason;
  constructor(space: 'physical' | 'virtual', address: bigint, reason: FaultReason, detail?: string, options?: { cause?: unknown }) {
    super('FAULT', `${space} address ${hex(address)}: ${reason}${detail ? ` (${detail})` : ''}`, options);
    this.address = address;
    this.space = space;
    this.reason = reason;
  }
}

export class NotFoundError extends KbtfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

export class UnsupportedError extends KbtfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED', message, options);
  }
}

export class UsageError extends KbtfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('USAGE', message, options);
  }
}

/** `0x`-prefixed lower-case hex of a number or bigint. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** Wrap any thrown value with context, keeping kbtf errors' class and code. */
export function withContext(err: unknown, context: string): unknown {
  return err instanceof KbtfError ? err.withContext(context) : err;
}

/** `f()`, or undefined when it throws a `kind` (a page the dump lacks, a kbtf error); anything else is thrown. */
export function unlessThrown<T>(kind: abstract new (...args: never[]) => Error, f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof kind) return undefined;
    throw err;
  }
}
