import { describe, expect, it } from 'vitest';
import { parseVmcoreInfo } from './vmcoreinfo.js';

const TEXT = `OSRELEASE=6.1.0-56-amd64
BUILD-ID=6a3ab2e0f7d1
PAGESIZE=4096
SYMBOL(init_uts_ns)=ffffffff82a1b1e0
SYMBOL(swapper_pg_dir)=ffffffff82a0a000
OFFSET(list_head.next)=0
SIZE(list_head)=16
LENGTH(mem_section)=2048
NUMBER(phys_base)=-27262976
NUMBER(pgtable_l5_enabled)=0
NUMBER(kimage_voffset)=0xffff800008000000
KERNELOFFSET=1e800000
CRASHTIME=1700000000
`;

describe('parseVmcoreInfo', () => {
  const info = parseVmcoreInfo(TEXT);
  it('types every kind of line', () => {
    expect(info.osRelease).toBe('6.1.0-56-amd64');
    expect(info.buildId).toBe('6a3ab2e0f7d1');
    expect(info.pageSize).toBe(4096);
    expect(info.symbols.get('init_uts_ns')).toBe(0xffffffff82a1b1e0n);
    expect(info.offsets.get('list_head.next')).toBe(0);
    expect(info.sizes.get('list_head')).toBe(16);
    expect(info.lengths.get('mem_section')).toBe(2048);
    expect(info.numbers.get('pgtable_l5_enabled')).toBe(0n);
    expect(info.other.get('CRASHTIME')).toBe('1700000000');
    expect(info.raw).toBe(TEXT);
  });
  it('reads phys_base as signed decimal and KERNELOFFSET as hex', () => {
    expect(info.physBase).toBe(-27262976n);
    expect(info.kernelOffset).toBe(0x1e800000n);
  });
  it('accepts arm64 hex NUMBERs', () => {
    expect(info.numbers.get('kimage_voffset')).toBe(0xffff800008000000n);
  });
  it('keeps malformed values in other instead of throwing', () => {
    const bad = parseVmcoreInfo('PAGESIZE=lots\nSYMBOL(x)=zz\nnoequals\n');
    expect(bad.pageSize).toBeUndefined();
    expect(bad.other.get('PAGESIZE')).toBe('lots');
    expect(bad.other.get('SYMBOL(x)')).toBe('zz');
  });
});
