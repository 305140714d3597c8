/** What kbtf check reports (check.ts), shared with the checks it runs (check-wiring.ts, check-kdump.ts). */
export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  code: string;
  /** The file that caused it (in-tree path), or the closest one. */
  file: string;
  line?: number;
  module?: string;
  message: string;
  hint: string;
}

/** A module the tree loads at boot, and why. */
export interface LoadedModule {
  name: string;
  why: string;
}
