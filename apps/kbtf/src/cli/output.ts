import { KbtfError, fileError } from '@kbtf/binary';

/** Where a command writes. Tests pass string sinks; the real CLI passes process streams. */
export interface Sink {
  write(chunk: string): unknown;
  /** Bytes as they are (a process stream has it; a string sink does not: write the text instead). */
  writeBytes?(chunk: Uint8Array): unknown;
  isTTY?: boolean;
}

/**
 * The output conventions every command follows:
 * - `--json`: exactly one JSON document on stdout (JSON Lines where a command says so), nothing else;
 * - otherwise human text on stdout;
 * - diagnostics on stderr, one line each, `kbtf: CODE: message`;
 * - colour only when stdout is a TTY and NO_COLOR is unset.
 */
export class Output {
  readonly json: boolean;
  readonly color: boolean;
  constructor(
    readonly stdout: Sink,
    readonly stderr: Sink,
    options: { json?: boolean; env?: NodeJS.ProcessEnv } = {},
  ) {
    const env = options.env ?? process.env;
    this.json = options.json ?? false;
    this.color = !this.json && !!stdout.isTTY && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  }

  /** Human output line. */
  line(text = ''): void {
    this.stdout.write(text + '\n');
  }

  /** The one JSON document of a `--json` run (bigint printed as decimal strings). */
  document(value: unknown): void {
    this.stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n');
  }

  /** One JSON Lines record. */
  record(value: unknown): void {
    this.stdout.write(JSON.stringify(value, jsonReplacer) + '\n');
  }

  /** A one-line diagnostic on stderr. */
  diagnostic(code: string, message: string): void {
    this.stderr.write(`kbtf: ${code}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  }

  warn(message: string): void {
    this.diagnostic('WARNING', message);
  }

  error(err: unknown): void {
    // An operating-system error that escaped a reader still names its path, as a kbtf error.
    const sys = err as NodeJS.ErrnoException;
    if (!(err instanceof KbtfError) && err instanceof Error && typeof sys.code === 'string' && typeof sys.path === 'string') err = fileError(sys.path, err);
    if (err instanceof KbtfError) this.diagnostic(err.code, err.message);
    else if (err instanceof Error) this.diagnostic('INTERNAL', err.stack?.split('\n').slice(0, 2).join(' ') ?? err.message);
    else this.diagnostic('INTERNAL', String(err));
  }

  paint(style: 'red' | 'green' | 'yellow' | 'bold' | 'dim', text: string): string {
    if (!this.color) return text;
    const codes = { red: 31, green: 32, yellow: 33, bold: 1, dim: 2 } as const;
    return `\x1b[${codes[style]}m${text}\x1b[0m`;
  }
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

/** Lay out rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
