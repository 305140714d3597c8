/** The human rendering of a verify report: steps, one line per module, then the verdict. */
import { VMLINUX_COMPANION } from '@kbtf/kernel';
import type { CompanionResult, ModuleResult, VerifyReport } from './report.js';

export interface Painter {
  (style: 'red' | 'green' | 'yellow' | 'bold' | 'dim', text: string): string;
}

const plain: Painter = (_s, t) => t;

function vars(c: CompanionResult): string {
  if (!c.vars) return '-';
  const v = c.vars;
  const ok = v.resolved + v.perCpu + v.initOnly + v.notResident + v.excluded;
  return `${ok}/${v.total}`;
}

/** What the dump holds for the companion; the policy's view when it differs. */
function companionCell(c: CompanionResult): string {
  if (c.status === 'not-wanted') return c.state === 'ok' ? 'ok (not wanted)' : `${c.state} (not wanted)`;
  return c.status;
}

function row(m: ModuleResult): string[] {
  const reason = m.outOfTree && m.ok ? 'out-of-tree' : !m.ok ? (m.btf.status !== 'ok' ? `BTF ${m.btf.status}` : (m.companion.detail ?? m.companion.status)) : '';
  return [m.name, m.btf.status === 'ok' ? `${m.btf.size}` : m.btf.status, companionCell(m.companion), vars(m.companion), reason];
}

function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

export function renderReport(r: VerifyReport, paint: Painter = plain): string {
  const out: string[] = [];
  out.push(paint('bold', `${r.dump.path}: ${r.kernel.release ?? 'unknown kernel'} (${r.dump.format}${r.dump.dumpLevel !== undefined ? `, -d ${r.dump.dumpLevel}` : ''})`));
  // The first answer first: can this dump be debugged with nothing but itself, and if not, what
  // each module lacks for it.
  const sc = r.selfContained;
  if (sc.verdict === 'self-contained') {
    out.push(paint('green', `self-contained: yes`) + ` (kallsyms, vmlinux BTF, ${r.modules.length} modules' BTF and companions, ${VMLINUX_COMPANION}; ${r.selfTest.length} self-test lookups resolved)`);
  } else {
    out.push(paint('red', `self-contained: NO`) + ` (${sc.missing.length} of ${r.modules.length + 1} modules incl. vmlinux lack what a debugger needs; ${sc.reasons.length} reason${sc.reasons.length === 1 ? '' : 's'})`);
    const width = Math.max(0, ...sc.missing.map((m) => m.module.length));
    for (const m of sc.missing) out.push(`  ${m.module.padEnd(width)}  ${m.what.join('; ')}`);
    for (const reason of sc.reasons.slice(sc.missing.length)) out.push(`  - ${reason}`);
  }
  out.push(`policy:         ${r.verdict} (${r.policy.mode} from ${r.policy.source}; command line from ${r.policy.cmdlineSource})`);
  out.push('');
  for (const s of r.steps) {
    const mark = s.status === 'ok' ? paint('green', 'ok  ') : s.status === 'warn' ? paint('yellow', 'warn') : s.status === 'fail' ? paint('red', 'FAIL') : 'skip';
    out.push(`  ${mark} ${s.name.padEnd(11)} ${s.evidence}`);
  }
  if (r.modules.length) {
    out.push('');
    const rows = [['module', 'BTF', 'companion', 'vars', 'policy'], ...r.modules.map(row)];
    rows.push([VMLINUX, '-', companionCell(r.vmlinux), vars(r.vmlinux), r.vmlinux.status === 'ok' || r.vmlinux.status === 'not-wanted' ? '' : (r.vmlinux.detail ?? r.vmlinux.status)]);
    const lines = columns(rows);
    out.push(paint('dim', lines[0]), ...lines.slice(1));
  }
  if (r.selfTest.length || r.lookups.length) out.push('');
  for (const l of r.selfTest) out.push(`  self-test ${l.expr}: ${l.status === 'resolved' ? oneLine(l.value ?? '') : paint('red', `failed: ${l.error}`)}`);
  for (const l of r.lookups) out.push(`  lookup ${l.expr}: ${l.status === 'resolved' ? l.value : paint('red', `failed: ${l.error}`)}`);
  out.push('');
  out.push(sc.verdict === 'self-contained' ? paint('green', 'self-contained: yes') : paint('red', 'self-contained: no'));
  out.push(r.verdict === 'complete' ? paint('green', 'policy: complete') : paint('red', `policy: incomplete (${r.reasons.length} reason${r.reasons.length === 1 ? '' : 's'})`));
  for (const reason of r.reasons) out.push(`  - ${reason}`);
  return out.join('\n');
}

const VMLINUX = 'vmlinux';
const ONE_LINE = 100;

/** A value drgn prints over several lines, on one (the self-test lists many). */
function oneLine(text: string): string {
  const flat = text.replace(/\n\t*/g, ' ').replace(/,( })/g, '$1');
  return flat.length > ONE_LINE ? `${flat.slice(0, ONE_LINE - 1)}…` : flat;
}

/** The summary line after several dumps. */
export function renderSummary(results: { selfContained?: string; verdict?: string; error?: string }[]): string {
  const count = (f: (r: (typeof results)[number]) => boolean) => results.filter(f).length;
  const yes = count((r) => r.selfContained === 'self-contained');
  const no = count((r) => r.selfContained === 'not-self-contained');
  const complete = count((r) => r.verdict === 'complete');
  const incomplete = count((r) => r.verdict === 'incomplete');
  const unreadable = count((r) => r.error !== undefined);
  return `${results.length} dumps: ${yes} self-contained, ${no} not self-contained, ${unreadable} unreadable (policy: ${complete} complete, ${incomplete} incomplete)`;
}
