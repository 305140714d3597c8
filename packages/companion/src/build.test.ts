import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadDataError, NotFoundError, UnsupportedError } from '@kbtf/binary';
import { writeBtf, type BtfType } from '@kbtf/btf';
import { buildCompanions } from './build.js';
import { buildForKernel, formatSummary, summaryRows } from './batch.js';
import type { CompanionResult } from './build.js';
import { buildIdNote, makeElf } from '../../../packages/binary/src/test-elf.js';

const KVER = '6.1.0-56-amd64';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'kbtf-build-'));
}

/** A directory that passes the headers check (nothing is built in these tests). */
function fakeHeaders(dir: string): string {
  const h = join(dir, 'headers');
  for (const f of ['Makefile', 'Module.symvers', 'scripts/mod/modpost', 'include/config/auto.conf']) {
    mkdirSync(join(h, f, '..'), { recursive: true });
    writeFileSync(join(h, f), '');
  }
  return h;
}

function fakePahole(dir: string, version: string): string {
  const p = join(dir, `pahole-${version}`);
  writeFileSync(p, `#!/bin/sh\necho ${version}\n`);
  chmodSync(p, 0o755);
  return p;
}

function setup() {
  const dir = scratch();
  const vmlinuxBtf = join(dir, 'vmlinux.btf');
  writeFileSync(vmlinuxBtf, writeBtf([{ id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitsOffset: 0, bits: 32 }] as BtfType[]));
  const module = join(dir, 'ext4.ko');
  const dwarf = join(dir, 'ext4.debug.ko');
  writeFileSync(module, makeElf([{ name: '.note.gnu.build-id', data: buildIdNote('aa'.repeat(20)), type: 7 }]));
  writeFileSync(dwarf, makeElf([{ name: '.note.gnu.build-id', data: buildIdNote('bb'.repeat(20)), type: 7 }]));
  return { dir, vmlinuxBtf, module, dwarf, out: join(dir, 'out') };
}

describe('buildCompanions refuses, writing nothing', () => {
  it('when the DWARF is of another build (build-id)', async () => {
    const s = setup();
    const err = await buildCompanions([{ of: 'ext4', module: s.module, dwarf: s.dwarf }], {
      kver: KVER, headers: fakeHeaders(s.dir), vmlinuxBtf: s.vmlinuxBtf, pahole: { argv: ['false'], version: 'v1.30' }, outDir: s.out,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadDataError);
    expect(String((err as Error).message)).toMatch(/^ext4: .*DWARF does not match the module: build-id b{40} here, a{40}/);
    expect(existsSync(s.out)).toBe(false);
  });

  it('when the headers are missing', async () => {
    const s = setup();
    const err = await buildCompanions([{ of: 'ext4', module: s.module, dwarf: s.dwarf }], {
      kver: KVER, headers: join(s.dir, 'no-headers'), vmlinuxBtf: s.vmlinuxBtf, pahole: { argv: ['false'], version: 'v1.30' }, outDir: s.out,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/kernel headers for 6\.1\.0-56-amd64 missing .*apt-get install linux-headers-6\.1\.0-56-amd64/);
    expect(existsSync(s.out)).toBe(false);
  });

  it('when asked for a companion of a companion', async () => {
    const s = setup();
    await expect(
      buildCompanions([{ of: 'ext4-btf', module: s.module, dwarf: s.dwarf }], {
        kver: KVER, headers: fakeHeaders(s.dir), vmlinuxBtf: s.vmlinuxBtf, pahole: { argv: ['false'], version: 'v1.30' }, outDir: s.out,
      }),
    ).rejects.toThrow(/itself a companion/);
    expect(existsSync(s.out)).toBe(false);
  });
});

describe('buildForKernel refuses before fetching anything', () => {
  it('when pahole is too old', async () => {
    const s = setup();
    const cache = join(s.dir, 'cache');
    const err = await buildForKernel({
      cache, kver: KVER, modules: ['ext4'], out: s.out, headers: fakeHeaders(s.dir), pahole: fakePahole(s.dir, 'v1.24'), download: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/pahole 1\.24, too old: companion BTF needs pahole >= 1\.28/);
    expect(existsSync(s.out)).toBe(false);
    expect(existsSync(cache)).toBe(false);
  });

  it('when the headers are missing', async () => {
    const s = setup();
    await expect(
      buildForKernel({ cache: join(s.dir, 'cache'), kver: KVER, modules: ['ext4'], out: s.out, headers: join(s.dir, 'none'), pahole: fakePahole(s.dir, 'v1.30'), download: false }),
    ).rejects.toThrow(NotFoundError);
    expect(existsSync(s.out)).toBe(false);
  });
});

describe('summary', () => {
  const result = (of: string, own: number, raw: number, btf: number, vars: number): CompanionResult => ({
    of, companion: `${of}-btf`, file: `/x/${of}-btf.ko`, moduleBtfSize: own, rawBtfSize: raw, btfSize: btf, koSize: btf + 3000,
    stats: { rawTypes: 0, types: 0, vars, datasecs: 1, duplicateEntries: 0, droppedDatasecs: [], movedEntries: 0 },
  });
  const rs = [result('ext4', 142155, 210847, 90319, 1099), result('loop', 3985, 5633, 1548, 30)];

  it('totals every column', () => {
    expect(summaryRows(rs).total).toEqual({ module: 'total', moduleBtf: 146140, raw: 216480, companion: 91867, ko: 97867, vars: 1129 });
  });

  it('prints a Markdown table with a total row', () => {
    const lines = formatSummary(rs);
    expect(lines[0]).toMatch(/^\| module +\| +own \.BTF \| +pahole raw \| companion \.BTF \| +vs own \|/);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|/);
    expect(lines[2]).toMatch(/^\| ext4 +\| +138\.8 KiB \| +205\.9 KiB \| +88\.2 KiB \| +64 % \|.*\| +1099 \|$/);
    expect(lines.at(-1)).toMatch(/^\| total /);
    expect(lines).toHaveLength(5);
  });
});
