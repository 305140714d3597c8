/** The human rendering of a verify report: steps, one line per module, then the verdict. */
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

function companionCell(c: CompanionResult): string {
  if (c.status === 'not-wanted') return c.loaded ? 'loaded (not wanted)' : 'not wanted';
  return c.status === 'ok' ? 'ok' : c.status;
}

function row(m: ModuleResult): string[] {
  const reason = !m.ok ? (m.btf.status !== 'ok' ? `BTF ${m.btf.status}` : (m.companion.detail ?? m.companion.status)) : '';
  return [m.name, m.btf.status === 'ok' ? `${m.btf.size}` : m.btf.status, companionCell(m.companion), vars(m.companion), reason];
}

function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
}

export function renderReport(r: VerifyReport, paint: Painter = plain): string {
  const out: string[] = [];
  out.push(paint('bold', `${r.dump.path}: ${r.kernel.release ?? 'unknown kernel'} (${r.dump.format}${r.dump.dumpLevel !== undefined ? `, -d ${r.dump.dumpLevel}` : ''})`));
  for (const s of r.steps) {
    const mark = s.status === 'ok' ? paint('green', 'ok  ') : s.status === 'warn' ? paint('yellow', 'warn') : s.status === 'fail' ? paint('red', 'FAIL') : 'skip';
    out.push(`  ${mark} ${s.name.padEnd(11)} ${s.evidence}`);
  }
  out.push(`  policy: ${r.policy.mode} (${r.policy.source}; command line from ${r.policy.cmdlineSource})`);
  if (r.modules.length) {
    out.push('');
    const rows = [['module', 'BTF', 'companion', 'vars', 'reason'], ...r.modules.map(row)];
    rows.push([VMLINUX, '-', companionCell(r.vmlinux), vars(r.vmlinux), r.vmlinux.status === 'ok' || r.vmlinux.status === 'not-wanted' ? '' : (r.vmlinux.detail ?? r.vmlinux.status)]);
    const lines = columns(rows);
    out.push(paint('dim', lines[0]), ...lines.slice(1));
  }
  for (const l of r.lookups) out.push(`  lookup ${l.expr}: ${l.status === 'resolved' ? l.value : paint('red', `failed: ${l.error}`)}`);
  out.push('');
  out.push(r.verdict === 'complete' ? paint('green', 'verdict: complete') : paint('red', `verdict: incomplete (${r.reasons.length} reason${r.reasons.length === 1 ? '' : 's'})`));
  for (const reason of r.reasons) out.push(`  - ${reason}`);
  return out.join('\n');
}

const VMLINUX = 'vmlinux';

/** The summary line after several dumps. */
export function renderSummary(results: { verdict?: string; error?: string }[]): string {
  const complete = results.filter((r) => r.verdict === 'complete').length;
  const incomplete = results.filter((r) => r.verdict === 'incomplete').length;
  const unreadable = results.filter((r) => r.error !== undefined).length;
  return `${results.length} dumps: ${complete} complete, ${incomplete} incomplete, ${unreadable} unreadable`;
}
