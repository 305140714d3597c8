// Against the real kmod: a real Debian kernel's modules (from the lab's kernel cache) with fake
// companions added (copies of a real small module, renamed: kmod only needs the file names here),
// depmod -b, then the rendered config must make `modprobe --show-depends M` list M-btf after M,
// keep the kernel's own softdeps (ext4 pre: crypto-crc32c) and bring dependencies' companions.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { labDir, labKernel } from '../lab.js';
import { Root, readSettings, readModulesDir, renderConfig } from '@kbtf/policy';

const WANT = ['ext4', 'crc16', 'mbcache', 'jbd2', 'loop', 'crc32c_generic', 'crc32c-intel', 'e1000'];

/** The 6.1 kernel the lab booted (its module tree in the lab's kernel cache). */
function findKernel(): { kver: string; dir: string } {
  const k = labKernel('6.1-4level');
  const dir = join(labDir, 'kernels', k, 'lib/modules', k);
  if (existsSync(join(dir, 'modules.dep'))) return { kver: k, dir };
  throw new Error(`lab output missing: ${dir}/modules.dep (run: bash tools/lab/lab.sh)`);
}

let root: string;
let kver: string;
let conf: string;

function showDepends(m: string): string[] {
  const out = execFileSync('modprobe', ['-C', conf, '-d', root, '-S', kver, '--show-depends', m], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => l.split(/\s+/)[1].split('/').pop()!.replace(/\.ko(\.\w+)?$/, ''));
}

beforeAll(() => {
  const k = findKernel();
  kver = k.kver;
  root = mkdtempSync(join(tmpdir(), 'kbtf-kmod-'));
  const mdir = join(root, 'lib/modules', kver);
  mkdirSync(mdir, { recursive: true });
  const dep = execFileSync('cat', [join(k.dir, 'modules.dep')], { encoding: 'utf8' });
  let loopFile = '';
  for (const line of dep.split('\n')) {
    const path = line.split(':')[0];
    const name = path.split('/').pop()!.replace(/\.ko(\.\w+)?$/, '');
    if (!WANT.includes(name)) continue;
    mkdirSync(join(mdir, dirname(path)), { recursive: true });
    cpSync(join(k.dir, path), join(mdir, path));
    if (name === 'loop') loopFile = path;
  }
  const ext = loopFile.slice(loopFile.indexOf('.ko'));
  mkdirSync(join(mdir, 'extra'), { recursive: true });
  for (const c of ['ext4', 'jbd2', 'loop']) cpSync(join(mdir, loopFile), join(mdir, 'extra', `${c}-btf${ext}`));
  cpSync(join(mdir, loopFile), join(mdir, 'extra', `vmlinux-btf${ext}`));
  execFileSync('depmod', ['-b', root, kver]);
  mkdirSync(join(root, 'etc/kbtf'), { recursive: true });
  writeFileSync(join(root, 'etc/kbtf/policy.yaml'), 'version: 1\nmode: always\nexclude: [e1000]\n');
  conf = join(root, 'conf');
  mkdirSync(conf);
  const tree = new Root(root);
  const r = renderConfig(tree, readSettings(tree, { configuredCmdline: true }), readModulesDir(tree, kver));
  writeFileSync(join(conf, 'kbtf.conf'), r.modprobe);
});

describe(`real kmod (${process.env.KBTF_LAB_DIR ?? 'lab'} kernel) with the rendered config`, () => {
  it('lists ext4-btf right after ext4, keeps pre: crypto-crc32c and loads jbd2-btf after jbd2', () => {
    const d = showDepends('ext4');
    expect(d.indexOf('ext4-btf')).toBe(d.indexOf('ext4') + 1);
    expect(d.indexOf('jbd2-btf')).toBe(d.indexOf('jbd2') + 1);
    expect(d.some((m) => m.startsWith('crc32c'))).toBe(true);
    expect(d.findIndex((m) => m.startsWith('crc32c'))).toBeLessThan(d.indexOf('ext4'));
  });
  it('loop → loop-btf; an excluded module (e1000) loads alone; a module without a companion too', () => {
    expect(showDepends('loop')).toEqual(['loop', 'loop-btf']);
    expect(showDepends('e1000')).toEqual(['e1000']);
    expect(showDepends('crc16')).toEqual(['crc16']);
  });
});
