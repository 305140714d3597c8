#!/usr/bin/env -S node --v8-pool-size=1
'use strict';
// Committed shim so that npm links the `kbtf` bin before the first build; the code lives in dist/.
// (CommonJS, see bin/package.json: a CommonJS entry starts faster than an ES module one.)
//
// With the bundled build (dist/kbtf.cjs, made by bundle.mjs) it compiles that one script with a
// V8 code cache, as Node 22's NODE_COMPILE_CACHE does: the first run of each command stores the
// compiled code in $KBTF_COMPILE_CACHE (a directory; default $XDG_CACHE_HOME/kbtf, else
// ~/.cache/kbtf; none when HOME is unset or /, as for system units and early boot), later runs
// skip parsing and compiling. The cache file is named by Node's V8
// version and the bundle's size and mtime, and V8 checks it again; a file another user owns or can
// write is not used; any failure to read or write it is ignored. KBTF_COMPILE_CACHE=0 turns it
// off. Without the bundle it imports dist/main.js.
const fs = require('node:fs');
const path = require('node:path');

// --v8-pool-size=1 (the line above; the Debian package's launcher has it too): V8's background
// work (its concurrent compiler, the GC's helpers) gets one thread, not Node's default four. kbtf's
// work is one thread of JavaScript; on a 2-core machine four helpers oversubscribe the cores the
// main thread needs, and a parallel scavenge waits for helpers that are not running. Alternating
// runs on the 2-core bench machine (2026-12-03, medians of 21): 6.1 companion dump 392 → 331 ms,
// arm64 companion dump 432 → 372, plain 169 → 157; --single-threaded (no background thread at
// all) 609. `node kbtf.js` (no shebang) runs without it: slower, the same answers.
//
// TurboFan without inlining (`--no-turbo-inlining`, set below): a verify runs once over each of
// its loops, so what counts is how soon the one compiler thread has optimised code for them, and
// an optimised function that inlines its callees is a larger job. Alternating runs, each variant
// with its own compile cache (2026-12-03, medians of 15): 6.1 companion dump 290 → 274 ms (cpu
// 490 → 430), 6.12 zstd companion dump 406 → 372, arm64 333 → 316, btf dump 126 → 124; plain
// 156 → 159. It is set here, not on the line above: an option node does not know stops node
// ("bad option"), a flag V8 does not know only prints a line to stderr, and it is set only for
// the V8 versions it is known in (10 to 13: Node 18 to 24) so that a later V8 prints nothing.
// v8.setFlagsFromString before any code is compiled acts as the command-line flag does.
//
// WebAssembly without TurboFan (`--liftoff-only`): zstd pages are decoded by libzstd as WebAssembly
// (packages/vmcore), compiled at once by Liftoff, V8's baseline compiler. Its tier-up recompiles
// the hot functions with TurboFan on the same one background thread, ahead of the JavaScript
// waiting there: on the 6.12 zstd companion dump the kallsyms step (the first zstd pages, then a
// loop over 163,000 names left unoptimised meanwhile) took ~75 ms against ~25 for the same work on a
// zlib dump. Alternating runs (2026-12-03, 9 rounds, own compile caches): 365 → 346 ms, cpu 610 →
// 530; --no-liftoff 395, --no-wasm-dynamic-tiering 382. No other command runs WebAssembly.
// Both flags exist unchanged from V8 10.2 (Node 18, Debian 12) to 13.
const v8Major = Number(process.versions.v8.split('.')[0]);
if (v8Major >= 10 && v8Major <= 13) require('node:v8').setFlagsFromString('--no-turbo-inlining --liftoff-only');
//
// V8's young generation is left to grow as V8 chooses (1 MiB semi-spaces doubling up to 16 MiB).
// Keeping it at 1 MiB (`--semi-space-growth-factor=1`, set here until 2026-12-02) traded ~4,000
// page faults for ~50 more scavenges: worth 15 % on a VM where a fresh page cost a 17 µs fault,
// 5 % slower on the bench machine of 2026-12-02 (2 µs a fault; 6.1 companion dump, alternating
// runs: 449 vs 487 ms median), where the scavenges' pauses (~35 vs ~65 ms) cost more than the
// faults. docs/verify.md "Performance".

// The Debian package (tools/package/build.mjs) installs this file as /usr/lib/kbtf/kbtf-cli.cjs
// beside the bundle (/usr/bin/kbtf links to it) and rewrites the next line to `__dirname`.
const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'kbtf.cjs');
const argv = process.argv.slice(2);

function cacheDir() {
  const set = process.env.KBTF_COMPILE_CACHE;
  if (set === '0') return undefined;
  if (set) return set;
  // Only absolute directories, and not under / itself: a system unit or a hook (HOME unset or /)
  // runs without a cache rather than creating /.cache.
  const home = process.env.HOME;
  const base = process.env.XDG_CACHE_HOME || (home && path.resolve(home) !== '/' ? path.join(home, '.cache') : undefined);
  return base && path.isAbsolute(base) ? path.join(base, 'kbtf') : undefined;
}

function runBundle() {
  const vm = require('node:vm');
  const Module = require('node:module');
  const source = fs.readFileSync(bundle, 'utf8');
  const dir = cacheDir();
  const command = /^[a-z][a-z-]{0,31}$/.test(argv[0] ?? '') ? argv[0] : 'other';
  let file;
  let cached;
  if (dir) {
    const st = fs.statSync(bundle);
    const key = `${process.versions.v8}-${process.arch}-${st.size}-${Math.trunc(st.mtimeMs)}`.replace(/[^\w.-]/g, '_');
    file = path.join(dir, `compile-${command}-${key}.bin`);
    try {
      // Only a cache this user wrote and nobody else can change is run (think `sudo -E kbtf`).
      const cst = fs.statSync(file);
      if (cst.uid === process.getuid() && (cst.mode & 0o022) === 0) cached = fs.readFileSync(file);
    } catch {
      cached = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData: cached });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dist);
  return mod.exports.main(argv).then((code) => {
    if (file && code <= 1 && (!cached || script.cachedDataRejected)) saveCache(dir, file, command, script);
    return code;
  });
}

function saveCache(dir, file, command, script) {
  try {
    // Not mkdirSync's recursive mode: it loops forever on some file systems (ENOENT in /proc).
    // The directory and at most its parent (~/.cache) are created.
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if (err.code === 'ENOENT') {
        fs.mkdirSync(path.dirname(dir), { mode: 0o700 });
        fs.mkdirSync(dir, { mode: 0o700 });
      } else if (err.code !== 'EEXIST') throw err;
    }
    for (const old of fs.readdirSync(dir)) if (old.startsWith(`compile-${command}-`) && old.endsWith('.bin')) fs.rmSync(path.join(dir, old), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    // a read-only or missing cache directory only costs the next run its compile time
  }
}

const run = fs.existsSync(bundle) ? runBundle() : import('../dist/main.js').then((m) => m.main(argv));
// Exit at once when everything written has left (tearing the heap down only costs time); output
// still queued (stdout and stderr are synchronous on Linux, so only elsewhere) drains first.
run.then((code) => {
  process.exitCode = code;
  exitWhenWritten(code);
});

function exitWhenWritten(code) {
  const pending = [process.stdout, process.stderr].find((s) => s.writableLength > 0 && !s.destroyed);
  if (pending) {
    pending.once('drain', () => exitWhenWritten(code));
    return;
  }
  settleHeap();
  process.exit(code);
}

// A full garbage collection before exiting. Node's exit (process.exit, and the end of the event
// loop alike) waits for V8's worker threads while the main thread no longer collects garbage; a
// concurrent compile job still running then that needs the main thread to collect before it can
// allocate waits for it forever, and so does the process (nodejs/node#54918: Node 18 to 26; seen
// here once in ~600 runs, the worker parked in CollectionBarrier::AwaitCollectionBackground, the
// main thread in NodePlatform::Shutdown's join). With the one background thread kbtf asks for,
// a compile job is almost always running at exit. After a full collection the old generation is
// well below its limit, so the job's few allocations need no collection and it finishes. Costs
// ~5-10 ms (docs/verify.md "Performance").
function settleHeap() {
  try {
    require('node:v8').setFlagsFromString('--expose-gc');
    require('node:vm').runInNewContext('gc')();
  } catch {
    // best effort: an exit without it is what Node does anyway
  }
}
