#!/usr/bin/env node
// The import graph of the TypeScript sources (packages/*/src, apps/*/src): fails on a cycle
// between files, and on a package importing one it must not (docs/architecture.md: binary ← btf,
// vmcore ← kernel ← verify ← apps; policy ← verify; companion ← apps). Run by .ci/run beside eslint.
//   node tools/check-imports.mjs        exit 0 clean, 1 with each cycle / forbidden import listed
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Which workspace packages each package may import (its dependencies, transitively allowed). */
const ALLOWED = {
  binary: [],
  btf: ['binary'],
  vmcore: ['binary'],
  kernel: ['binary', 'btf', 'vmcore'],
  policy: ['binary', 'btf'],
  companion: ['binary', 'btf'],
  verify: ['binary', 'btf', 'vmcore', 'kernel', 'policy'],
  cli: ['binary', 'btf', 'vmcore', 'kernel', 'policy', 'verify', 'companion'],
};

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'testdata' && name !== 'node_modules') walk(p, out);
    } else if (/\.ts$/.test(name) && !/\.d\.ts$/.test(name)) out.push(p);
  }
  return out;
}

const units = [];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const src = join(root, group, name, 'src');
    if (!existsSync(src)) continue;
    const pkg = JSON.parse(readFileSync(join(root, group, name, 'package.json'), 'utf8')).name.replace('@kbtf/', '');
    for (const file of walk(src)) units.push({ file, pkg });
  }
}
const pkgOf = new Map(units.map((u) => [u.file, u.pkg]));

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/g;
const DYNAMIC = /import\(\s*['"]([^'"]+)['"]\s*\)/g;
const edges = new Map();
const problems = [];
for (const { file, pkg } of units) {
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const re of [IMPORT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const spec = m[1];
      if (spec.startsWith('@kbtf/')) {
        const target = spec.slice('@kbtf/'.length).split('/')[0];
        const isTest = /\.test\.ts$|\/test-[^/]*\.ts$/.test(file);
        if (target !== pkg && !ALLOWED[pkg]?.includes(target) && !isTest) problems.push(`${relative(root, file)}: @kbtf/${pkg} imports @kbtf/${target} (docs/architecture.md)`);
      } else if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        if (pkgOf.has(target)) deps.push(target);
      }
    }
  }
  edges.set(file, deps);
}

// Cycles between files: Tarjan's strongly connected components, iteratively.
let index = 0;
const idx = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
for (const start of edges.keys()) {
  if (idx.has(start)) continue;
  const work = [[start, 0]];
  idx.set(start, index);
  low.set(start, index++);
  stack.push(start);
  onStack.add(start);
  while (work.length) {
    const top = work[work.length - 1];
    const [v, i] = top;
    const deps = edges.get(v) ?? [];
    if (i < deps.length) {
      top[1]++;
      const w = deps[i];
      if (!idx.has(w)) {
        idx.set(w, index);
        low.set(w, index++);
        stack.push(w);
        onStack.add(w);
        work.push([w, 0]);
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
      continue;
    }
    work.pop();
    if (work.length) low.set(work[work.length - 1][0], Math.min(low.get(work[work.length - 1][0]), low.get(v)));
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const selfLoop = (edges.get(v) ?? []).includes(v);
      if (scc.length > 1 || selfLoop) problems.push(`import cycle: ${scc.map((f) => relative(root, f)).sort().join(' ↔ ')}`);
    }
  }
}

for (const p of problems) console.log(p);
console.log(`imports: ${units.length} files, ${[...edges.values()].reduce((n, d) => n + d.length, 0)} relative imports; ${problems.length ? `${problems.length} problems` : 'no cycles, no import against the layering'}`);
process.exit(problems.length ? 1 : 0);
