// Shared vitest settings: every workspace package is imported from its TypeScript source,
// so `npm test` needs no prior build.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { readdirSync, existsSync, readFileSync } from 'node:fs';

const root = dirname(fileURLToPath(import.meta.url));

/** `@kbtf/<name>` → its src/index.ts, for every workspace directory (packages/*, apps/*). */
function workspaceAliases(): { find: RegExp; replacement: string }[] {
  const out: { find: RegExp; replacement: string }[] = [];
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(resolve(root, group))) {
      const src = resolve(root, group, dir, 'src/index.ts');
      const pkg = resolve(root, group, dir, 'package.json');
      if (!existsSync(src) || !existsSync(pkg)) continue;
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name: string }).name;
      // Exact match only: '@kbtf/btf' must not capture '@kbtf/btf-something'.
      out.push({ find: new RegExp(`^${name.replace(/[/]/g, '\\/')}$`), replacement: src });
    }
  }
  return out;
}

export const alias = workspaceAliases();
export const workspaceRoot = root;
