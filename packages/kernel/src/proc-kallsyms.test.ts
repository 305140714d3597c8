/**
 * The /proc/kallsyms listing on the committed real dump (test/fixtures/6.1-128m), against the guest's
 * own /proc/kallsyms taken before the crash (kallsyms.txt.gz).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FaultError, NotFoundError } from '@kbtf/binary';
import { openKernel } from './kernel.js';
import { listProcKallsyms, type SymbolSources } from './proc-kallsyms.js';

const dir = join(import.meta.dirname, '../../../test/fixtures/6.1-128m');
const want = gunzipSync(readFileSync(join(dir, 'kallsyms.txt.gz'))).toString('latin1').split('\n').filter(Boolean);
const kernel = openKernel(join(dir, 'dump.kdump'));
afterAll(() => kernel.close());

function list(sources: SymbolSources, only?: string) {
  const lines: string[] = [];
  const r = listProcKallsyms(sources, only, (address, type, name, module) => lines.push(`${address.toString(16).padStart(16, '0')} ${type} ${name}${module ? `\t[${module}]` : ''}`));
  return { lines, ...r };
}

describe('listProcKallsyms', () => {
  it('lists what the guest listed, line for line, in its order', () => {
    const r = list(kernel);
    expect(r.failure).toBeUndefined();
    expect(r.lines.length).toBe(want.length);
    const i = r.lines.findIndex((l, k) => l !== want[k]);
    expect(i === -1 ? null : { line: i + 1, got: r.lines[i], want: want[i] }).toBeNull();
  });

  it('with a tag, lists that module only; an unknown tag matches nothing', () => {
    const loop = list(kernel, 'loop');
    expect(loop.lines).toEqual(want.filter((l) => l.endsWith('\t[loop]')));
    expect(loop.lines.length).toBeGreaterThan(0);
    expect(loop.matched).toBe(1);
    expect(list(kernel, 'no_such_module')).toEqual({ lines: [], failure: undefined, matched: 0 });
  });

  it('a module walk that fails: vmlinux is still listed, the failure returned with its context', () => {
    const broken: SymbolSources = {
      kallsyms: kernel.kallsyms,
      modules: () => {
        throw new FaultError('virtual', 0xffffffffc0000000n, 'excluded', 'excluded by dump level 31');
      },
      dynamicSymbols: () => kernel.dynamicSymbols(),
    };
    const r = list(broken);
    expect(r.lines).toEqual(want.filter((l) => !l.includes('\t[')));
    expect(r.failure).toBeInstanceOf(FaultError);
    expect(r.failure?.message).toBe('module list: virtual address 0xffffffffc0000000: excluded (excluded by dump level 31)');
  });

  it('an error that is not a KbtfError is thrown, not returned', () => {
    const failing = (err: Error): SymbolSources => ({
      kallsyms: kernel.kallsyms,
      modules: () => {
        throw err;
      },
      dynamicSymbols: () => kernel.dynamicSymbols(),
    });
    expect(() => list(failing(new TypeError('bug')))).toThrow(TypeError);
    expect(list(failing(new NotFoundError('x'))).failure).toBeInstanceOf(NotFoundError);
  });
});
