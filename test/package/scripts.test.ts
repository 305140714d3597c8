// The scripts the package ships, run as their callers run them: the initramfs-tools hook under
// trixie's real hook-functions (a main initramfs build, and kdump-tools' capture initramfs build,
// which must get nothing), and kbtf-verify-crashes on a crash directory laid out as kdump-tools
// saves it.
import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { labPath, repoRoot } from '../lab.js';
import { buildDeb, extract, extractAll, run, trixieDebs, underTree } from './helpers.js';

const KVER = '6.12.57+deb13-amd64';
let x: string;
let trixie: string;

beforeAll(() => {
  x = extract(buildDeb().deb);
  trixie = extractAll(trixieDebs('initramfs', ['initramfs-tools-core', 'kdump-tools']));
});

function write(root: string, files: Record<string, string>): string {
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), t);
  }
  return root;
}

/** A shell wrapper standing in for /usr/bin/kbtf: the packaged CLI with EXTRA arguments after the command; logs calls. */
function kbtfWrapper(extra: string[] = []): { path: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-wrap-'));
  const path = join(dir, 'kbtf');
  const log = join(dir, 'calls');
  writeFileSync(path, `#!/bin/sh\necho "$*" >> ${log}\ncmd=$1; shift\nKBTF_COMPILE_CACHE=0 exec ${join(x, 'usr/bin/kbtf')} "$cmd" ${extra.map((a) => `'${a}'`).join(' ')} "$@"\n`);
  chmodSync(path, 0o755);
  return { path, log };
}

describe('initramfs-tools hook (trixie hook-functions)', () => {
  /** The configured system: grub says always, the policy excludes snd; a kernel with companions. */
  function system(policy = 'version: 1\nmode: on-demand\nexclude: ["snd*"]\n'): string {
    const m = `lib/modules/${KVER}`;
    return write(mkdtempSync(join(tmpdir(), 'kbtf-sys-')), {
      [`${m}/modules.dep`]: ['kernel/fs/ext4/ext4.ko:', 'kernel/drivers/block/loop.ko:', 'kernel/sound/core/snd.ko:', 'kernel/net/dummy.ko:', 'updates/kbtf/ext4-btf.ko:', 'updates/kbtf/loop-btf.ko:', 'updates/kbtf/snd-btf.ko:', 'updates/kbtf/dummy-btf.ko:', 'updates/kbtf/vmlinux-btf.ko:', ''].join('\n'),
      'etc/default/grub': 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0 btf_companions=always"\n',
      'etc/kbtf/policy.yaml': policy,
    });
  }
  /** DESTDIR as mkinitramfs has it when hooks run: ext4 and snd copied, loop queued by an earlier hook. */
  function build(sys: string, confdir: string, o: { files?: Record<string, string>; queue?: string } = {}) {
    const dest = write(mkdtempSync(join(tmpdir(), 'kbtf-dest-')), {
      [`lib/modules/${KVER}/kernel/fs/ext4/ext4.ko`]: '',
      [`lib/modules/${KVER}/kernel/sound/core/snd.ko`]: '',
      ...o.files,
    });
    const queue = join(mkdtempSync(join(tmpdir(), 'kbtf-q-')), 'modules-to-add');
    writeFileSync(queue, o.queue ?? 'loop\n');
    const k = kbtfWrapper(['--root', sys]);
    const r = underTree(trixie, ['sh', join(x, 'usr/share/initramfs-tools/hooks/kbtf')], { DESTDIR: dest, version: KVER, CONFDIR: confdir, verbose: 'n', __MODULES_TO_ADD: queue, KBTF: k.path });
    return { ...r, dest, queued: readFileSync(queue, 'utf8').trim().split('\n').sort(), calls: existsSync(k.log) ? readFileSync(k.log, 'utf8') : '' };
  }

  it('main initramfs: softdeps of the configured boot, the companions of its modules, vmlinux-btf early', () => {
    const r = build(system(), '/etc/initramfs-tools');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.calls).toMatch(new RegExp(`^modprobe-config --configured --kernel ${KVER.replace(/[.+]/g, '\\$&')} --output /\\S+/kbtf\\.conf --modules-load /\\S+\n$`));
    const conf = readFileSync(join(r.dest, 'etc/modprobe.d/kbtf.conf'), 'utf8');
    expect(conf).toMatch(/^# mode always, from cmdline \(\/etc\/default\/grub/m);
    expect(conf.split('\n').filter((l) => l.startsWith('softdep'))).toEqual(['softdep dummy post: dummy-btf', 'softdep ext4 post: ext4-btf', 'softdep loop post: loop-btf']);
    expect(r.queued).toEqual(['ext4-btf', 'loop', 'loop-btf', 'vmlinux-btf']);
    expect(readFileSync(join(r.dest, 'conf/modules'), 'utf8')).toBe('vmlinux-btf\n');
    expect(readdirSync(r.dest).sort()).toEqual(['conf', 'etc', 'lib']);
  });
  it("kdump-tools' capture initramfs: nothing added", () => {
    // How trixie's kdump-tools builds it (its /etc/kernel/postinst.d/kdump-tools): a copy of
    // /etc/initramfs-tools in /var/lib/kdump/initramfs-tools, KDUMP=y appended, mkinitramfs -d.
    const post = readFileSync(join(trixie, 'etc/kernel/postinst.d/kdump-tools'), 'utf8');
    expect(post).toMatch(/^kdumpdir="\/var\/lib\/kdump"$/m);
    expect(post).toMatch(/^initramfsdir="\$kdumpdir\/initramfs-tools"$/m);
    expect(post).toMatch(/echo "KDUMP=y" >> \$initramfsdir\/initramfs\.conf/);
    expect(post).toMatch(/INITRD_CMDLINE=" -k -d \$\{initramfsdir\} /);
    // What the capture build holds when the hooks run (trixie copies MODULES=dep modules first, and
    // dracut-install follows the live softdeps): ext4 with its companion, and a kbtf.conf an admin
    // rendered into /etc/modprobe.d. The hook runs kbtf not at all and takes both out again.
    const arrived = {
      [`lib/modules/${KVER}/modules.builtin`]: 'kernel/drivers/input/serio/libps2.ko\n',
      [`lib/modules/${KVER}/updates/kbtf/ext4-btf.ko`]: 'x',
      'etc/modprobe.d/kbtf.conf': 'softdep ext4 post: ext4-btf\n',
      'etc/modprobe.d/other.conf': 'options loop max_loop=8\n',
    };
    const r = build(system(), '/var/lib/kdump/initramfs-tools', { files: arrived, queue: '' });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '', calls: '' });
    // In its place an empty directory: mkinitramfs's last hidden_dep_add_modules would have
    // dracut-install copy it back (softdeps of a module already there), and it copies nothing onto
    // a path that exists.
    const placeholder = join(r.dest, `lib/modules/${KVER}/updates/kbtf/ext4-btf.ko`);
    expect(statSync(placeholder).isDirectory()).toBe(true);
    expect(readdirSync(placeholder)).toEqual([]);
    expect(existsSync(join(r.dest, 'etc/modprobe.d/kbtf.conf'))).toBe(false);
    expect(existsSync(join(r.dest, 'etc/modprobe.d/other.conf'))).toBe(true);
    expect(existsSync(join(r.dest, `lib/modules/${KVER}/kernel/fs/ext4/ext4.ko`))).toBe(true);
    expect(existsSync(join(r.dest, 'conf/modules'))).toBe(false);
    // the same build from another CONFDIR copy: keyed on its KDUMP=y
    const conf = write(mkdtempSync(join(tmpdir(), 'kbtf-conf-')), { 'initramfs.conf': 'MODULES=dep\nKDUMP=y\n' });
    const r2 = build(system(), conf, { files: arrived, queue: '' });
    expect(r2).toMatchObject({ code: 0, calls: '' });
    expect(statSync(join(r2.dest, `lib/modules/${KVER}/updates/kbtf/ext4-btf.ko`)).isDirectory()).toBe(true);
  });

  it('runs after every other hook of its directory (their queued modules are known to it)', () => {
    const hooks = mkdtempSync(join(tmpdir(), 'kbtf-hooks-'));
    for (const n of ['fsck', 'kbtf', 'udev', 'zz-late']) writeFileSync(join(hooks, n), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(hooks, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });
    copyFileSync(join(x, 'usr/share/initramfs-tools/hooks/kbtf'), join(hooks, 'kbtf'));
    const r = run('sh', [join(hooks, 'kbtf'), 'prereqs']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['fsck', 'udev', 'zz-late']);
  });
  it('a settings error fails the initramfs build with kbtf\'s message', () => {
    const r = build(system('version: 1\nmode: sometimes\n'), '/etc/initramfs-tools');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/policy\.yaml:2: mode:/);
    expect(r.stderr).toMatch(/^E: kbtf: cannot render the companion configuration for /m);
    expect(r.queued).toEqual(['loop']);
  });
});

describe('kbtf-verify-crashes', () => {
  it('verifies each new dump once, records an unreadable one once; the next boot does nothing', () => {
    const crash = mkdtempSync(join(tmpdir(), 'kbtf-crash-'));
    const good = join(crash, '202612012100/dump.202612012100');
    mkdirSync(dirname(good));
    copyFileSync(join(repoRoot, 'test/fixtures/6.1-128m/dump.kdump'), good);
    write(crash, {
      '202612012100/dmesg.202612012100': 'dmesg\n',
      '202612012101/dump.202612012101': 'not a dump\n'.repeat(1000),
      '202612012102/dump-incomplete': 'still being written\n',
    });
    const k = kbtfWrapper();
    const script = join(x, 'usr/libexec/kbtf/kbtf-verify-crashes');
    const first = run(script, [crash], { ...process.env, KBTF: k.path });
    expect(first.code).toBe(2);
    expect(readFileSync(k.log, 'utf8').trim().split('\n').sort()).toEqual([
      `verify --report ${crash}/202612012100/kbtf-verify.json -- ${good}`,
      `verify --report ${crash}/202612012101/kbtf-verify.json -- ${crash}/202612012101/dump.202612012101`,
    ]);
    expect(readdirSync(join(crash, '202612012100')).sort()).toEqual(['dmesg.202612012100', 'dump.202612012100', 'kbtf-verify.json', 'kbtf-verify.txt']);
    expect(JSON.parse(readFileSync(join(crash, '202612012100/kbtf-verify.json'), 'utf8'))).toMatchObject({ schema: 'kbtf-verify/1', verdict: 'complete' });
    expect(readFileSync(join(crash, '202612012100/kbtf-verify.txt'), 'utf8')).toMatch(/^self-contained: yes\npolicy: complete$/m);
    expect(readdirSync(join(crash, '202612012101')).sort()).toEqual(['dump.202612012101', 'kbtf-verify.failed']);
    expect(readFileSync(join(crash, '202612012101/kbtf-verify.failed'), 'utf8')).toMatch(/exit 2\nkbtf: [A-Z_]+: /);
    expect(readdirSync(join(crash, '202612012102'))).toEqual(['dump-incomplete']);
    expect(first.stderr).toContain(`${good}: self-contained; report ${crash}/202612012100/kbtf-verify.json`);
    expect(first.stderr).toContain(`recorded in ${crash}/202612012101/kbtf-verify.failed`);
    expect(first.stderr).not.toContain('202612012101/kbtf-verify.json');

    const mtime = statSync(join(crash, '202612012100/kbtf-verify.json')).mtimeMs;
    const second = run(script, [crash], { ...process.env, KBTF: k.path });
    expect(second).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(k.log, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(statSync(join(crash, '202612012100/kbtf-verify.json')).mtimeMs).toBe(mtime);
  });
  it('a dump that is not self-contained (and incomplete by its policy) is a report, not a failure (exit 0)', () => {
    const crash = mkdtempSync(join(tmpdir(), 'kbtf-crash-'));
    const dump = join(crash, '202612012200/dump.202612012200');
    mkdirSync(dirname(dump));
    symlinkSync(labPath('6.1-4level', 'mkd-zstd.kdump'), dump);
    // a lab dump without companions, judged as if the machine had btf_companions=always
    const k = kbtfWrapper(['--cmdline', 'btf_companions=always']);
    const r = run(join(x, 'usr/libexec/kbtf/kbtf-verify-crashes'), [crash], { ...process.env, KBTF: k.path });
    expect(JSON.parse(readFileSync(join(crash, '202612012200/kbtf-verify.json'), 'utf8'))).toMatchObject({ verdict: 'incomplete' });
    expect(readFileSync(join(crash, '202612012200/kbtf-verify.txt'), 'utf8')).toMatch(/companion vmlinux_btf missing/);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`kbtf: ${dump}: not self-contained; report ${crash}/202612012200/kbtf-verify.json\n`);
  });
});
