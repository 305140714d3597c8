import { describe, expect, it } from 'vitest';
import { parseBtf, writeBtf, type BtfType } from '@kbtf/btf';
import { checkCompanion } from './check.js';
import { SHF_ALLOC } from '@kbtf/binary';
import { makeElf, modinfo } from '../../../packages/binary/src/test-elf.js';

const KVER = '6.1.0-56-amd64';
const base = parseBtf(writeBtf([{ id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitsOffset: 0, bits: 32 }] as BtfType[]), { source: 'base' });
const split = (vars: { type: number; offset: number; size: number }[]) =>
  writeBtf(
    [
      { id: 2, kind: 'var', name: 'debug', type: 1, linkage: 0 },
      { id: 3, kind: 'var', name: 'other', type: 1, linkage: 0 },
      { id: 4, kind: 'datasec', name: '.data', size: 8, vars },
    ] as BtfType[],
    { base },
  );
const good = split([{ type: 2, offset: 0, size: 4 }, { type: 3, offset: 4, size: 4 }]);
const info = { name: 'e1000_btf', btf_companion_of: 'e1000', vermagic: `${KVER} SMP preempt mod_unload modversions ` };
const ko = (btf: Uint8Array, opts: { flags?: bigint; info?: Record<string, string>; debug?: boolean; btfBase?: boolean } = {}) =>
  makeElf([
    { name: '.modinfo', data: modinfo(opts.info ?? info), flags: SHF_ALLOC },
    ...(opts.debug ? [{ name: '.debug_info', data: new Uint8Array(4) }] : []),
    { name: '.BTF', data: btf, flags: opts.flags ?? 0n },
    ...(opts.btfBase ? [{ name: '.BTF.base', data: new Uint8Array(49) }] : []),
  ]);

describe('checkCompanion', () => {
  it('accepts a well-formed companion', () => {
    expect(checkCompanion(ko(good), 'e1000-btf.ko', { of: 'e1000', kver: KVER, btf: good, base })).toMatchObject({ name: 'e1000_btf', vars: 2, btfSize: good.length });
  });
  it('refuses BTF the kernel would reject (overlapping DATASEC entries)', () => {
    const bad = split([{ type: 2, offset: 0, size: 4 }, { type: 3, offset: 0, size: 4 }]);
    expect(() => checkCompanion(ko(bad), 'x', { of: 'e1000', kver: KVER, btf: bad, base })).toThrow(/kernel would reject its BTF: \[4\] Invalid offset/);
  });
  it('refuses a loader-visible problem', () => {
    const chk = (bytes: Uint8Array) => () => checkCompanion(bytes, 'x', { of: 'e1000', kver: KVER, btf: good, base });
    expect(chk(ko(good, { flags: SHF_ALLOC }))).toThrow(/SHF_ALLOC/);
    expect(chk(ko(good, { debug: true }))).toThrow(/\.debug_info left/);
    // trixie's kbuild (pahole 1.30 in the tree) adds a distilled base the 6.12 loader would relocate against.
    expect(chk(ko(good, { btfBase: true }))).toThrow(/\.BTF\.base present/);
    expect(chk(ko(good, { info: { ...info, btf_companion_of: 'e100' } }))).toThrow(/btf_companion_of=e100, want e1000/);
    expect(chk(ko(good, { info: { ...info, vermagic: '6.12.95+deb12-amd64 SMP' } }))).toThrow(/not for 6\.1\.0-56-amd64/);
    expect(chk(ko(split([{ type: 2, offset: 0, size: 4 }])))).toThrow(/differs from the pruned BTF/);
  });

  it('arm64: EM_AARCH64 and the vermagic of 6.1.0-57-arm64 accepted; another machine or vermagic refused', () => {
    const A = '6.1.0-57-arm64';
    const armInfo = { ...info, vermagic: `${A} SMP mod_unload modversions aarch64` };
    const aarch64 = (bytes: Uint8Array) => {
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(0x12, 183, true); // EM_AARCH64
      return bytes;
    };
    const chk = (bytes: Uint8Array, vermagic?: string) => () => checkCompanion(bytes, 'e1000-btf.ko', { of: 'e1000', kver: A, btf: good, base, vermagic });
    expect(chk(aarch64(ko(good, { info: armInfo })), armInfo.vermagic)()).toMatchObject({ vermagic: armInfo.vermagic, vars: 2 });
    expect(chk(ko(good, { info: armInfo }))).toThrow(/e1000-btf\.ko: offset 0x12: e_machine 62 \(amd64\), but 6\.1\.0-57-arm64 is an arm64 kernel/);
    expect(chk(aarch64(ko(good, { info: { ...armInfo, vermagic: `${A} SMP mod_unload modversions ` } })))).toThrow(/does not end with aarch64/);
    expect(chk(aarch64(ko(good, { info: armInfo })), `${A} SMP preempt mod_unload modversions aarch64`)).toThrow(/but 6\.1\.0-57-arm64's modules have/);
    // and an aarch64 companion is no amd64 kernel's
    expect(() => checkCompanion(aarch64(ko(good)), 'x', { of: 'e1000', kver: KVER, btf: good, base })).toThrow(/e_machine 183 \(arm64\), but 6\.1\.0-56-amd64 is an amd64 kernel/);
  });
});
