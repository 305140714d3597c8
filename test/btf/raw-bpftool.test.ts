/**
 * `format raw` against bpftool on real BTF: this host's vmlinux, the lab kernels' vmlinux and
 * module BTF (split, with --base-btf), and big-endian copies made by our writer. Also the writer's
 * round trip: write(read(blob)) is byte-identical.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { formatRaw, parseBtf, writeBtf, type Btf } from '@kbtf/btf';
import { cacheFile, labKernels, labModuleBtf, labVmlinuxBtf } from './lab-btf.js';

const MODULES = ['ext4', 'e1000', 'xfs', 'nf_tables', 'loop'];

function bpftoolRaw(file: string, base?: string): string {
  const args = [...(base ? ['--base-btf', base] : []), 'btf', 'dump', 'file', file, 'format', 'raw'];
  const r = spawnSync('bpftool', args, { maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function expectSameLines(ours: string, theirs: string): void {
  expect(theirs.length).toBeGreaterThan(0);
  if (ours === theirs) return;
  const a = ours.split('\n');
  const b = theirs.split('\n');
  const i = a.findIndex((l, j) => l !== b[j]);
  expect({ line: i + 1, ours: a[i] }).toEqual({ line: i + 1, ours: b[i] });
}

function roundTrip(btf: Btf, bytes: Uint8Array): void {
  const out = writeBtf(btf.types(), { base: btf.base, strings: btf.strings });
  expect(out.length).toBe(bytes.length);
  expect(Buffer.compare(Buffer.from(out), Buffer.from(bytes))).toBe(0);
}

describe('raw dump equals bpftool', () => {
  it('this host: /sys/kernel/btf/vmlinux, and its big-endian copy', () => {
    const path = '/sys/kernel/btf/vmlinux';
    const bytes = new Uint8Array(readFileSync(path));
    const btf = parseBtf(bytes, { source: path });
    const theirs = bpftoolRaw(path);
    expectSameLines(formatRaw(btf), theirs);
    roundTrip(btf, bytes);
    const be = writeBtf(btf.types(), { littleEndian: false, strings: btf.strings });
    expect([be[0], be[1]]).toEqual([0xeb, 0x9f]);
    const beFile = cacheFile('host/vmlinux.be.btf', be);
    const beBtf = parseBtf(be, { source: beFile });
    expect(beBtf.littleEndian).toBe(false);
    expectSameLines(formatRaw(beBtf), bpftoolRaw(beFile));
    expect(bpftoolRaw(beFile)).toBe(theirs);
  });

  for (const k of labKernels()) {
    it(`lab ${k.kver}: vmlinux and modules ${MODULES.join(', ')} (split), little- and big-endian`, () => {
      const vmBytes = labVmlinuxBtf(k);
      const vmFile = cacheFile(`${k.kver}/vmlinux.btf`, vmBytes);
      const vm = parseBtf(vmBytes, { source: vmFile });
      expectSameLines(formatRaw(vm), bpftoolRaw(vmFile));
      roundTrip(vm, vmBytes);
      const vmBe = writeBtf(vm.types(), { littleEndian: false, strings: vm.strings });
      const vmBeFile = cacheFile(`${k.kver}/vmlinux.be.btf`, vmBe);
      const vmBeBtf = parseBtf(vmBe, { source: vmBeFile });
      for (const name of MODULES) {
        const bytes = labModuleBtf(k, name);
        const file = cacheFile(`${k.kver}/${name}.btf`, bytes);
        const mod = parseBtf(bytes, { base: vm, source: file });
        expect(mod.firstId).toBe(vm.endId);
        const theirs = bpftoolRaw(file, vmFile);
        expectSameLines(formatRaw(mod), theirs);
        roundTrip(mod, bytes);
        // Big-endian split BTF on the big-endian base.
        const be = writeBtf(mod.types(), { base: vmBeBtf, littleEndian: false, strings: parseBtf(bytes, { base: vmBeBtf }).strings });
        const beFile = cacheFile(`${k.kver}/${name}.be.btf`, be);
        expectSameLines(formatRaw(parseBtf(be, { base: vmBeBtf, source: beFile })), bpftoolRaw(beFile, vmBeFile));
      }
    });
  }
});
