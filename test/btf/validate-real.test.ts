/** The validator accepts every real BTF blob: this host's /sys/kernel/btf/* and the lab kernels'. */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { parseBtf, validateBtf } from '@kbtf/btf';
import { labKernels, labModuleBtf, labVmlinuxBtf } from './lab-btf.js';

describe('validator accepts real BTF', () => {
  it('this host: /sys/kernel/btf/*', () => {
    const vmBytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
    expect(validateBtf(vmBytes).errors).toEqual([]);
    const vm = parseBtf(vmBytes);
    for (const f of readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux')) {
      const r = validateBtf(new Uint8Array(readFileSync(`/sys/kernel/btf/${f}`)), { base: vm });
      expect({ f, errors: r.errors }).toEqual({ f, errors: [] });
    }
  });
  for (const k of labKernels()) {
    it(`lab ${k.kver}: vmlinux and every module the guest loaded (6.1 rules, full and module mode)`, () => {
      const vmBytes = labVmlinuxBtf(k);
      expect(validateBtf(vmBytes, { kernel: '6.1' }).errors).toEqual([]);
      const vm = parseBtf(vmBytes);
      const mods = k.truthBtf.map((b) => b.name).filter((n) => n !== 'vmlinux');
      expect(mods.length).toBeGreaterThan(5);
      for (const name of mods) {
        const bytes = labModuleBtf(k, name);
        for (const mode of ['full', 'module'] as const) {
          const r = validateBtf(bytes, { base: vm, kernel: '6.1', mode });
          expect({ name, mode, errors: r.errors }).toEqual({ name, mode, errors: [] });
        }
      }
    });
  }
});
