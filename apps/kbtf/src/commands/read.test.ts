import { describe, expect, it } from 'vitest';
import { UsageError } from '@kbtf/binary';
import { addressSpaces, hexDump, parseAddress } from './read.js';
import { runCli } from '../cli/test-io.js';

describe('kbtf read helpers', () => {
  it('parses hex and decimal addresses, rejects junk', () => {
    expect(parseAddress('0x9600000', 'ADDR')).toBe(0x9600000n);
    expect(parseAddress('4096', 'LEN')).toBe(4096n);
    expect(() => parseAddress('0xzz', 'ADDR')).toThrow(UsageError);
    expect(() => parseAddress('0x1' + '0'.repeat(16), 'ADDR')).toThrow(/64 bits/);
  });
  it('hex dumps 16 bytes a line with the address and ASCII', () => {
    const lines = hexDump(0xffffffff81000000n, new Uint8Array([...Buffer.from('Linux version 6.1'), 0, 1]));
    expect(lines).toEqual([
      'ffffffff81000000  4c 69 6e 75 78 20 76 65  72 73 69 6f 6e 20 36 2e  |Linux version 6.|',
      'ffffffff81000010  31 00 01                                          |1..|',
    ]);
  });
  it('has the physical space as a table entry (where --virt is added)', () => {
    expect(addressSpaces.map((s) => s.option)).toContain('phys');
  });
  it('needs exactly one address option', async () => {
    const r = await runCli(['read', 'x.core', '16']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('USAGE');
  });
});
