/**
 * The verify report: what `kbtf verify` prints with --json and what embedders get back.
 * Versioned: `schema` changes its number whenever a field changes meaning or is removed
 * (adding fields keeps the number). Documented in docs/verify.md.
 */
export const REPORT_SCHEMA = 'kbtf-verify/1';

export type Verdict = 'complete' | 'incomplete';
export type StepStatus = 'ok' | 'warn' | 'fail' | 'skipped';

/** One check of the ordered list, with its evidence. */
export interface Step {
  name: 'vmcore' | 'vmcoreinfo' | 'kallsyms' | 'vmlinux-btf' | 'modules' | 'policy' | 'companions';
  status: StepStatus;
  evidence: string;
}

/**
 * How one companion variable resolved:
 * - resolved: symbol found, address = section base + DATASEC offset, type fits, bytes readable;
 * - per-cpu: resolved for every possible CPU through __per_cpu_offset;
 * - init-only: in an .init.* section, freed after the module's init (not a failure);
 * - not-resident: never in memory by design (e.g. ____versions);
 * - excluded: the bytes are in a page makedumpfile's dump level dropped;
 * - unresolved: a failure (symbol missing, address or size disagrees, or the read failed otherwise).
 */
export type VarStatus = 'resolved' | 'per-cpu' | 'init-only' | 'not-resident' | 'excluded' | 'unresolved';

export interface VarResult {
  name: string;
  section: string;
  status: VarStatus;
  address?: string;
  type?: string;
  /** A short rendering of the value when resolved. */
  value?: string;
  detail?: string;
}

export interface VarCounts {
  total: number;
  resolved: number;
  perCpu: number;
  initOnly: number;
  notResident: number;
  excluded: number;
  unresolved: number;
}

/** Why a module's companion state is what it is. */
export type CompanionStatus =
  | 'ok' // loaded, BTF accepted by the kernel, valid, every VAR accounted for
  | 'not-wanted' // the policy does not ask for it
  | 'missing' // wanted, not loaded
  | 'btf-rejected' // loaded, but absent from btf_modules: the kernel rejected its BTF
  | 'btf-invalid' // in btf_modules but fails kbtf's validation as split BTF
  | 'unresolved' // some VAR did not resolve
  | 'unreadable'; // its memory could not be read from the dump

export interface CompanionResult {
  name: string;
  wanted: boolean;
  why: string;
  status: CompanionStatus;
  loaded: boolean;
  btfSize?: number;
  btfSha256?: string;
  vars?: VarCounts;
  /** Variables that are not resolved/per-cpu/init-only/not-resident (all of them with --verbose). */
  problems?: VarResult[];
  detail?: string;
}

export interface ModuleResult {
  name: string;
  state: string;
  address: string;
  btf: { status: 'ok' | 'absent' | 'invalid' | 'unreadable'; size?: number; sha256?: string; detail?: string };
  companion: CompanionResult;
  ok: boolean;
}

export interface LookupResult {
  expr: string;
  status: 'resolved' | 'failed';
  type?: string;
  address?: string;
  value?: string;
  error?: string;
}

export interface VerifyReport {
  schema: typeof REPORT_SCHEMA;
  verdict: Verdict;
  kernel: { release?: string; buildId?: string; cmdline?: string; kernelOffset?: string; tainted?: string };
  dump: { path: string; format: string; size: number; incomplete: boolean; dumpLevel?: number };
  policy: { mode: string; source: string; exclude: string[]; vmlinux: boolean; cmdlineSource: string };
  steps: Step[];
  modules: ModuleResult[];
  vmlinux: CompanionResult;
  /** Companions loaded without their module (present only when there are any). */
  orphans?: CompanionResult[];
  lookups: LookupResult[];
  reasons: string[];
  timings: Record<string, number>;
}

export function emptyCounts(): VarCounts {
  return { total: 0, resolved: 0, perCpu: 0, initOnly: 0, notResident: 0, excluded: 0, unresolved: 0 };
}

export function countVar(c: VarCounts, status: VarStatus): void {
  c.total++;
  if (status === 'resolved') c.resolved++;
  else if (status === 'per-cpu') c.perCpu++;
  else if (status === 'init-only') c.initOnly++;
  else if (status === 'not-resident') c.notResident++;
  else if (status === 'excluded') c.excluded++;
  else c.unresolved++;
}
