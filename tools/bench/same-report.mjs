#!/usr/bin/env node
// Same verdict, same report: a speed-up must not change what verify says. Runs two builds of kbtf
// on every lab dump (.lab/*/: kdump with zlib/lzo/zstd, ELF from makedumpfile and QEMU, QEMU's
// flattened and kdump output, the host-trixie crash dumps) and compares `verify DUMP --json` and
// `verify DUMP --json --all-vars`: the exit code and the whole JSON document but `timings` must be
// identical.
//
//   node tools/bench/same-report.mjs --a OLD/apps/kbtf/bin/kbtf.js [--b NEW/apps/kbtf/bin/kbtf.js]
//     [--cache DIR]    keep A's reports in DIR and reuse them (A is a fixed older build)
//     [--only REGEX]   only the dumps whose path matches
//
// Prints one line per dump and mode, the first differing JSON path when they differ, and exits 1
// when any differs (2 on usage or when no dump is found).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanEnv, launch } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = 'usage: node tools/bench/same-report.mjs --a OLD/apps/kbtf/bin/kbtf.js [--b NEW/apps/kbtf/bin/kbtf.js] [--cache DIR] [--only REGEX]';
let values;
try {
  ({ values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string' }, cache: { type: 'string' }, only: { type: 'string' } } }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const { a, cache, only } = values;
const b = values.b ?? join(root, 'apps/kbtf/bin/kbtf.js');
if (!a || !existsSync(a) || !existsSync(b)) {
  console.error(USAGE);
  process.exit(2);
}

const labDir = process.env.KBTF_LAB_DIR ?? join(root, '.lab');
const DUMP = /^(mkd-.*\.(kdump|core)|qemu-.*\.(core|kdump|flat))$/;

/** Every dump of the lab: the guests' dump files and the host crash directories' dump.* files. */
function labDumps() {
  const out = [];
  if (!existsSync(labDir)) return out;
  for (const key of readdirSync(labDir).sort()) {
    const dir = join(labDir, key);
    if (!statSync(dir).isDirectory() || key.endsWith(".tmp")) continue; // a guest being made
    for (const f of readdirSync(dir).sort()) if (DUMP.test(f)) out.push(join(dir, f));
    const crash = join(dir, 'crash');
    if (!existsSync(crash)) continue;
    for (const d of readdirSync(crash).sort()) {
      const cd = join(crash, d);
      if (!statSync(cd).isDirectory()) continue;
      for (const f of readdirSync(cd).sort()) if (f.startsWith('dump.')) out.push(join(cd, f));
    }
  }
  return out.filter((p) => !only || new RegExp(only).test(p));
}

function run(bin, args) {
  const r = spawnSync(process.execPath, [...launch(bin).slice(1), ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: cleanEnv });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim().split('\n').slice(-1)[0] ?? '' };
}

/** The report without its timings (the one part allowed to differ), or the raw text if not JSON. */
function normal(out) {
  try {
    const doc = JSON.parse(out);
    delete doc.timings;
    return doc;
  } catch {
    return out;
  }
}

/** The first path where two JSON values differ, or undefined. */
function firstDiff(x, y, path = '$') {
  if (typeof x !== typeof y || Array.isArray(x) !== Array.isArray(y) || (x === null) !== (y === null)) return `${path}: ${JSON.stringify(x)?.slice(0, 120)} vs ${JSON.stringify(y)?.slice(0, 120)}`;
  if (typeof x !== 'object' || x === null) return x === y ? undefined : `${path}: ${JSON.stringify(x)?.slice(0, 120)} vs ${JSON.stringify(y)?.slice(0, 120)}`;
  if (Array.isArray(x)) {
    if (x.length !== y.length) return `${path}.length: ${x.length} vs ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      const d = firstDiff(x[i], y[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const kx = Object.keys(x);
  const ky = Object.keys(y);
  if (kx.join() !== ky.join()) return `${path} keys: ${kx.join(',')} vs ${ky.join(',')}`;
  for (const k of kx) {
    const d = firstDiff(x[k], y[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}

function reportA(dump, args) {
  if (!cache) return run(a, args);
  mkdirSync(cache, { recursive: true });
  const file = join(cache, `${relative(labDir, dump).replace(/[/\\]/g, '_')}${args.includes('--all-vars') ? '.all' : ''}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const r = run(a, args);
  writeFileSync(file, JSON.stringify(r));
  return r;
}

const dumps = labDumps();
if (!dumps.length) {
  console.error(`no lab dumps under ${labDir} (docs/lab.md)`);
  process.exit(2);
}
console.log(`A = ${a}\nB = ${b}\n${dumps.length} dumps, verify --json and verify --json --all-vars`);
let differ = 0;
let same = 0;
for (const dump of dumps) {
  for (const mode of [[], ['--all-vars']]) {
    const args = ['verify', dump, '--json', ...mode];
    const ra = reportA(dump, args);
    const rb = run(b, args);
    const name = `${relative(root, dump)} ${['--json', ...mode].join(' ')}`;
    const d = ra.code !== rb.code ? `exit ${ra.code} vs ${rb.code}` : firstDiff(normal(ra.stdout), normal(rb.stdout));
    if (d) {
      differ++;
      console.log(`DIFFER ${name}: ${d}${rb.code === 2 ? ` (B: ${rb.stderr})` : ''}`);
    } else {
      same++;
      console.log(`same   ${name} (exit ${rb.code}, ${rb.stdout.length} bytes)`);
    }
  }
}
console.log(`${same} identical, ${differ} different`);
process.exit(differ ? 1 : 0);
