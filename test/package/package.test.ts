// The kbtf .deb (tools/package/build.mjs, docs/packaging.md): its contents and control data,
// lintian, the packaged CLI run from an extracted tree with the host's node and with bookworm's
// Node.js 18, and systemd-analyze verify on the packaged units.
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { labKernel, repoRoot } from '../lab.js';
import { bookwormNode18, buildDeb, extract, noNodeModulesAbove, run, underTree, version } from './helpers.js';

const dump = join(repoRoot, 'test/fixtures/6.1-128m/dump.kdump');
let deb: string;
let x: string;

beforeAll(() => {
  deb = buildDeb().deb;
  x = extract(deb);
});

function policyRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'kbtf-proot-'));
  mkdirSync(join(r, 'etc/kbtf'), { recursive: true });
  writeFileSync(join(r, 'etc/kbtf/policy.yaml'), 'version: 1\nmode: always\nexclude: ["snd_*"]\n');
  return r;
}

describe('kbtf .deb contents', () => {
  it('installs the contract layout, nothing from node_modules', () => {
    const list = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
    const entries = new Map(list.trim().split('\n').map((l) => {
      const f = l.split(/\s+/);
      return [f[5].replace(/^\./, ''), { mode: f[0], owner: f[1], link: f[7] }] as const;
    }));
    for (const p of [
      '/usr/lib/kbtf/kbtf.cjs', '/usr/lib/kbtf/worker.js', '/usr/lib/kbtf/yaml.cjs', '/usr/lib/kbtf/zod.cjs', '/usr/lib/kbtf/policy.yaml',
      '/usr/lib/systemd/system/kbtf-modprobe-config.service', '/usr/lib/systemd/system/kbtf-verify-crashes.service',
      '/usr/share/doc/kbtf/copyright', '/usr/share/doc/kbtf/changelog.gz', '/usr/share/man/man1/kbtf.1.gz', '/usr/share/bash-completion/completions/kbtf',
    ]) expect(entries.get(p), p).toMatchObject({ mode: '-rw-r--r--', owner: 'root/root' });
    for (const p of ['/usr/lib/kbtf/kbtf-cli.cjs', '/usr/libexec/kbtf/kbtf-verify-crashes', '/usr/share/initramfs-tools/hooks/kbtf']) expect(entries.get(p)?.mode, p).toBe('-rwxr-xr-x');
    expect(entries.get('/usr/bin/kbtf')).toMatchObject({ mode: 'lrwxrwxrwx', link: '../lib/kbtf/kbtf-cli.cjs' });
    expect([...entries.keys()].filter((p) => p.includes('node_modules') || p.startsWith('/etc'))).toEqual([]);
    expect(readFileSync(join(x, 'usr/lib/kbtf/kbtf-cli.cjs'), 'utf8')).toMatch(/^#!\/usr\/bin\/node --v8-pool-size=1\n/);
  });
  it('control: version, Depends, maintainer scripts, the update-initramfs trigger, no conffiles', () => {
    const info = (f?: string) => execFileSync('dpkg-deb', f ? ['-f', deb, f] : ['-I', deb], { encoding: 'utf8' }).trim();
    expect(info('Package')).toBe('kbtf');
    expect(info('Version')).toBe(version);
    expect(info('Architecture')).toBe('all');
    expect(info('Depends')).toBe('nodejs (>= 18), kmod');
    expect(info('Suggests')).toBe('kdump-tools, initramfs-tools');
    const i = info();
    for (const s of ['postinst', 'prerm', 'postrm', 'triggers', 'md5sums']) expect(i).toMatch(new RegExp(`\\s${s}\\s`));
    expect(i).not.toMatch(/conffiles/);
    const ctl = mkdtempSync(join(tmpdir(), 'kbtf-ctl-'));
    execFileSync('dpkg-deb', ['-e', deb, ctl]);
    expect(readFileSync(join(ctl, 'triggers'), 'utf8')).toMatch(/^activate-noawait update-initramfs$/m);
    const postinst = readFileSync(join(ctl, 'postinst'), 'utf8');
    expect(postinst).toMatch(/deb-systemd-helper enable "\$unit"/);
    expect(postinst).toMatch(/deb-systemd-invoke \$_dh_action kbtf-modprobe-config\.service/);
    expect(postinst).not.toMatch(/update-initramfs|kdump/);
    for (const s of ['postinst', 'prerm', 'postrm']) execFileSync('sh', ['-n', join(ctl, s)]);
    // md5sums matches the data
    const sums = readFileSync(join(ctl, 'md5sums'), 'utf8').trim().split('\n');
    expect(sums.length).toBeGreaterThan(15);
    execFileSync('md5sum', ['--quiet', '-c', join(ctl, 'md5sums')], { cwd: x });
  });
  it('copyright is machine-readable (DEP-5) and names the bundled yaml and zod', () => {
    const c = readFileSync(join(x, 'usr/share/doc/kbtf/copyright'), 'utf8');
    expect(c).toMatch(/^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m);
    expect(c).toMatch(/^Files: usr\/lib\/kbtf\/yaml\.cjs\nCopyright: .+\nLicense: ISC$/m);
    expect(c).toMatch(/^Files: usr\/lib\/kbtf\/zod\.cjs\nCopyright: .+\nLicense: Expat$/m);
    expect(gunzipSync(readFileSync(join(x, 'usr/share/doc/kbtf/changelog.gz'))).toString()).toMatch(new RegExp(`^kbtf \\(${version}\\) unstable; urgency=medium\\n`));
  });
  it('man page renders without warnings and covers every command; completion knows them', () => {
    const man = join(x, 'usr/share/man/man1/kbtf.1.gz');
    const r = run('sh', ['-c', 'zcat "$1" | groff -man -Tutf8 -ww -z', 'sh', man]);
    expect(r.stderr).toBe('');
    const text = gunzipSync(readFileSync(man)).toString();
    const comp = readFileSync(join(x, 'usr/share/bash-completion/completions/kbtf'), 'utf8');
    for (const c of ['verify', 'check', 'modprobe-config', 'sync', 'policy', 'companion']) {
      expect(text).toContain(`.SS "kbtf ${c}"`);
      expect(comp).toMatch(new RegExp(`^\\s+${c}\\) `, 'm'));
    }
    expect(comp).toMatch(/verify\) subs=""; opts="[^"]*--report/);
    expect(run('bash', ['-n', join(x, 'usr/share/bash-completion/completions/kbtf')]).code).toBe(0);
  });
  it('lintian: no errors and no warnings', () => {
    const r = run('lintian', ['--no-tag-display-limit', deb]);
    const tags = (r.stdout + r.stderr).split('\n').filter((l) => /^[EW]: /.test(l));
    expect(tags).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);
});

describe('the packaged CLI, extracted alone', () => {
  const kbtf = () => join(x, 'usr/bin/kbtf');
  it('runs with nothing but node: --version, verify, policy show (yaml and zod)', () => {
    expect(noNodeModulesAbove(x)).toBe(true);
    const env = { ...process.env, KBTF_COMPILE_CACHE: '0' };
    expect(run(kbtf(), ['--version'], env, x).stdout.trim()).toBe(version);
    const v = run(kbtf(), ['verify', dump, '--json'], env, x);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ schema: 'kbtf-verify/1', verdict: 'complete' });
    const p = run(kbtf(), ['policy', 'show', '--root', policyRoot(), '--json'], env, x);
    expect(p.stderr).toBe('');
    expect(JSON.parse(p.stdout).mode).toEqual({ value: 'always', source: { kind: 'policy', file: '/etc/kbtf/policy.yaml', line: 2 } });
    // the shipped default policy parses: on-demand
    const d = run(kbtf(), ['policy', 'show', '--root', x, '--json'], env, x);
    expect(JSON.parse(d.stdout).mode).toEqual({ value: 'on-demand', source: { kind: 'policy', file: '/usr/lib/kbtf/policy.yaml', line: 18 } });
  });
  it('verify --report FILE writes the --json document while printing text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-rep-'));
    const env = { ...process.env, KBTF_COMPILE_CACHE: '0', NO_COLOR: '1' };
    const r = run(kbtf(), ['verify', '--report', join(dir, 'r.json'), dump], env, x);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^policy: complete$/m);
    // the --json document, timings aside
    const untimed = (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), timings: undefined });
    expect(untimed(readFileSync(join(dir, 'r.json'), 'utf8'))).toBe(untimed(run(kbtf(), ['verify', '--json', dump], env, x).stdout));
    expect(readdirSync(dir)).toEqual(['r.json']);
    const bad = join(dir, 'bad.kdump');
    writeFileSync(bad, Buffer.alloc(8192, 0x5a));
    const b = run(kbtf(), ['verify', '--report', join(dir, 'bad.json'), bad], env, x);
    expect(b.code).toBe(2);
    expect(existsSync(join(dir, 'bad.json'))).toBe(false);
    expect(run(kbtf(), ['verify', '--report', join(dir, 'two.json'), dump, dump], env, x).code).toBe(2);
  });
  it('compile cache: in HOME/.cache/kbtf; none (and no failure) for HOME=/ or unset, or an unwritable directory', () => {
    const home = mkdtempSync(join(tmpdir(), 'kbtf-home-'));
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    expect(run(kbtf(), ['--version'], { ...base, HOME: home }, x).code).toBe(0);
    expect(readdirSync(join(home, '.cache/kbtf')).some((f) => f.startsWith('compile-'))).toBe(true);
    // /proc as the cache: mkdirSync's recursive mode looped forever there
    const hadRootCache = existsSync('/.cache');
    for (const env of [{ ...base, HOME: '/' }, base, { ...base, KBTF_COMPILE_CACHE: '/proc/kbtf-cache' }, { ...base, HOME: '/proc' }]) {
      const r = run(kbtf(), ['--version'], env, x); // a successful run stores its compiled code
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    if (!hadRootCache) expect(existsSync('/.cache')).toBe(false);
  });
  it("runs under bookworm's Node.js 18 (Debian 12)", () => {
    const n18 = bookwormNode18();
    const node = join(n18, 'usr/bin/node');
    const env = { KBTF_COMPILE_CACHE: '0', NO_COLOR: '1' };
    expect(underTree(n18, [node, '--version'], env, true).stdout).toMatch(/^v18\./);
    expect(underTree(n18, [node, kbtf(), '--version'], env, true).stdout.trim()).toBe(version);
    const v = underTree(n18, [node, kbtf(), 'verify', '--jobs', '2', dump, dump], env, true);
    expect(v.stderr).toBe('');
    expect(v.stdout).toMatch(/2 dumps: 2 self-contained, 0 not self-contained, 0 unreadable \(policy: 2 complete, 0 incomplete\)/);
    expect(v.code).toBe(0);
    const p = underTree(n18, [node, kbtf(), 'policy', 'show', '--root', policyRoot()], env, true);
    expect(p.stdout).toMatch(/^mode\s+always\s+\[policy \(\/etc\/kbtf\/policy\.yaml:2\)\]/m);
  }, 120_000);
});

describe('systemd-analyze verify on the packaged units', () => {
  /** A root with the host's systemd units, the package and its units enabled as postinst does. */
  function systemRoot(modprobeUnit?: string): string {
    const r = extract(deb, 'kbtf-sroot-');
    cpSync('/usr/lib/systemd/system', join(r, 'usr/lib/systemd/system'), { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
    if (modprobeUnit) writeFileSync(join(r, 'usr/lib/systemd/system/kbtf-modprobe-config.service'), modprobeUnit);
    for (const [unit, target] of [['kbtf-modprobe-config.service', 'sysinit.target'], ['kbtf-verify-crashes.service', 'multi-user.target']]) {
      mkdirSync(join(r, `etc/systemd/system/${target}.wants`), { recursive: true });
      symlinkSync(`/usr/lib/systemd/system/${unit}`, join(r, `etc/systemd/system/${target}.wants`, unit));
    }
    return r;
  }
  const verify = (root: string) => run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'sysinit.target', 'multi-user.target', 'kbtf-modprobe-config.service', 'kbtf-verify-crashes.service']);

  it('the enabled units verify clean: no ordering cycle, executables present', () => {
    const r = verify(systemRoot());
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    const unit = readFileSync(join(x, 'usr/lib/systemd/system/kbtf-modprobe-config.service'), 'utf8');
    expect(unit).toMatch(/^Before=systemd-udevd\.service systemd-modules-load\.service sysinit\.target shutdown\.target$/m);
    expect(unit).not.toMatch(/^After=/m);
    expect(unit).toMatch(/^ConditionPathExists=!\/proc\/vmcore$/m);
  });
  it('the check can fail: the old After=systemd-sysctl.service ordering is a cycle', () => {
    const old = readFileSync(join(x, 'usr/lib/systemd/system/kbtf-modprobe-config.service'), 'utf8').replace(/^DefaultDependencies=no$/m, 'DefaultDependencies=no\nAfter=local-fs.target systemd-sysctl.service');
    const r = verify(systemRoot(old));
    expect(r.stdout + r.stderr).toMatch(/Found ordering cycle/);
  });
});

describe('npm run package -- --kernel KVER MODULE: both packages from one command', () => {
  it('writes kbtf_… and kbtf-companions-KVER_… side by side (the lab\'s 6.1 companions, reused)', () => {
    const kver = labKernel('6.1-companions');
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-both-'));
    execFileSync(process.execPath, [join(repoRoot, 'tools/package/build.mjs'), '--output', dir, '--kernel', kver, 'loop'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(readdirSync(dir).filter((f) => f.endsWith('.deb')).sort()).toEqual([`kbtf-companions-${kver}_${version}_amd64.deb`, `kbtf_${version}_all.deb`]);
    const files = execFileSync('dpkg-deb', ['-c', join(dir, `kbtf-companions-${kver}_${version}_amd64.deb`)], { encoding: 'utf8' });
    expect(files).toContain(`./lib/modules/${kver}/updates/kbtf/loop-btf.ko`);
    expect(files).toContain(`./lib/modules/${kver}/updates/kbtf/vmlinux-btf.ko`);
  }, 300_000);

  it('module names without --kernel are a usage error', () => {
    const r = run(process.execPath, [join(repoRoot, 'tools/package/build.mjs'), 'loop']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/MODULE arguments go with --kernel KVER/);
  });
});
