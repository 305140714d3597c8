/**
 * The real host (tools/lab/host.sh, docs/deploy.md): a Debian 13 image with kbtf and its companion
 * package installed by apt, btf_companions=always on its kernel command line, booted with systemd
 * under QEMU, crashed with sysrq, captured by kdump-tools, verified at the next boot by
 * kbtf-verify-crashes.service. Everything asserted here is what the guest wrote itself (its report
 * beside the dump, its own records under /var/lib/kbtf-lab), read back from the disk image, plus
 * the host's `kbtf verify` on the same saved dump.
 *
 * Outputs: .lab/host-trixie/ and .lab/host-trixie-partial/ (or $KBTF_LAB_DIR). A missing output is
 * a failure, never a skip: run `bash tools/lab/host.sh` first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labDir } from '../lab.js';

interface Manifest {
  key: string;
  kernel: { kver: string };
  image: { removed_companion: string | null; setting: string };
  guest: { cmdline: string };
  dump: { file: string; size: number };
  report: { file: string; verdict: string | null };
  host_verify: { file: string; rc: number; verdict: string | null };
  timings_s: Record<string, number>;
}

interface VerifyModule {
  name: string;
  ok: boolean;
  companion?: { name: string; wanted: boolean; status: string; loaded: boolean };
}
interface VerifyReport {
  schema: string;
  verdict: string;
  kernel: { release: string; cmdline: string };
  dump: { format: string; incomplete: boolean };
  policy: { mode: string; source: string };
  modules: VerifyModule[];
  reasons: unknown[];
}

function out(key: string, file: string): string {
  const p = join(labDir, key, file);
  if (!existsSync(p)) throw new Error(`host lab output missing: ${p} (run: bash tools/lab/host.sh, see docs/lab.md)`);
  return p;
}
const text = (key: string, file: string) => readFileSync(out(key, file), 'utf8');
const json = <T>(key: string, file: string) => JSON.parse(text(key, file)) as T;
/** A record the guest's lab unit wrote (tools/lab/host-guest.sh), with its exit status. */
function record(key: string, boot: string, name: string): { out: string; rc: number } {
  return { out: text(key, `kbtf-lab/${boot}/${name}`), rc: Number(text(key, `kbtf-lab/${boot}/${name}.rc`).trim()) };
}
/** Module names of a /proc/modules text. */
const procModules = (s: string) => s.split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
const isCompanion = (m: string) => m.endsWith('_btf');
const sorted = (a: Iterable<string>) => [...new Set(a)].sort();
/** The modules a report names (loaded modules that are not companions). */
const reportModules = (r: VerifyReport) => sorted(r.modules.map((m) => m.name).filter((m) => !isCompanion(m)));

/** An output's manifest, the guest's report and the host's, read when a test first asks (a missing
 *  output fails each test of its suite, not the other suite). */
function output(key: string) {
  let cached: { manifest: Manifest; report: VerifyReport; hostReport: VerifyReport; crashed: string[] } | undefined;
  return () => {
    if (!cached) {
      const manifest = json<Manifest>(key, 'manifest.json');
      cached = {
        manifest,
        report: json<VerifyReport>(key, manifest.report.file),
        hostReport: json<VerifyReport>(key, manifest.host_verify.file),
        crashed: procModules(record(key, 'boot1', 'proc_modules').out),
      };
    }
    return cached;
  };
}

describe('real host: Debian 13 with kbtf and its companions, crashed and captured by kdump-tools', () => {
  const key = 'host-trixie';
  const get = output(key);

  it('booted the packaged kernel with btf_companions=always from the configured command line', () => {
    const { manifest, report } = get();
    expect(record(key, 'boot1', 'uname').out.trim()).toBe(manifest.kernel.kver);
    expect(record(key, 'boot1', 'cmdline').out.split(/\s+/)).toContain('btf_companions=always');
    expect(record(key, 'boot1', 'kexec_crash_loaded').out.trim()).toBe('1');
    expect(report.kernel.release).toBe(manifest.kernel.kver);
    expect(report.kernel.cmdline.split(/\s+/)).toContain('btf_companions=always');
  });

  it('the report the guest wrote beside its dump says complete', () => {
    const { report } = get();
    expect(report.schema).toBe('kbtf-verify/1');
    expect(report.dump.incomplete).toBe(false);
    expect(report.policy.mode).toBe('always');
    expect({ verdict: report.verdict, reasons: report.reasons }).toEqual({ verdict: 'complete', reasons: [] });
  });

  it('the report names every module of the crashed kernel (its /proc/modules before the crash)', () => {
    const { report, crashed } = get();
    expect(crashed.length).toBeGreaterThan(10);
    expect(reportModules(report)).toEqual(sorted(crashed.filter((m) => !isCompanion(m))));
  });

  it('every module of the crashed kernel had its companion loaded', () => {
    const { report, crashed } = get();
    for (const m of report.modules.filter((x) => !isCompanion(x.name))) {
      expect({ module: m.name, ok: m.ok, wanted: m.companion?.wanted, loaded: m.companion?.loaded }).toEqual({ module: m.name, ok: true, wanted: true, loaded: true });
    }
    const companions = new Set(crashed.filter(isCompanion));
    for (const m of crashed.filter((x) => !isCompanion(x))) expect(companions, `${m}_btf in /proc/modules`).toContain(`${m}_btf`);
    expect(companions).toContain('vmlinux_btf');
  });

  it("the host's kbtf verify on the same saved dump agrees", () => {
    const { manifest, report, hostReport } = get();
    expect(manifest.host_verify.rc).toBe(0);
    expect(hostReport.verdict).toBe(report.verdict);
    expect(reportModules(hostReport)).toEqual(reportModules(report));
  });

  it('every loaded module has /sys/kernel/btf/M_btf in the running guest', () => {
    const { crashed } = get();
    const btf = new Set(record(key, 'boot1', 'sys_kernel_btf').out.split('\n').filter(Boolean));
    expect(btf).toContain('vmlinux_btf');
    for (const m of crashed.filter((x) => !isCompanion(x))) expect(btf, `/sys/kernel/btf/${m}_btf`).toContain(`${m}_btf`);
  });

  it('kbtf check --root / in the running guest has no error findings', () => {
    const r = record(key, 'boot1', 'kbtf_check');
    const check = JSON.parse(r.out) as { errors: number; findings: { severity: string; code: string; message: string }[] };
    expect(check.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(check.errors).toBe(0);
    expect(r.rc).toBe(0);
  });

  it('systemd-analyze verify of the installed kbtf units is clean', () => {
    const r = record(key, 'boot1', 'systemd_analyze_verify');
    expect(r.out).toBe('');
    expect(r.rc).toBe(0);
  });

  it('kbtf sync --dry-run has nothing to do', () => {
    const r = record(key, 'boot1', 'kbtf_sync_dry_run');
    const sync = JSON.parse(r.out) as { actions: { module: string; companion: string; status: string }[] };
    const todo = sync.actions.filter((a) => !['already-loaded', 'not-selected'].includes(a.status));
    expect(todo).toEqual([]);
    expect(r.rc).toBe(0);
  });

  it('the kdump initramfs holds no companion: no kbtf.conf, no vmlinux-btf, no M-btf.ko file', () => {
    const r = record(key, 'boot1', 'kdump_initramfs');
    expect(r.rc).toBe(0);
    expect(r.out).toMatch(/initrd\.img-/);
    // `lsinitramfs -l`: cpio's long listing, the type in the first column ('-' a file, 'd' a directory).
    const entries = r.out.split('\n').filter((l) => /^[-dlcbps][rwxsStT-]{9}\s/.test(l));
    expect(entries.length).toBeGreaterThan(100);
    const files = entries.filter((l) => l.startsWith('-')).map((l) => l.replace(/^.*\s/, ''));
    expect(files.filter((f) => /modprobe\.d\/kbtf\.conf$/.test(f))).toEqual([]);
    expect(files.filter((f) => /-btf\.ko/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ko/.test(f)).length).toBeGreaterThan(0); // the listing does show modules
    // The hidden dependencies initramfs-tools adds after every hook (i8042 -> psmouse) would bring
    // their companions back through dracut-install; the hook leaves an empty directory in their
    // place, and these are all that may remain under a companion's name.
    const others = entries.filter((l) => /-btf\.ko/.test(l) && !l.startsWith('-'));
    expect(others.filter((l) => !l.startsWith('d'))).toEqual([]);
  });

  it('kbtf-verify-crashes.service wrote the report at the next boot', () => {
    const { manifest } = get();
    expect(manifest.report.file).toMatch(/^crash\/[^/]+\/kbtf-verify\.json$/);
    expect(existsSync(out(key, manifest.report.file.replace(/\.json$/, '.txt')))).toBe(true);
    expect(record(key, 'boot2', 'verify_report').rc).toBe(0);
  });
});

describe('real host, one loaded module without its companion: incomplete, naming exactly it', () => {
  const key = 'host-trixie-partial';
  const get = output(key);

  it('removed the companion of a module the host loads', () => {
    const { manifest } = get();
    const removed = manifest.image.removed_companion;
    expect(removed).toBeTruthy();
    expect(procModules(record(key, 'boot1', 'proc_modules').out)).toContain(removed);
    expect(procModules(record(key, 'boot1', 'proc_modules').out)).not.toContain(`${removed}_btf`);
  });

  it('the report the guest wrote says incomplete and names exactly that module', () => {
    const { report, manifest } = get();
    const removed = manifest.image.removed_companion;
    expect(report.verdict).toBe('incomplete');
    expect(report.modules.filter((m) => !m.ok).map((m) => m.name)).toEqual([removed]);
  });

  it("the host's kbtf verify agrees", () => {
    const { manifest, hostReport } = get();
    const removed = manifest.image.removed_companion;
    expect(manifest.host_verify.rc).toBe(1);
    expect(hostReport.verdict).toBe('incomplete');
    expect(hostReport.modules.filter((m) => !m.ok).map((m) => m.name)).toEqual([removed]);
  });
});
