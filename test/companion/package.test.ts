/**
 * `kbtf companion package` end to end, on the companions the lab built and booted for its 6.1 kernel
 * (tools/lab/lab-companions.sh; the release comes from the lab's manifest, never a literal):
 *
 *   kbtf companion package --kernel KVER --deps --vmlinux --no-download ext4 loop e1000 --output DIR
 *
 * The .deb is read back with dpkg-deb and lintian, installed with `dpkg --root` into a scratch root
 * holding that kernel's module tree (maintainer scripts run chrootless, with DPKG_ROOT), and kmod
 * must then resolve every companion from depmod's output; removing the package must drop them.
 * Everything comes from the cache the lab filled ($KBTF_CACHE, default /var/cache/kbtf): nothing is
 * fetched or built here (the run must reuse every companion), and anything missing is a failure.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labKernel, repoRoot } from '../lab.js';
import type { PackageResult } from '@kbtf/companion';

const key = '6.1-companions';
const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';
const MODULES = ['ext4', 'loop', 'e1000'];
const version = (JSON.parse(readFileSync(join(repoRoot, 'apps/kbtf/package.json'), 'utf8')) as { version: string }).version;
const scratch = mkdtempSync(join(tmpdir(), 'kbtf-companion-package-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: opts.env ?? process.env });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function need(path: string): string {
  if (!existsSync(path)) throw new Error(`missing ${path}: run the lab's companion step first (bash tools/lab/lab-companions.sh 6.1)`);
  return path;
}

/** The --json document is the package result. */
type PackageDoc = PackageResult;

async function pkg(kver: string, output: string, extra: string[] = []) {
  return runCli(['companion', 'package', '--json', '--no-download', '--kernel', kver, '--output', output, ...extra], { NO_COLOR: '1', KBTF_CACHE: cache });
}

describe('kbtf companion package, on the lab kernel 6.1-companions', () => {
  const kver = labKernel(key);
  const image = join(cache, 'kernels', kver, 'image/lib/modules', kver);
  const built = join(cache, 'companions/lib/modules', kver, 'updates/kbtf');
  let doc: PackageDoc;
  let second: PackageDoc;
  /** Module names of MODULES and their modules.dep dependencies, and vmlinux. */
  let expected: string[];

  beforeAll(async () => {
    const dep = readFileSync(need(join(image, 'modules.dep')), 'utf8');
    const names = new Set<string>(['vmlinux']);
    const base = (p: string) => p.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, '');
    for (const line of dep.split('\n')) {
      const [mod, deps] = line.split(':');
      if (!mod || !MODULES.includes(base(mod).replace(/-/g, '_'))) continue;
      names.add(base(mod));
      for (const d of deps.trim().split(/\s+/).filter(Boolean)) names.add(base(d));
    }
    expected = [...names].sort();
    const r = await pkg(kver, join(scratch, 'a'), ['--deps', '--vmlinux', ...MODULES]);
    expect(r.stderr).not.toMatch(/building/);
    expect(r.code, r.stderr).toBe(0);
    doc = JSON.parse(r.stdout) as PackageDoc;
    const r2 = await pkg(kver, join(scratch, 'b'), ['--deps', '--vmlinux', ...MODULES]);
    expect(r2.code, r2.stderr).toBe(0);
    second = JSON.parse(r2.stdout) as PackageDoc;
  }, 300_000);

  it('reuses the lab\'s companions and names the file kbtf-companions-KVER_VERSION_amd64.deb', () => {
    expect(doc.built).toEqual([]);
    expect(doc.deb).toBe(join(scratch, 'a', `kbtf-companions-${kver}_${version}_amd64.deb`));
    expect([...doc.modules].sort()).toEqual(expected);
    expect(doc.without).toEqual([]);
  });

  it('depends on exactly the image version the companions were built from', () => {
    const debs = readdirSync(join(cache, 'debs')).filter((f) => f.startsWith(`linux-image-${kver}_`));
    expect(debs).toHaveLength(1);
    const imageVersion = sh('dpkg-deb', ['-f', join(cache, 'debs', debs[0]), 'Version']).stdout.trim();
    expect(imageVersion).toMatch(/^\d+\.\d+\.\d+-\d+/);
    const f = sh('dpkg-deb', ['-f', doc.deb, 'Package', 'Version', 'Architecture', 'Depends', 'Section']).stdout;
    expect(f).toBe(
      `Package: kbtf-companions-${kver}\nVersion: ${version}\nArchitecture: amd64\nDepends: linux-image-${kver} (= ${imageVersion})\nSection: kernel\n`,
    );
    const info = sh('dpkg-deb', ['-I', doc.deb]).stdout;
    for (const member of ['control', 'md5sums', 'postinst', 'postrm', 'triggers']) expect(info).toMatch(new RegExp(`^ +\\d+ bytes, +\\d+ lines +\\*? +${member}\\b`, 'm'));
  });

  it('holds the companions at /lib/modules/KVER/updates/kbtf, byte for byte the built ones', () => {
    const list = sh('dpkg-deb', ['-c', doc.deb]).stdout.split('\n').filter(Boolean);
    for (const l of list) expect(l, 'owner, group').toMatch(/^[-dl]\S+ root\/root /);
    const kos = list.map((l) => l.slice(l.indexOf('./') + 2)).filter((p) => p.endsWith('.ko'));
    expect(kos).toEqual(expected.map((m) => `lib/modules/${kver}/updates/kbtf/${m}-btf.ko`).sort());
    const x = join(scratch, 'x');
    expect(sh('dpkg-deb', ['-x', doc.deb, x]).code).toBe(0);
    for (const m of expected) {
      const got = readFileSync(join(x, 'lib/modules', kver, 'updates/kbtf', `${m}-btf.ko`));
      expect(got.equals(readFileSync(need(join(built, `${m}-btf.ko`)))), m).toBe(true);
    }
    for (const f of ['changelog.gz', 'copyright']) expect(existsSync(join(x, 'usr/share/doc', `kbtf-companions-${kver}`, f)), f).toBe(true);
  });

  it('lintian reports no errors', () => {
    const r = sh('lintian', ['--no-tag-display-limit', doc.deb]);
    expect(r.stdout + r.stderr).not.toMatch(/^E: /m);
    expect(r.code, r.stdout).toBe(0);
  }, 300_000); // lintian takes ~10 s alone, a minute on a loaded machine

  it('is reproducible: the same bytes twice, every timestamp the image package\'s', () => {
    expect(second.sha256).toBe(doc.sha256);
    expect(createHash('sha256').update(readFileSync(second.deb)).digest('hex')).toBe(doc.sha256);
    const dates = new Set(sh('dpkg-deb', ['-c', doc.deb]).stdout.split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(3, 5).join(' ')));
    expect(dates.size).toBe(1);
    const d = new Date(doc.sourceDateEpoch * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    expect([...dates][0]).toBe(`${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`);
  });

  describe('installed with dpkg --root beside the kernel\'s module tree', () => {
    const root = join(scratch, 'root');
    const moddir = join(root, 'lib/modules', kver);
    const dpkgEnv = { ...process.env, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    const dpkg = (...args: string[]) => sh('dpkg', [`--root=${root}`, '--force-script-chrootless', '--log=/dev/null', ...args], { env: dpkgEnv });
    const modprobe = (name: string) => sh('modprobe', ['-d', root, '-S', kver, '--show-depends', name]);

    beforeAll(() => {
      mkdirSync(moddir, { recursive: true });
      for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'var/lib/dpkg/status'), '');
      // The image's module tree as its package leaves it (no modules.dep yet: depmod is the postinst's).
      expect(sh('cp', ['-al', join(image, 'kernel'), join(moddir, 'kernel')]).code).toBe(0);
      for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) writeFileSync(join(moddir, f), readFileSync(join(image, f)));
    });

    it('postinst runs depmod for KVER and kmod resolves every companion from updates/kbtf', () => {
      const r = dpkg('--force-depends', '-i', doc.deb);
      expect(r.code, r.stderr).toBe(0);
      const dep = readFileSync(join(moddir, 'modules.dep'), 'utf8');
      for (const m of expected) {
        expect(dep).toContain(`updates/kbtf/${m}-btf.ko:`);
        const s = modprobe(`${m}-btf`);
        expect(s.code, s.stderr).toBe(0);
        expect(s.stdout.trim()).toBe(`insmod ${moddir}/updates/kbtf/${m}-btf.ko`);
        expect(sh('modinfo', ['-b', root, '-k', kver, '-F', 'btf_companion_of', `${m}_btf`]).stdout.trim()).toBe(m);
      }
      // The modules themselves still resolve from kernel/, and ext4's dependencies with it.
      expect(modprobe('ext4').stdout).toMatch(/insmod \S+\/kernel\/fs\/ext4\/ext4\.ko/);
      expect(sh('dpkg-query', [`--admindir=${root}/var/lib/dpkg`, '-W', '-f', '${Status}', `kbtf-companions-${kver}`]).stdout).toBe('install ok installed');
    }, 180_000);

    it('postrm runs depmod again: after removal kmod finds no companion', () => {
      const r = dpkg('-r', `kbtf-companions-${kver}`);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(moddir, 'updates/kbtf/ext4-btf.ko'))).toBe(false);
      expect(readFileSync(join(moddir, 'modules.dep'), 'utf8')).not.toContain('updates/kbtf/');
      expect(modprobe('ext4-btf').code).not.toBe(0);
    }, 180_000);

    it('installs without its kernel too: nothing runs, nothing fails', () => {
      const bare = join(scratch, 'bare');
      for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) mkdirSync(join(bare, d), { recursive: true });
      writeFileSync(join(bare, 'var/lib/dpkg/status'), '');
      const r = sh('dpkg', [`--root=${bare}`, '--force-script-chrootless', '--log=/dev/null', '--force-depends', '-i', doc.deb], { env: dpkgEnv });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(bare, 'lib/modules', kver, 'updates/kbtf/ext4-btf.ko'))).toBe(true);
      expect(existsSync(join(bare, 'lib/modules', kver, 'modules.dep'))).toBe(false);
    });
  });

  it('refuses bad input with exit 2 and writes nothing', async () => {
    const out = join(scratch, 'refused');
    const unknown = await pkg(kver, out, ['no_such_module']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/module no_such_module is not in .*modules\.dep/);
    // A release with no tree to build in: Debian 11's (unstable's +deb14 and later have the sid tree).
    const older = await pkg('6.1.99+deb11-amd64', out, ['ext4']);
    expect(older.code).toBe(2);
    expect(older.stderr).toMatch(/Debian 11 kernel/);
    const nothing = await pkg(kver, out);
    expect(nothing.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});
