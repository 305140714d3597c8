#!/usr/bin/env node
// BTF parse-and-index of /sys/kernel/btf/vmlinux, whole process: `kbtf btf stats` (built CLI)
// beside `bpftool btf dump file /sys/kernel/btf/vmlinux format raw > /dev/null`, wall time and peak
// RSS from /usr/bin/time -v, best of 3. Also `kbtf btf dump --format raw` for a like-for-like dump.
// Target: within 1.5x of bpftool. Needs `npm run build` first. Every command runs without
// NODE_EXTRA_CA_CERTS (node-env.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, envNote } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const file = process.env.KBTF_BENCH_BTF ?? '/sys/kernel/btf/vmlinux';
const cli = join(root, 'apps/kbtf/bin/kbtf.js');
if (!existsSync(join(root, 'apps/kbtf/dist/main.js')) || !existsSync(join(root, 'packages/btf/dist/index.js'))) {
  console.log('btf bench: build first (npm run build)');
  process.exit(1);
}

function measure(cmd) {
  let best;
  for (let i = 0; i < 3; i++) {
    const r = spawnSync('/usr/bin/time', ['-v', 'sh', '-c', `${cmd} > /dev/null`], { encoding: 'utf8', env: cleanEnv });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr.slice(-500)}`);
    const wall = r.stderr.match(/Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)/);
    const secs = (Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]));
    const rss = Number(r.stderr.match(/Maximum resident set size \(kbytes\): (\d+)/)[1]) / 1024;
    if (!best || secs < best.secs) best = { secs, rss: Math.max(rss, best?.rss ?? 0) };
    else best.rss = Math.max(best.rss, rss);
  }
  return best;
}

const bpftool = measure(`bpftool btf dump file ${file} format raw`);
const rows = [
  ['node -e 0 (runtime floor)', measure(`${process.execPath} -e 0`)],
  ['kbtf version (CLI startup floor)', measure(`${process.execPath} ${cli} version`)],
  ['kbtf btf stats (parse + index)', measure(`${process.execPath} ${cli} btf stats ${file}`)],
  ['kbtf btf dump --format raw', measure(`${process.execPath} ${cli} btf dump ${file} --format raw`)],
];
if (envNote('every command runs')) console.log(envNote('every command runs'));
console.log(`file: ${file}`);
console.log(`bpftool btf dump format raw: ${bpftool.secs.toFixed(3)} s, peak RSS ${bpftool.rss.toFixed(1)} MiB`);
for (const [name, m] of rows) {
  console.log(`${name}: ${m.secs.toFixed(3)} s (${(m.secs / bpftool.secs).toFixed(2)}x bpftool), peak RSS ${m.rss.toFixed(1)} MiB (${(m.rss / bpftool.rss).toFixed(2)}x bpftool)`);
}
