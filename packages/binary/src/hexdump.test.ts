import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexDump } from './hexdump.js';

const testdata = join(import.meta.dirname, 'testdata');

describe('hexDump', () => {
  it('lays bytes out as `hexdump -C -v` does, with a 64-bit address column', () => {
    // testdata/elf64-x86_64.so.hexdump: its first 1000 bytes through hexdump -C -v (make-elf.sh);
    // 1000 is not a multiple of 16, so the short last line is checked too.
    const bytes = new Uint8Array(readFileSync(join(testdata, 'elf64-x86_64.so'))).subarray(0, 1000);
    const expected = readFileSync(join(testdata, 'elf64-x86_64.so.hexdump'), 'utf8').trimEnd().split('\n').slice(0, -1); // its last line is the end offset
    expect(hexDump(0n, bytes)).toEqual(expected.map((l) => `00000000${l}`));
  });
  it('counts the address on from where the bytes were read', () => {
    const lines = hexDump(0xffffffff81000000n, new Uint8Array([...Buffer.from('Linux version 6.1'), 0, 1]));
    expect(lines).toEqual([
      'ffffffff81000000  4c 69 6e 75 78 20 76 65  72 73 69 6f 6e 20 36 2e  |Linux version 6.|',
      'ffffffff81000010  31 00 01                                          |1..|',
    ]);
    expect(hexDump(0n, new Uint8Array())).toEqual([]);
  });
});
