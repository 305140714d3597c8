/**
 * The policy file: YAML, schema version 1, validated with zod. The first of
 * /etc/kbtf/policy.yaml, /run/kbtf/policy.yaml, /usr/lib/kbtf/policy.yaml that exists is used,
 * whole (no merging), the way systemd-style configuration overrides vendor defaults; a /dev/null
 * symlink in a higher directory masks the lower ones. Errors name the file and the line.
 */
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import type { z as Zod } from 'zod';
import { BadDataError, UnsupportedError } from '@kbtf/binary';
import { Root } from './root-tree.js';
import type { Source } from './setting-source.js';

export const POLICY_PATHS = ['/etc/kbtf/policy.yaml', '/run/kbtf/policy.yaml', '/usr/lib/kbtf/policy.yaml'];
export const POLICY_VERSION = 1;

export const MODES = ['always', 'on-demand', 'off'] as const;
export type Mode = (typeof MODES)[number];

// yaml and zod are loaded on the first policy file read, not at import: together they cost
// ~0.1 s of start-up on every kbtf run (kbtf verify reads no policy file unless --policy is given).
const require = createRequire(import.meta.url);
let libs: { yaml: typeof import('yaml'); schema: ReturnType<typeof buildSchema> } | undefined;

function buildSchema(z: typeof Zod) {
  const pattern = z.string().min(1).max(255).regex(/^[A-Za-z0-9_\-*?[\]!^]+$/, 'a module name or glob (letters, digits, _ - * ? [ ])');
  const moduleName = z.string().min(1).max(55).regex(/^[A-Za-z0-9_-]+$/, 'a module name (letters, digits, _ -)');
  return z.strictObject({
    version: z.literal(POLICY_VERSION),
    mode: z.enum(MODES).optional(),
    include: z.array(pattern).optional(),
    exclude: z.array(pattern).optional(),
    vmlinux: z.boolean().optional(),
    required: z.array(moduleName).optional(),
  });
}

function load(): NonNullable<typeof libs> {
  return (libs ??= { yaml: require('yaml') as typeof import('yaml'), schema: buildSchema((require('zod') as { z: typeof Zod }).z) });
}

/** The zod schema of policy files (version 1). */
export function policySchema(): ReturnType<typeof buildSchema> {
  return load().schema;
}

export type PolicyData = Zod.infer<ReturnType<typeof buildSchema>>;

export interface PolicyFile {
  file: string;
  data: PolicyData;
  /** Line of each top-level key, for sources. */
  lines: Partial<Record<keyof PolicyData, number>>;
}

/** Parse and validate policy text. Throws BadDataError "FILE:LINE: message". */
export function parsePolicy(text: string, file: string): PolicyFile {
  const { yaml, schema } = load();
  const lc = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new BadDataError(`${file}:${line}`, undefined, `YAML: ${e.message.split('\n')[0]}`);
  }
  let raw: unknown;
  try {
    // yaml caps alias expansion (maxAliasCount 100, "billion laughs") with a ReferenceError.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new BadDataError(`${file}:1`, undefined, `YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) throw new BadDataError(`${file}:1`, undefined, 'empty policy (expected a mapping with version: 1)');
  if (typeof raw === 'object' && !Array.isArray(raw) && 'version' in raw && typeof raw.version === 'number' && raw.version !== POLICY_VERSION) {
    throw new UnsupportedError(`${file}:${lineOf(doc, lc, ['version'])}: policy version ${raw.version} (this kbtf reads version ${POLICY_VERSION})`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    // Unknown keys: point at the key itself.
    const keyPath = issue.code === 'unrecognized_keys' ? [...path, issue.keys[0]] : path;
    const where = path.length ? path.join('.') : 'policy';
    const what = issue.code === 'unrecognized_keys' ? `unknown key '${issue.keys.join("', '")}'` : issue.message;
    throw new BadDataError(`${file}:${lineOf(doc, lc, keyPath)}`, undefined, `${where}: ${what}`);
  }
  const lines: PolicyFile['lines'] = {};
  for (const key of Object.keys(result.data) as (keyof PolicyData)[]) lines[key] = lineOf(doc, lc, [key]);
  return { file, data: result.data, lines };
}

/** The line of the key (for a map entry) or node (for a list item) at `path`, or its nearest ancestor. */
function lineOf(doc: Document, lc: LineCounter, path: (string | number)[]): number {
  const { isMap, isSeq, isScalar, isNode } = load().yaml;
  for (let n = path.length; n > 0; n--) {
    const last = path[n - 1];
    const parent = n > 1 ? doc.getIn(path.slice(0, n - 1), true) : doc.contents;
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === last);
      if (pair && isNode(pair.key) && pair.key.range) return lc.linePos(pair.key.range[0]).line;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isNode(item) && item.range) return lc.linePos(item.range[0]).line;
    }
  }
  const top = doc.contents;
  return isNode(top) && top.range ? lc.linePos(top.range[0]).line : 1;
}

/** The policy file that applies to a root (first found wins), parsed; undefined when none. */
export function readPolicy(root: Root): PolicyFile | undefined {
  for (const file of POLICY_PATHS) {
    const kind = root.kind(file);
    if (kind === 'masked') return undefined;
    if (kind === 'file') return parsePolicy(root.readText(file), file);
  }
  return undefined;
}

export function policySource(p: PolicyFile, key: keyof PolicyData): Source {
  return { kind: 'policy', file: p.file, line: p.lines[key] };
}
