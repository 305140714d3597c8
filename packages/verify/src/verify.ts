/**
 * `verify`: can this dump be debugged with what is inside it? The checks run in order, each with a
 * status and its evidence (docs/verify.md):
 *   vmcore → VMCOREINFO → kallsyms → vmlinux BTF → modules and their BTF → policy → companions.
 * A failure of the first four stops the walk (nothing later can be read); the verdict is then
 * `incomplete`. Input that is not a readable dump at all throws (exit 2 in the CLI).
 */
import { KbtfError, digestHex, hex, unlessThrown } from '@kbtf/binary';
import { companionRules, validateBtf, parseBtf, type Btf } from '@kbtf/btf';
import { Kernel, VMLINUX_COMPANION, type KernelModule } from '@kbtf/kernel';
import { decide, foldName, isCompanion, formatSource, type Settings } from '@kbtf/policy';
import { openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { dumpSettings } from './dump-policy.js';
import { lookup } from './lookup.js';
import { REPORT_SCHEMA, type CompanionResult, type ModuleResult, type Step, type VarResult, type VerifyReport } from './report.js';
import { resolveCompanionVars } from './vars.js';

/**
 * The self-test: what an engineer reads first after a crash (the release, the time base, which CPU
 * panicked, the taint, the command line). A self-contained dump resolves every one of them, plus
 * one global of each loaded module's companion.
 */
export const SELF_TEST_LOOKUPS = ['init_uts_ns.name.release', 'jiffies_64', 'panic_cpu', 'tainted_mask', 'saved_command_line'];

export interface VerifyOptions {
  /** Use this kernel command line instead of the one recorded in the dump. */
  cmdline?: string;
  /** A policy file (YAML, docs/policy.md) the crashed machine used. */
  policyFile?: string;
  /** Extra expressions to resolve: `jiffies_64`, `init_uts_ns.name.release`, `ext4:some_global`. */
  lookups?: string[];
  /** vmlinux BTF from a file instead of the dump. */
  vmlinuxBtf?: Uint8Array;
  /** Report every variable, not only the problems. */
  allVars?: boolean;
}

// Milliseconds from the monotonic clock: process.hrtime, because the first performance.now() of a
// process loads Node's perf_hooks modules (~1–3 ms of a verify).
const now = () => Number(process.hrtime.bigint()) / 1e6;

export function verifyDump(path: string | string[], options: VerifyOptions = {}): VerifyReport {
  const t0 = now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => (timings[name] = Math.round((now() - since) * 10) / 10);
  // A policy file the user named that is missing or broken is unusable input (exit 2), found before
  // the dump is read; the crashed kernel's own command line is judged later, in the policy step.
  if (options.policyFile) dumpSettings('', options.policyFile);
  const vmcore = openVmcore(path);
  try {
    lap('open', t0);
    const report = run(vmcore, options, timings, lap);
    lap('total', t0);
    return report;
  } finally {
    vmcore.close();
  }
}

function run(vmcore: OpenedVmcore, options: VerifyOptions, timings: Record<string, number>, lap: Lap): VerifyReport {
  const v = new Verification(vmcore, options, timings, lap);
  const report = v.report;
  if (!v.vmcore()) return report;
  const kernel = v.kallsyms();
  if (!kernel) return report;
  const vmlinuxBtf = v.vmlinuxBtf(kernel);
  if (!vmlinuxBtf) return report;
  const walk = v.walk ?? v.moduleWalk(kernel);
  const cmdlineError = v.kernelFields(kernel);
  if (!walk.modules) return v.fail('modules', message(walk.error));
  const settings = v.policy(cmdlineError);
  if (!settings) return report;
  const { picks, orphans } = v.modules(kernel, vmlinuxBtf, walk.modules, settings);
  v.companions(orphans);
  v.lookups(kernel, picks);
  report.verdict = report.reasons.length === 0 ? 'complete' : 'incomplete';
  report.selfContained = selfContained(report);
  return report;
}

type Lap = (name: string, since: number) => number;

/** One verify run: the report being written and a method per step, in the order they run. */
class Verification {
  readonly report: VerifyReport;
  private readonly steps: Step[] = [];
  private readonly reasons: string[] = [];
  private readonly dumpLevel: number | undefined;
  /** The module walk, once it ran (the vmlinux-btf step runs it first). */
  walk: { modules?: KernelModule[]; error?: unknown } | undefined;

  constructor(
    private readonly dump: OpenedVmcore,
    private readonly options: VerifyOptions,
    timings: Record<string, number>,
    private readonly lap: Lap,
  ) {
    this.dumpLevel = numberField(dump.header['sub.dump_level']);
    this.report = {
      schema: REPORT_SCHEMA,
      verdict: 'incomplete',
      selfContained: { verdict: 'not-self-contained', missing: [], reasons: [] },
      kernel: {},
      dump: { path: dump.path, format: dump.format, size: dump.fileSize, incomplete: dump.incomplete, dumpLevel: this.dumpLevel },
      policy: { mode: 'unknown', source: 'none', exclude: [], vmlinux: false, cmdlineSource: 'none' },
      steps: this.steps,
      modules: [],
      vmlinux: { name: VMLINUX_COMPANION, wanted: false, why: 'not checked', status: 'not-wanted', state: 'missing', loaded: false },
      lookups: [],
      selfTest: [],
      reasons: this.reasons,
      timings,
    };
  }

  /** A failed step: its evidence is a reason; the report is returned as it stands. */
  fail(name: Step['name'], evidence: string): VerifyReport {
    this.steps.push({ name, status: 'fail', evidence });
    this.reasons.push(`${name}: ${evidence}`);
    this.report.selfContained.reasons.push(`${name}: ${evidence}`);
    return this.report;
  }

  /** The vmcore and VMCOREINFO steps; false when the dump has no VMCOREINFO. */
  vmcore(): boolean {
    const { dump, dumpLevel } = this;
    this.steps.push({
      name: 'vmcore',
      status: dump.incomplete ? 'warn' : 'ok',
      evidence: `${dump.format}${dumpLevel !== undefined ? `, dump level ${dumpLevel}` : ''}${dump.incomplete ? ', marked incomplete by its writer' : ''}`,
    });
    const info = dump.vmcoreinfo;
    if (!info) {
      this.fail('vmcoreinfo', 'no VMCOREINFO note or kdump sub-header in the dump');
      return false;
    }
    this.steps.push({ name: 'vmcoreinfo', status: 'ok', evidence: `OSRELEASE=${info.osRelease ?? '?'}, ${info.symbols.size} symbols` });
    this.report.kernel = { release: info.osRelease, buildId: info.buildId, kernelOffset: info.kernelOffset === undefined ? undefined : hex(info.kernelOffset) };
    return true;
  }

  /** The kallsyms step: the kernel, or undefined when its symbols cannot be read. */
  kallsyms(): Kernel | undefined {
    const t = now();
    const kernel = new Kernel(this.dump, { vmlinuxBtf: this.options.vmlinuxBtf });
    try {
      const ks = kernel.kallsyms;
      this.steps.push({ name: 'kallsyms', status: 'ok', evidence: `${ks.count} symbols, ${ks.encoding} encoding` });
    } catch (err) {
      this.fail('kallsyms', message(err));
      return undefined;
    }
    this.lap('kallsyms', t);
    return kernel;
  }

  /** The vmlinux-btf step: vmlinux BTF, valid by the kernel's module-load rules, or undefined. */
  vmlinuxBtf(kernel: Kernel): Btf | undefined {
    const t = now();
    let vmlinuxBtf: Btf;
    try {
      // The kernel reads and indexes the bytes once; they are validated from its copy. Bytes it cannot
      // index are read again only to let the validator name the kernel's reason.
      let parsed: Btf | undefined;
      let parseError: unknown;
      try {
        parsed = kernel.btf;
      } catch (err) {
        parseError = err;
      }
      // The kernel's rules need its release, and init_uts_ns may be typed by a companion, which
      // walks the modules: the walk runs (and is timed) as its own step, first.
      if (parsed) this.walk = this.moduleWalk(kernel);
      const bytes = parsed?.bytes ?? this.options.vmlinuxBtf ?? kernel.vmlinuxBtfBytes();
      const v = validateBtf(bytes, { mode: 'module', kernel: companionRules(kernel.release()) });
      if (!v.valid) return void this.fail('vmlinux-btf', `invalid: [${v.errors[0].typeId}] ${v.errors[0].message}`);
      if (!parsed) throw parseError;
      vmlinuxBtf = parsed;
      this.steps.push({ name: 'vmlinux-btf', status: 'ok', evidence: `${bytes.length} bytes, ${vmlinuxBtf.count} types${this.options.vmlinuxBtf ? ' (from a file)' : ', __start_BTF..__stop_BTF'}` });
    } catch (err) {
      return void this.fail('vmlinux-btf', message(err));
    }
    this.lap('vmlinux-btf', t);
    if (this.walk) this.report.timings['vmlinux-btf'] = Math.round((this.report.timings['vmlinux-btf'] - this.report.timings.modules) * 10) / 10;
    return vmlinuxBtf;
  }

  /**
   * The module walk, first (reading globals may need it: companions type them), so that its time is
   * its own; a failure is reported after the kernel fields, as the walk's step.
   */
  moduleWalk(kernel: Kernel): { modules?: KernelModule[]; error?: unknown } {
    const t = now();
    let modules: KernelModule[] | undefined;
    let error: unknown;
    try {
      modules = kernel.modules();
    } catch (err) {
      error = err;
    }
    this.lap('modules', t);
    return { modules, error };
  }

  /** The kernel's command line, taint and release into the report; the command line's read error. */
  kernelFields(kernel: Kernel): unknown {
    const t = now();
    const fields = this.report.kernel;
    let cmdlineError: unknown;
    try {
      fields.cmdline = kernel.commandLine();
    } catch (err) {
      if (!(err instanceof KbtfError)) throw err;
      cmdlineError = err;
    }
    const tainted = safe(() => kernel.taint().flags);
    if (tainted !== undefined) fields.tainted = tainted;
    fields.release = safe(() => kernel.release()) ?? fields.release;
    this.lap('kernel', t);
    return cmdlineError;
  }

  /**
   * The policy step: the policy the crashed kernel ran with, from its own command line unless
   * overridden. A line that cannot be read, or does not read as a kernel command line, is never taken
   * as "no settings": that would judge a damaged dump by the default policy.
   */
  policy(cmdlineError: unknown): Settings | undefined {
    const t = now();
    const { options, report } = this;
    if (options.cmdline === undefined) {
      const bad = cmdlineError !== undefined ? `cannot read saved_command_line: ${message(cmdlineError)}` : implausibleCmdline(report.kernel.cmdline ?? '');
      if (bad) return void this.fail('policy', `${bad} (the crashed kernel's settings are unknown; give --cmdline to judge by a known one)`);
    }
    const cmdline = options.cmdline ?? report.kernel.cmdline ?? '';
    let settings: Settings;
    try {
      settings = dumpSettings(cmdline, options.policyFile, options.cmdline !== undefined ? '--cmdline' : 'saved_command_line');
    } catch (err) {
      return void this.fail('policy', message(err));
    }
    report.policy = {
      mode: settings.mode.value,
      source: formatSource(settings.mode.source),
      exclude: settings.exclude.map((e) => e.pattern),
      vmlinux: settings.vmlinux.value,
      cmdlineSource: options.cmdline !== undefined ? '--cmdline' : report.kernel.cmdline !== undefined ? 'saved_command_line (dump)' : 'none',
    };
    this.steps.push({ name: 'policy', status: 'ok', evidence: `mode ${settings.mode.value} from ${report.policy.source}` });
    this.lap('policy', t);
    return settings;
  }

  /** The modules step (each module's BTF and companion), vmlinux's companion and orphan companions. */
  modules(kernel: Kernel, vmlinuxBtf: Btf, modules: KernelModule[], settings: Settings): { picks: Map<string, string>; orphans: CompanionResult[] } {
    const t = now();
    const { report, dumpLevel, options } = this;
    const byName = new Map(modules.map((m) => [foldName(m.name), m]));
    let modBtfBad = 0;
    const picks = new Map<string, string>();
    for (const m of modules) {
      if (isCompanion(m.name) || foldName(m.name) === VMLINUX_COMPANION) continue;
      const [r, pick] = checkModule(kernel, vmlinuxBtf, m, settings, byName.get(`${foldName(m.name)}_btf`), dumpLevel, options);
      if (pick) picks.set(m.name, pick);
      if (r.btf.status !== 'ok') modBtfBad++;
      report.modules.push(r);
    }
    this.steps.push({ name: 'modules', status: modBtfBad ? 'fail' : 'ok', evidence: `${report.modules.length} modules (+${modules.length - report.modules.length} companions), ${modBtfBad} without valid BTF` });
    report.vmlinux = checkVmlinux(kernel, vmlinuxBtf, settings, byName.get(VMLINUX_COMPANION), dumpLevel, options);
    // A companion loaded without its module (modprobe M_btf by hand, or M unloaded since): nothing
    // wants it, but a broken one is still evidence of a broken companion build.
    const orphans = modules
      .filter((m) => isCompanion(m.name) && foldName(m.name) !== VMLINUX_COMPANION && !byName.has(foldName(m.name).replace(/_btf$/, '')))
      .map((m) => checkCompanion(kernel, vmlinuxBtf, foldName(m.name), true, 'loaded without its module', m, undefined, dumpLevel, options).result);
    if (orphans.length) report.orphans = orphans;
    this.lap('companions', t);
    return { picks, orphans };
  }

  /** The companions step: the reasons of modules, orphans and vmlinux that lack BTF or a companion. */
  companions(orphans: CompanionResult[]): void {
    const { report, reasons } = this;
    for (const m of report.modules) {
      if (m.btf.status !== 'ok') reasons.push(`${m.name}: module BTF ${m.btf.status}${m.btf.detail ? ` (${m.btf.detail})` : ''}`);
      if (isFailure(m.companion)) reasons.push(`${m.name}: companion ${m.companion.name} ${m.companion.status}${m.companion.detail ? ` (${m.companion.detail})` : ''}`);
    }
    for (const o of orphans) if (isFailure(o)) reasons.push(`orphan companion ${o.name}: ${o.status}${o.detail ? ` (${o.detail})` : ''}`);
    if (isFailure(report.vmlinux)) reasons.push(`vmlinux: companion ${VMLINUX_COMPANION} ${report.vmlinux.status}${report.vmlinux.detail ? ` (${report.vmlinux.detail})` : ''}`);
    const companionFailures = report.modules.filter((m) => isFailure(m.companion)).length + (isFailure(report.vmlinux) ? 1 : 0);
    const wanted = report.modules.filter((m) => m.companion.wanted).length + (report.vmlinux.wanted ? 1 : 0);
    this.steps.push({ name: 'companions', status: companionFailures ? 'fail' : 'ok', evidence: `${wanted} wanted by the policy, ${companionFailures} missing or failing` });
  }

  /** The --lookup expressions and the self-test (SELF_TEST_LOOKUPS and a global of each companion). */
  lookups(kernel: Kernel, picks: Map<string, string>): void {
    const t = now();
    const { report } = this;
    report.lookups = (this.options.lookups ?? []).map((expr) => lookup(kernel, expr));
    report.selfTest = [...SELF_TEST_LOOKUPS, ...[...picks].map(([m, v]) => `${m}:${v}`)].map((expr) => lookup(kernel, expr));
    this.lap('lookups', t);
    for (const l of report.lookups) if (l.status === 'failed') this.reasons.push(`lookup ${l.expr}: ${l.error}`);
  }
}

/**
 * The self-contained answer, from what the dump holds whatever the policy wanted: every module has
 * valid BTF of its own and its companion loaded, accepted, valid, every variable resolved;
 * vmlinux_btf likewise; every self-test and --lookup expression resolved.
 */
function selfContained(report: VerifyReport): VerifyReport['selfContained'] {
  const missing: VerifyReport['selfContained']['missing'] = [];
  for (const m of report.modules) if (m.missing.length) missing.push({ module: m.name, what: m.missing, ...(m.outOfTree ? { outOfTree: true } : {}) });
  if (report.vmlinux.state !== 'ok') missing.push({ module: 'vmlinux', what: [companionLack(report.vmlinux)] });
  const reasons = missing.map((x) => `${x.module}: ${x.what.join('; ')}`);
  for (const l of [...report.selfTest, ...report.lookups]) if (l.status === 'failed') reasons.push(`lookup ${l.expr}: ${l.error}`);
  return { verdict: reasons.length ? 'not-self-contained' : 'self-contained', missing, reasons };
}

/** What a companion lacks, in words, for the self-contained answer. */
function companionLack(c: CompanionResult, outOfTree = false): string {
  if (c.state === 'missing') return outOfTree ? `${c.name} not loaded (out-of-tree module: no companion in the kernel's companion set)` : `${c.name} not loaded`;
  const detail = c.detail?.replace(/ \(not wanted by the policy\)$/, '').replace(/^[a-z-]+: /, '');
  return `${c.name} ${c.state}${detail ? ` (${detail})` : ''}`;
}

function isFailure(c: CompanionResult): boolean {
  return c.status !== 'ok' && c.status !== 'not-wanted';
}

/** A module's result, and the global of its companion the self-test reads. */
function checkModule(kernel: Kernel, vmlinuxBtf: Btf, m: KernelModule, settings: Settings, companion: KernelModule | undefined, dumpLevel: number | undefined, options: VerifyOptions): [ModuleResult, string | undefined] {
  const btf: ModuleResult['btf'] = m.btfBytes
    ? { status: 'ok', size: m.btfBytes.length, sha256: m.btfSha256 }
    : { status: m.btfError ? 'unreadable' : 'absent', detail: m.btfError ? excludedByLevel(m.btfError, dumpLevel) : 'not in btf_modules' };
  if (m.btfBytes) {
    const v = validateBtf(m.btfBytes, { base: vmlinuxBtf, mode: 'module', kernel: companionRules(kernel.release()) });
    if (!v.valid) Object.assign(btf, { status: 'invalid', detail: `[${v.errors[0].typeId}] ${v.errors[0].message}` });
  }
  const d = decide(settings, m.name);
  const { result: c, pick } = checkCompanion(kernel, vmlinuxBtf, `${foldName(m.name)}_btf`, d.load, `${d.reason} (${formatSource(d.source)})`, companion, m, dumpLevel, options);
  const outOfTree = safe(() => m.taints.includes('O')) ?? false;
  const missing: string[] = [];
  if (btf.status !== 'ok') missing.push(`module BTF ${btf.status}${btf.detail ? ` (${btf.detail})` : ''}`);
  if (c.state !== 'ok') missing.push(companionLack(c, outOfTree));
  return [{ name: m.name, state: m.stateName, address: hex(m.address), btf, companion: c, ok: btf.status === 'ok' && !isFailure(c), outOfTree, selfContained: missing.length === 0, missing }, pick];
}

function checkVmlinux(kernel: Kernel, vmlinuxBtf: Btf, settings: Settings, companion: KernelModule | undefined, dumpLevel: number | undefined, options: VerifyOptions): CompanionResult {
  const d = decide(settings, 'vmlinux');
  return checkCompanion(kernel, vmlinuxBtf, VMLINUX_COMPANION, d.load, `${d.reason} (${formatSource(d.source)})`, companion, undefined, dumpLevel, options).result;
}

function checkCompanion(
  kernel: Kernel,
  vmlinuxBtf: Btf,
  name: string,
  wanted: boolean,
  why: string,
  companion: KernelModule | undefined,
  parent: KernelModule | undefined,
  dumpLevel: number | undefined,
  options: VerifyOptions,
): { result: CompanionResult; pick?: string } {
  const r: CompanionResult = { name, wanted, why, status: wanted ? 'missing' : 'not-wanted', state: 'missing', loaded: !!companion };
  if (!companion) {
    if (wanted) r.detail = 'not loaded';
    return { result: r };
  }
  // Loaded but absent from btf_modules: the kernel rejected its BTF at load ("failed to validate
  // module [M_btf] BTF", kernel/bpf/btf.c btf_module_notify; CONFIG_MODULE_ALLOW_BTF_MISMATCH lets
  // the module load anyway).
  if (!companion.btfBytes) {
    r.status = companion.btfError ? 'unreadable' : 'btf-rejected';
    r.detail = companion.btfError ? excludedByLevel(companion.btfError, dumpLevel) : 'loaded, but not in btf_modules: the kernel rejected its BTF';
    return { result: finish(r, wanted) };
  }
  r.btfSize = companion.btfBytes.length;
  r.btfSha256 = digestHex('sha256', companion.btfBytes);
  // The dump's kernel's rules (docs/btf.md): the same answer the policy check and the builder use.
  const v = validateBtf(companion.btfBytes, { base: vmlinuxBtf, mode: 'module', kernel: companionRules(kernel.release()) });
  if (!v.valid) {
    r.status = 'btf-invalid';
    r.detail = `[${v.errors[0].typeId}] ${v.errors[0].message}`;
    return { result: finish(r, wanted) };
  }
  let btf: Btf;
  try {
    btf = parseBtf(companion.btfBytes, { base: vmlinuxBtf, source: `${name} BTF` });
  } catch (err) {
    r.status = 'btf-invalid';
    r.detail = message(err);
    return { result: finish(r, wanted) };
  }
  let pick: string | undefined;
  try {
    // A module companion's results are all kept to pick the self-test's global from; only the
    // problems are reported unless --all-vars.
    const out = resolveCompanionVars(kernel, btf, { module: parent, dumpLevel, all: options.allVars, keep: parent !== undefined });
    r.vars = out.counts;
    if (parent) {
      // Names are asked of kallsyms until one qualifies: through its name index (built once; the
      // vmlinux companion's check builds it too), not a scan of every symbol per name.
      kernel.kallsyms.indexNames();
      pick = pickGlobal(out.results, (name) => kernel.kallsyms.lookup(name) === undefined);
    }
    const shown = options.allVars ? out.results : out.results.filter((x) => !QUIET.has(x.status));
    if (shown.length) r.problems = shown;
    // A variable in a page the dump level excluded is kernel data in an all-zero page (bit 1): its
    // value is known, so it is reported but is not a failure (vars.ts excludedDetail).
    r.status = out.counts.unresolved ? 'unresolved' : 'ok';
    if (out.counts.unresolved || out.counts.excluded) r.detail = `${out.counts.unresolved} unresolved, ${out.counts.excluded} in excluded zero pages, of ${out.counts.total} variables`;
  } catch (err) {
    if (!(err instanceof KbtfError)) throw err;
    r.status = 'unreadable';
    r.detail = message(err);
  }
  return { result: finish(r, wanted), pick };
}

/** The statuses vars.ts does not report as problems. */
const QUIET = new Set(['resolved', 'per-cpu', 'init-only', 'not-resident']);

/**
 * The module global the self-test reads: the first resolved variable of a plain type (integer,
 * enum, pointer: a value drgn prints on one line), else the first resolved variable at all. The
 * caller leaves out names vmlinux also has (e1000's `debug`), which a debugger looking a global up
 * by name would find in vmlinux first.
 */
function pickGlobal(results: VarResult[], notInVmlinux: (name: string) => boolean): string | undefined {
  // A kept result may make its type name only when read (vars.ts KeptResolved): each is read at
  // most once per test below, in order, until one qualifies.
  const resolved = results.filter((x) => x.status === 'resolved');
  const typed = (x: VarResult) => x.type !== undefined;
  // Names the module's source gave (not _note_19, __this_module, TRACE_SYSTEM_…), plain values
  // (integers, enums: drgn prints a pointer to a struct dereferenced) before pointers.
  const own = resolved.filter((x) => /^[a-z]/.test(x.name));
  const scalar = (x: VarResult) => !/[[(*]/.test(x.type!) && !/\b(struct|union)\b/.test(x.type!);
  const pointer = (x: VarResult) => !/[[(]/.test(x.type!) && /\*$/.test(x.type!);
  // Asked only of the candidates in order, until one qualifies, not of every variable.
  const ok = (x: VarResult) => typed(x) && notInVmlinux(x.name);
  return (own.find((x) => typed(x) && scalar(x) && ok(x)) ?? own.find((x) => typed(x) && pointer(x) && ok(x)) ?? own.find(ok) ?? resolved.find(ok))?.name;
}

/** A companion that is loaded though the policy did not ask for it is checked but cannot fail. */
function finish(r: CompanionResult, wanted: boolean): CompanionResult {
  r.state = r.status as CompanionResult['state'];
  if (!wanted && r.status !== 'ok') return { ...r, detail: `${r.status}: ${r.detail ?? ''} (not wanted by the policy)`, status: 'not-wanted' };
  return r;
}

/** Name the dump level when a read failed because makedumpfile excluded the page. */
function excludedByLevel(detail: string, dumpLevel: number | undefined): string {
  return /: excluded\b/.test(detail) && dumpLevel !== undefined ? `${detail}; the page was dropped by dump level ${dumpLevel}` : detail;
}

function message(err: unknown): string {
  if (err instanceof KbtfError) return err.message;
  throw err;
}

/**
 * Why a command line read from a dump cannot be the one the kernel booted with, or undefined. Every
 * boot path sets one (boot loaders add BOOT_IMAGE= and root=; QEMU -append, kexec --append): an
 * empty line or one with control characters or invalid UTF-8 is a page read from the wrong place.
 */
function implausibleCmdline(line: string): string | undefined {
  if (line.trim() === '') return 'saved_command_line is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/.test(line)) return `saved_command_line holds control characters or invalid UTF-8 (${JSON.stringify(line.slice(0, 60))})`;
  return undefined;
}

function safe<T>(f: () => T): T | undefined {
  return unlessThrown(KbtfError, f);
}

function numberField(v: unknown): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}
