// `kbtf check` on kdump-configured trees (issue 22), on real trees: the Debian 13 root of the
// real-host lab (tools/lab/host.sh's debootstrapped base.tar: kdump-tools with USE_KDUMP=1 and its
// unit enabled, kdump-tools' grub.d crashkernel=, linux-image 6.12.117, makedumpfile 1.7.6), as
// debootstrapped, configured as the lab host is (btf_companions=always in GRUB_CMDLINE_LINUX, the
// real companion package, the packaged unit and hook), without kdump-tools (its files removed, as
// dpkg's list names them; and the trixie chroot that has none), and as a Fedora-style tree with
// kdump-utils' default /etc/kdump.conf and kdump.service enabled with the real systemctl. The
// makedumpfile version table is checked against the real makedumpfile binaries (Debian 12's on this
// host, Debian 13's from the image) on the lab's real 6.1 and 6.12 dumps.
// Only what check reads is extracted (etc, the dpkg status, units, modules.*, makedumpfile): ~0.3 s.
// A missing base image fails (CI runs tools/lab/host.sh first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makedumpfileLatest, parseMakedumpfileArgs } from '@kbtf/policy';
import { repoRoot, labPath } from '../lab.js';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { kbtfCache } from './companion-cache.js';

const KVER = '6.12.117+deb13-amd64';
const UNIT = 'kbtf-modprobe-config.service';

interface Finding {
  severity: string;
  code: string;
  file: string;
  line?: number;
  message: string;
  hint: string;
}
interface Report {
  kernel: string;
  settings: { mode: string; vmlinux: boolean };
  findings: Finding[];
  errors: number;
  kdump: {
    configured: boolean;
    signals: string[];
    crashkernel?: { value: string; source: { file?: string; line?: number } };
    kdumpTools?: { unit: { enabledBy: string[]; enabled: boolean } };
    kdumpctl?: { unit: { enabledBy: string[]; enabled: boolean } };
    collector?: { tool: string; file: string; line?: number; configured: boolean; command: string; makedumpfile?: { dumpLevel: number; compression: string; flattened: boolean } };
    makedumpfile?: { version?: string; from?: string; support?: { release?: string; latestKernel?: string; supported?: boolean } };
  };
}

/** The newest debootstrapped base image of tools/lab/host.sh. */
function baseTar(): string {
  const dir = join(kbtfCache, 'host');
  const bases = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('trixie-') && existsSync(join(dir, n, 'base.tar'))) : [];
  if (!bases.length) throw new Error(`no ${dir}/trixie-*/base.tar: run bash tools/lab/host.sh --image (docs/lab.md)`);
  bases.sort((a, b) => statSync(join(dir, b, 'base.tar')).mtimeMs - statSync(join(dir, a, 'base.tar')).mtimeMs);
  return join(dir, bases[0], 'base.tar');
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** What check reads of the image, extracted into a new directory. */
function extractBase(): string {
  const root = temp('kbtf-kdump-');
  execFileSync('tar', ['-xf', baseTar(), '-C', root, '--wildcards', './etc', './lib', './var/lib/dpkg/status', './var/lib/dpkg/info/kdump-tools.list', './var/lib/dpkg/info/kdump-tools.conffiles', './usr/lib/systemd/system', './usr/bin/makedumpfile', './usr/share/initramfs-tools', `./usr/lib/modules/${KVER}/modules.*`]);
  return root;
}

function put(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

async function check(root: string, ...extra: string[]): Promise<{ code: number; report: Report; codes: string[] }> {
  const r = await runCli(['check', '--root', root, '--json', ...extra]);
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout) as Report;
  return { code: r.code, report, codes: report.findings.map((f) => `${f.severity}:${f.code}`) };
}

const kdumpCodes = (codes: string[]) => codes.filter((c) => /kdump|makedumpfile|crashkernel/.test(c));

/**
 * kdump-tools purged: the files of dpkg's list, its conffiles, /etc/default/kdump-tools (which its
 * postinst writes through ucf) and its unit's enablement link.
 */
function removeKdumpTools(root: string): void {
  const info = (ext: string) => readFileSync(join(root, `var/lib/dpkg/info/kdump-tools.${ext}`), 'utf8').split('\n').filter(Boolean);
  const list = [...info('list'), ...info('conffiles').map((l) => l.split(' ')[0]), '/etc/default/kdump-tools'];
  for (const p of list) {
    const host = join(root, p);
    if (existsSync(host) && !statSync(host).isDirectory()) rmSync(host);
  }
  rmSync(join(root, 'etc/systemd/system/basic.target.wants/kdump-tools.service'), { force: true });
}

/** upstream version of the image's makedumpfile, as dpkg-query reads the tree's database. */
function dpkgVersion(root: string, pkg: string): string {
  return execFileSync('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
}

describe('kbtf check on kdump-configured trees (real Debian 13 image of the lab host)', () => {
  let image: string;
  beforeAll(() => {
    image = extractBase();
  });

  it('the image as debootstrapped (kdump-tools armed, no kbtf): exit 1, naming the mode, vmlinux-btf, the companions and the wiring', async () => {
    const { code, report, codes } = await check(image);
    expect(code).toBe(1);
    expect(report.kernel).toBe(KVER);
    const k = report.kdump;
    expect(k.configured).toBe(true);
    expect(k.kdumpTools?.unit).toMatchObject({ enabled: true, enabledBy: ['/etc/systemd/system/basic.target.wants/kdump-tools.service'] });
    // kdump-tools' grub.d snippet puts crashkernel= on the line (host.sh sets its value).
    const cfg = readFileSync(join(image, 'etc/default/grub.d/kdump-tools.cfg'), 'utf8');
    expect(k.crashkernel).toEqual({ value: /crashkernel=([^" ]+)/.exec(cfg)![1], source: { kind: 'cmdline', file: '/etc/default/grub.d/kdump-tools.cfg', line: 1 } });
    // MAKEDUMP_ARGS is commented out in the shipped file: kdump-config's default.
    expect(k.collector).toMatchObject({ tool: 'kdump-tools', configured: false, command: 'makedumpfile -F -c -d 31', makedumpfile: { dumpLevel: 31, compression: 'zlib', flattened: true } });
    expect(`1:${k.makedumpfile?.version}-1`).toBe(dpkgVersion(image, 'makedumpfile'));
    expect(k.makedumpfile).toMatchObject({ from: '/usr/bin/makedumpfile', support: { release: '1.7.6', latestKernel: '6.11.4', supported: false } });
    expect(kdumpCodes(codes)).toEqual(['error:kdump-companions-missing', 'error:kdump-mode-not-always', 'error:kdump-not-wired', 'error:kdump-vmlinux-off', 'warning:makedumpfile-kernel-unsupported']);
    const f = (c: string) => report.findings.find((x) => x.code === c)!;
    expect(f('kdump-mode-not-always').message).toContain('this tree saves vmcores (kdump-tools (USE_KDUMP=1 in /etc/default/kdump-tools:7, /etc/systemd/system/basic.target.wants/kdump-tools.service)');
    expect(f('kdump-mode-not-always').hint).toContain('btf_companions=always');
    // The initramfs loads the root file system's ext4 (and its dependencies), none with a companion; nor vmlinux.
    expect(f('kdump-companions-missing').message).toMatch(/7 modules that load .*: ext4, .*vmlinux; a vmcore lacks their BTF/);
    expect(f('kdump-not-wired').message).toContain(`${UNIT} is not installed`);
    expect(f('makedumpfile-kernel-unsupported').message).toContain(`makedumpfile 1.7.6 (/usr/bin/makedumpfile) supports kernels up to 6.11.4`);
    expect(f('makedumpfile-kernel-unsupported').hint).toContain('upstream 1.7.7 or newer: up to 6.14.2');
    expect(f('makedumpfile-kernel-unsupported').hint).toContain('MAKEDUMP_ARGS="-c -d 1"');
    // The human output says it too.
    const human = await runCli(['check', '--root', image]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^error: kdump-mode-not-always: \/etc\/default\/grub: this tree saves vmcores/m);
  });

  it('the policy file choosing on-demand and vmlinux: false turns those into warnings (exit 0)', async () => {
    const root = extractBase();
    put(root, 'etc/kbtf/policy.yaml', 'version: 1\nmode: on-demand\nvmlinux: false\nexclude: [ext4]\n');
    const { code, codes, report } = await check(root);
    expect(kdumpCodes(codes)).toEqual(['warning:kdump-companions-missing', 'warning:kdump-mode-not-always', 'warning:kdump-not-wired', 'warning:kdump-vmlinux-off', 'warning:makedumpfile-kernel-unsupported']);
    // exclude drops ext4 from the list; vmlinux: false drops vmlinux.
    expect(report.findings.find((f) => f.code === 'kdump-companions-missing')!.message).not.toMatch(/ext4|vmlinux/);
    expect(report.errors).toBe(0);
    expect(code).toBe(0);
  });

  it('configured as the lab host (btf_companions=always, the companion package, the unit and the hook): no error, the makedumpfile warning', async () => {
    const root = extractBase();
    // tools/lab/host.sh's setting.
    const grub = join(root, 'etc/default/grub');
    writeFileSync(grub, readFileSync(grub, 'utf8').replace(/^GRUB_CMDLINE_LINUX=.*$/m, 'GRUB_CMDLINE_LINUX="btf_companions=always"'));
    // The companion package host.sh builds for this kernel, its files into the tree, and their
    // modules.dep lines from depmod on the companions alone (they depend on nothing).
    const debs = readdirSync(join(kbtfCache, 'host')).filter((n) => n.startsWith('companions-')).map((n) => join(kbtfCache, 'host', n)).flatMap((d) => readdirSync(d).filter((f) => f.startsWith(`kbtf-companions-${KVER}_`)).map((f) => join(d, f)));
    if (!debs.length) throw new Error(`no kbtf-companions-${KVER}_*.deb under ${kbtfCache}/host: run bash tools/lab/host.sh`);
    const scratch = temp('kbtf-comp-');
    execFileSync('dpkg-deb', ['-x', debs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0], scratch]);
    const kbtfDir = `lib/modules/${KVER}/updates/kbtf`;
    mkdirSync(join(root, 'usr', kbtfDir), { recursive: true });
    for (const f of readdirSync(join(scratch, kbtfDir))) copyFileSync(join(scratch, kbtfDir, f), join(root, 'usr', kbtfDir, f));
    execFileSync('depmod', ['-b', scratch, KVER]);
    appendFileSync(join(root, 'usr/lib/modules', KVER, 'modules.dep'), readFileSync(join(scratch, 'lib/modules', KVER, 'modules.dep')));
    // The packaged unit (enabled with the real systemctl), kbtf, and the initramfs-tools hook.
    put(root, 'usr/bin/kbtf', readFileSync(join(repoRoot, 'apps/kbtf/bin/kbtf.js'), 'utf8'));
    chmodSync(join(root, 'usr/bin/kbtf'), 0o755);
    copyFileSync(join(repoRoot, 'tools/systemd', UNIT), join(root, 'usr/lib/systemd/system', UNIT));
    execFileSync('systemctl', ['--root', root, 'enable', UNIT], { stdio: ['ignore', 'ignore', 'pipe'] });
    mkdirSync(join(root, 'usr/share/initramfs-tools/hooks'), { recursive: true });
    copyFileSync(join(repoRoot, 'tools/initramfs-tools/hooks/kbtf'), join(root, 'usr/share/initramfs-tools/hooks/kbtf'));
    chmodSync(join(root, 'usr/share/initramfs-tools/hooks/kbtf'), 0o755);
    const { code, codes, report } = await check(root);
    expect(report.settings).toMatchObject({ mode: 'always', vmlinux: true });
    expect(report.kdump.configured).toBe(true);
    expect(codes.filter((c) => c.startsWith('error:'))).toEqual([]);
    expect(code).toBe(0);
    // The one kdump finding: Debian 13's makedumpfile predates 6.12 (the guest's kbtf check shows it too).
    expect(kdumpCodes(codes)).toEqual(['warning:makedumpfile-kernel-unsupported']);
    console.log(`lab-host-like tree: ${codes.join(' ')}`);
  });

  it('the capture path: MAKEDUMP_ARGS and KDUMP_COMPRESSION in /etc/default/kdump-tools', async () => {
    const root = extractBase();
    const file = join(root, 'etc/default/kdump-tools');
    const shipped = readFileSync(file, 'utf8');
    const withArgs = async (line: string) => {
      writeFileSync(file, `${shipped}\n${line}\n`);
      const r = await check(root);
      return { ...r, kd: kdumpCodes(r.codes).filter((c) => !/companions-missing|mode-not-always|not-wired|vmlinux-off/.test(c)) };
    };
    const dmesg = await withArgs('MAKEDUMP_ARGS="-c -d 31 --dump-dmesg"');
    expect(dmesg.kd).toEqual(['error:kdump-collector-no-vmcore']);
    expect(dmesg.report.kdump.collector).toMatchObject({ configured: true, line: shipped.split('\n').length + 1, command: 'makedumpfile -c -d 31 --dump-dmesg -F' });
    expect((await withArgs('MAKEDUMP_ARGS="-c -d 32"')).kd).toEqual(['warning:kdump-collector-invalid']);
    expect((await withArgs('MAKEDUMP_ARGS="-c --no-such-option -d 31"')).kd).toEqual(['warning:kdump-collector-invalid']);
    expect((await withArgs('MAKEDUMP_ARGS="-c -d 31 --config /etc/makedumpfile.conf"')).kd).toEqual(['warning:kdump-collector-filter', 'warning:makedumpfile-kernel-unsupported']);
    // -d 1 excludes only zero pages: an unsupported kernel no longer risks the pages kbtf reads.
    expect((await withArgs('MAKEDUMP_ARGS="-c -d 1"')).kd).toEqual(['info:makedumpfile-kernel-unsupported']);
    expect((await withArgs('KDUMP_COMPRESSION=xz')).kd).toEqual(['warning:kdump-compression', 'warning:makedumpfile-kernel-unsupported']);
    // Without the binary, the version comes from the dpkg database.
    rmSync(join(root, 'usr/bin/makedumpfile'));
    const dpkg = await withArgs('');
    expect(dpkg.report.kdump.makedumpfile).toMatchObject({ version: '1.7.6', from: '/var/lib/dpkg/status (makedumpfile 1:1.7.6-1)' });
    // USE_KDUMP=0 or the unit disabled (the real systemctl): not armed, so none of the kdump-configured checks.
    writeFileSync(file, shipped.replace(/^USE_KDUMP=1$/m, 'USE_KDUMP=0'));
    const off = await check(root);
    expect(off.report.kdump.configured).toBe(false);
    expect(kdumpCodes(off.codes)).toEqual(['warning:kdump-disabled']);
    writeFileSync(file, shipped);
    // (SYSTEMCTL_SKIP_SYSV: the tree has /etc/init.d/kdump-tools, but no update-rc.d to run in it)
    execFileSync('systemctl', ['--root', root, 'disable', 'kdump-tools.service'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SYSTEMCTL_SKIP_SYSV: '1' } });
    const disabled = await check(root);
    expect(disabled.report.kdump.configured).toBe(false);
    expect(kdumpCodes(disabled.codes)).toEqual(['warning:kdump-unit-disabled']);
    expect(disabled.report.findings.find((f) => f.code === 'kdump-unit-disabled')!.hint).toBe('systemctl --root ROOT enable kdump-tools.service');
  });

  it('without kdump-tools (its files removed; the trixie chroot that never had it): not kdump-configured', async () => {
    const root = extractBase();
    removeKdumpTools(root);
    expect(existsSync(join(root, 'etc/default/kdump-tools'))).toBe(false);
    const { code, codes, report } = await check(root);
    expect(report.kdump.configured).toBe(false);
    expect(report.kdump.crashkernel).toBeUndefined(); // the grub.d snippet was kdump-tools'
    expect(kdumpCodes(codes)).toEqual(['warning:kdump-missing']);
    expect(code).toBe(0);
    const chroot = join(kbtfCache, 'trixie');
    if (!existsSync(join(chroot, 'usr/lib/modules', KVER, 'modules.dep'))) throw new Error(`no trixie chroot with ${KVER} at ${chroot} (kbtf companion build makes it)`);
    const plain = await check(chroot, '--kernel', KVER);
    expect(plain.report.kdump.configured).toBe(false);
    expect(kdumpCodes(plain.codes)).toEqual(['warning:kdump-missing']);
  });

  it("a Fedora-style tree: kdump-utils' default /etc/kdump.conf, kdump.service enabled, crashkernel= in /etc/kernel/cmdline", async () => {
    const root = extractBase();
    removeKdumpTools(root);
    // The directives of the default kdump.conf kdump-utils generates (gen-kdump-conf.sh x86_64,
    // github.com/rhkdump/kdump-utils 63f248c): the rest of that file is comments.
    const conf = '# kdump.conf: see kdump.conf(5)\n\nauto_reset_crashkernel yes\npath /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n#core_collector scp\n';
    put(root, 'etc/kdump.conf', conf);
    put(root, 'etc/kernel/cmdline', 'root=UUID=0a1b ro crashkernel=2G-64G:256M,64G-:512M btf_companions=always\n');
    put(root, 'usr/lib/systemd/system/kdump.service', '[Unit]\nDescription=Crash recovery kernel arming\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/kdumpctl start\n\n[Install]\nWantedBy=multi-user.target\n');
    const before = await check(root);
    // Installed, not enabled: kdump.conf is there on every Fedora, but kdump is not armed.
    expect(before.report.kdump.configured).toBe(false);
    expect(kdumpCodes(before.codes)).toEqual(['warning:kdump-unit-disabled']);
    execFileSync('systemctl', ['--root', root, 'enable', 'kdump.service'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const { report, codes } = await check(root);
    expect(report.kdump).toMatchObject({ configured: true, kdumpctl: { unit: { enabledBy: ['/etc/systemd/system/multi-user.target.wants/kdump.service'] } }, crashkernel: { value: '2G-64G:256M,64G-:512M', source: { file: '/etc/kernel/cmdline' } } });
    expect(report.kdump.collector).toMatchObject({ tool: 'kdumpctl', file: '/etc/kdump.conf', line: 5, configured: true, command: 'makedumpfile -l --message-level 7 -d 31', makedumpfile: { dumpLevel: 31, compression: 'lzo', flattened: false } });
    expect(kdumpCodes(codes)).toEqual(['error:kdump-companions-missing', 'error:kdump-not-wired', 'warning:makedumpfile-kernel-unsupported']);
    expect(report.findings.find((f) => f.code === 'makedumpfile-kernel-unsupported')!.hint).toContain("'core_collector makedumpfile -l --message-level 7 -d 1' in /etc/kdump.conf");
    // A second core_collector: kdumpctl refuses the file; cp as the collector copies every page.
    writeFileSync(join(root, 'etc/kdump.conf'), `${conf}core_collector cp\n`);
    expect(kdumpCodes((await check(root)).codes)).toContain('warning:kdump-conf-invalid');
    writeFileSync(join(root, 'etc/kdump.conf'), conf.replace(/^core_collector makedumpfile.*$/m, 'core_collector cp'));
    const cp = await check(root);
    expect(kdumpCodes(cp.codes)).toEqual(['error:kdump-companions-missing', 'error:kdump-not-wired', 'info:kdump-collector-copy']);
  });
});

/** The "The kernel version is not supported." line of a real makedumpfile reading a real dump. */
function saysUnsupported(binary: string, dump: string): boolean {
  const out = mkdtempSync(join(tmpdir(), 'kbtf-mkd-'));
  const r = spawnSync(binary, ['--dump-dmesg', dump, join(out, 'dmesg')], { encoding: 'utf8', timeout: 60_000 });
  rmSync(out, { recursive: true, force: true });
  if (!/makedumpfile Completed/.test(r.stdout + r.stderr)) throw new Error(`${binary} --dump-dmesg ${dump} failed: ${r.stdout}${r.stderr}`);
  return /The kernel version is not supported\./.test(r.stdout + r.stderr);
}

describe('the makedumpfile version table against real makedumpfile binaries and real dumps', () => {
  it("Debian 12's (this host) and Debian 13's (the image) makedumpfile on the lab's 6.1 and 6.12 dumps", () => {
    const image = extractBase();
    const binaries = ['/usr/bin/makedumpfile', join(image, 'usr/bin/makedumpfile')];
    const seen: string[] = [];
    for (const bin of binaries) {
      const version = /makedumpfile: version (\d+\.\d+\.\d+)/.exec(execFileSync(bin, ['-v'], { encoding: 'utf8' }))![1];
      for (const variant of ['6.1-4level', '6.12-4level']) {
        const release = /^OSRELEASE=(.*)$/m.exec(readFileSync(labPath(variant, 'vmcoreinfo.txt'), 'utf8'))![1];
        const predicted = makedumpfileLatest(version, release).supported;
        expect(predicted).toBeDefined();
        expect(`${version} ${release} ${saysUnsupported(bin, labPath(variant, 'mkd-zlib.kdump')) ? 'unsupported' : 'supported'}`).toBe(`${version} ${release} ${predicted ? 'supported' : 'unsupported'}`);
        seen.push(`${version} ${release} ${predicted ? 'supported' : 'unsupported'}`);
      }
    }
    // Both answers occur: 1.7.6 (LATEST 6.11.4) supports 6.1, not 6.12; 1.7.2 (6.0.1) neither.
    expect(seen.filter((s) => s.startsWith('1.7.6'))).toEqual(['1.7.6 6.1.0-57-amd64 supported', '1.7.6 6.12.95+deb12-amd64 unsupported']);
  });

  it('makedumpfile --check-params accepts exactly the command lines the parser finds valid', () => {
    const image = extractBase();
    const bin = join(image, 'usr/bin/makedumpfile');
    const dump = labPath('6.1-4level', 'mkd-zlib.kdump');
    const lines = ['-F -c -d 31', '-l --message-level 7 -d 31', '-c -d 32', '-cd31', '-c -d 1,31', '-c -d 31,40', '--num-threads=2 -d 31', '--num-thr 2 -d 31', '-c --bogus -d 31', '-c -q', '-z -d 31 -e', '-z -d 31 -e --work-dir /tmp', '-E -d 31', '-p --message-level 31 -d 17'];
    for (const line of lines) {
      const words = line.split(' ');
      const parsed = parseMakedumpfileArgs(words);
      const valid = parsed.invalid.length === 0 && !parsed.dumpLevelInvalid;
      // As the capture scripts run it: with -F the dump goes to stdout (one operand).
      const r = spawnSync(bin, ['--check-params', ...words, dump, ...(parsed.flattened ? [] : ['/nonexistent/out'])], { encoding: 'utf8' });
      expect(`${line}: ${r.status === 0 ? 'valid' : 'invalid'}`).toBe(`${line}: ${valid ? 'valid' : 'invalid'}`);
    }
  });
});
