#!/usr/bin/env node
// BTF of /sys/kernel/btf/vmlinux, whole processes: `kbtf btf dump --format raw` against
// `bpftool btf dump file /sys/kernel/btf/vmlinux format raw`, both writing to /dev/null, in ONE
// alternating series (kbtf, bpftool, kbtf, …: the same machine state for both). Target (issue 16):
// kbtf ≤ 1.2× bpftool's median wall time. Also, once each: the runtime floor (`node -e 0`), the CLI
// start-up floor (`kbtf version`) and `kbtf btf stats` (parse + index). Wall time (ms), CPU
// (user + sys) and peak RSS from GNU time. The output of the two must be byte-identical (checked
// once: a FAIL row otherwise). Needs `npm run build` first. Every command runs without
// NODE_EXTRA_CA_CERTS (node-env.mjs). Environment: KBTF_BENCH_BTF (another BTF file),
// KBTF_BENCH_RUNS (default 7).
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, envNote, launch } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = process.env.KBTF_BENCH_BTF ?? '/sys/kernel/btf/vmlinux';
const RUNS = Number(process.env.KBTF_BENCH_RUNS ?? 7);
const TARGET = 1.2;
const cli = join(root, 'apps/kbtf/bin/kbtf.js');
if (!existsSync(join(root, 'apps/kbtf/dist/main.js')) || !existsSync(join(root, 'packages/btf/dist/index.js'))) {
  console.log('btf bench: build first (npm run build)');
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-btf-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** One run with stdout to /dev/null: wall, cpu (s), peak RSS (MB). */
function once(argv) {
  const out = join(tmp, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', out, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: cleanEnv });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr.slice(-500)}`);
  const [u, s, kb] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: u + s, rss: kb / 1024 };
}
const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const sum = (rs) => ({ sec: med(rs.map((r) => r.wall)), min: Math.min(...rs.map((r) => r.wall)), cpu: med(rs.map((r) => r.cpu)), rss: Math.max(...rs.map((r) => r.rss)) });

const kbtfArgv = [...launch(cli), 'btf', 'dump', file, '--format', 'raw'];
const bpftoolArgv = ['bpftool', 'btf', 'dump', 'file', file, 'format', 'raw'];
const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// Same bytes?
const ours = spawnSync(kbtfArgv[0], kbtfArgv.slice(1), { maxBuffer: 1 << 30, env: cleanEnv }).stdout;
const theirs = spawnSync(bpftoolArgv[0], bpftoolArgv.slice(1), { maxBuffer: 1 << 30 }).stdout;
const identical = Buffer.compare(ours, theirs) === 0;

const k = [];
const b = [];
for (let i = 0; i < RUNS; i++) {
  k.push(once(kbtfArgv));
  b.push(once(bpftoolArgv));
}
const K = sum(k);
const B = sum(b);
const floors = [
  ['node -e 0 (runtime floor)', once([process.execPath, '-e', '0'])],
  ['kbtf version (CLI start-up floor)', once([...launch(cli), 'version'])],
  ['kbtf btf stats (parse + index)', once([...launch(cli), 'btf', 'stats', file])],
];

if (envNote('every command runs')) console.log(envNote('every command runs'));
const ms = (s) => `${(s * 1000).toFixed(0).padStart(6)} ms`;
console.log(`file: ${file} (${theirs.length} bytes of raw text); ${RUNS} alternating rounds; load average ${load0}`);
console.log(`  ${'command'.padEnd(44)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'cpu'.padStart(9)} ${'peak'.padStart(8)}`);
const row = (label, m) => console.log(`  ${label.padEnd(44)} ${ms(m.sec)} ${ms(m.min)} ${ms(m.cpu)} ${m.rss.toFixed(0).padStart(5)} MB`);
row('kbtf btf dump --format raw', K);
row('bpftool btf dump format raw', B);
for (const [label, m] of floors) row(`${label} (1 run)`, { sec: m.wall, min: m.wall, cpu: m.cpu, rss: m.rss });

const ratio = K.sec / B.sec;
const pass = identical && ratio <= TARGET;
const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
let commit = '?';
try {
  commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
console.log(`\n## btf bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}; load average ${load0} at the start, ${load1} at the end\n`);
console.log('| target | measured | limit | result | detail |\n|---|---|---|---|---|');
console.log(`| kbtf btf dump --format raw / bpftool, time | ${ratio.toFixed(2)}x | ≤ ${TARGET}x | ${pass ? 'PASS' : 'FAIL'} | ${ms(K.sec).trim()} vs ${ms(B.sec).trim()} (cpu ${(K.cpu / B.cpu).toFixed(2)}x, memory ${K.rss.toFixed(0)} vs ${B.rss.toFixed(0)} MB)${identical ? ', output byte-identical' : ', OUTPUT DIFFERS'} |`);
process.exit(identical ? 0 : 1);
