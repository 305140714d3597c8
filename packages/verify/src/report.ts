/**
 * The verify report: what `kbtf verify` prints with --json and what embedders get back.
 * Versioned: `schema` changes its number whenever a field changes meaning or is removed
 * (adding fields keeps the number). Documented in docs/verify.md.
 */
export const REPORT_SCHEMA = 'kbtf-verify/1';

/** The policy verdict: what the crashed host was configured to load was loaded (and valid). */
export type Verdict = 'complete' | 'incomplete';
/** The self-contained answer: can this dump be debugged with nothing but itself? */
export type SelfContainedVerdict = 'self-contained' | 'not-self-contained';
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
  /**
   * How the address was found when kallsyms has no data symbol to check it against (a kernel without
   * CONFIG_KALLSYMS_ALL, docs/design.md §2): `anchor`, the vmlinux companion's section anchor;
   * `section`, the module's section address (sect_attrs) alone. Absent: checked against its symbol.
   */
  by?: 'anchor' | 'section';
}

export interface VarCounts {
  total: number;
  resolved: number;
  perCpu: number;
  initOnly: number;
  notResident: number;
  excluded: number;
  unresolved: number;
  /** Of resolved and per-CPU, those placed without a symbol (`by` set; present only when some were). */
  withoutSymbol?: number;
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

/** What the dump holds for a companion, whatever the policy wanted (`status` is judged by the policy). */
export type CompanionState = Exclude<CompanionStatus, 'not-wanted'>;

export interface CompanionResult {
  name: string;
  wanted: boolean;
  why: string;
  /** Judged by the policy: a companion it does not want is `not-wanted`, never a failure. */
  status: CompanionStatus;
  /** Judged for the self-contained answer: `ok`, or what is wrong, wanted or not. */
  state: CompanionState;
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
  /** The policy's judgement of this module (its BTF, and its companion if wanted). */
  ok: boolean;
  /** Tainted O: built outside the kernel tree, so no companion of the kernel's companion set is for it. */
  outOfTree: boolean;
  /** Its own BTF and its companion are in the dump, valid, and every variable resolves. */
  selfContained: boolean;
  /** What the module lacks for the self-contained answer (empty when selfContained). */
  missing: string[];
}

export interface LookupResult {
  expr: string;
  status: 'resolved' | 'failed';
  type?: string;
  address?: string;
  value?: string;
  error?: string;
}

/** The self-contained answer and what is missing for it, per module (`vmlinux` for the kernel's own). */
export interface SelfContained {
  verdict: SelfContainedVerdict;
  missing: { module: string; what: string[]; outOfTree?: boolean }[];
  reasons: string[];
}

export interface VerifyReport {
  schema: typeof REPORT_SCHEMA;
  /** The policy verdict (kept from schema 1's first version: its meaning is unchanged). */
  verdict: Verdict;
  /** The first answer: can this dump be debugged with nothing but itself. */
  selfContained: SelfContained;
  kernel: { release?: string; buildId?: string; cmdline?: string; kernelOffset?: string; tainted?: string };
  dump: { path: string; format: string; size: number; incomplete: boolean; dumpLevel?: number };
  policy: { mode: string; source: string; exclude: string[]; vmlinux: boolean; cmdlineSource: string };
  steps: Step[];
  modules: ModuleResult[];
  vmlinux: CompanionResult;
  /** Companions loaded without their module (present only when there are any). */
  orphans?: CompanionResult[];
  lookups: LookupResult[];
  /** The lookups an engineer needs first (kernel globals, one global of each module's companion). */
  selfTest: LookupResult[];
  /** Why the policy verdict is incomplete. */
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
