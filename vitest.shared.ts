// Shared vitest settings: every workspace package is imported from its TypeScript source,
// so `npm test` needs no prior build.
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { readdirSync, existsSync } from 'node:fs';

const root = dirname(fileURLToPath(import.meta.url));

function workspaceAliases(): { find: string; replacement: string }[] {
  const out: { find: string; replacement: string }[] = [];
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(resolve(root, group))) {
      const src = resolve(root, group, dir, 'src/index.ts');
      if (existsSync(src)) out.push({ find: `@kbtf/${dir === 'kbtf' ? 'cli' : dir}`, replacement: src });
    }
  }
  return out;
}

export const alias = workspaceAliases();
export const workspaceRoot = root;
