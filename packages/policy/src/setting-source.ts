/** Where an effective value came from. Every setting kbtf reports carries one. */
export interface Source {
  kind: 'cmdline' | 'sysctl' | 'policy' | 'default';
  /** The file (in-tree path) that set it, or `/proc/cmdline`, or `--cmdline`. */
  file?: string;
  /** 1-based line in `file`, where there is one. */
  line?: number;
}

export interface Sourced<T> {
  value: T;
  source: Source;
}

export function formatSource(s: Source): string {
  if (s.kind === 'default') return 'default';
  const where = s.file ? (s.line ? `${s.file}:${s.line}` : s.file) : '';
  return where ? `${s.kind} (${where})` : s.kind;
}

export const DEFAULT_SOURCE: Source = { kind: 'default' };

/** A place in a configuration file. */
export interface Location {
  file: string;
  line: number;
}
