/**
 * Companions of Debian's arm64 kernel, built on this amd64 host (issue 17 part 3), and the arm64 lab
 * guest that loaded them under btf_companions=always (docs/companions.md, "arm64 kernels"):
 *
 *   bash tools/lab/lab-companions.sh 6.1 --arch arm64
 *     = kbtf companion build --kernel 6.1.0-N-arm64 --deps --vmlinux <the arm64 guest's modules>
 *       (cross kbuild against the arm64 headers unpacked in the cache), kbtf modprobe-config,
 *       tools/lab/lab.sh --arch arm64 --key 6.1-arm64-companions --ko … --append btf_companions=always
 *
 * Checked against real tools and the guest: readelf -h (AArch64), the host's kmod (modinfo vermagic,
 * modprobe --dump-modversions), the kernel's own ext4.ko (struct module size, module_layout CRC) and
 * Module.symvers; /sys/kernel/btf and /proc/modules as the guest recorded them; the arm64 .deb.
 * Nothing is rebuilt here: a missing lab output or companion is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EM_AARCH64, ElfFile } from '@kbtf/binary';
import { parseBtf, type Btf } from '@kbtf/btf';
import { ARM64, checkCompanion, type SummaryFile } from '@kbtf/companion';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labKernel } from '../lab.js';

const KEY = '6.1-arm64-companions';
const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';
/** The arm64 guest's set (tools/lab/lab.sh --arch arm64: virtio_net, not e1000) and vmlinux. */
const testSet = ['ext4', 'xfs', 'btrfs', 'nf_tables', 'virtio_net', 'loop', 'bridge', 'overlay', 'qemu_fw_cfg', 'vmlinux'];

interface Truth {
  arch: string;
  kernel: string;
  cmdline: string;
  modules: { name: string }[];
  btf: { name: string; size: number; sha256: string }[];
  dmesg_btf: string[];
  modprobe_failed: string[];
}

function need(path: string): string {
  if (!existsSync(path)) throw new Error(`missing ${path}: bash tools/lab/lab-companions.sh 6.1 --arch arm64 (docs/companions.md)`);
  return path;
}

function tool(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

/** A VAR's type with typedefs, const and volatile peeled off, as `kind name`. */
function varType(btf: Btf, name: string): string {
  const v = btf.findByName(name, 'var');
  if (!v) throw new Error(`no VAR ${name}`);
  const t = btf.type(btf.resolve(v.type));
  return `${t.kind} ${t.name}`;
}

const kver = labKernel(KEY);
const truth = labJson<Truth>(KEY, 'truth.json');
const summary = JSON.parse(readFileSync(need(join(cache, 'companions', `kbtf-companions-${kver}.json`)), 'utf8')) as SummaryFile;
const vmlinuxBtfFile = need(join(cache, 'kernels', kver, 'vmlinux.btf'));
const vmlinux = parseBtf(readFileSync(vmlinuxBtfFile), { source: 'vmlinux' });
const modules = need(join(cache, 'kernels', kver, 'image/lib/modules', kver));
const ext4Ko = need(join(modules, 'kernel/fs/ext4/ext4.ko'));
const symvers = need(join(cache, 'kernels', kver, 'headers/usr/src', `linux-headers-${kver}`, 'Module.symvers'));
const summaryDir = join(cache, 'companions/lib/modules', kver, 'updates/kbtf');
const companion = (m: string) => {
  const c = summary.companions.find((x) => x.module === m);
  if (!c) throw new Error(`no companion of ${m} in the summary`);
  return c;
};

describe(`arm64 companions of ${kver}, built on this host`, () => {
  it('the lab booted an arm64 kernel, and the set covers every module it loaded', () => {
    expect(kver).toMatch(/^6\.1\.0-\d+-arm64$/);
    expect(truth.arch).toBe('arm64');
    expect(summary.kernel).toBe(kver);
    const built = new Set(summary.companions.map((c) => c.module.replace(/-/g, '_')));
    for (const m of testSet) expect(built, m).toContain(m);
    for (const m of truth.modules.map((x) => x.name).filter((n) => !n.endsWith('_btf'))) expect(built, `companion of loaded ${m}`).toContain(m);
  });

  it('each is an AArch64 module (readelf -h) that passes the loader-side check by 6.1\'s rules', () => {
    for (const c of summary.companions) {
      const bytes = readFileSync(need(c.file));
      const elf = ElfFile.fromBytes(bytes, c.file);
      expect(elf.machine, c.file).toBe(EM_AARCH64);
      expect(tool('readelf', ['-h', c.file])).toMatch(/^ {2}Machine: +AArch64$/m);
      const check = checkCompanion(bytes, c.file, { of: c.module, kver, btf: elf.sectionBytes('.BTF'), base: vmlinux, arch: ARM64 });
      expect(check.btfSize).toBe(c.companion);
      expect(check.vars).toBe(c.vars);
      expect(bytes.byteLength).toBe(c.ko);
    }
  });

  // --mode module: the checks the kernel runs when a module loads (btf_parse_module), 6.1's rules.
  it('kbtf btf validate accepts each .BTF on the arm64 vmlinux BTF by the module loader\'s rules', async () => {
    for (const c of summary.companions) {
      const r = await runCli(['btf', 'validate', c.file, '--base', vmlinuxBtfFile, '--mode', 'module', '--kernel', '6.1']);
      expect({ file: c.file, code: r.code }).toEqual({ file: c.file, code: 0 });
    }
  });

  it("vermagic, modversions and struct module as the kernel's own ext4.ko has them (host kmod, Module.symvers)", () => {
    const vermagic = tool('modinfo', ['-F', 'vermagic', ext4Ko]).trim();
    expect(vermagic).toBe(`${kver} SMP mod_unload modversions aarch64`);
    const layout = new RegExp(`^(0x[0-9a-f]+)\\s+module_layout$`, 'm');
    const crc = layout.exec(tool('modprobe', ['--dump-modversions', ext4Ko]))![1];
    const symversCrc = new RegExp(`^(0x[0-9a-f]+)\\tmodule_layout\\tvmlinux\\t`, 'm').exec(readFileSync(symvers, 'utf8'))![1];
    expect(crc).toBe(symversCrc);
    const thisModule = (f: string) => ElfFile.fromBytes(readFileSync(f), f).section('.gnu.linkonce.this_module')!.size;
    for (const c of summary.companions) {
      expect(tool('modinfo', ['-F', 'vermagic', c.file]).trim(), c.file).toBe(vermagic);
      expect(tool('modinfo', ['-F', 'btf_companion_of', c.file]).trim()).toBe(c.module);
      expect(layout.exec(tool('modprobe', ['--dump-modversions', c.file]))?.[1], c.file).toBe(crc);
      expect(thisModule(c.file), c.file).toBe(thisModule(ext4Ko));
    }
  });

  it('the arm64 .deb the lab script packaged: Architecture arm64, exact Depends, the built files byte for byte', () => {
    const dir = need(join(cache, 'companions/deb'));
    const debs = readdirSync(dir).filter((f) => f.startsWith(`kbtf-companions-${kver}_`) && f.endsWith('_arm64.deb'));
    expect(debs.length).toBe(1);
    const deb = join(dir, debs[0]);
    const image = readdirSync(join(cache, 'debs')).find((f) => f.startsWith(`linux-image-${kver}_`))!;
    const imageVersion = tool('dpkg-deb', ['-f', join(cache, 'debs', image), 'Version']).trim();
    expect(tool('dpkg-deb', ['-f', deb, 'Package', 'Architecture', 'Depends'])).toBe(
      `Package: kbtf-companions-${kver}\nArchitecture: arm64\nDepends: linux-image-${kver} (= ${imageVersion})\n`,
    );
    const x = mkdtempSync(join(tmpdir(), 'kbtf-arm64-deb-'));
    try {
      tool('dpkg-deb', ['-x', deb, x]);
      const inDeb = readdirSync(join(x, 'lib/modules', kver, 'updates/kbtf')).sort();
      expect(inDeb).toEqual(summary.companions.map((c) => c.file.split('/').at(-1)!).sort());
      for (const f of inDeb) expect(readFileSync(join(x, 'lib/modules', kver, 'updates/kbtf', f)).equals(readFileSync(join(summaryDir, f))), f).toBe(true);
    } finally {
      rmSync(x, { recursive: true, force: true });
    }
  });

  it("holds VARs named after the modules' real globals, with their real types", () => {
    const load = (m: string) => parseBtf(ElfFile.fromBytes(readFileSync(companion(m).file), m).sectionBytes('.BTF'), { base: vmlinux, source: m });
    expect(varType(load('ext4'), 'ext4_fs_type')).toBe('struct file_system_type');
    expect(varType(load('xfs'), 'xfs_fs_type')).toBe('struct file_system_type');
    expect(varType(load('virtio_net'), 'virtio_net_driver')).toBe('struct virtio_driver');
    const vm = load('vmlinux');
    expect(varType(vm, 'init_task')).toBe('struct task_struct');
    expect(varType(vm, 'modules')).toBe('struct list_head');
  });
});

describe(`arm64 guest ${KEY}: every companion loaded by kmod`, () => {
  it('btf_companions=always, no modprobe failure, the kernel accepted every companion\'s BTF byte for byte', () => {
    expect(truth.cmdline).toMatch(/\bbtf_companions=always\b/);
    expect(truth.modprobe_failed).toEqual([]);
    expect(truth.dmesg_btf.filter((l) => /failed to validate module/.test(l))).toEqual([]);
    const sysfs = new Map(truth.btf.map((b) => [b.name, b]));
    for (const c of summary.companions) {
      const loaded = sysfs.get(`${c.module}_btf`.replace(/-/g, '_'));
      expect(loaded, `/sys/kernel/btf/${c.module}_btf`).toBeDefined();
      const btf = ElfFile.fromBytes(readFileSync(c.file), c.file).sectionBytes('.BTF');
      expect(loaded!.sha256).toBe(createHash('sha256').update(btf).digest('hex'));
    }
  });

  it('kmod loaded each companion right after its module (softdep post:)', () => {
    const order = truth.modules.map((m) => m.name);
    for (const c of summary.companions) {
      const name = c.module.replace(/-/g, '_');
      expect(order, `${name}_btf`).toContain(`${name}_btf`);
      if (c.module !== 'vmlinux') expect(order.indexOf(name) - order.indexOf(`${name}_btf`), `${name}_btf right after ${name}`).toBe(1);
    }
  });
});
