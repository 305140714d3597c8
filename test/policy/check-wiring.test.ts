// `kbtf check` must fail a tree where the policy selects companions but nothing would ever load them
// (issue 13), on real trees: the real 6.1 kernel modules and the real companions built for them
// ($KBTF_CACHE/companions, see companion-cache.ts), through the CLI (`kbtf check --root --json`,
// exit code), wired the ways a real system is: `kbtf modprobe-config` rendering
// /etc/modprobe.d/kbtf.conf, the packaged unit (tools/systemd) enabled and masked with the real
// `systemctl --root`, the packaged initramfs-tools hook (tools/initramfs-tools). A missing cache
// fails (CI builds the companions first).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../lab.js';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { buildTree, cachedKernel, type CachedKernel } from './companion-cache.js';

const UNIT = 'kbtf-modprobe-config.service';
const MODULES = ['ext4', 'jbd2', 'mbcache', 'crc16', 'loop', 'crc32c_generic'];
const FILE_CODES = ['companion-unreadable', 'vermagic-mismatch', 'companion-of-missing', 'companion-of-mismatch', 'companion-no-btf', 'companion-btf-invalid', 'btf-unchecked', 'vmlinux-btf-unreadable'];

interface Finding {
  severity: string;
  code: string;
  file: string;
  module?: string;
  message: string;
  hint: string;
}
interface Report {
  kernel: string;
  modules: { name: string; why: string }[];
  findings: Finding[];
  errors: number;
  wiring: { selected: number; notWired: string[]; softdepFiles: string[]; unit: { file?: string; masked?: string; enabledBy: string[]; active: boolean }; hook: { file?: string; active: boolean }; initramfs?: { modules: string; loaded: { name: string; why: string }[] } };
}

function put(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/**
 * The issue's tree: the real modules and their real companions (and vmlinux-btf), a policy
 * `mode: always, required: [ext4]`, kdump set up, and nothing that loads a companion: no
 * kbtf.conf, no modules-load.d, no unit, no hook.
 */
function issueTree(k: CachedKernel): string {
  const companions = Object.fromEntries([...MODULES, 'vmlinux'].map((m) => [`${m}-btf.ko`, join(k.companions, `${m}-btf.ko`)]));
  const root = buildTree(k, { modules: MODULES, companions, load: [] });
  rmSync(join(root, 'etc/modprobe.d/kbtf.conf'));
  rmSync(join(root, 'etc/modules-load.d'), { recursive: true });
  put(root, 'etc/kbtf/policy.yaml', 'version: 1\nmode: always\nrequired: [ext4]\n');
  put(root, 'etc/kernel/cmdline', 'root=/dev/vda1 ro crashkernel=256M\n');
  return root;
}

const SYNC_LINE = /^ExecStart(Pre|Post)?=.*\/kbtf sync.*\n/m;

/**
 * kbtf itself and the packaged unit, installed as the package lays them out (not enabled); `sync`:
 * with its `ExecStartPost=/usr/bin/kbtf sync` line removed (false) or made sure of (true).
 */
function installUnit(root: string, sync?: boolean): void {
  put(root, 'usr/bin/kbtf', '');
  copyFileSync(join(repoRoot, 'apps/kbtf/bin/kbtf.js'), join(root, 'usr/bin/kbtf'));
  chmodSync(join(root, 'usr/bin/kbtf'), 0o755);
  mkdirSync(join(root, 'usr/lib/systemd/system'), { recursive: true });
  let text = readFileSync(join(repoRoot, 'tools/systemd', UNIT), 'utf8');
  if (sync === false) text = text.replace(SYNC_LINE, '');
  if (sync === true && !SYNC_LINE.test(text)) text = text.replace(/^(ExecStart=.*\n)/m, '$1ExecStartPost=/usr/bin/kbtf sync\n');
  writeFileSync(join(root, 'usr/lib/systemd/system', UNIT), text);
}

function systemctl(root: string, ...args: string[]): void {
  execFileSync('systemctl', ['--root', root, ...args, UNIT], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function check(k: CachedKernel, root: string): Promise<{ code: number; report: Report; codes: string[] }> {
  const r = await runCli(['check', '--root', root, '--kernel', k.kver, '--vmlinux-btf', k.vmlinuxBtf, '--json']);
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout) as Report;
  // The companions are the real ones: no file finding ever, whatever the wiring.
  expect(report.findings.filter((f) => FILE_CODES.includes(f.code))).toEqual([]);
  return { code: r.code, report, codes: report.findings.map((f) => `${f.severity}:${f.code}:${f.module ?? ''}`) };
}

/** ext4 (required), its dependencies and its softdep's module load, and none gets its companion; nor does vmlinux-btf. */
const NOT_WIRED = ['error:companions-not-wired:', ...['crc16', 'crc32c_generic', 'ext4', 'jbd2', 'mbcache'].map((m) => `error:softdep-missing:${m}`), 'error:vmlinux-not-loaded:vmlinux'];

describe('kbtf check: something must load the companions the policy selects (real 6.1 tree and companions)', () => {
  const k = cachedKernel('6.1');

  it("the issue's tree (companions, mode always, required ext4, nothing wired) fails, naming what to install", async () => {
    const root = issueTree(k);
    const { code, report, codes } = await check(k, root);
    expect(code).toBe(1);
    expect(codes).toEqual(NOT_WIRED);
    // ext4 is checked because it is required, though no boot list names it; its dependencies too.
    expect(report.modules.map((m) => m.name).sort()).toEqual(['crc16', 'crc32c_generic', 'ext4', 'jbd2', 'mbcache']);
    expect(report.modules.find((m) => m.name === 'ext4')?.why).toBe('required (policy (/etc/kbtf/policy.yaml:3))');
    expect(report.wiring).toMatchObject({ selected: MODULES.length, notWired: [...MODULES].sort(), softdepFiles: [], unit: { active: false, enabledBy: [] }, hook: { active: false } });
    const f = report.findings.find((x) => x.code === 'companions-not-wired')!;
    expect(f.message).toMatch(/^nothing in the tree loads the companions the policy selects: 6 of 6 modules/);
    expect(f.message).toContain(`${UNIT} is not installed (looked in /usr/local/lib/systemd/system/${UNIT}, /usr/lib/systemd/system/${UNIT}, /lib/systemd/system/${UNIT})`);
    expect(f.message).toContain('no initramfs-tools hook (/etc/initramfs-tools/hooks/kbtf, /usr/share/initramfs-tools/hooks/kbtf)');
    for (const file of [`/usr/lib/systemd/system/${UNIT}`, `/etc/systemd/system/sysinit.target.wants/${UNIT}`, '/etc/modprobe.d/kbtf.conf', '/usr/share/initramfs-tools/hooks/kbtf']) expect(f.hint).toContain(file);
    // Without vmlinux-btf (so no vmlinux-not-loaded): the tree the issue saw pass with exit 0.
    rmSync(join(root, 'lib/modules', k.kver, 'updates/kbtf/vmlinux-btf.ko'));
    execFileSync('depmod', ['-b', root, k.kver]);
    const noVmlinux = await check(k, root);
    expect(noVmlinux.code).toBe(1);
    expect(noVmlinux.codes).toEqual([...NOT_WIRED.slice(0, -1), 'warning:companion-missing:vmlinux']);
    // The human output says the same, and exits 1.
    const human = await runCli(['check', '--root', root, '--kernel', k.kver, '--vmlinux-btf', k.vmlinuxBtf]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^error: companions-not-wired: \/usr\/lib\/systemd\/system\/kbtf-modprobe-config\.service: nothing in the tree loads/m);
  });

  it('+ kbtf modprobe-config rendering /etc/modprobe.d/kbtf.conf (and modules-load.d for vmlinux-btf): clean', async () => {
    const root = issueTree(k);
    const conf = await runCli(['modprobe-config', '--root', root, '--kernel', k.kver, '--output', join(root, 'etc/modprobe.d/kbtf.conf')]);
    expect(conf.code).toBe(0);
    const half = await check(k, root);
    expect(half.codes).toEqual(['error:vmlinux-not-loaded:vmlinux']);
    expect(half.report.wiring).toMatchObject({ notWired: [], softdepFiles: ['/etc/modprobe.d/kbtf.conf'] });
    await runCli(['modprobe-config', '--root', root, '--kernel', k.kver, '--output', join(root, 'etc/modprobe.d/kbtf.conf'), '--modules-load', join(root, 'etc/modules-load.d/kbtf.conf')]);
    const { code, codes } = await check(k, root);
    expect(codes).toEqual([]);
    expect(code).toBe(0);
  });

  it('a rendering left in the tree\'s /run (what the unit writes at boot) does not count', async () => {
    const root = issueTree(k);
    await runCli(['modprobe-config', '--root', root, '--kernel', k.kver, '--output', join(root, 'run/modprobe.d/kbtf.conf'), '--modules-load', join(root, 'run/modules-load.d/kbtf.conf')]);
    const { code, codes, report } = await check(k, root);
    expect(code).toBe(1);
    expect(codes).toEqual(NOT_WIRED);
    expect(report.findings[0].message).toContain('/run/modprobe.d/kbtf.conf does not survive a reboot');
  });

  it('+ the packaged unit: installed only, masked, or enabled for another target fails; enabled (systemctl --root enable) passes', async () => {
    const root = issueTree(k);
    installUnit(root);
    const installed = await check(k, root);
    expect(installed.code).toBe(1);
    expect(installed.codes).toEqual(NOT_WIRED);
    expect(installed.report.findings[0].message).toContain(`/usr/lib/systemd/system/${UNIT} is installed but not enabled (no /etc/systemd/system/sysinit.target.wants/${UNIT})`);

    systemctl(root, 'enable');
    const enabled = await check(k, root);
    expect(enabled.codes).toEqual([]);
    expect(enabled.code).toBe(0);
    expect(enabled.report.wiring.unit).toMatchObject({ file: `/usr/lib/systemd/system/${UNIT}`, active: true, enabledBy: [`/etc/systemd/system/sysinit.target.wants/${UNIT}`] });

    systemctl(root, 'mask');
    const masked = await check(k, root);
    expect(masked.code).toBe(1);
    expect(masked.codes).toEqual(NOT_WIRED);
    expect(masked.report.findings[0].message).toContain(`${UNIT} is masked (/etc/systemd/system/${UNIT} → /dev/null)`);
    expect(masked.report.findings[0].hint).toContain(`unmask: rm /etc/systemd/system/${UNIT}`);

    systemctl(root, 'unmask');
    systemctl(root, 'disable');
    mkdirSync(join(root, 'etc/systemd/system/rescue.target.wants'), { recursive: true });
    execFileSync('ln', ['-s', `/usr/lib/systemd/system/${UNIT}`, join(root, 'etc/systemd/system/rescue.target.wants', UNIT)]);
    const rescue = await check(k, root);
    expect(rescue.codes).toEqual(NOT_WIRED);
    expect(rescue.report.findings[0].message).toContain(`/etc/systemd/system/rescue.target.wants/${UNIT} is for a target a boot does not reach`);
  });

  it('the root file system loads from the initramfs: the enabled unit is too late for it unless it runs kbtf sync; the packaged hook wires it', async () => {
    const root = issueTree(k);
    installUnit(root, false);
    systemctl(root, 'enable');
    put(root, 'etc/initramfs-tools/initramfs.conf', 'MODULES=most\nBUSYBOX=auto\n');
    put(root, 'usr/share/initramfs-tools/hook-functions', '');
    put(root, 'etc/fstab', 'UUID=0a1b2c3d / ext4 errors=remount-ro 0 1\n');
    // ext4 and its dependencies (all with companions); crc32c_generic is a softdep of ext4.
    const inInitramfs = ['crc16', 'crc32c_generic', 'ext4', 'jbd2', 'mbcache'];
    const late = await check(k, root);
    expect(late.code).toBe(1);
    expect(late.codes).toEqual(inInitramfs.map((m) => `error:initramfs-hook-missing:${m}`));
    expect(late.report.wiring.initramfs?.loaded[0]).toEqual({ name: 'ext4', why: 'root file system ext4 (/etc/fstab:1, initramfs MODULES=most)' });
    const f = late.report.findings.find((x) => x.module === 'ext4')!;
    expect(f.message).toContain(`/usr/lib/systemd/system/${UNIT} renders /run/modprobe.d/kbtf.conf after ext4 is loaded and does not run kbtf sync, so ext4-btf never loads`);
    expect(f.hint).toMatch(/^install \/usr\/share\/initramfs-tools\/hooks\/kbtf \(mode 755/);

    // A unit that runs kbtf sync after rendering loads them then: warnings, exit 0.
    installUnit(root, true);
    const synced = await check(k, root);
    expect(synced.codes).toEqual(inInitramfs.map((m) => `warning:initramfs-hook-missing:${m}`));
    expect(synced.code).toBe(0);
    expect(synced.report.findings.find((x) => x.module === 'ext4')!.message).toContain('runs kbtf sync after switch_root, so ext4-btf loads then, not with ext4');
    // The packaged unit is one of the two.
    installUnit(root);
    expect((await check(k, root)).codes).toEqual(SYNC_LINE.test(readFileSync(join(repoRoot, 'tools/systemd', UNIT), 'utf8')) ? synced.codes : late.codes);

    // The packaged hook, not executable: mkinitramfs skips it.
    installUnit(root, false);
    mkdirSync(join(root, 'usr/share/initramfs-tools/hooks'), { recursive: true });
    copyFileSync(join(repoRoot, 'tools/initramfs-tools/hooks/kbtf'), join(root, 'usr/share/initramfs-tools/hooks/kbtf'));
    chmodSync(join(root, 'usr/share/initramfs-tools/hooks/kbtf'), 0o644);
    const skipped = await check(k, root);
    expect(skipped.codes).toEqual(late.codes);
    expect(skipped.report.findings[0].message).toContain('/usr/share/initramfs-tools/hooks/kbtf is not executable (mkinitramfs skips it)');
    chmodSync(join(root, 'usr/share/initramfs-tools/hooks/kbtf'), 0o755);
    const hooked = await check(k, root);
    expect(hooked.codes).toEqual([]);
    expect(hooked.code).toBe(0);
    expect(hooked.report.wiring.hook).toEqual({ file: '/usr/share/initramfs-tools/hooks/kbtf', active: true });

    // Without the hook, a softdep in /etc/modprobe.d wires them too: mkinitramfs copies the file,
    // and its modprobe --show-depends follows the softdep to the companion's file.
    rmSync(join(root, 'usr/share/initramfs-tools/hooks/kbtf'));
    await runCli(['modprobe-config', '--root', root, '--kernel', k.kver, '--output', join(root, 'etc/modprobe.d/kbtf.conf')]);
    expect((await check(k, root)).codes).toEqual([]);
    rmSync(join(root, 'etc/modprobe.d/kbtf.conf'));

    // MODULES=list: the root file system's module is not in the initramfs unless listed.
    put(root, 'etc/initramfs-tools/conf.d/modules', 'MODULES=list\n');
    expect((await check(k, root)).codes).toEqual(['warning:initramfs-hook-missing:']);
    put(root, 'etc/initramfs-tools/modules', '# initramfs list\nloop\n');
    expect((await check(k, root)).codes).toEqual(['error:initramfs-hook-missing:loop']);
  });
});
