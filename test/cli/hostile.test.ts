/**
 * Every command on a corpus of hostile inputs (issue 19): deep BTF, decompression bombs, special
 * files where files are expected, self-doubling GRUB defaults, YAML alias bombs, glob and
 * expression bombs. Whatever the input, a run must end by itself with exit 0, 1 or 2, never with
 * `INTERNAL` or a stack trace, within 10 s of wall time and 1 GiB of peak memory (GNU time), and a
 * run that fails says so in one `kbtf: CODE: message` line. The limits kbtf enforces to get there
 * are listed in docs/limits.md.
 *
 * Runs the built CLI (apps/kbtf/bin/kbtf.js; CI builds before the tests) in its own process, the
 * way users run it, so that memory and time are those of the whole command.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nestedStructs, TestBtf, typedefChain } from '../../packages/btf/src/test-builder.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'apps/kbtf/bin/kbtf.js');
const fixture = join(root, 'test/fixtures/6.1-128m/dump.kdump');
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MAX_SECONDS = 10;
const MAX_MB = 1024;
// One argument may be at most 128 KiB (Linux MAX_ARG_STRLEN): the longest hostile arguments here are 100,000 characters.
const KVER = '6.1.0-99-amd64';

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  sec: number;
  mb: number;
}

/** One command in its own process under GNU time, killed after 3× the time limit. */
function kbtf(argv: string[], env: Record<string, string> = {}): Run {
  const timeFile = join(tmp, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, process.execPath, bin, ...argv], {
    encoding: 'utf8',
    timeout: 3 * MAX_SECONDS * 1000,
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 28,
    env: { ...process.env, NO_COLOR: '1', KBTF_MODPROBE: '/bin/false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  let mb = 0;
  try {
    mb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop()) / 1024;
  } catch {
    /* killed before GNU time wrote it: the timeout assertion says why */
  }
  // GNU time reports a killed child on stderr ("Command terminated by signal 9"): keep it visible.
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', sec, mb };
}

function expectBounded(argv: string[], r: Run): void {
  const what = `kbtf ${argv.map((a) => (a.length > 60 ? `${a.slice(0, 40)}…(${a.length} chars)` : a)).join(' ')}`;
  expect(r.signal, `${what}: killed after ${r.sec.toFixed(1)} s`).toBeNull();
  expect([0, 1, 2], `${what}: exit ${r.code}\n${r.stderr.slice(0, 2000)}`).toContain(r.code);
  expect(r.stderr, what).not.toMatch(/INTERNAL|\n\s+at [\w.<]|RangeError|TypeError|ReferenceError|SyntaxError/);
  expect(r.sec, `${what}: ${r.sec.toFixed(2)} s`).toBeLessThanOrEqual(MAX_SECONDS);
  expect(r.mb, `${what}: ${r.mb.toFixed(0)} MB`).toBeLessThanOrEqual(MAX_MB);
  if (r.code === 2) {
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !/^Command exited with non-zero status/.test(l));
    expect(lines.pop(), `${what}: its last line of stderr`).toMatch(/^kbtf: [A-Z_]+: \S/);
  }
}

// ---- the corpus -------------------------------------------------------------------------------

/** A base BTF whose string section lacks its final NUL (header str_len shortened by one). */
function baseWithoutNul(): Uint8Array {
  const b = new TestBtf();
  b.int('unsigned int');
  const bytes = b.build();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = dv.getUint32(4, true);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  dv.setUint32(20, strLen - 1, true);
  return bytes.subarray(0, hdrLen + strOff + strLen - 1);
}

/** A .gz holding `mib` MiB of zeros: a few hundred KB on disk. */
async function gzipBomb(path: string, mib: number): Promise<void> {
  const gz = createGzip({ level: 9 });
  const done = once(gz.pipe(createWriteStream(path)), 'finish');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) if (!gz.write(chunk)) await once(gz, 'drain');
  gz.end();
  await done;
}

/** A root tree: kernel KVER with modules.dep, settings wanting companions, plus `extra` files. */
function tree(name: string, extra: Record<string, string> = {}): string {
  const dir = join(tmp, name);
  const mods = join(dir, 'lib/modules', KVER);
  mkdirSync(join(mods, 'kernel/fs/ext4'), { recursive: true });
  writeFileSync(join(mods, 'modules.dep'), 'kernel/fs/ext4/ext4.ko.gz:\n');
  for (const f of ['modules.alias', 'modules.softdep', 'modules.builtin', 'modules.order']) writeFileSync(join(mods, f), '');
  mkdirSync(join(dir, 'etc/modules-load.d'), { recursive: true });
  writeFileSync(join(dir, 'etc/modules-load.d/ext4.conf'), 'ext4\n');
  mkdirSync(join(dir, 'proc'), { recursive: true });
  writeFileSync(join(dir, 'proc/modules'), 'ext4 1 0 - Live 0x0000000000000000\n');
  for (const [p, text] of Object.entries(extra)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

const files: Record<string, string> = {};
const trees: Record<string, string> = {};

beforeAll(async () => {
  const put = (name: string, bytes: Uint8Array | string) => writeFileSync((files[name] = join(tmp, name)), bytes);
  put('deep-typedefs.btf', typedefChain(3000));
  put('nested-structs.btf', nestedStructs(3000));
  put('base-no-nul.btf', baseWithoutNul());
  const split = new TestBtf(2, 0);
  split.ptr(1);
  put('split.btf', split.build());
  put('empty', '');
  put('one-byte', 'x');
  // Deterministic garbage (an LCG): 1 MiB with an ELF magic, and 1 MiB with a kdump signature.
  let seed = 20261202;
  const junk = (n: number) => Uint8Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  const elf = junk(1 << 20);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  put('garbage.elf', elf);
  const kd = junk(1 << 20);
  kd.set(Buffer.from('KDUMP   '));
  put('garbage.kdump', kd);
  mkdirSync((files.dir = join(tmp, 'a-directory')));
  files.fifo = join(tmp, 'a-fifo');
  expect(spawnSync('mkfifo', [files.fifo]).status).toBe(0);
  files.zero = '/dev/zero';
  // A YAML policy with 101 aliases (the yaml package's own limit is 100).
  put('aliases.yaml', `mode: always\nanchors: &a [x]\nexclude: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`);
  put('glob-bomb.yaml', `mode: always\nexclude: ["${'*?'.repeat(30000)}"]\n`);

  // Root trees.
  trees.gzbomb = tree('gzbomb', { 'etc/kbtf/policy.yaml': 'mode: always\n' });
  await gzipBomb(join(trees.gzbomb, 'lib/modules', KVER, 'kernel/fs/ext4/ext4.ko.gz'), 256);
  const doubling = ['GRUB_CMDLINE_LINUX="btf_companions=always"', ...Array.from({ length: 30 }, () => 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX"')].join('\n');
  trees.grub = tree('grub', { 'etc/default/grub': `${doubling}\n` });
  trees.yaml = tree('yaml', { 'etc/kbtf/policy.yaml': readFileSync(files['aliases.yaml'], 'utf8') });
  trees.glob = tree('glob', { 'etc/kbtf/policy.yaml': readFileSync(files['glob-bomb.yaml'], 'utf8') });
  // Special files where configuration files are read: FIFOs (would block a plain read forever)
  // and a symlink to /dev/zero (in a tree it resolves to the tree's own dev/zero: a FIFO here).
  trees.special = tree('special');
  for (const p of ['etc/modprobe.d/fifo.conf', 'etc/sysctl.d/fifo.conf', 'etc/modules-load.d/fifo.conf', 'etc/kbtf/policy.yaml', 'etc/default/grub', 'dev/zero']) {
    mkdirSync(join(trees.special, p, '..'), { recursive: true });
    expect(spawnSync('mkfifo', [join(trees.special, p)]).status).toBe(0);
  }
  symlinkSync('/dev/zero', join(trees.special, 'etc/sysctl.d/zero.conf'));
  writeFileSync(join(trees.special, 'lib/modules', KVER, 'kernel/fs/ext4/ext4.ko.gz'), '');
  rmSync(join(trees.special, 'lib/modules', KVER, 'modules.order'));
  expect(spawnSync('mkfifo', [join(trees.special, 'lib/modules', KVER, 'modules.order')]).status).toBe(0);
}, 120_000);

const globBomb = `btf_companions=always btf_companions.exclude=${'*?'.repeat(30000)}`;
const deepExpr = [`${'('.repeat(30000)}jiffies_64${')'.repeat(30000)}`, `${'*'.repeat(10000)}jiffies_64`, `(struct module ${'*'.repeat(10000)})0`, `jiffies_64${'+1'.repeat(5000)}`, 'x'.repeat(100_000)];

/** The corpus: [label, argv (a function, since the inputs exist only after beforeAll)]. */
const cases: [string, () => string[]][] = [
  // Dump readers on what is not a dump.
  ...['info', 'symbols', 'modules', 'verify'].flatMap((cmd) =>
    ['zero', 'dir', 'fifo', 'empty', 'one-byte', 'garbage.elf', 'garbage.kdump'].map((f): [string, () => string[]] => [`${cmd} ${f}`, () => [cmd, files[f]]]),
  ),
  ...['zero', 'fifo', 'garbage.kdump'].map((f): [string, () => string[]] => [`print ${f}`, () => ['print', files[f], 'jiffies_64']]),
  ...['zero', 'fifo', 'garbage.elf'].map((f): [string, () => string[]] => [`read ${f}`, () => ['read', files[f], '--phys', '0', '16']]),
  // BTF commands on deep, broken and special BTF.
  ...['dump --format c', 'dump --format raw', 'dump --format json', 'validate', 'stats'].flatMap((sub) =>
    ['deep-typedefs.btf', 'nested-structs.btf', 'garbage.elf', 'zero', 'fifo', 'dir', 'empty'].map((f): [string, () => string[]] => [`btf ${sub} ${f}`, () => ['btf', ...sub.split(' '), files[f]]]),
  ),
  ['btf validate split --base without NUL', () => ['btf', 'validate', files['split.btf'], '--base', files['base-no-nul.btf']]],
  ['btf dump split --base fifo', () => ['btf', 'dump', files['split.btf'], '--base', files.fifo]],
  // A real dump with hostile BTF, expressions, ranges and names.
  ['modules --btf deep typedefs', () => ['modules', fixture, '--btf', files['deep-typedefs.btf']]],
  ['verify --vmlinux-btf nested structs', () => ['verify', fixture, '--vmlinux-btf', files['nested-structs.btf']]],
  ['verify --vmlinux-btf fifo', () => ['verify', fixture, '--vmlinux-btf', files.fifo]],
  ['print --btf zero', () => ['print', fixture, 'jiffies_64', '--btf', files.zero]],
  ['print expression bombs', () => ['print', fixture, ...deepExpr]],
  ['verify --lookup expression bombs', () => ['verify', fixture, ...deepExpr.flatMap((e) => ['--lookup', e])]],
  ['read a huge length', () => ['read', fixture, '--virt', '0xffffffff81000000', String(2 ** 53)]],
  ['read an address past 64 bits', () => ['read', fixture, '--phys', `0x${'f'.repeat(40)}`, '16']],
  ['symbols --module a long name', () => ['symbols', fixture, '--module', 'm'.repeat(100_000)]],
  ['verify --policy alias bomb', () => ['verify', fixture, '--policy', files['aliases.yaml']]],
  ['verify --policy glob bomb', () => ['verify', fixture, '--policy', files['glob-bomb.yaml']]],
  ['verify --policy fifo', () => ['verify', fixture, '--policy', files.fifo]],
  ['verify --policy zero', () => ['verify', fixture, '--policy', files.zero]],
  ['verify --cmdline glob bomb', () => ['verify', fixture, '--cmdline', globBomb]],
  // Policy, check, sync, modprobe-config on hostile trees and command lines.
  ...['gzbomb', 'grub', 'yaml', 'glob', 'special'].flatMap((t): [string, () => string[]][] => [
    [`policy show --root ${t}`, () => ['policy', 'show', '--root', trees[t]]],
    [`check --root ${t}`, () => ['check', '--root', trees[t], '--kernel', KVER, '--all']],
    [`modprobe-config --root ${t}`, () => ['modprobe-config', '--root', trees[t], '--configured', '--kernel', KVER, '--output', join(tmp, `${t}.conf`)]],
    [`sync --dry-run --root ${t}`, () => ['sync', '--dry-run', '--root', trees[t], '--kernel', KVER]],
  ]),
  ['policy show --cmdline glob bomb', () => ['policy', 'show', '--root', trees.grub, '--cmdline', globBomb]],
  ['check --cmdline glob bomb', () => ['check', '--root', trees.gzbomb, '--kernel', KVER, '--cmdline', globBomb]],
  ['check --list fifo', () => ['check', '--root', trees.special, '--kernel', KVER, '--list', '/dev/zero']],
  ['check --vmlinux-btf fifo', () => ['check', '--root', trees.grub, '--kernel', KVER, '--vmlinux-btf', files.fifo]],
  ['sync --proc-modules zero', () => ['sync', '--dry-run', '--root', trees.grub, '--kernel', KVER, '--proc-modules', files.zero]],
  ['sync --proc-modules fifo', () => ['sync', '--dry-run', '--root', trees.grub, '--kernel', KVER, '--proc-modules', files.fifo]],
  ['modprobe-config --cmdline glob bomb', () => ['modprobe-config', '--root', trees.grub, '--kernel', KVER, '--cmdline', globBomb, '--output', join(tmp, 'glob.conf')]],
  // The modprobe install hook: names and parameters are refused before anything runs.
  ['hook a long module name', () => ['hook', 'm'.repeat(100_000)]],
  ['hook a path as module', () => ['hook', '../../../../tmp/x']],
  ['hook an option as module', () => ['hook', '--force']],
  ['hook 100,000 parameters', () => ['hook', 'ext4', ...Array.from({ length: 100_000 }, (_, i) => `p${i}=1`)]],
  // The companion builder in file mode on what is not a module.
  ['companion build on garbage', () => ['companion', 'build', '--module', files['garbage.elf'], '--dwarf', files['garbage.elf'], '--vmlinux-btf', files['deep-typedefs.btf'], '--kernel', KVER, '--out', join(tmp, 'out')]],
  ['companion build on /dev/zero', () => ['companion', 'build', '--module', files.zero, '--dwarf', files.fifo, '--vmlinux-btf', files.zero, '--kernel', KVER, '--out', join(tmp, 'out')]],
];

describe('every command on hostile input ends by itself: exit 0/1/2, one line, ≤ 10 s, ≤ 1 GiB', () => {
  it.each(cases)('%s', (_label, argv) => {
    const a = argv();
    expectBounded(a, kbtf(a));
  });

  it('nothing half-written: a refused modprobe-config leaves no output file', () => {
    const out = join(tmp, 'never.conf');
    const r = kbtf(['modprobe-config', '--root', trees.yaml, '--kernel', KVER, '--output', out]);
    expect(r.code).toBe(2);
    expect(() => readFileSync(out)).toThrow();
  });
});
