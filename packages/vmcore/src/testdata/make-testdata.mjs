#!/usr/bin/env node
// Makes the compressed test pages of packages/vmcore from their plain pages, with the real
// compressors makedumpfile uses, so that the unit tests need neither tool:
// - lzo-KIND.lzo for lzo.test.ts: lzo-KIND.page (committed) through liblzo2's lzo1x_1_compress
//   (python3-lzo, level 1, no header);
// - kdump-pages.json for kdump-core.test.ts: the test's pages (pages(PFNS) there: byte i of pfn
// p = (p * 7 + (i >> 3)) & 0xff, every fifth pfn all zero) compressed by the real compressors
// makedumpfile uses — liblzo2's lzo1x_1_compress through python3-lzo (level 1, no header; as
// makedumpfile -l) and the zstd CLI (as makedumpfile -z) — base64 per pfn. The test decodes them
// and compares with its own pages, so a change on either side fails it.
// Run (Debian: apt-get install python3-lzo zstd): node packages/vmcore/src/testdata/make-testdata.mjs
// (rerunning it on unchanged pages reproduces the committed bytes exactly).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const PFNS = [1, 2, 3, 5, 8, 9, 10, 11, 100, 101, 600, 1000, 1001, 1002, 2047];
const page = (p) => (p % 5 === 0 ? new Uint8Array(4096) : Uint8Array.from({ length: 4096 }, (_, i) => (p * 7 + (i >> 3)) & 0xff));
const lzo = (b) => Buffer.from(execFileSync('python3', ['-c', 'import sys,lzo,base64; sys.stdout.write(base64.b64encode(lzo.compress(base64.b64decode(sys.stdin.read()),1,False)).decode())'], { input: Buffer.from(b).toString('base64') }).toString(), 'base64');
const zstd = (b) => execFileSync('zstd', ['-q', '-c', '--no-check'], { input: b });

for (const kind of ['text', 'mixed', 'fill', 'random', 'long']) {
  const at = (ext) => new URL(`./lzo-${kind}.${ext}`, import.meta.url);
  writeFileSync(at('lzo'), lzo(readFileSync(at('page'))));
}

const out = { made: 'make-testdata.mjs', lzo: {}, zstd: {} };
for (const p of PFNS) {
  out.lzo[p] = lzo(page(p)).toString('base64');
  out.zstd[p] = zstd(page(p)).toString('base64');
}
writeFileSync(new URL('./kdump-pages.json', import.meta.url), JSON.stringify(out, null, 1) + '\n');
