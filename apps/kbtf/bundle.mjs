#!/usr/bin/env node
// Second build step of the CLI (after tsc): the whole program as one CommonJS file, dist/kbtf.cjs,
// which bin/kbtf.js loads with a V8 code cache. Resolving, reading and linking ~90 ES modules
// took ~40 ms of every run (a third of `kbtf verify`'s time on a lab dump); one script with its
// compiled code cached starts in a few. The lazily loaded commands stay lazy (their modules are
// wrapped in init functions). yaml and zod stay outside: @kbtf/policy requires them on the first
// policy file, from node_modules. dist/worker.js is the `--jobs` worker, bundled as an ES module
// beside it (the bundled pool looks for ./worker.js next to itself).
import { rolldown } from 'rolldown';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const external = [/^node:/, 'yaml', 'zod'];

async function bundle(input, file, format) {
  const b = await rolldown({ input, platform: 'node', external, logLevel: 'warn' });
  await b.write({ file, format, codeSplitting: false, sourcemap: false });
  await b.close();
}

await bundle(join(here, 'dist/main.js'), join(here, 'dist/kbtf.cjs'), 'cjs');
const verifyDist = dirname(createRequire(import.meta.url).resolve('@kbtf/verify'));
await bundle(join(verifyDist, 'worker.js'), join(here, 'dist/worker.js'), 'esm');
