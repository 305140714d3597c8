#!/usr/bin/env node
// Bench of `kbtf verify` (issues 9 and 16): kbtf with no debuginfo against drgn 0.0.22
// (python3-drgn) with Debian's DWARF (-dbg vmlinux, and the modules' .ko debug files), in ONE
// alternating series per dump (kbtf, drgn, kbtf, drgn, …: both see the same machine state):
//
//   plain     .lab/6.1-4level: `kbtf verify --json --lookup jiffies_64 --lookup
//             init_uts_ns.name.release` vs drgn listing the modules (list_for_each_entry over
//             `modules`) and reading the same two globals, -dbg vmlinux only.
//             Target: kbtf ≤ 0.6× drgn's time.
//   companion .lab/6.1-companions, .lab/6.12-companions (every loaded module's companion and
//             vmlinux-btf): the full `kbtf verify --json` vs drgn reading every variable kbtf
//             gives a value: the list is built from one `kbtf verify --json --all-vars` run
//             (status resolved: read the object; per-cpu: read it on every possible CPU;
//             init-only variables need no value and are read by neither), drgn loads the -dbg
//             vmlinux and the debug .ko of every loaded module. Targets: time ≤ 0.6×, peak
//             memory ≤ 0.5× drgn's. Time per resolved variable is reported, and the marginal
//             cost of the companion check ((companion − plain) / resolved variables).
//   scaling   the same kbtf verify on a 4× larger guest (2 GiB instead of 512 MiB), interleaved
//             with the 512 MiB guest's dump: .lab/6.1-4level-2g (bash tools/lab/lab.sh --kernel 6.1
//             --mem 2G) and .lab/6.1-companions-2g (bash tools/lab/lab-companions.sh 6.1 --mem 2G
//             --key 6.1-companions-2g). Target: ≤ 1.2× the 512 MiB guest's time.
//
// Every command runs in its own process under GNU time: median and minimum wall time (ms), median
// CPU (user + sys: steadier on a loaded machine), peak RSS. The end prints one table of every
// ratio with PASS/FAIL, the date, `uptime` and the commit (docs/verify.md records it).
// Dumps: makedumpfile's `-d 31` zlib kdump (mkd-zlib.kdump) of each guest; for a 6.12 or later
// guest whose mkd-zlib bookworm's makedumpfile 1.7.2 wrote (it drops 6.12's slab and vmalloc
// pages, module BTF with them), trixie's makedumpfile's zstd kdump (mkd-zstd.kdump, complete).
// The `lzo` section times the 6.1 companion guest's makedumpfile -l dump (mkd-lzo.kdump), the
// format of issue 16's own measurement.
// Needs the build (`npm run build`) and the lab (docs/lab.md); a missing dump or -dbg package is a
// line saying so and no row (not a PASS).
// Environment: KBTF_BENCH_RUNS (default 5), KBTF_LAB_DIR, KBTF_BENCH_ONLY (comma-separated:
// plain, companion, lzo, scaling, arm64), KBTF_BENCH_CRASH=1 (also time crash's `mod` on the plain dump).
// kbtf runs without NODE_EXTRA_CA_CERTS (node-env.mjs).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dbgVmlinux } from './debuginfo.mjs';
import { cleanEnv, envNote, launch } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'apps/kbtf/bin/kbtf.js');
const labDir = process.env.KBTF_LAB_DIR ?? join(root, '.lab');
const RUNS = Number(process.env.KBTF_BENCH_RUNS ?? 5);
const ONLY = process.env.KBTF_BENCH_ONLY?.split(',');
const TIME = '/usr/bin/time';
const DRGN = '/usr/bin/drgn';
const TARGET = { time: 0.6, memory: 0.5, scale: 1.2 };
const LOOKUPS = ['jiffies_64', 'init_uts_ns.name.release'];
const DUMP = 'mkd-zlib.kdump';

const need = (ok, what) => {
  if (!ok) {
    console.log(`verify bench: ${what}`);
    process.exit(1);
  }
};
need(existsSync(join(root, 'apps/kbtf/dist/main.js')), 'apps/kbtf/dist missing; run: npm run build');
need(existsSync(TIME), '/usr/bin/time (GNU time, Debian package `time`) is needed for peak memory');

const tmp = mkdtempSync(join(tmpdir(), 'kbtf-verify-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const wanted = (section) => !ONLY || ONLY.includes(section);
/** KEY/FILE of a dump, for the output. */
const shown = (dump) => `${basename(dirname(dump))}/${basename(dump)}`;

/**
 * The dump a key is measured on: makedumpfile's zlib kdump, except where that makedumpfile cannot
 * filter the guest's kernel. Bookworm's 1.7.2 drops 6.12's slab and vmalloc pages at -d 31
 * (docs/lab.md): its dump of a 6.12 or later guest has no module BTF to check, and kbtf's report on
 * it stops at "unreadable". There the bench takes trixie's makedumpfile's dump of the same guest
 * (mkd-zstd.kdump, 1.7.6, `-z -d 31`: complete, what a Debian 13 host writes, zstd instead of
 * zlib). QEMU's own kdump is complete too, but drgn (libkdumpfile 0.5.1) cannot open it.
 */
function lab(key) {
  const dir = join(labDir, key);
  const manifest = join(dir, 'manifest.json');
  const written = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).dumps?.find((d) => d.file === DUMP) : undefined;
  const [major, minor] = (kernelRelease(join(dir, DUMP)) ?? '').split('.').map(Number);
  const tooNew = major > 6 || (major === 6 && minor >= 12);
  return written?.writer === 'makedumpfile 1.7.2' && tooNew ? join(dir, 'mkd-zstd.kdump') : join(dir, DUMP);
}

/** One run of argv under GNU time: wall (s), cpu (s), peak RSS (MB), stdout; or { error }. */
function once(argv, okStatus, env) {
  const out = join(tmp, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', '%U %S %M', '-o', out, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'], env });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!okStatus.includes(r.status)) return { error: `${basename(argv[0])} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}` };
  const [u, s, kb] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: u + s, rss: kb / 1024, stdout: r.stdout };
}

const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** RUNS rounds of one run of each command in turn (one series): per command, median wall, min wall, median CPU, max RSS, last stdout. */
function series(commands) {
  const runs = commands.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < commands.length; j++) {
      const m = once(commands[j].argv, commands[j].ok ?? [0], commands[j].env ?? process.env);
      if (m.error) return { error: m.error };
      runs[j].push(m);
    }
  }
  return {
    results: runs.map((rs) => ({
      sec: med(rs.map((r) => r.wall)), min: Math.min(...rs.map((r) => r.wall)), cpu: med(rs.map((r) => r.cpu)),
      rss: Math.max(...rs.map((r) => r.rss)), stdout: rs[rs.length - 1].stdout,
    })),
  };
}

const kernelRelease = (dump) => {
  const truth = join(dirname(dump), 'truth.json');
  return existsSync(truth) ? JSON.parse(readFileSync(truth, 'utf8')).kernel : undefined;
};
const kbtfVerify = (dump, extra = []) => ({ argv: [...launch(cli), 'verify', '--json', ...extra, dump], ok: [0, 1], env: cleanEnv });

/** The debug .ko of each loaded module (proc-modules.txt of the lab guest), from the -dbg package beside the vmlinux. */
function moduleDebugFiles(dump, vmlinux) {
  const list = join(dirname(dump), 'proc-modules.txt');
  const dir = join(dirname(dirname(vmlinux)), 'lib', 'modules');
  if (!existsSync(list) || !existsSync(dir)) return [];
  const byName = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.ko')) byName.set(e.name.slice(0, -3).replace(/-/g, '_'), join(d, e.name));
    }
  };
  walk(dir);
  const names = readFileSync(list, 'utf8').split('\n').map((l) => l.split(' ')[0]).filter((n) => n && !n.endsWith('_btf'));
  return names.map((n) => byName.get(n)).filter(Boolean);
}

// drgn 0.0.22 has no for_each_module helper: the list is walked as the kernel does.
const DRGN_PLAIN = `
import json
from drgn.helpers.linux.list import list_for_each_entry
names = [m.name.string_().decode() for m in list_for_each_entry('struct module', prog['modules'].address_of_(), 'list')]
print(json.dumps({'modules': names, 'jiffies_64': prog['jiffies_64'].value_(),
                  'release': prog['init_uts_ns'].name.release.string_().decode()}))
`;
const DRGN_VARS = `
import json, sys
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.cpumask import for_each_possible_cpu
spec = json.load(open(sys.argv[1]))
cpus = list(for_each_possible_cpu(prog))
read = failed = 0
for name, percpu in spec:
    try:
        obj = prog[name]
        if percpu:
            for c in cpus:
                per_cpu(obj, c).read_()
        else:
            obj.read_()
        read += 1
    except Exception:
        failed += 1
print(json.dumps({'read': read, 'failed': failed}))
`;
writeFileSync(join(tmp, 'plain.py'), DRGN_PLAIN);
writeFileSync(join(tmp, 'vars.py'), DRGN_VARS);

const ms = (s) => `${(s * 1000).toFixed(0).padStart(6)} ms`;
const row = (label, m, note = '') =>
  console.log(`  ${label.padEnd(30)} ${ms(m.sec)} ${ms(m.min)} ${ms(m.cpu)} ${m.rss.toFixed(0).padStart(5)} MB  ${note}`);
const header = () => console.log(`  ${'command'.padEnd(30)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'cpu'.padStart(9)} ${'peak'.padStart(8)}`);

/** Rows of the final table: what, measured, target, PASS/FAIL. */
const table = [];
function check(what, value, limit, detail) {
  table.push({ what, value, limit, pass: value <= limit, detail });
  console.log(`  ${what}: ${value.toFixed(2)}x (target ≤ ${limit}x) ${value <= limit ? 'PASS' : 'FAIL'}  ${detail}`);
}
let failed = false;

function annotate(m) {
  const rep = JSON.parse(m.stdout);
  m.report = rep;
  m.note = `${rep.verdict}, ${rep.modules.length} modules, in-process ${rep.timings.total} ms`;
  return m;
}

// --- plain guest ---------------------------------------------------------------------------------
const plain = new Map();
function plainSection(key) {
  const dump = lab(key);
  if (!existsSync(dump)) return console.log(`\n${shown(dump)}: absent (docs/lab.md), not measured`);
  const vmlinux = dbgVmlinux(kernelRelease(dump), labDir);
  console.log(`\nplain guest ${shown(dump)} (${(statSync(dump).size / 2 ** 20).toFixed(0)} MiB): kbtf verify + 2 lookups vs drgn -dbg modules + 2 globals, ${RUNS} alternating rounds`);
  header();
  const kbtf = kbtfVerify(dump, LOOKUPS.flatMap((l) => ['--lookup', l]));
  const drgn = vmlinux && existsSync(DRGN) ? { argv: [DRGN, '-c', dump, '-s', vmlinux, '--no-default-symbols', join(tmp, 'plain.py')] } : undefined;
  if (!drgn) console.log(`  drgn: not measured (${vmlinux ? 'python3-drgn not installed' : 'no -dbg vmlinux: tools/lab/dbg-vmlinux.sh'})`);
  const s = series(drgn ? [kbtf, drgn] : [kbtf]);
  if (s.error) {
    failed = true;
    return console.log(`  FAILED: ${s.error}`);
  }
  const k = annotate(s.results[0]);
  row('kbtf verify (no debuginfo)', k, k.note);
  plain.set(key, k);
  if (drgn) {
    const d = s.results[1];
    const dj = JSON.parse(d.stdout);
    row('drgn + -dbg vmlinux', d, `${dj.modules.length} modules, release ${dj.release}`);
    check(`${key} plain: kbtf/drgn time`, k.sec / d.sec, TARGET.time, `${ms(k.sec).trim()} vs ${ms(d.sec).trim()} (cpu ${(k.cpu / d.cpu).toFixed(2)}x)`);
    check(`${key} plain: kbtf/drgn memory`, k.rss / d.rss, TARGET.memory, `${k.rss.toFixed(0)} MB vs ${d.rss.toFixed(0)} MB`);
  }
  if (process.env.KBTF_BENCH_CRASH === '1' && vmlinux && existsSync('/usr/bin/crash')) {
    writeFileSync(join(tmp, 'crash.cmd'), 'mod\nq\n');
    const c = once(['/usr/bin/crash', '-s', '-i', join(tmp, 'crash.cmd'), vmlinux, dump], [0], process.env);
    if (c.error) console.log(`  crash: FAILED: ${c.error}`);
    else console.log(`  crash mod + -dbg (1 run): ${ms(c.wall).trim()}, cpu ${ms(c.cpu).trim()}, ${c.rss.toFixed(0)} MB; kbtf/crash ${(k.sec / c.wall).toFixed(2)}x`);
  }
}

// --- companion guest -----------------------------------------------------------------------------
/** One companion guest: `file` picks a dump other than lab(key)'s (the LZO series). */
function companionSection(key, file) {
  const dump = file ? join(labDir, key, file) : lab(key);
  const label = file ? `${key} (${file.replace(/\.kdump$/, '')})` : key;
  if (!existsSync(dump)) return console.log(`\n${shown(dump)}: absent (tools/lab/lab-companions.sh), not measured`);
  const vmlinux = dbgVmlinux(kernelRelease(dump), labDir);
  // The variables kbtf gives a value, from one --all-vars run (not timed).
  const all = once(kbtfVerify(dump, ['--all-vars']).argv, [0, 1], cleanEnv);
  if (all.error) {
    failed = true;
    return console.log(`\n${label}: kbtf verify --all-vars FAILED: ${all.error}`);
  }
  const rep = JSON.parse(all.stdout);
  const vars = [];
  const counts = { total: 0, resolved: 0, perCpu: 0, initOnly: 0 };
  for (const c of [rep.vmlinux, ...rep.modules.map((m) => m.companion)]) {
    if (!c?.vars) continue;
    for (const k of Object.keys(counts)) counts[k] += c.vars[k] ?? 0;
    for (const p of c.problems ?? []) if (p.status === 'resolved' || p.status === 'per-cpu') vars.push([p.name, p.status === 'per-cpu']);
  }
  const spec = join(tmp, `${label.replace(/\W+/g, '-')}.vars.json`);
  writeFileSync(spec, JSON.stringify(vars));
  const withValue = counts.resolved + counts.perCpu;
  console.log(`\ncompanion guest ${shown(dump)} (${(statSync(dump).size / 2 ** 20).toFixed(0)} MiB): ${counts.total} companion variables, ${counts.resolved} resolved + ${counts.perCpu} per-cpu read, ${counts.initOnly} init-only (no value); ${RUNS} alternating rounds`);
  header();
  let drgn;
  if (vmlinux && existsSync(DRGN)) {
    const kos = moduleDebugFiles(dump, vmlinux);
    drgn = { argv: [DRGN, '-c', dump, '-s', vmlinux, ...kos.flatMap((f) => ['-s', f]), '--no-default-symbols', join(tmp, 'vars.py'), spec], kos: kos.length };
  } else console.log(`  drgn: not measured (${vmlinux ? 'python3-drgn not installed' : 'no -dbg vmlinux'})`);
  const s = series(drgn ? [kbtfVerify(dump), drgn] : [kbtfVerify(dump)]);
  if (s.error) {
    failed = true;
    return console.log(`  FAILED: ${s.error}`);
  }
  const k = annotate(s.results[0]);
  row('kbtf verify (no debuginfo)', k, `${k.note}, companions step ${k.report.timings.companions} ms`);
  const perVar = (m) => `${((m.sec / withValue) * 1e6).toFixed(1)} µs/variable`;
  console.log(`  ${''.padEnd(30)} kbtf: ${perVar(k)} (wall / ${withValue} variables with a value; cpu ${((k.cpu / withValue) * 1e6).toFixed(1)} µs)`);
  const base = file ? undefined : plain.get(key.replace('companions', '4level'));
  if (base) console.log(`  ${''.padEnd(30)} kbtf marginal: (${ms(k.sec).trim()} − plain ${ms(base.sec).trim()}) / ${withValue} = ${(((k.sec - base.sec) / withValue) * 1e6).toFixed(1)} µs/variable`);
  if (drgn) {
    const d = s.results[1];
    const dj = JSON.parse(d.stdout);
    row(`drgn + -dbg (+${drgn.kos} module .ko)`, d, `${dj.read} variables read, ${dj.failed} not found by name`);
    console.log(`  ${''.padEnd(30)} drgn: ${perVar(d)}`);
    check(`${label}: kbtf/drgn time`, k.sec / d.sec, TARGET.time, `${ms(k.sec).trim()} vs ${ms(d.sec).trim()} (cpu ${(k.cpu / d.cpu).toFixed(2)}x)`);
    check(`${label}: kbtf/drgn memory`, k.rss / d.rss, TARGET.memory, `${k.rss.toFixed(0)} MB vs ${d.rss.toFixed(0)} MB`);
  }
}

// --- 4× guest ------------------------------------------------------------------------------------
function scalingSection(small, big, how) {
  const a = lab(small);
  const b = lab(big);
  if (!existsSync(a) || !existsSync(b)) return console.log(`\n4x guest ${big}: ${existsSync(b) ? small : big} absent (${how}), not measured`);
  console.log(`\n4x guest: ${shown(b)} (${(statSync(b).size / 2 ** 20).toFixed(0)} MiB) vs ${shown(a)}, ${RUNS} alternating rounds`);
  header();
  const s = series([kbtfVerify(a), kbtfVerify(b)]);
  if (s.error) {
    failed = true;
    return console.log(`  FAILED: ${s.error}`);
  }
  const [x, y] = s.results.map(annotate);
  row('kbtf verify, 512 MiB guest', x, x.note);
  row('kbtf verify, 2 GiB guest', y, y.note);
  check(`${big} / ${small}: time`, y.sec / x.sec, TARGET.scale, `${ms(y.sec).trim()} vs ${ms(x.sec).trim()} (cpu ${(y.cpu / x.cpu).toFixed(2)}x, memory ${(y.rss / x.rss).toFixed(2)}x)`);
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const git = (...a) => {
  try {
    return execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
};
const startLoad = load();
console.log(`verify bench: ${RUNS} alternating rounds per series; load average ${startLoad}`);
if (envNote('kbtf runs')) console.log(envNote('kbtf runs'));
if (wanted('plain')) plainSection('6.1-4level');
// arm64 (issue 17): the 6.1 arm64 companion guest. drgn 0.0.22 reads arm64 dumps from makedumpfile
// only (not QEMU's), and no makedumpfile reads Debian's 6.12 arm64 (52-bit VA): 6.1 is the one pair.
if (wanted('companion') || wanted('arm64')) for (const k of [...(wanted('companion') ? ['6.1-companions', '6.12-companions'] : []), '6.1-arm64-companions']) companionSection(k);
// The issue's own dump format: makedumpfile -l (LZO) of the 6.1 companion guest.
if (wanted('lzo')) companionSection('6.1-companions', 'mkd-lzo.kdump');
if (wanted('scaling')) {
  scalingSection('6.1-4level', '6.1-4level-2g', 'bash tools/lab/lab.sh --kernel 6.1 --mem 2G');
  scalingSection('6.1-companions', '6.1-companions-2g', 'bash tools/lab/lab-companions.sh 6.1 --mem 2G --key 6.1-companions-2g');
}

const dirty = git('status', '--porcelain', '--untracked-files=no') ? ' (+ uncommitted changes)' : '';
console.log(`\n## verify bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${git('rev-parse', '--short', 'HEAD')}${dirty}`);
console.log(`load average ${startLoad} at the start, ${load()} at the end; ${RUNS} rounds; uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}\n`);
console.log('| target | measured | limit | result | detail |\n|---|---|---|---|---|');
for (const t of table) console.log(`| ${t.what} | ${t.value.toFixed(2)}x | ≤ ${t.limit}x | ${t.pass ? 'PASS' : 'FAIL'} | ${t.detail} |`);
if (table.length === 0) console.log('| (nothing measured) | | | | |');
process.exit(failed ? 1 : 0);
