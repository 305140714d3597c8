import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BadDataError } from '@kbtf/binary';
import { decompressModule, MAX_MODULE } from './modinfo.js';

/** Zeros of `n` bytes, compressed (they shrink ~1000×: a small file, a huge output). */
const zeros = (n: number) => new Uint8Array(n);

describe('module decompression is bounded', () => {
  it('decompresses an ordinary module', () => {
    const ko = Buffer.from('\x7fELF module bytes');
    expect(Buffer.from(decompressModule(gzipSync(ko), 'm.ko.gz')).equals(ko)).toBe(true);
  });

  it.each([
    ['gz', (b: Uint8Array) => gzipSync(b)],
    ['xz', (b: Uint8Array) => execFileSync('xz', ['-c', '-0'], { input: b, maxBuffer: 1 << 30 })],
    ['zst', (b: Uint8Array) => execFileSync('zstd', ['-c', '-q', '-1'], { input: b, maxBuffer: 1 << 30 })],
  ])('.ko.%s that inflates past the cap: BAD_DATA naming the file', (ext, compress) => {
    const bomb = compress(zeros(MAX_MODULE + 4096));
    expect(bomb.length).toBeLessThan(1 << 20);
    const before = process.memoryUsage().rss;
    expect(() => decompressModule(bomb, `ext4.ko.${ext}`)).toThrow(BadDataError);
    expect(() => decompressModule(bomb, `ext4.ko.${ext}`)).toThrow(/ext4\.ko\.\w+: decompresses to more than 134217728 bytes/);
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  });
});
