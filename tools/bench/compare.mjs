#!/usr/bin/env node
// Before/after comparison of two builds of kbtf on the same dumps: "no regression" checks.
//
//   node tools/bench/compare.mjs --a /tmp/base/apps/kbtf/bin/kbtf.js --b apps/kbtf/bin/kbtf.js \
//     [--runs 7] [--] ARGS...            (ARGS: the kbtf command, e.g. verify DUMP --json)
//
// Runs A and B in alternation (A B A B …: both see the same machine load), each in its own process
// under GNU time, and prints per build the median wall time, the median CPU time (user + sys: the
// steadier number on a loaded machine) and the peak RSS, then B/A ratios. Exit codes of A and B must
// agree (a change of verdict is not a speed-up). Without ARGS it compares `verify --json` on every
// lab dump it finds (.lab/6.1-4level, 6.1-companions, 6.12-companions, host-trixie).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cleanEnv, launch } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const a = opt('--a');
const b = opt('--b', join(root, 'apps/kbtf/bin/kbtf.js'));
const runs = Number(opt('--runs', '7'));
if (argv[0] === '--') argv.shift();
if (!a || !existsSync(a) || !existsSync(b)) {
  console.error('usage: node tools/bench/compare.mjs --a OLD/apps/kbtf/bin/kbtf.js [--b NEW/apps/kbtf/bin/kbtf.js] [--runs N] [--] ARGS...');
  process.exit(2);
}

const labDir = process.env.KBTF_LAB_DIR ?? join(root, '.lab');
function labDumps() {
  const out = [];
  for (const [key, pick] of [['6.1-4level', 'mkd-zlib.kdump'], ['6.1-companions', 'mkd-zlib.kdump'], ['6.12-companions', 'mkd-zlib.kdump']]) {
    const p = join(labDir, key, pick);
    if (existsSync(p)) out.push(p);
  }
  const crash = join(labDir, 'host-trixie', 'crash');
  if (existsSync(crash)) {
    for (const d of readdirSync(crash)) {
      const dir = join(crash, d);
      const dump = statSync(dir).isDirectory() && readdirSync(dir).find((f) => f.startsWith('dump.'));
      if (dump) out.push(join(dir, dump));
    }
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'kbtf-compare-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const env = cleanEnv;

function once(bin, args) {
  const timeFile = join(tmp, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, ...launch(bin), ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const [u, s, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { code: r.status, wall, cpu: u + s, mb: kb / 1024 };
}

const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
function compare(args) {
  const res = { a: [], b: [] };
  once(a, args); // warm the page cache and the compile caches of both
  once(b, args);
  for (let i = 0; i < runs; i++) {
    res.a.push(once(a, args));
    res.b.push(once(b, args));
  }
  const sum = (rs) => ({ wall: med(rs.map((r) => r.wall)), cpu: med(rs.map((r) => r.cpu)), mb: Math.max(...rs.map((r) => r.mb)), codes: [...new Set(rs.map((r) => r.code))] });
  const A = sum(res.a);
  const B = sum(res.b);
  const f = (x) => `wall ${x.wall.toFixed(3)} s  cpu ${x.cpu.toFixed(3)} s  peak ${x.mb.toFixed(0)} MB  exit ${x.codes.join('/')}`;
  console.log(`kbtf ${args.join(' ')}`);
  console.log(`  A ${f(A)}`);
  console.log(`  B ${f(B)}`);
  const agree = A.codes.length === 1 && B.codes.length === 1 && A.codes[0] === B.codes[0];
  console.log(`  B/A: wall ${(B.wall / A.wall).toFixed(2)}  cpu ${(B.cpu / A.cpu).toFixed(2)}  memory ${(B.mb / A.mb).toFixed(2)}${agree ? '' : '  EXIT CODES DIFFER'}`);
  return agree;
}

const cases = argv.length ? [argv] : labDumps().map((d) => ['verify', d, '--json']);
if (!cases.length) {
  console.error('no lab dumps found (docs/lab.md); give ARGS');
  process.exit(2);
}
console.log(`A = ${a}\nB = ${b}\n${runs} runs each, alternating; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
let ok = true;
for (const c of cases) ok = compare(c) && ok;
process.exit(ok ? 0 : 1);
