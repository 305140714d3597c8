import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The version from apps/kbtf/package.json (read at run time: the file ships beside dist/ and src/). */
export const VERSION: string = (require('../package.json') as { version: string }).version;
/** Version of the companion and settings contracts in docs/ (docs/design.md §2 and §3; docs/companions.md, docs/policy.md). */
export const CONTRACT_VERSION = 1;
