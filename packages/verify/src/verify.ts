/**
 * `verify`: can this dump be debugged with what is inside it? The checks run in order, each with a
 * status and its evidence (docs/verify.md):
 *   vmcore → VMCOREINFO → kallsyms → vmlinux BTF → modules and their BTF → policy → companions.
 * A failure of the first four stops the walk (nothing later can be read); the verdict is then
 * `incomplete`. Input that is not a readable dump at all throws (exit 2 in the CLI).
 */
import { createHash } from 'node:crypto';
import { KbtfError, hex } from '@kbtf/binary';
import { validateBtf, parseBtf, type Btf } from '@kbtf/btf';
import { Kernel, VMLINUX_COMPANION, type KernelModule } from '@kbtf/kernel';
import { decide, foldName, isCompanion, formatSource, type Settings } from '@kbtf/policy';
import { openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { dumpSettings } from './dump-policy.js';
import { lookup } from './lookup.js';
import { REPORT_SCHEMA, type CompanionResult, type ModuleResult, type Step, type VerifyReport } from './report.js';
import { resolveCompanionVars } from './vars.js';

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

const now = () => performance.now();

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

function run(vmcore: OpenedVmcore, options: VerifyOptions, timings: Record<string, number>, lap: (n: string, s: number) => number): VerifyReport {
  const steps: Step[] = [];
  const reasons: string[] = [];
  const dumpLevel = numberField(vmcore.header['sub.dump_level']);
  const report: VerifyReport = {
    schema: REPORT_SCHEMA,
    verdict: 'incomplete',
    kernel: {},
    dump: { path: vmcore.path, format: vmcore.format, size: vmcore.fileSize, incomplete: vmcore.incomplete, dumpLevel },
    policy: { mode: 'unknown', source: 'none', exclude: [], vmlinux: false, cmdlineSource: 'none' },
    steps,
    modules: [],
    vmlinux: { name: VMLINUX_COMPANION, wanted: false, why: 'not checked', status: 'not-wanted', loaded: false },
    lookups: [],
    reasons,
    timings,
  };
  const fail = (name: Step['name'], evidence: string) => {
    steps.push({ name, status: 'fail', evidence });
    reasons.push(`${name}: ${evidence}`);
    return report;
  };

  steps.push({
    name: 'vmcore',
    status: vmcore.incomplete ? 'warn' : 'ok',
    evidence: `${vmcore.format}${dumpLevel !== undefined ? `, dump level ${dumpLevel}` : ''}${vmcore.incomplete ? ', marked incomplete by its writer' : ''}`,
  });
  const info = vmcore.vmcoreinfo;
  if (!info) return fail('vmcoreinfo', 'no VMCOREINFO note or kdump sub-header in the dump');
  steps.push({ name: 'vmcoreinfo', status: 'ok', evidence: `OSRELEASE=${info.osRelease ?? '?'}, ${info.symbols.size} symbols` });
  report.kernel = { release: info.osRelease, buildId: info.buildId, kernelOffset: info.kernelOffset === undefined ? undefined : hex(info.kernelOffset) };

  let t = now();
  const kernel = new Kernel(vmcore, { vmlinuxBtf: options.vmlinuxBtf });
  try {
    const ks = kernel.kallsyms;
    steps.push({ name: 'kallsyms', status: 'ok', evidence: `${ks.count} symbols, ${ks.encoding} encoding` });
  } catch (err) {
    return fail('kallsyms', message(err));
  }
  lap('kallsyms', t);

  t = now();
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
    const bytes = parsed?.bytes ?? options.vmlinuxBtf ?? kernel.vmlinuxBtfBytes();
    const v = validateBtf(bytes, { mode: 'module' });
    if (!v.valid) return fail('vmlinux-btf', `invalid: [${v.errors[0].typeId}] ${v.errors[0].message}`);
    if (!parsed) throw parseError;
    vmlinuxBtf = parsed;
    steps.push({ name: 'vmlinux-btf', status: 'ok', evidence: `${bytes.length} bytes, ${vmlinuxBtf.count} types${options.vmlinuxBtf ? ' (from a file)' : ', __start_BTF..__stop_BTF'}` });
  } catch (err) {
    return fail('vmlinux-btf', message(err));
  }
  lap('vmlinux-btf', t);

  // The module walk first (reading globals may need it: companions type them), so that its time is
  // its own; a failure is reported after the kernel fields, as the walk's step.
  t = now();
  let modules: KernelModule[] | undefined;
  let modulesError: unknown;
  try {
    modules = kernel.modules();
  } catch (err) {
    modulesError = err;
  }
  lap('modules', t);
  t = now();
  let cmdlineError: unknown;
  try {
    report.kernel.cmdline = kernel.commandLine();
  } catch (err) {
    if (!(err instanceof KbtfError)) throw err;
    cmdlineError = err;
  }
  const tainted = safe(() => kernel.taint().flags);
  if (tainted !== undefined) report.kernel.tainted = tainted;
  report.kernel.release = safe(() => kernel.release()) ?? report.kernel.release;
  lap('kernel', t);

  if (!modules) return fail('modules', message(modulesError));

  // The policy the crashed kernel ran with: its own command line unless overridden. A line that
  // cannot be read, or does not read as a kernel command line, is never taken as "no settings":
  // that would judge a damaged dump by the default policy.
  t = now();
  if (options.cmdline === undefined) {
    const bad = cmdlineError !== undefined ? `cannot read saved_command_line: ${message(cmdlineError)}` : implausibleCmdline(report.kernel.cmdline ?? '');
    if (bad) return fail('policy', `${bad} (the crashed kernel's settings are unknown; give --cmdline to judge by a known one)`);
  }
  const cmdline = options.cmdline ?? report.kernel.cmdline ?? '';
  let settings: Settings;
  try {
    settings = dumpSettings(cmdline, options.policyFile, options.cmdline !== undefined ? '--cmdline' : 'saved_command_line');
  } catch (err) {
    return fail('policy', message(err));
  }
  report.policy = {
    mode: settings.mode.value,
    source: formatSource(settings.mode.source),
    exclude: settings.exclude.map((e) => e.pattern),
    vmlinux: settings.vmlinux.value,
    cmdlineSource: options.cmdline !== undefined ? '--cmdline' : report.kernel.cmdline !== undefined ? 'saved_command_line (dump)' : 'none',
  };
  steps.push({ name: 'policy', status: 'ok', evidence: `mode ${settings.mode.value} from ${report.policy.source}` });
  lap('policy', t);

  t = now();
  const byName = new Map(modules.map((m) => [foldName(m.name), m]));
  let modBtfBad = 0;
  for (const m of modules) {
    if (isCompanion(m.name) || foldName(m.name) === VMLINUX_COMPANION) continue;
    const r = checkModule(kernel, vmlinuxBtf, m, settings, byName.get(`${foldName(m.name)}_btf`), dumpLevel, options);
    if (r.btf.status !== 'ok') modBtfBad++;
    report.modules.push(r);
  }
  steps.push({ name: 'modules', status: modBtfBad ? 'fail' : 'ok', evidence: `${report.modules.length} modules (+${modules.length - report.modules.length} companions), ${modBtfBad} without valid BTF` });
  report.vmlinux = checkVmlinux(kernel, vmlinuxBtf, settings, byName.get(VMLINUX_COMPANION), dumpLevel, options);
  // A companion loaded without its module (modprobe M_btf by hand, or M unloaded since): nothing
  // wants it, but a broken one is still evidence of a broken companion build.
  const orphans = modules
    .filter((m) => isCompanion(m.name) && foldName(m.name) !== VMLINUX_COMPANION && !byName.has(foldName(m.name).replace(/_btf$/, '')))
    .map((m) => checkCompanion(kernel, vmlinuxBtf, foldName(m.name), true, 'loaded without its module', m, undefined, dumpLevel, options));
  if (orphans.length) report.orphans = orphans;
  lap('companions', t);

  for (const m of report.modules) {
    if (m.btf.status !== 'ok') reasons.push(`${m.name}: module BTF ${m.btf.status}${m.btf.detail ? ` (${m.btf.detail})` : ''}`);
    if (isFailure(m.companion)) reasons.push(`${m.name}: companion ${m.companion.name} ${m.companion.status}${m.companion.detail ? ` (${m.companion.detail})` : ''}`);
  }
  for (const o of orphans) if (isFailure(o)) reasons.push(`orphan companion ${o.name}: ${o.status}${o.detail ? ` (${o.detail})` : ''}`);
  if (isFailure(report.vmlinux)) reasons.push(`vmlinux: companion ${VMLINUX_COMPANION} ${report.vmlinux.status}${report.vmlinux.detail ? ` (${report.vmlinux.detail})` : ''}`);
  const companionFailures = report.modules.filter((m) => isFailure(m.companion)).length + (isFailure(report.vmlinux) ? 1 : 0);
  const wanted = report.modules.filter((m) => m.companion.wanted).length + (report.vmlinux.wanted ? 1 : 0);
  steps.push({ name: 'companions', status: companionFailures ? 'fail' : 'ok', evidence: `${wanted} wanted by the policy, ${companionFailures} missing or failing` });

  t = now();
  report.lookups = (options.lookups ?? []).map((expr) => lookup(kernel, expr));
  lap('lookups', t);
  for (const l of report.lookups) if (l.status === 'failed') reasons.push(`lookup ${l.expr}: ${l.error}`);

  report.verdict = reasons.length === 0 ? 'complete' : 'incomplete';
  return report;
}

function isFailure(c: CompanionResult): boolean {
  return c.status !== 'ok' && c.status !== 'not-wanted';
}

function checkModule(kernel: Kernel, vmlinuxBtf: Btf, m: KernelModule, settings: Settings, companion: KernelModule | undefined, dumpLevel: number | undefined, options: VerifyOptions): ModuleResult {
  const btf: ModuleResult['btf'] = m.btfBytes
    ? { status: 'ok', size: m.btfBytes.length, sha256: m.btfSha256 }
    : { status: m.btfError ? 'unreadable' : 'absent', detail: m.btfError ? excludedByLevel(m.btfError, dumpLevel) : 'not in btf_modules' };
  if (m.btfBytes) {
    const v = validateBtf(m.btfBytes, { base: vmlinuxBtf, mode: 'module' });
    if (!v.valid) Object.assign(btf, { status: 'invalid', detail: `[${v.errors[0].typeId}] ${v.errors[0].message}` });
  }
  const d = decide(settings, m.name);
  const c = checkCompanion(kernel, vmlinuxBtf, `${foldName(m.name)}_btf`, d.load, `${d.reason} (${formatSource(d.source)})`, companion, m, dumpLevel, options);
  return { name: m.name, state: m.stateName, address: hex(m.address), btf, companion: c, ok: btf.status === 'ok' && !isFailure(c) };
}

function checkVmlinux(kernel: Kernel, vmlinuxBtf: Btf, settings: Settings, companion: KernelModule | undefined, dumpLevel: number | undefined, options: VerifyOptions): CompanionResult {
  const d = decide(settings, 'vmlinux');
  return checkCompanion(kernel, vmlinuxBtf, VMLINUX_COMPANION, d.load, `${d.reason} (${formatSource(d.source)})`, companion, undefined, dumpLevel, options);
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
): CompanionResult {
  const r: CompanionResult = { name, wanted, why, status: wanted ? 'missing' : 'not-wanted', loaded: !!companion };
  if (!companion) {
    if (wanted) r.detail = 'not loaded';
    return r;
  }
  // Loaded but absent from btf_modules: the kernel rejected its BTF at load ("failed to validate
  // module [M_btf] BTF", kernel/bpf/btf.c btf_module_notify; CONFIG_MODULE_ALLOW_BTF_MISMATCH lets
  // the module load anyway).
  if (!companion.btfBytes) {
    r.status = companion.btfError ? 'unreadable' : 'btf-rejected';
    r.detail = companion.btfError ? excludedByLevel(companion.btfError, dumpLevel) : 'loaded, but not in btf_modules: the kernel rejected its BTF';
    return finish(r, wanted);
  }
  r.btfSize = companion.btfBytes.length;
  r.btfSha256 = createHash('sha256').update(companion.btfBytes).digest('hex');
  const v = validateBtf(companion.btfBytes, { base: vmlinuxBtf, mode: 'module' });
  if (!v.valid) {
    r.status = 'btf-invalid';
    r.detail = `[${v.errors[0].typeId}] ${v.errors[0].message}`;
    return finish(r, wanted);
  }
  let btf: Btf;
  try {
    btf = parseBtf(companion.btfBytes, { base: vmlinuxBtf, source: `${name} BTF` });
  } catch (err) {
    r.status = 'btf-invalid';
    r.detail = message(err);
    return finish(r, wanted);
  }
  try {
    const out = resolveCompanionVars(kernel, btf, { module: parent, dumpLevel, all: options.allVars });
    r.vars = out.counts;
    if (out.results.length) r.problems = out.results;
    // A variable in a page the dump level excluded is kernel data in an all-zero page (bit 1): its
    // value is known, so it is reported but is not a failure (vars.ts excludedDetail).
    r.status = out.counts.unresolved ? 'unresolved' : 'ok';
    if (out.counts.unresolved || out.counts.excluded) r.detail = `${out.counts.unresolved} unresolved, ${out.counts.excluded} in excluded zero pages, of ${out.counts.total} variables`;
  } catch (err) {
    if (!(err instanceof KbtfError)) throw err;
    r.status = 'unreadable';
    r.detail = message(err);
  }
  return finish(r, wanted);
}

/** A companion that is loaded though the policy did not ask for it is checked but cannot fail. */
function finish(r: CompanionResult, wanted: boolean): CompanionResult {
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
  try {
    return f();
  } catch (err) {
    if (err instanceof KbtfError) return undefined;
    throw err;
  }
}

function numberField(v: unknown): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}
