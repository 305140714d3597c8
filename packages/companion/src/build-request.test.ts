import { describe, expect, it } from 'vitest';
import { ElfFile, UsageError } from '@kbtf/binary';
import { buildMode, buildRequested, moduleArch, vermagicRelease, type BuildRequest } from './build-request.js';
import { AMD64, ARM64 } from './arch.js';
import { makeElf, modinfo } from '../../../packages/binary/src/test-elf.js';

const base: BuildRequest = { cache: '/nonexistent/kbtf-cache', modules: [], download: false };

function module(info: Record<string, string>): ElfFile {
  return ElfFile.fromBytes(makeElf([{ name: '.modinfo', data: modinfo(info) }]), 'm.ko', { littleEndian64: true });
}

describe('vermagicRelease', () => {
  it('is the first word of vermagic', () => {
    // Debian 12's and 13's vermagic strings, as `modinfo -F vermagic` prints them.
    expect(vermagicRelease(module({ name: 'loop', vermagic: '6.1.0-56-amd64 SMP preempt mod_unload modversions ' }))).toBe('6.1.0-56-amd64');
    expect(vermagicRelease(module({ name: 'loop', vermagic: '6.12.57+deb13-amd64 SMP preempt mod_unload modversions ' }))).toBe('6.12.57+deb13-amd64');
  });
  it('refuses a module without vermagic, naming it', () => {
    expect(() => vermagicRelease(module({ name: 'loop' }))).toThrow(/^m\.ko has no vermagic: pass --kernel KVER$/);
  });
});

describe('buildMode', () => {
  it('file mode: --module and --dwarf with --vmlinux-btf', () => {
    expect(buildMode({ ...base, module: 'm.ko', dwarf: 'm.debug.ko', vmlinuxBtf: 'vmlinux.btf' })).toBe('file');
  });
  it('kernel mode: --kernel with modules, --all or --vmlinux', () => {
    expect(buildMode({ ...base, kernel: '6.1.0-56-amd64', modules: ['ext4'] })).toBe('kernel');
    expect(buildMode({ ...base, kernel: '6.1.0-56-amd64', all: true })).toBe('kernel');
    expect(buildMode({ ...base, kernel: '6.1.0-56-amd64', vmlinux: true })).toBe('kernel');
  });
  it('refuses incomplete or mixed requests before anything runs', async () => {
    const bad: [Partial<BuildRequest>, RegExp][] = [
      [{ module: 'm.ko' }, /file mode needs --module, --dwarf and --vmlinux-btf/],
      [{ dwarf: 'm.debug.ko', vmlinuxBtf: 'v' }, /file mode needs/],
      [{ module: 'm.ko', dwarf: 'd', vmlinuxBtf: 'v', all: true }, /file mode takes no module names/],
      [{ module: 'm.ko', dwarf: 'd', vmlinuxBtf: 'v', modules: ['ext4'] }, /file mode takes no module names/],
      [{}, /--kernel KVER is required/],
      [{ kernel: '6.1.0-56-amd64', deps: true }, /name modules, or give --all or --vmlinux/],
    ];
    for (const [r, message] of bad) {
      expect(() => buildMode({ ...base, ...r })).toThrow(message);
      await expect(buildRequested({ ...base, ...r })).rejects.toBeInstanceOf(UsageError);
    }
  });
});

describe('moduleArch', () => {
  const withMachine = (machine: number, info: Record<string, string>) => {
    const b = makeElf([{ name: '.modinfo', data: modinfo(info) }]);
    new DataView(b.buffer, b.byteOffset).setUint16(0x12, machine, true);
    return ElfFile.fromBytes(b, 'm.ko', { littleEndian64: true });
  };
  it("is the release's, and the module must be of it", () => {
    expect(moduleArch(withMachine(183, { name: 'loop' }), '6.1.0-57-arm64')).toBe(ARM64);
    expect(moduleArch(withMachine(62, { name: 'loop' }), '6.1.0-57-amd64')).toBe(AMD64);
    expect(() => moduleArch(withMachine(62, { name: 'loop' }), '6.1.0-57-arm64')).toThrow(/m\.ko: offset 0x12: e_machine 62 \(amd64\), but 6\.1\.0-57-arm64 is an arm64 kernel/);
  });
  it("a custom release: the module's machine, amd64 or arm64 only", () => {
    expect(moduleArch(withMachine(183, { name: 'loop' }), '6.8.0-custom')).toBe(ARM64);
    expect(() => moduleArch(withMachine(40, { name: 'loop' }), '6.8.0-custom')).toThrow(/e_machine 40: companions are built for amd64 and arm64 kernels/);
  });
});
