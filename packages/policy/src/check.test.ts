import { describe, expect, it } from 'vitest';
import { checkRoot } from './check.js';
import { renderConfig, writeIfChanged, upToDate } from './render.js';
import { readModprobeConfig, softdepFor, installFor, blacklisted } from './modprobe-d.js';
import { readSettings } from './settings.js';
import { readModulesDir } from './modules.js';
import { syncCompanions } from './sync.js';
import type { Runner } from './exec.js';
import { memTree } from './test-tree.js';

const K = '6.1.0-56-amd64';
const M = `/lib/modules/${K}`;
const dep = [
  'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko',
  'kernel/fs/jbd2/jbd2.ko:',
  'kernel/drivers/block/loop.ko:',
  'kernel/crypto/crc32c_generic.ko:',
  'extra/ext4-btf.ko:',
  'extra/loop-btf.ko:',
  'extra/vmlinux-btf.ko:',
].join('\n');
const base = {
  [`${M}/modules.dep`]: dep + '\n',
  [`${M}/modules.softdep`]: 'softdep ext4 pre: crypto-crc32c\n',
  [`${M}/modules.alias`]: 'alias crypto-crc32c crc32c_generic\n',
  '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\n',
};

describe('modprobe.d precedence (kmod rules)', () => {
  it('higher directory wins per basename, /dev/null masks, files parse in basename order, first softdep wins', () => {
    const root = memTree(
      {
        '/lib/modprobe.d/a.conf': 'softdep loop post: from-lib\n',
        '/usr/lib/modprobe.d/a.conf': 'softdep loop post: from-usr-lib\n',
        '/etc/modprobe.d/b.conf': 'softdep loop post: from-etc-b\ninstall ext4 /bin/true\nblacklist ext4-btf\n',
        '/run/modprobe.d/c.conf': 'install ext4 \\\n  /bin/false\n',
        '/usr/lib/modprobe.d/m.conf': 'softdep x post: y\n',
        [`${M}/modules.softdep`]: 'softdep ext4 pre: crypto-crc32c\n',
      },
      { '/etc/modprobe.d/m.conf': '/dev/null' },
    );
    const cfg = readModprobeConfig(root, M);
    expect(cfg.files).toEqual(['/usr/lib/modprobe.d/a.conf', '/etc/modprobe.d/b.conf', '/run/modprobe.d/c.conf', `${M}/modules.softdep`]);
    expect(cfg.masked).toEqual(['/etc/modprobe.d/m.conf']);
    expect(softdepFor(cfg, 'loop')?.post).toEqual(['from-usr-lib']);
    expect(installFor(cfg, 'ext4')?.command).toBe('/bin/true');
    expect(cfg.install[1]).toMatchObject({ command: '/bin/false', at: { file: '/run/modprobe.d/c.conf', line: 1 } });
    expect(blacklisted(cfg, 'ext4_btf')).toEqual({ file: '/etc/modprobe.d/b.conf', line: 3 });
    expect(blacklisted(cfg, 'loop_btf', { line: '', params: [{ name: 'modprobe.blacklist', value: 'x,loop_btf' }], source: { kind: 'cmdline', file: '/proc/cmdline' } })).toEqual({ file: '/proc/cmdline', line: 0 });
    expect(softdepFor(cfg, 'ext4')?.pre).toEqual(['crypto-crc32c']);
  });
});

describe('first matching entry (kmod): literal names indexed, globs scanned in order', () => {
  it('a glob before a literal wins, a literal before a glob wins, install the same', () => {
    const root = memTree({
      '/etc/modprobe.d/a.conf': 'softdep loo* pre: glob-first\nsoftdep loop pre: literal-second\nsoftdep ext4 pre: literal-first\nsoftdep ext? pre: glob-second\ninstall snd_* /bin/a\ninstall snd_hda /bin/b\n',
    });
    const cfg = readModprobeConfig(root);
    expect(softdepFor(cfg, 'loop')?.pre).toEqual(['glob-first']);
    expect(softdepFor(cfg, 'ext4')?.pre).toEqual(['literal-first']);
    expect(softdepFor(cfg, 'ext2')?.pre).toEqual(['glob-second']);
    expect(softdepFor(cfg, 'xfs')).toBeUndefined();
    expect(installFor(cfg, 'snd-hda')?.command).toBe('/bin/a');
    // a filtered copy is its own list
    cfg.softdeps = cfg.softdeps.filter((x) => x.module !== 'loo*');
    expect(softdepFor(cfg, 'loop')?.pre).toEqual(['literal-second']);
  });
});

describe('modprobe-config rendering', () => {
  it('softdep per selected module with a companion, merged with the softdep it replaces, sorted; vmlinux-btf via modules-load.d', () => {
    const root = memTree(base);
    const r = renderConfig(root, readSettings(root), readModulesDir(root));
    expect(r.modprobe.split('\n').filter((l) => l.startsWith('softdep'))).toEqual(['softdep ext4 pre: crypto-crc32c post: ext4-btf', 'softdep loop post: loop-btf']);
    expect(r.missing).toEqual(['crc32c_generic', 'jbd2']);
    expect(r.modulesLoad.trim().split('\n').pop()).toBe('vmlinux-btf');
  });
  it('is idempotent and writes atomically only on change; --check semantics', () => {
    const root = memTree(base);
    const r = renderConfig(root, readSettings(root), readModulesDir(root));
    expect(upToDate(root, '/run/modprobe.d/kbtf.conf', r.modprobe)).toBe(false);
    expect(writeIfChanged(root, '/run/modprobe.d/kbtf.conf', r.modprobe)).toBe('written');
    const again = renderConfig(root, readSettings(root), readModulesDir(root));
    expect(again.modprobe).toBe(r.modprobe);
    expect(writeIfChanged(root, '/run/modprobe.d/kbtf.conf', again.modprobe)).toBe('unchanged');
    expect(root.list('/run/modprobe.d')).toEqual(['kbtf.conf']);
  });
  it('excludes and mode off', () => {
    const root = memTree({ ...base, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nexclude: [loop]\nvmlinux: false\n' });
    const r = renderConfig(root, readSettings(root), readModulesDir(root));
    expect(r.softdeps.map((s) => s.module)).toEqual(['ext4']);
    expect(r.modulesLoad).not.toMatch(/^vmlinux-btf$/m);
    const off = renderConfig(root, readSettings(root, { cmdline: 'btf_companions=off' }), readModulesDir(root));
    expect(off.softdeps).toEqual([]);
  });
});

describe('sync', () => {
  it('loads missing companions of loaded modules once, reports the rest', async () => {
    const live = memTree({ ...base, '/proc/modules': 'ext4 1 0 - Live 0x0\nloop 1 0 - Live 0x0\njbd2 1 1 ext4, Live 0x0\nloop_btf 1 0 - Live 0x0\n', '/sys/kernel/btf/ext4_btf': 'x', '/sys/kernel/btf/vmlinux_btf': '' }, {}, '/');
    const calls: string[][] = [];
    const run: Runner = async (p, a) => (calls.push([p, ...a]), { code: 0, stdout: '', stderr: '' });
    const mods = readModulesDir(live, K);
    const rep = await syncCompanions(live, readSettings(live, { cmdline: '' }), mods, run);
    expect(calls).toEqual([['modprobe', '--', 'vmlinux-btf'], ['modprobe', '--', 'ext4-btf']]);
    expect(Object.fromEntries(rep.actions.map((a) => [a.module, a.status]))).toEqual({ vmlinux: 'loaded', ext4: 'loaded', jbd2: 'no-companion', loop: 'already-loaded' });
    const dry = await syncCompanions(live, readSettings(live, { cmdline: '' }), mods, run, { dryRun: true });
    expect(dry.actions.find((a) => a.module === 'ext4')?.status).toBe('would-load');
    // a dry run asks modprobe -n -v (changes nothing) and reports its plan
    expect(calls.slice(2)).toEqual([['modprobe', '-n', '-v', '--', 'vmlinux-btf'], ['modprobe', '-n', '-v', '--', 'ext4-btf']]);
    const failing: Runner = async (_p, a) => (a.includes('ext4-btf') ? { code: 1, stdout: '', stderr: "modprobe: FATAL: Module ext4-btf not found\n" } : { code: 0, stdout: 'insmod /x.ko \n', stderr: '' });
    const dry2 = await syncCompanions(live, readSettings(live, { cmdline: '' }), mods, failing, { dryRun: true, modprobeArgs: ['-d', '/r'] });
    expect(dry2.actions.filter((a) => a.status !== 'no-companion' && a.status !== 'already-loaded').map((a) => [a.module, a.status, a.plan ?? a.message])).toEqual([
      ['vmlinux', 'would-load', ['insmod /x.ko']],
      ['ext4', 'failed', 'modprobe: FATAL: Module ext4-btf not found'],
    ]);
    expect(dry2.failed).toBe(1);
  });
  it('a companion whose BTF the kernel rejected is a failure', async () => {
    const live = memTree({ ...base, '/proc/modules': 'loop 1 0 - Live 0x0\n', '/sys/kernel/btf/vmlinux': 'x' }, {}, '/');
    const run: Runner = async () => ({ code: 0, stdout: '', stderr: '' });
    const rep = await syncCompanions(live, readSettings(live, { cmdline: 'btf_companions=always' }), readModulesDir(live, K), run);
    expect(rep.actions.find((a) => a.module === 'loop')?.status).toBe('no-btf');
    expect(rep.failed).toBe(2);
  });
});

/** Findings that do not depend on companion file contents (those are in test/policy). */
function codes(files: Record<string, string>, links: Record<string, string> = {}, opts = {}, exec: string[] = []) {
  const r = checkRoot(memTree(files, links, '/tree', exec), opts);
  return { r, codes: r.findings.filter((f) => !['companion-unreadable', 'btf-unchecked'].includes(f.code)).map((f) => `${f.severity}:${f.code}:${f.module ?? ''}`) };
}
/** What kbtf modprobe-config renders for `base` in mode always: every companion has its softdep. */
const rendered = 'softdep ext4 pre: crypto-crc32c post: ext4-btf\nsoftdep loop post: loop-btf\n';
const UNIT = '/usr/lib/systemd/system/kbtf-modprobe-config.service';
/** The unit's sections as tools/systemd ships them (what check reads: ExecStart, WantedBy). */
const UNIT_TEXT = '[Unit]\nDefaultDependencies=no\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/kbtf modprobe-config --output /run/modprobe.d/kbtf.conf --modules-load /run/modules-load.d/kbtf.conf\n\n[Install]\nWantedBy=sysinit.target\n';
const kdumpOk = { '/etc/default/kdump-tools': 'USE_KDUMP=1\n', '/etc/kernel/cmdline': 'root=/dev/sda crashkernel=256M\n' };

describe('kbtf check findings', () => {
  it('clean tree: modules-load.d + deps + softdeps, config and kdump in place', () => {
    const files = { ...base, ...kdumpOk, '/etc/modules-load.d/x.conf': 'ext4\n', '/etc/modprobe.d/kbtf.conf': rendered, '/etc/modules-load.d/kbtf.conf': 'vmlinux-btf\n' };
    const { r, codes: c } = codes(files);
    expect(r.modules.map((m) => m.name)).toEqual(['vmlinux_btf', 'ext4', 'jbd2', 'crc32c_generic']);
    expect(c).toEqual(['warning:companion-missing:crc32c_generic', 'warning:companion-missing:jbd2']);
    expect(r.missingCompanions).toEqual(['crc32c_generic', 'jbd2']);
  });
  it('required-missing is an error; module-unknown warns', () => {
    const { codes: c } = codes({ ...base, ...kdumpOk, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nrequired: [jbd2]\nvmlinux: false\n', '/etc/modules': 'jbd2\nnosuch\n', '/etc/modprobe.d/kbtf.conf': rendered });
    expect(c).toEqual(['error:required-missing:jbd2', 'warning:module-unknown:nosuch']);
  });
  it('softdep-missing without config or unit; only the installed, enabled, unmasked unit counts', () => {
    const files = { ...base, ...kdumpOk, '/etc/modules': 'loop\n', '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nvmlinux: false\n' };
    const none = ['error:companions-not-wired:', 'error:softdep-missing:loop'];
    expect(codes(files).codes).toEqual(none);
    const unit = { ...files, [UNIT]: UNIT_TEXT, '/usr/bin/kbtf': '' };
    const enabled = { '/etc/systemd/system/sysinit.target.wants/kbtf-modprobe-config.service': UNIT };
    // installed, not enabled
    const notEnabled = codes(unit);
    expect(notEnabled.codes).toEqual(none);
    expect(notEnabled.r.findings.find((f) => f.code === 'companions-not-wired')?.message).toMatch(/installed but not enabled \(no \/etc\/systemd\/system\/sysinit\.target\.wants\/kbtf-modprobe-config\.service\)/);
    expect(notEnabled.r.findings.find((f) => f.code === 'companions-not-wired')?.hint).toMatch(/systemctl --root ROOT enable kbtf-modprobe-config\.service.*\/etc\/modprobe\.d\/kbtf\.conf.*\/usr\/share\/initramfs-tools\/hooks\/kbtf/);
    // installed and enabled (the link as deb-systemd-helper makes it, or a relative one)
    expect(codes(unit, enabled).codes).toEqual([]);
    expect(codes(unit, { '/etc/systemd/system/sysinit.target.wants/kbtf-modprobe-config.service': '../../../../usr/lib/systemd/system/kbtf-modprobe-config.service' }).codes).toEqual([]);
    expect(codes(unit, enabled).r.wiring.unit).toMatchObject({ file: UNIT, active: true, enabledBy: ['/etc/systemd/system/sysinit.target.wants/kbtf-modprobe-config.service'], runsSync: false });
    // masked, enabled for a target the boot does not reach, or its program missing: not wiring
    const masked = codes(unit, { ...enabled, '/etc/systemd/system/kbtf-modprobe-config.service': '/dev/null' });
    expect(masked.codes).toEqual(none);
    expect(masked.r.findings.find((f) => f.code === 'companions-not-wired')?.message).toMatch(/masked \(\/etc\/systemd\/system\/kbtf-modprobe-config\.service → \/dev\/null\)/);
    expect(codes(unit, { '/etc/systemd/system/rescue.target.wants/kbtf-modprobe-config.service': UNIT }).codes).toEqual(none);
    const noProgram = codes({ ...files, [UNIT]: UNIT_TEXT }, enabled);
    expect(noProgram.codes).toEqual(none);
    expect(noProgram.r.findings.find((f) => f.code === 'companions-not-wired')?.message).toMatch(/runs \/usr\/bin\/kbtf, which is not in the tree/);
    // a tree's /run/modprobe.d/kbtf.conf is not there at boot
    expect(codes({ ...files, '/run/modprobe.d/kbtf.conf': rendered }).codes).toEqual(none);
  });
  it('required modules are checked without a boot list; nothing loading them is an error', () => {
    const files = { ...base, ...kdumpOk, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nrequired: [ext4, nosuch]\nvmlinux: false\n' };
    const { r, codes: c } = codes(files);
    expect(c).toEqual(['error:companions-not-wired:', 'error:softdep-missing:ext4', 'warning:companion-missing:crc32c_generic', 'warning:companion-missing:jbd2', 'warning:module-unknown:nosuch']);
    expect(r.modules.map((m) => [m.name, m.why])).toEqual([['ext4', 'required (policy (/etc/kbtf/policy.yaml:3))'], ['jbd2', 'dependency of ext4'], ['crc32c_generic', 'softdep of ext4']]);
    expect(r.wiring).toMatchObject({ selected: 2, notWired: ['ext4', 'loop'], softdepFiles: [] });
    expect(codes({ ...files, '/etc/modprobe.d/kbtf.conf': rendered }).codes).toEqual(['warning:companion-missing:crc32c_generic', 'warning:companion-missing:jbd2', 'warning:module-unknown:nosuch']);
    // on-demand: only the required module is selected
    const od = codes({ ...files, '/etc/kbtf/policy.yaml': 'version: 1\nrequired: [ext4]\nvmlinux: false\n', '/etc/modprobe.d/kbtf.conf': 'softdep ext4 pre: crypto-crc32c post: ext4-btf\n' });
    expect(od.codes).toEqual([]);
    expect(od.r.wiring).toMatchObject({ selected: 1, notWired: [], softdepFiles: ['/etc/modprobe.d/kbtf.conf'] });
  });
  it('initramfs modules: the hook, a copied softdep, or kbtf sync after boot', () => {
    const itools = { '/usr/share/initramfs-tools/hook-functions': '', '/etc/initramfs-tools/initramfs.conf': 'MODULES=most\n', '/etc/fstab': '# <fs> <mp>\nUUID=x / ext4 errors=remount-ro 0 1\n', '/usr/bin/kbtf': '' };
    const files = { ...base, ...kdumpOk, ...itools, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nvmlinux: false\n', [UNIT]: UNIT_TEXT };
    const enabled = { '/etc/systemd/system/sysinit.target.wants/kbtf-modprobe-config.service': UNIT };
    // the unit alone renders /run/modprobe.d/kbtf.conf after ext4 (the root file system) is loaded
    const late = codes(files, enabled);
    expect(late.codes).toEqual(['error:initramfs-hook-missing:ext4', 'warning:companion-missing:crc32c_generic', 'warning:companion-missing:jbd2']);
    expect(late.r.findings.find((f) => f.code === 'initramfs-hook-missing')?.message).toMatch(/^ext4 loads from the initramfs \(root file system ext4 \(\/etc\/fstab:2, initramfs MODULES=most\)\).*does not run kbtf sync/);
    expect(late.r.wiring.initramfs?.loaded.map((m) => m.name)).toEqual(['ext4', 'jbd2', 'crc32c_generic']);
    // ... unless it runs kbtf sync: a warning (the companion loads when the unit runs)
    const sync = codes({ ...files, [UNIT]: UNIT_TEXT.replace('[Install]', 'ExecStartPost=/usr/bin/kbtf sync\n\n[Install]') }, enabled);
    expect(sync.codes).toContain('warning:initramfs-hook-missing:ext4');
    expect(sync.codes.filter((x) => x.startsWith('error'))).toEqual([]);
    // the hook (executable), or a softdep in /etc/modprobe.d (mkinitramfs copies it)
    const errors = (x: { codes: string[] }) => x.codes.filter((c) => c.startsWith('error'));
    expect(errors(codes({ ...files, '/usr/share/initramfs-tools/hooks/kbtf': '#!/bin/sh\n' }, enabled, {}, ['/usr/share/initramfs-tools/hooks/kbtf']))).toEqual([]);
    expect(codes({ ...files, '/usr/share/initramfs-tools/hooks/kbtf': '#!/bin/sh\n' }, enabled).codes).toContain('error:initramfs-hook-missing:ext4');
    expect(errors(codes({ ...files, '/etc/modprobe.d/kbtf.conf': rendered }))).toEqual([]);
    // on-demand, required ext4 (the root file system) and only the hook: wired, no softdep needed in the root
    const od = { ...base, ...kdumpOk, ...itools, '/etc/kbtf/policy.yaml': 'version: 1\nrequired: [ext4]\nvmlinux: false\n', '/usr/share/initramfs-tools/hooks/kbtf': '#!/bin/sh\n' };
    expect(errors(codes(od, {}, {}, ['/usr/share/initramfs-tools/hooks/kbtf']))).toEqual([]);
    expect(errors(codes(od))).toEqual(['error:companions-not-wired:', 'error:initramfs-hook-missing:ext4', 'error:softdep-missing:ext4']);
    // the initramfs' module list; MODULES=list does not load the root file system's module by itself
    const listed = codes({ ...files, '/etc/initramfs-tools/initramfs.conf': 'MODULES=most\n', '/etc/initramfs-tools/conf.d/x': 'MODULES=list\n', '/etc/initramfs-tools/modules': '# list\nloop\n' }, enabled);
    expect(listed.codes.filter((x) => x.includes('initramfs'))).toEqual(['error:initramfs-hook-missing:loop']);
    expect(listed.r.wiring.initramfs).toMatchObject({ modules: 'list', modulesAt: { file: '/etc/initramfs-tools/conf.d/x', line: 1 } });
    // a kbtf hook install line is copied into the image, kbtf is not: loop would not load there
    const inst = codes({ ...files, '/etc/initramfs-tools/modules': 'loop\n', '/etc/initramfs-tools/conf.d/x': 'MODULES=list\n', '/etc/modprobe.d/x.conf': 'install loop /usr/bin/kbtf hook loop $CMDLINE_OPTS\n', '/etc/modprobe.d/kbtf.conf': 'softdep ext4 pre: crypto-crc32c post: ext4-btf\n' }, enabled);
    expect(inst.codes.filter((x) => x.startsWith('error'))).toEqual(['error:initramfs-hook-missing:loop', 'error:install-in-initramfs:loop']);
    expect(inst.r.findings.find((f) => f.code === 'install-in-initramfs')).toMatchObject({ file: '/etc/modprobe.d/x.conf', line: 1 });
    expect(codes({ ...files, '/etc/initramfs-tools/modules': 'loop\n', '/etc/initramfs-tools/conf.d/x': 'MODULES=list\n', '/usr/local/lib/modprobe.d/x.conf': 'install loop /usr/bin/kbtf hook loop $CMDLINE_OPTS\n' }, enabled).codes.filter((x) => x.includes('install-in'))).toEqual([]);
  });
  it('softdep-shadowed: an earlier file\'s softdep for the module wins in kmod', () => {
    const { r, codes: c } = codes({ ...base, ...kdumpOk, '/etc/modules': 'loop\n', '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nvmlinux: false\n', '/etc/modprobe.d/00-loop.conf': 'softdep loop pre: crc32c_generic\n', '/etc/modprobe.d/kbtf.conf': 'softdep loop post: loop-btf\n' });
    expect(c).toContain('error:softdep-shadowed:loop');
    expect(r.findings.find((f) => f.code === 'softdep-shadowed')).toMatchObject({ file: '/etc/modprobe.d/00-loop.conf', line: 1 });
  });
  it('install lines: ignored for the parent (warning), fatal for the companion; blacklist of a companion warns', () => {
    const { codes: c } = codes({ ...base, ...kdumpOk, '/etc/modules': 'loop\n', '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nvmlinux: false\n', '/etc/modprobe.d/kbtf.conf': rendered, '/etc/modprobe.d/x.conf': 'install loop /sbin/mything\ninstall loop_btf /bin/false\nblacklist loop-btf\n' });
    expect(c).toEqual(['error:companion-install:loop', 'warning:companion-blacklisted:loop', 'warning:install-ignored:loop']);
  });
  it('a kbtf hook install line counts as a load path when the tree has the program', () => {
    const files = { ...base, ...kdumpOk, '/etc/modules': 'loop\n', '/etc/kbtf/policy.yaml': 'version: 1\ninclude: [loop]\nvmlinux: false\n', '/etc/modprobe.d/x.conf': 'install loop /usr/bin/kbtf hook loop $CMDLINE_OPTS\n' };
    expect(codes({ ...files, '/usr/bin/kbtf': '' }).codes).toEqual([]);
    const { r, codes: c } = codes(files);
    expect(c).toEqual(['error:companions-not-wired:', 'error:softdep-missing:loop']);
    expect(r.findings.find((f) => f.code === 'softdep-missing')?.message).toMatch(/its install line runs \/usr\/bin\/kbtf, which is not in the tree/);
  });
  it('vmlinux-btf: not loaded at boot, or missing', () => {
    const files = { ...base, ...kdumpOk, '/etc/modprobe.d/kbtf.conf': rendered };
    expect(codes(files).codes).toEqual(['error:vmlinux-not-loaded:vmlinux']);
    expect(codes({ ...files, [`${M}/modules.dep`]: 'kernel/drivers/block/loop.ko:\n' }).codes).toEqual(['warning:companion-missing:vmlinux']);
    // a boot list given with --list (an initramfs' module list) that names vmlinux-btf loads it; --all does not count
    const listed = { ...files, '/etc/initramfs-tools/modules': 'vmlinux-btf\n' };
    expect(codes(listed, {}, { lists: ['/etc/initramfs-tools/modules'] }).codes).toEqual([]);
    expect(codes(listed, {}, { all: true }).codes).toContain('error:vmlinux-not-loaded:vmlinux');
  });
  it('kdump: crashkernel, cmdline, kdump-tools, USE_KDUMP, initramfs hook', () => {
    const files = { ...base, '/etc/modprobe.d/kbtf.conf': rendered, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nvmlinux: false\n' };
    expect(codes(files).codes).toEqual(['error:cmdline-missing:', 'error:kdump-missing:']);
    expect(codes({ ...files, '/etc/default/grub': 'GRUB_CMDLINE_LINUX="quiet"\n', '/etc/default/kdump-tools': 'USE_KDUMP=0\n' }).codes).toEqual(['error:crashkernel-missing:', 'error:kdump-disabled:']);
    // initramfs-tools without the hook: a warning, unless a softdep file mkinitramfs copies (/etc, /lib) is there
    expect(codes({ ...files, ...kdumpOk, '/usr/share/initramfs-tools/hook-functions': '' }).codes).toEqual([]);
    const { '/etc/modprobe.d/kbtf.conf': _etc, ...noEtc } = files;
    expect(codes({ ...noEtc, ...kdumpOk, '/usr/lib/modprobe.d/kbtf.conf': rendered, '/usr/share/initramfs-tools/hook-functions': '' }).codes).toEqual(['warning:initramfs-hook-missing:']);
    expect(codes({ ...files, ...kdumpOk, '/etc/kdump.conf': 'path /var/crash\n' }).codes).toEqual([]);
    // on-demand: kdump problems are warnings, crashkernel is not required
    expect(codes({ ...files, '/etc/kbtf/policy.yaml': 'version: 1\n' }).codes).toEqual(['warning:kdump-missing:']);
  });
  it('invalid settings are findings with file and line', () => {
    const { r } = codes({ ...base, ...kdumpOk, '/etc/modprobe.d/kbtf.conf': rendered, '/etc/sysctl.d/k.conf': '\nkernel.btf_companions = sometimes\n' });
    expect(r.findings.find((f) => f.code === 'setting-invalid')).toMatchObject({ severity: 'error', file: '/etc/sysctl.d/k.conf', line: 2 });
  });
  it('--all checks every module of modules.dep', () => {
    const { r } = codes({ ...base, ...kdumpOk }, {}, { all: true });
    expect(r.modules.map((m) => m.name).sort()).toEqual(['crc32c_generic', 'ext4', 'ext4_btf', 'jbd2', 'loop', 'loop_btf', 'vmlinux_btf']);
  });
});
