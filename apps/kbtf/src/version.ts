import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The version from apps/kbtf/package.json (read at run time: the file ships beside dist/ and src/). */
export const VERSION: string = (require('../package.json') as { version: string }).version;
/** Version of the settings contract in docs/ (docs/design.md §3; docs/policy.md). */
export const CONTRACT_VERSION = 1;
/**
 * Version of the companion contract (docs/design.md §2; docs/companions.md). 2: the vmlinux
 * companion carries section anchors (ENUM64 kbtf_section_anchors); version-1 companions stay readable.
 */
export const COMPANION_CONTRACT_VERSION = 2;
