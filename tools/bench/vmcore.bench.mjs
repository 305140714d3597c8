#!/usr/bin/env node
// Bench of @kbtf/vmcore on the lab's dumps: open each dump and read 1,000 random present pages.
// Prints per dump: open time, read time, peak RSS, bytes read from the file against its size.
// The real-tool comparison: for the flattened QEMU file, our one-pass index against
// `makedumpfile -R` (the reassembly every other tool needs first), time and peak memory.
// Each dump is measured in its own child process so that peak RSS is per dump.
// Needs the build (`npx nx run @kbtf/vmcore:build`) and the lab (.lab/, docs/lab.md).
import { existsSync, readdirSync, rmSync, mkdtempSync, openSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'packages/vmcore/dist/index.js');
const labDir = process.env.KBTF_LAB_DIR ?? join(root, '.lab');
const DUMPS = ['qemu-elf.core', 'qemu-elf-paging.core', 'qemu-kdump.flat', 'qemu-kdump.kdump', 'mkd-zlib.kdump', 'mkd-lzo.kdump', 'mkd-elf.core'];
const PAGES = 1000;

if (process.argv[2] === '--child') {
  const { openVmcore } = await import(dist);
  const path = process.argv[3];
  const t0 = performance.now();
  const core = openVmcore(path, { progress: false });
  const t1 = performance.now();
  // Pick present pages from the ranges (no reads needed), deterministic.
  const present = core.ranges().filter((r) => r.state === 'present');
  const ps = BigInt(core.pageSize);
  const pages = present.map((r) => Number((r.end - r.start) / ps));
  const total = pages.reduce((a, b) => a + b, 0);
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const openBytes = core.bytesRead;
  const t2 = performance.now();
  for (let i = 0; i < PAGES; i++) {
    let k = Math.floor(rnd() * total);
    let j = 0;
    while (k >= pages[j]) k -= pages[j++];
    core.read(present[j].start + BigInt(k) * ps, core.pageSize);
  }
  const t3 = performance.now();
  console.log(JSON.stringify({ openMs: t1 - t0, readMs: t3 - t2, openBytes, bytesRead: core.bytesRead, fileSize: core.fileSize, maxRssKb: process.resourceUsage().maxRSS }));
  core.close();
  process.exit(0);
}

if (!existsSync(dist)) {
  console.log(`vmcore bench: ${dist} missing; run: npx nx run @kbtf/vmcore:build`);
  process.exit(1);
}
const variants = existsSync(labDir) ? readdirSync(labDir).filter((v) => existsSync(join(labDir, v, 'manifest.json'))).sort() : [];
if (variants.length === 0) {
  console.log(`vmcore bench: no lab dumps under ${labDir} (see docs/lab.md)`);
  process.exit(1);
}
const mb = (n) => (n / 2 ** 20).toFixed(1);
let failed = false;
for (const v of variants) {
  console.log(`\n${v}: open + ${PAGES} random present pages`);
  console.log('dump                    open ms  read ms  peak MB  read MB / file MB   fraction');
  for (const f of DUMPS) {
    const path = join(labDir, v, f);
    if (!existsSync(path)) continue;
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', path], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`${f.padEnd(22)}  FAILED: ${r.stderr.split('\n')[0]}`);
      failed = true;
      continue;
    }
    const m = JSON.parse(r.stdout);
    console.log(`${f.padEnd(22)} ${m.openMs.toFixed(0).padStart(8)} ${m.readMs.toFixed(0).padStart(8)} ${(m.maxRssKb / 1024).toFixed(0).padStart(8)}  ${mb(m.bytesRead).padStart(8)} / ${mb(m.fileSize).padStart(8)}  ${((100 * m.bytesRead) / m.fileSize).toFixed(2).padStart(8)} %`);
    if (f === 'qemu-kdump.flat') compareReassembly(path, m);
  }
}
process.exit(failed ? 1 : 0);

/** makedumpfile -R < flat > file: what reading a flattened file costs without an index. */
function compareReassembly(path, ours) {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-bench-'));
  const out = join(dir, 'reassembled.kdump');
  const fd = openSync(path, 'r');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'makedumpfile', '-R', out], { stdio: [fd, 'ignore', 'pipe'], encoding: 'utf8' });
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  const [sec, kb] = last.split(' ').map(Number);
  if (r.status !== 0 || !Number.isFinite(sec)) {
    console.log(`  makedumpfile -R: not measured (${last})`);
    return;
  }
  const oursMs = ours.openMs + ours.readMs;
  console.log(`  vs makedumpfile -R (reassembly only): ${(sec * 1000).toFixed(0)} ms, peak ${(kb / 1024).toFixed(0)} MB, writes ${mb(ours.fileSize)} MB;` +
    ` kbtf open+reads/reassembly time ratio ${(oursMs / (sec * 1000)).toFixed(2)}, peak ratio ${(ours.maxRssKb / kb).toFixed(2)}`);
}
