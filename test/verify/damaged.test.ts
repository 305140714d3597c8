/**
 * Damaged copies of the bundled real dump (made here, from test/fixtures/6.1-128m/dump.kdump; no
 * mutant is committed). A dump the verifier cannot trust must never be judged complete: each case
 * ends with exit 2 and one line naming the file and offset, or with an incomplete verdict
 * (docs/verify.md, "Damaged dumps").
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

const fixture = join(import.meta.dirname, '..', 'fixtures/6.1-128m/dump.kdump');
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-damaged-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The fixture cut to `size` bytes (a capture that ran out of space, a copy cut short). */
function cut(size: number): string {
  const p = join(tmp, `cut-${size}.kdump`);
  copyFileSync(fixture, p);
  truncateSync(p, size);
  return p;
}

/** Where the page data of the fixture starts: after the headers, bitmaps and descriptors (kdump-header.ts offsets). */
function descriptorTableEnd(): number {
  const b = readFileSync(fixture);
  const [blockSize, subHdrSize, bitmapBlocks] = [b.readInt32LE(428), b.readInt32LE(432), b.readUInt32LE(436)];
  const mapnr = Number(b.readBigUInt64LE(blockSize + 96)); // sub-header max_mapnr_64 (v6)
  const descAt = (1 + subHdrSize + bitmapBlocks) * blockSize;
  // one descriptor per set bit of the 2nd bitmap
  const second = b.subarray((1 + subHdrSize) * blockSize + (bitmapBlocks * blockSize) / 2, descAt);
  let n = 0;
  for (let pfn = 0; pfn < mapnr; pfn++) if (second[pfn >> 3] & (1 << (pfn & 7))) n++;
  return descAt + 24 * n;
}

describe('a dump cut short that its writer did not mark incomplete', () => {
  const whole = readFileSync(fixture).length;
  it.each([
    ['the issue\'s cut (661 descriptors past the end)', 17_213_068],
    ['one byte short', whole - 1],
  ])('%s: verify and info exit 2 naming the truncation', async (_name, size) => {
    const path = cut(size);
    for (const cmd of ['verify', 'info']) {
      const r = await runCli([cmd, path]);
      expect(r.code, `${cmd}: ${r.stdout}`).toBe(2);
      expect(r.stdout).not.toMatch(/verdict: complete/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^kbtf: BAD_DATA: .*${path}.*offset 0x[0-9a-f]+: truncated: page data runs to ${whole}, past end of file \\(${size}\\)`));
    }
  });

  it('cut right after the descriptor table: not "all present, 0 lost"', async () => {
    const path = cut(descriptorTableEnd());
    const r = await runCli(['info', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/truncated/);
  });
});

/** Byte offset and bit of `pfn` in the fixture's 2nd bitmap. */
function secondBitmapBit(pfn: number): { byte: number; bit: number } {
  const b = readFileSync(fixture);
  const [blockSize, subHdrSize, bitmapBlocks] = [b.readInt32LE(428), b.readInt32LE(432), b.readUInt32LE(436)];
  return { byte: (1 + subHdrSize) * blockSize + (bitmapBlocks * blockSize) / 2 + (pfn >> 3), bit: 1 << (pfn & 7) };
}

describe('one bit of the 2nd bitmap flipped (later pfns would read their neighbours\' pages)', () => {
  it.each([29043, 1, 32767])('pfn %i: verify and info exit 2, bitmap and descriptor table disagree', async (pfn) => {
    const bytes = readFileSync(fixture);
    const { byte, bit } = secondBitmapBit(pfn);
    bytes[byte] ^= bit;
    const path = join(tmp, `flip-${pfn}.kdump`);
    writeFileSync(path, bytes);
    for (const cmd of ['verify', 'info']) {
      const r = await runCli([cmd, path]);
      expect(r.code, `${cmd}: ${r.stdout}`).toBe(2);
      expect(r.stderr).toMatch(/^kbtf: BAD_DATA: .*offset 0x[0-9a-f]+: the 2nd bitmap counts \d+ dumped pages, .* the bitmap or the descriptor table is damaged\n$/);
    }
  });
});

describe('the crashed kernel\'s command line cannot be read', () => {
  it('the policy step fails naming why; no fallback to the default policy', async () => {
    // The page holding the saved_command_line string, found through the dump itself; its
    // descriptor's size is zeroed, so that one page (and no other) no longer reads.
    const k = openKernel(fixture);
    const pfn = Number(k.memory.translate(k.global('saved_command_line').value()) / 4096n);
    k.close();
    const b = readFileSync(fixture);
    const [blockSize, subHdrSize, bitmapBlocks] = [b.readInt32LE(428), b.readInt32LE(432), b.readUInt32LE(436)];
    const second = b.subarray((1 + subHdrSize) * blockSize + (bitmapBlocks * blockSize) / 2);
    let index = 0;
    for (let p = 0; p < pfn; p++) if (second[p >> 3] & (1 << (p & 7))) index++;
    const desc = (1 + subHdrSize + bitmapBlocks) * blockSize + 24 * index;
    b.writeUInt32LE(0, desc + 8);
    const path = join(tmp, 'no-cmdline.kdump');
    writeFileSync(path, b);
    const r = await runCli(['verify', '--json', path]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { verdict: string; reasons: string[] };
    expect(report.verdict).toBe('incomplete');
    expect(report.reasons).toHaveLength(1);
    expect(report.reasons[0]).toMatch(/^policy: cannot read saved_command_line: .*bad-data.*give --cmdline/);
    // With the setting given, the same dump is judged by it.
    const given = await runCli(['verify', '--json', '--cmdline', 'btf_companions=always', path]);
    expect((JSON.parse(given.stdout) as { reasons: string[] }).reasons.some((x) => x.startsWith('policy:'))).toBe(false);
  });
});

