#!/usr/bin/env node
// `npm run bench`: runs every tools/bench/*.bench.mjs in turn (each prints its own ratios against
// the real tools), or only those whose name contains an argument: `npm run bench -- btf`.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv.slice(2);
const benches = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && (filter.length === 0 || filter.some((w) => f.includes(w)))).sort();
let failed = 0;
for (const b of benches) {
  console.log(`\n### ${b}`);
  const r = spawnSync(process.execPath, [join(here, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (benches.length === 0) console.log('no benchmarks matched');
process.exit(failed ? 1 : 0);
