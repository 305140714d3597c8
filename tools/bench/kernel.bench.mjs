#!/usr/bin/env node
// Bench of @kbtf/kernel: `kbtf modules VMCORE --json` (page tables, kallsyms, vmlinux BTF from the
// dump, the module list, each module's BTF from btf_modules with its SHA-256, symbol counts) with no
// debuginfo, against the real tools doing the same walk with Debian's DWARF vmlinux (-dbg):
//   drgn (python3-drgn)   the same walk as a drgn script (modules, btf_modules, sha256, num_symtab)
//   crash                 `mod`
// Each tool runs RUNS times in its own process under /usr/bin/time; the median wall time and the
// peak RSS are reported, and kbtf / tool as ratios. kbtf's and drgn's module lists are compared.
// Needs the build (`npx nx run @kbtf/cli:build`) and the lab (.lab/, docs/lab.md). The -dbg vmlinux
// is looked up in /var/cache/kbtf/kernels/KVER/dbg and .lab/kernels/KVER-dbg (tools/lab/dbg-vmlinux.sh).
// KBTF_BENCH_DUMP=path overrides the dump (default: .lab/6.1-4level/mkd-zlib.kdump). Every command
// runs without NODE_EXTRA_CA_CERTS (node-env.mjs).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dbgVmlinux } from './debuginfo.mjs';
import { cleanEnv, envNote, launch } from './node-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'apps/kbtf/bin/kbtf.js');
const labDir = process.env.KBTF_LAB_DIR ?? join(root, '.lab');
const dump = process.env.KBTF_BENCH_DUMP ?? join(labDir, '6.1-4level', 'mkd-zlib.kdump');
const RUNS = Number(process.env.KBTF_BENCH_RUNS ?? 3);
const TIME = '/usr/bin/time';

if (!existsSync(join(root, 'apps/kbtf/dist/main.js'))) {
  console.log('kernel bench: apps/kbtf/dist missing; run: npx nx run @kbtf/cli:build');
  process.exit(1);
}
if (!existsSync(dump)) {
  console.log(`kernel bench: no lab dump ${dump} (see docs/lab.md)`);
  process.exit(1);
}
if (!existsSync(TIME)) {
  console.log('kernel bench: /usr/bin/time (GNU time) is needed for peak memory');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'kbtf-kernel-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Run argv RUNS times; median wall seconds, max peak RSS (MB), the last stdout. */
function measure(argv, input) {
  const times = [];
  let rss = 0;
  let stdout = '';
  for (let i = 0; i < RUNS; i++) {
    const out = join(tmp, 'time.txt');
    const r = spawnSync(TIME, ['-f', '%e %M', '-o', out, ...argv], { encoding: 'utf8', input, maxBuffer: 1 << 28, env: cleanEnv });
    if (r.status !== 0) return { error: `${argv[0]} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}` };
    const [sec, kb] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    times.push(sec);
    rss = Math.max(rss, kb / 1024);
    stdout = r.stdout;
  }
  times.sort((a, b) => a - b);
  return { sec: times[Math.floor(times.length / 2)], rss, stdout };
}

function kernelRelease() {
  const truth = join(dirname(dump), 'truth.json');
  if (existsSync(truth)) return JSON.parse(readFileSync(truth, 'utf8')).kernel;
  const r = spawnSync(process.execPath, [...launch(cli).slice(1), 'print', dump, 'init_uts_ns.name.release', '--json'], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout).values[0].text.replace(/^\(char \[\d+\]\)"|"$/g, '') : undefined;
}

// The walk `kbtf modules --json` does, in drgn: offsets from DWARF instead of BTF.
const DRGN_SCRIPT = `
import hashlib, json
from drgn.helpers.linux.list import list_for_each_entry
btf = {}
for bm in list_for_each_entry('struct btf_module', prog['btf_modules'].address_of_(), 'list'):
    b = bm.btf
    btf[bm.module.value_()] = prog.read(b.data.value_(), b.data_size.value_())
out = []
for mod in list_for_each_entry('struct module', prog['modules'].address_of_(), 'list'):
    try:
        mem = mod.mem
        base = mem[prog.constant('MOD_TEXT')].base.value_()
        size = sum(mem[i].size.value_() for i in range(len(mem)))
    except (AttributeError, LookupError):
        base = mod.core_layout.base.value_()
        size = mod.core_layout.size.value_() + mod.init_layout.size.value_()
    data = btf.get(mod.value_())
    out.append({'name': mod.name.string_().decode(), 'address': hex(mod.value_()), 'base': hex(base), 'size': size,
                'btf': {'size': len(data), 'sha256': hashlib.sha256(data).hexdigest()} if data is not None else None,
                'symbols': mod.kallsyms.num_symtab.value_()})
print(json.dumps({'modules': out}))
`;

const fmt = (m) => `${m.sec.toFixed(2).padStart(6)} s  ${m.rss.toFixed(0).padStart(5)} MB`;
const ratio = (a, b) => `time ${(a.sec / b.sec).toFixed(2)}x, peak memory ${(a.rss / b.rss).toFixed(2)}x`;

console.log(`kernel bench: modules walk on ${dump} (median of ${RUNS} runs, peak RSS)`);
if (envNote('every command runs')) console.log(envNote('every command runs'));
const kbtf = measure([...launch(cli), 'modules', dump, '--json']);
if (kbtf.error) {
  console.log(`kbtf modules --json: FAILED: ${kbtf.error}`);
  process.exit(1);
}
const ours = JSON.parse(kbtf.stdout).modules;
console.log(`kbtf modules --json (no debuginfo)    ${fmt(kbtf)}   ${ours.length} modules, ${ours.filter((m) => m.btf).length} with BTF`);

const kver = kernelRelease();
const vmlinux = kver && dbgVmlinux(kver, labDir);
let failed = false;
if (!vmlinux) {
  console.log('drgn: skipped (no -dbg vmlinux)');
  console.log('crash: skipped (no -dbg vmlinux)');
} else {
  if (!existsSync('/usr/bin/drgn')) console.log('drgn: skipped (python3-drgn not installed)');
  else {
    const script = join(tmp, 'modules.py');
    writeFileSync(script, DRGN_SCRIPT);
    const drgn = measure(['/usr/bin/drgn', '-c', dump, '-s', vmlinux, '--no-default-symbols', script]);
    if (drgn.error) console.log(`drgn: FAILED: ${drgn.error}`);
    else {
      const theirs = JSON.parse(drgn.stdout).modules;
      const key = (m) => JSON.stringify([m.name, m.address, m.base, m.size, m.btf, m.symbols]);
      const agree = ours.length === theirs.length && ours.every((m, i) => key(m) === key(theirs[i]));
      if (!agree) failed = true;
      console.log(`drgn + -dbg vmlinux (same walk)       ${fmt(drgn)}   kbtf/drgn: ${ratio(kbtf, drgn)}; results ${agree ? 'identical' : 'DIFFER'}`);
    }
  }
  if (!existsSync('/usr/bin/crash')) console.log('crash: skipped (crash not installed)');
  else {
    const crash = measure(['/usr/bin/crash', '-s', vmlinux, dump], 'mod\nquit\n');
    if (crash.error) console.log(`crash: FAILED: ${crash.error}`);
    else {
      const rows = crash.stdout.split('\n').filter((l) => /^[0-9a-f]{16}\s+\S+\s+[0-9a-f]{16}\s+\d+/.test(l)).length;
      console.log(`crash mod + -dbg vmlinux              ${fmt(crash)}   kbtf/crash: ${ratio(kbtf, crash)}; ${rows} modules listed`);
    }
  }
}
process.exit(failed ? 1 : 0);
