#!/usr/bin/env node
// Second build step of the CLI (after tsc): the whole program as one CommonJS file, dist/kbtf.cjs,
// which bin/kbtf.js loads with a V8 code cache. Resolving, reading and linking ~90 ES modules
// took ~40 ms of every run (a third of `kbtf verify`'s time on a lab dump); one script with its
// compiled code cached starts in a few. The lazily loaded commands stay lazy (their modules are
// wrapped in init functions). dist/worker.js is the `--jobs` worker, bundled as an ES module
// beside it (the bundled pool looks for ./worker.js next to itself).
//
// dist/ (kbtf.cjs, worker.js, yaml.cjs, zod.cjs) runs with nothing but node: the Debian package
// (tools/package) installs it as /usr/lib/kbtf. For that:
// - yaml and zod are bundled into dist/yaml.cjs and dist/zod.cjs, and @kbtf/policy's lazy
//   `require('yaml')`/`require('zod')` (on the first policy file read) become `require('./yaml.cjs')`
//   and `require('./zod.cjs')`, relative to kbtf.cjs: a run that reads no policy file (kbtf verify)
//   neither reads nor compiles them, as before.
// - the version is inlined: version.js's `require('../package.json').version` becomes the string.
import { rolldown } from 'rolldown';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire, builtinModules } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const version = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).version;
const LIBS = ['yaml', 'zod'];

/** Rewrites of the compiled sources (tsc output in dist/) on their way into the bundle. */
const inline = {
  name: 'kbtf-inline',
  transform(code, id) {
    let out = code;
    if (/[\\/]apps[\\/]kbtf[\\/]dist[\\/]version\.js$/.test(id)) {
      out = out.replace(/require\((['"])\.\.\/package\.json\1\)\.version/, () => JSON.stringify(version));
      if (out === code) throw new Error(`bundle.mjs: no require('../package.json').version in ${id}`);
    }
    for (const lib of LIBS) out = out.replace(new RegExp(`require\\((['"])${lib}\\1\\)`, 'g'), `require('./${lib}.cjs')`);
    return out === code ? null : { code: out, map: null };
  },
};

// Output: ASCII only (non-ASCII in strings and regexps escaped), so that the source V8 keeps is a
// one-byte string, half the memory of a two-byte one; no comments but legal ones and no whitespace
// (450 KB instead of 621 KB, which every run reads, hashes against its code cache and keeps). Names
// are not mangled and code is not rewritten: a stack trace still names every function.
async function bundle(input, file, format, options = {}) {
  const b = await rolldown({ input, platform: 'node', external: [/^node:/, ...LIBS, /^\.\/(yaml|zod)\.cjs$/], logLevel: 'warn', ...options });
  await b.write({ file, format, codeSplitting: false, sourcemap: false, charset: 'ascii', comments: { legal: true, annotation: false, jsdoc: false }, minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } } });
  await b.close();
}

await bundle(join(here, 'dist/main.js'), join(here, 'dist/kbtf.cjs'), 'cjs', { plugins: [inline] });
const verifyDist = dirname(require.resolve('@kbtf/verify'));
await bundle(join(verifyDist, 'worker.js'), join(here, 'dist/worker.js'), 'esm', { plugins: [inline] });
// yaml: its CommonJS build; zod: the CommonJS build its package exports (index.cjs).
for (const lib of LIBS) await bundle(require.resolve(lib), join(here, `dist/${lib}.cjs`), 'cjs', { external: [/^node:/] });

// The bundles must need nothing outside dist/: no package.json, no node_modules package.
for (const f of ['kbtf.cjs', 'worker.js', 'yaml.cjs', 'zod.cjs']) {
  const text = readFileSync(join(here, 'dist', f), 'utf8');
  const wide = [...text].findIndex((ch) => ch.charCodeAt(0) > 0x7f);
  if (wide >= 0) throw new Error(`bundle.mjs: dist/${f} has a non-ASCII character at ${wide}`);
  const loads = [...text.matchAll(/(?:\brequire(?:\$\d+)?\(|^import\b[^'"\n]*?\bfrom\s+|\bimport\()\s*(['"])([^'"]+)\1/gm)].map((m) => m[2]);
  const bad = loads.filter((s) => !builtinModules.includes(s.replace(/^node:/, '')) && !/^\.\/(yaml|zod)\.cjs$/.test(s));
  if (bad.length) throw new Error(`bundle.mjs: dist/${f} still loads ${[...new Set(bad)].join(', ')}`);
}
