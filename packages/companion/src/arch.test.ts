import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadDataError, EM_AARCH64, EM_X86_64, ElfFile, NotFoundError, UnsupportedError } from '@kbtf/binary';
import { AMD64, ARM64, archOfMachine, buildTools, checkMachine, hostArch, kernelArch, kernelArchOf } from './arch.js';
import { makeElf } from '../../../packages/binary/src/test-elf.js';

/** A minimal ELF64 with e_machine set (makeElf writes EM_X86_64). */
function elfOf(machine: number, source = 'm.ko'): ElfFile {
  const b = makeElf([{ name: '.modinfo', data: new Uint8Array(1) }]);
  new DataView(b.buffer, b.byteOffset).setUint16(0x12, machine, true);
  return ElfFile.fromBytes(b, source, { littleEndian64: true });
}

describe('the kernel architecture a release names', () => {
  it("Debian's flavours, and none for a custom kernel", () => {
    for (const k of ['6.1.0-57-amd64', '6.1.0-57-cloud-amd64', '6.1.0-57-rt-amd64', '6.12.95+deb12-amd64', '6.12.117+deb13-amd64']) expect(kernelArchOf(k), k).toBe(AMD64);
    for (const k of ['6.1.0-57-arm64', '6.1.0-57-rt-arm64', '6.1.0-57-cloud-arm64', '6.12.95+deb12-arm64-16k']) expect(kernelArchOf(k), k).toBe(ARM64);
    for (const k of ['6.1.0-57-armmp', '6.8.0-custom', '6.1.0-57-arm64x']) expect(kernelArchOf(k), k).toBeUndefined();
    expect(kernelArch('6.8.0-custom', ARM64)).toBe(ARM64);
  });
  it('e_machine and the host', () => {
    expect(archOfMachine(EM_AARCH64)).toBe(ARM64);
    expect(archOfMachine(EM_X86_64)).toBe(AMD64);
    expect(archOfMachine(40)).toBeUndefined(); // EM_ARM
    expect(hostArch('x64')).toBe(AMD64);
    expect(hostArch('arm64')).toBe(ARM64);
    expect(() => hostArch('riscv64')).toThrow(UnsupportedError);
  });
  it('an ELF file of another machine is a BadDataError at e_machine (0x12)', () => {
    expect(() => checkMachine(elfOf(EM_AARCH64), ARM64, '6.1.0-57-arm64')).not.toThrow();
    const err = (() => {
      try {
        checkMachine(elfOf(EM_X86_64, 'ext4.ko'), ARM64, '6.1.0-57-arm64');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BadDataError);
    expect(String(err)).toMatch(/ext4\.ko: offset 0x12: e_machine 62 \(amd64\), but 6\.1\.0-57-arm64 is an arm64 kernel \(e_machine 183\)/);
  });
});

describe('buildTools', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-arch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const headers = join(dir, 'headers');
  mkdirSync(headers);
  // linux-headers-6.1.0-57-arm64's own .kernelvariables
  writeFileSync(join(headers, '.kernelvariables'), 'override ARCH = arm64\nCC = $(if $(DEBIAN_KERNEL_USE_CCACHE),$(CCACHE)) $(CROSS_COMPILE)gcc-12\n');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const tool = (name: string) => {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  };

  it('native: no make arguments, the host objcopy', () => {
    expect(buildTools(AMD64, headers, AMD64, '')).toEqual({ arch: AMD64, make: [], objcopy: 'objcopy' });
  });
  it('cross: refused naming the packages while the compiler the headers name or objcopy is missing', () => {
    expect(() => buildTools(ARM64, headers, AMD64, bin)).toThrow(NotFoundError);
    tool('aarch64-linux-gnu-gcc'); // not gcc-12
    tool('aarch64-linux-gnu-objcopy');
    expect(() => buildTools(ARM64, headers, AMD64, bin)).toThrow(
      /needs aarch64-linux-gnu-gcc-12: apt-get install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu/,
    );
    tool('aarch64-linux-gnu-gcc-12');
    expect(buildTools(ARM64, headers, AMD64, bin)).toEqual({ arch: ARM64, make: ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-'], objcopy: 'aarch64-linux-gnu-objcopy' });
  });
});
