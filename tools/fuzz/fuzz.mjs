#!/usr/bin/env node
// `npm run fuzz [-- --count N --seconds S --seed N --process-every K --json]`: mutates real inputs
// and runs kbtf's commands on them, in-process (the built apps/kbtf/dist/main.js) and, every K-th
// input, as a process (apps/kbtf/bin/kbtf.js, with a time limit). Needs `npm run build`.
//
// Inputs (real bytes; nothing generated from scratch):
//   dump    the bundled dump, test/fixtures/6.1-128m/dump.kdump (makedumpfile -c -d 31 of a Debian
//           6.1 guest): bits flipped, words set to extremes, ranges zeroed, in its header, sub-header,
//           bitmaps, page descriptors, VMCOREINFO and page data; or the file cut short
//   btf     this host's /sys/kernel/btf/vmlinux (when present), mutated the same ways
//   policy  a root tree's /etc/kbtf/policy.yaml, /etc/default/grub and sysctl.d file: characters
//           changed, lines doubled, the text repeated
//   expr    expressions for print and verify --lookup, made of the language's tokens in any order
// Commands: info, verify --json, symbols, modules --json, print; btf validate / dump raw / dump c;
// policy show / check / modprobe-config --root.
//
// A failure is: an INTERNAL error or a stack trace on stderr, an exit code outside 0/1/2, an
// exception out of main(), more than 10 s for one command, more than 1 GiB resident. A `complete`
// verdict on a dump whose bitmaps or descriptors were changed is counted and listed (not every such
// change touches what verify reads). Exit 1 when anything failed; the summary's last line is
// `fuzz: N inputs, F failed` (`--json`: one document).
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opt } = parseArgs({
  options: {
    count: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '120' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'process-every': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const COUNT = Number(opt.count);
const SECONDS = Number(opt.seconds);
const PROCESS_EVERY = Number(opt['process-every']);
const LIMIT_MS = 10_000;
const LIMIT_RSS = 1 << 30;

const mainJs = join(repo, 'apps/kbtf/dist/main.js');
const bin = join(repo, 'apps/kbtf/bin/kbtf.js');
if (!existsSync(mainJs)) {
  console.error('fuzz: apps/kbtf/dist/main.js is missing: run npm run build');
  process.exit(2);
}
const { main } = await import(mainJs);

// ---------------------------------------------------------------- deterministic randomness
let seed = Number(opt.seed) >>> 0 || 1;
function rand(n) {
  // xorshift32
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}
const pick = (xs) => xs[rand(xs.length)];

// ---------------------------------------------------------------- inputs
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-fuzz-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const fixture = join(repo, 'test/fixtures/6.1-128m/dump.kdump');
const dumpOrig = readFileSync(fixture);
const dumpPath = join(tmp, 'dump.kdump');
copyFileSync(fixture, dumpPath);

/** The fixture's regions (docs/vmcore.md: header block, sub-header, two bitmaps, descriptors, pages). */
function kdumpRegions(b) {
  const bs = b.readInt32LE(428);
  const sub = b.readInt32LE(432);
  const bitmapBlocks = b.readUInt32LE(436);
  const bitmapAt = (1 + sub) * bs;
  const descAt = bitmapAt + bitmapBlocks * bs;
  const half = (bitmapBlocks * bs) / 2;
  let count = 0;
  for (let i = bitmapAt + half; i < descAt; i++) for (let v = b[i]; v; v &= v - 1) count++;
  const descEnd = descAt + 24 * count;
  const viAt = Number(b.readBigUInt64LE(bs + 16));
  const viSize = Number(b.readBigUInt64LE(bs + 24));
  return {
    header: [0, 512],
    'sub-header': [bs, bs + 104],
    vmcoreinfo: [viAt, viAt + viSize],
    bitmap1: [bitmapAt, bitmapAt + half],
    bitmap2: [bitmapAt + half, descAt],
    descriptors: [descAt, descEnd],
    pages: [descEnd, b.length],
  };
}
const regions = kdumpRegions(dumpOrig);
// The 1st bitmap only says which frames exist (excluded vs not in the dump): not what verify reads.
const STRUCTURAL = new Set(['bitmap2', 'descriptors', 'header', 'sub-header']);

const btfSrc = '/sys/kernel/btf/vmlinux';
const btfOrig = existsSync(btfSrc) ? readFileSync(btfSrc) : undefined;
const btfPath = join(tmp, 'vmlinux.btf');

const policyRoot = join(tmp, 'root');
const policyFiles = {
  'etc/kbtf/policy.yaml': 'version: 1\nmode: always\ninclude: [ext4, "nf_*"]\nexclude: [loop]\nvmlinux: true\nrequired: [ext4]\n',
  'etc/default/grub': 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0 btf_companions=always btf_companions.exclude=xfs,e1000"\n',
  'etc/sysctl.d/90-kbtf.conf': '# kbtf\nkernel.btf_companions = on-demand\n-kernel.btf_companions = always\n',
};
function writePolicyRoot(files) {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(policyRoot, rel)), { recursive: true });
    writeFileSync(join(policyRoot, rel), text);
  }
}

// ---------------------------------------------------------------- mutations
/** One mutation of `len` bytes inside [a, b): returns [offset, new bytes]. */
function mutateRange(buf, [a, b], name) {
  const at = a + rand(Math.max(1, b - a));
  const op = rand(4);
  if (op === 0) {
    const v = Buffer.from([buf[at] ^ (1 << rand(8))]);
    return { at, bytes: v, what: `${name}: bit flip at ${at}` };
  }
  if (op === 1) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 4096, 0x10000]) >>> 0);
    return { at: at - (at % 4), bytes: v, what: `${name}: u32 at ${at - (at % 4)} = ${v.readUInt32LE()}` };
  }
  if (op === 2) {
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(pick([0n, 1n, 0x7fffffffffffffffn, 0xffffffffffffffffn, BigInt(buf.length), BigInt(buf.length) * 2n]));
    return { at: at - (at % 8), bytes: v, what: `${name}: u64 at ${at - (at % 8)} = ${v.readBigUInt64LE()}` };
  }
  const n = 1 + rand(64);
  return { at, bytes: Buffer.alloc(Math.min(n, buf.length - at)), what: `${name}: ${n} bytes zeroed at ${at}` };
}

/** Apply `m` to the file at `path` whose original content is `orig`; returns an undo function. */
function patchFile(path, orig, m) {
  const fd = openSync(path, 'r+');
  writeSync(fd, m.bytes, 0, m.bytes.length, m.at);
  closeSync(fd);
  return () => {
    const fd2 = openSync(path, 'r+');
    writeSync(fd2, orig, m.at, m.bytes.length, m.at);
    closeSync(fd2);
  };
}

function mutateText(text) {
  const op = rand(5);
  const at = rand(text.length);
  if (op === 0) return text.slice(0, at) + String.fromCharCode(rand(128)) + text.slice(at + 1);
  if (op === 1) return text.slice(0, at) + pick(['"', "'", '\\', '$', '*?', '[', '{', '&a', '*a', '\n', '\t', '\0', '=']) + text.slice(at);
  if (op === 2) {
    const lines = text.split('\n');
    const i = rand(lines.length);
    return [...lines.slice(0, i + 1), ...Array(1 + rand(50)).fill(lines[i]), ...lines.slice(i + 1)].join('\n');
  }
  if (op === 3) return text.repeat(2 + rand(200));
  return text.slice(0, at);
}

// ---------------------------------------------------------------- running
async function runInProcess(argv) {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  let code;
  let thrown;
  try {
    code = await main(argv, { stdout: { write: (s) => ((stdout += s), true) }, stderr: { write: (s) => ((stderr += s), true) }, env: { NO_COLOR: '1' } });
  } catch (err) {
    thrown = err;
  }
  // Peak resident size of the process (getrusage ru_maxrss, KiB): charged to this run only when
  // this run raised it, so one heavy input does not fail every input after it.
  const peakAfter = process.resourceUsage().maxRSS * 1024;
  const rss = peakAfter > peakBefore ? peakAfter : undefined;
  return { code, stdout, stderr, ms: performance.now() - t0, rss, thrown };
}

function runProcess(argv) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...argv], { encoding: 'utf8', timeout: 3 * LIMIT_MS, maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: '1', KBTF_COMPILE_CACHE: '0' } });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: performance.now() - t0 };
}

function problems(r) {
  const p = [];
  if (r.thrown) p.push(`exception out of main: ${r.thrown?.stack?.split('\n').slice(0, 2).join(' ')}`);
  if (r.signal) p.push(`killed by ${r.signal}`);
  if (r.code !== undefined && r.code !== null && ![0, 1, 2].includes(r.code)) p.push(`exit ${r.code}`);
  if (r.code === null && !r.signal) p.push('no exit code');
  if (/INTERNAL/.test(r.stderr)) p.push(`INTERNAL: ${r.stderr.split('\n').find((l) => l.includes('INTERNAL'))}`);
  if (/\n\s+at [^\n]*(\.js|\.cjs|\.mjs|\.ts):\d+/.test(r.stderr)) p.push('stack trace on stderr');
  if (r.ms > LIMIT_MS) p.push(`took ${(r.ms / 1000).toFixed(1)} s`);
  if (r.rss !== undefined && r.rss > LIMIT_RSS) p.push(`resident ${(r.rss / 2 ** 20).toFixed(0)} MiB`);
  return p;
}

const DUMP_COMMANDS = [['info', dumpPath], ['verify', '--json', dumpPath], ['symbols', dumpPath], ['modules', '--json', dumpPath], ['print', dumpPath, 'init_uts_ns.name.release', 'jiffies_64']];
const BTF_COMMANDS = [['btf', 'validate', btfPath], ['btf', 'dump', btfPath, '--format', 'raw'], ['btf', 'dump', btfPath, '--format', 'c']];

/**
 * What verify read, as its --all-vars report shows it: every module's and companion's variables
 * (address, type, value) and every lookup. A structural mutation (header, descriptors, 2nd bitmap)
 * after which verify still says `complete` must leave this unchanged: otherwise verify judged a dump
 * complete while reading something else than the dump holds.
 */
function reading(report) {
  // Not the steps that echo header fields (vmcore: format, dump level; vmcoreinfo: its size): a
  // field nothing else depends on may change without changing what was read.
  const out = (report.steps ?? []).filter((st) => st.name !== 'vmcore' && st.name !== 'vmcoreinfo').map((st) => `step ${st.name}: ${st.evidence}`);
  for (const m of [...(report.modules ?? []), ...(report.vmlinux ? [{ name: 'vmlinux', companion: report.vmlinux }] : [])]) {
    out.push(`${m.name}: btf ${m.btf?.sha256 ?? '-'} companion ${m.companion?.btfSha256 ?? '-'}`);
    for (const v of m.companion?.problems ?? []) out.push(`${m.name}:${v.name}=${v.status}@${v.address}:${v.value}`);
  }
  for (const l of [...(report.selfTest ?? []), ...(report.lookups ?? [])]) out.push(`${l.expr}=${l.status}@${l.address}:${l.value}`);
  return out;
}
const baseline = reading(JSON.parse((await runInProcess(['verify', '--json', '--all-vars', dumpPath])).stdout));

const started = performance.now();
const failures = [];
const completeOnStructural = [];
const changedOnComplete = [];
const byFamily = {};
let inputs = 0;
let processRuns = 0;

for (let n = 0; n < COUNT && performance.now() - started < SECONDS * 1000; n++) {
  const family = pick(['dump', 'dump', 'dump', 'cut', 'policy', 'expr', ...(btfOrig ? ['btf'] : [])]);
  byFamily[family] = (byFamily[family] ?? 0) + 1;
  inputs++;
  let what;
  let undo = () => {};
  let commands;
  let region;
  if (family === 'dump') {
    region = pick(Object.keys(regions));
    const m = mutateRange(dumpOrig, regions[region], region);
    what = m.what;
    undo = patchFile(dumpPath, dumpOrig, m);
    commands = [pick(DUMP_COMMANDS), ['verify', '--json', dumpPath]];
  } else if (family === 'cut') {
    const size = rand(dumpOrig.length);
    what = `dump cut to ${size} bytes`;
    writeFileSync(dumpPath, dumpOrig.subarray(0, size));
    undo = () => copyFileSync(fixture, dumpPath);
    commands = [pick(DUMP_COMMANDS), ['verify', '--json', dumpPath]];
    region = 'cut';
  } else if (family === 'btf') {
    const copy = Buffer.from(btfOrig);
    const m = mutateRange(copy, pick([[0, 24], [24, 4096], [24, copy.length]]), 'btf');
    m.bytes.copy(copy, m.at);
    writeFileSync(btfPath, copy);
    what = m.what;
    commands = [pick(BTF_COMMANDS)];
  } else if (family === 'policy') {
    const files = { ...policyFiles };
    const rel = pick(Object.keys(files));
    files[rel] = mutateText(files[rel]);
    rmSync(policyRoot, { recursive: true, force: true });
    writePolicyRoot(files);
    what = `${rel} mutated (${files[rel].length} chars)`;
    commands = [pick([['policy', 'show', '--root', policyRoot, '--json'], ['check', '--root', policyRoot, '--json'], ['modprobe-config', '--root', policyRoot, '--kernel', '6.1.0-fuzz-amd64']])];
  } else {
    // An expression typed at `kbtf print` / `verify --lookup`: tokens of the language, shuffled.
    const tokens = ['init_uts_ns', '.name', '.release', 'jiffies_64', '->', '*', '&', '(', ')', '[', '0', ']', '(struct module *)', '(char *)', '0xffffffffc0000000', 'per_cpu(', ',', '1', 'modules', '.next', 'ext4:', 'ext4_fs_type', '.name'];
    const expr = Array.from({ length: 1 + rand(12) }, () => pick(tokens)).join(rand(2) ? '' : ' ');
    what = `expression ${JSON.stringify(expr)}`;
    commands = [pick([['print', dumpPath, expr], ['verify', '--json', '--lookup', expr, dumpPath]])];
  }
  try {
    for (const argv of commands) {
      const asProcess = PROCESS_EVERY > 0 && n % PROCESS_EVERY === 0;
      const r = asProcess ? runProcess(argv) : await runInProcess(argv);
      if (asProcess) processRuns++;
      const p = problems(r);
      if (p.length) failures.push({ input: what, command: argv.join(' '), mode: asProcess ? 'process' : 'in-process', problems: p });
      // The policy verdict, whatever the exit code: verify exits 1 for a dump that is complete by its
      // policy but not self-contained, and that verdict must rest on what the dump holds too.
      if (argv[0] === 'verify' && r.code !== 2 && STRUCTURAL.has(region)) {
        let report;
        try {
          report = JSON.parse(r.stdout);
        } catch {
          /* not JSON: counted above if it matters */
        }
        if (report?.verdict === 'complete') {
          completeOnStructural.push(what);
          // Again with every variable listed (in-process: it is the reading compared, not the limits).
          const all = await runInProcess(['verify', '--json', '--all-vars', dumpPath]);
          const now = reading(JSON.parse(all.stdout));
          const diff = now.find((x, i) => x !== baseline[i]) ?? (now.length !== baseline.length ? `${now.length} entries, not ${baseline.length}` : undefined);
          if (diff !== undefined) {
            changedOnComplete.push(what);
            failures.push({ input: what, command: argv.join(' '), mode: asProcess ? 'process' : 'in-process', problems: [`verdict complete, but what verify read changed: ${diff.slice(0, 200)} (was ${String(baseline[now.indexOf(diff)] ?? '').slice(0, 200)})`] });
          }
        }
      }
    }
  } finally {
    undo();
  }
}

const summary = {
  seed: Number(opt.seed),
  inputs,
  processRuns,
  seconds: Math.round((performance.now() - started) / 100) / 10,
  families: byFamily,
  failed: failures.length,
  failures,
  completeOnStructural: { count: completeOnStructural.length, changed: changedOnComplete.length, inputs: completeOnStructural.slice(0, 50) },
};
if (opt.json) console.log(JSON.stringify(summary, null, 2));
else {
  for (const f of failures) console.log(`FAIL ${f.mode} kbtf ${f.command}\n  input: ${f.input}\n  ${f.problems.join('\n  ')}`);
  console.log(`families: ${Object.entries(byFamily).map(([k, v]) => `${k} ${v}`).join(', ')}; ${processRuns} runs as a process; seed ${summary.seed}`);
  console.log(`verdict complete after a structural mutation: ${completeOnStructural.length} (${changedOnComplete.length} with a changed reading)${completeOnStructural.length ? ` (e.g. ${completeOnStructural.slice(0, 3).join('; ')})` : ''}`);
  console.log(`fuzz: ${inputs} inputs in ${summary.seconds} s, ${failures.length} failed`);
}
process.exit(failures.length ? 1 : 0);
