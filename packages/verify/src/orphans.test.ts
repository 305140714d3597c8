/**
 * Orphan companions on the bundled real dump: the module list is edited in memory (loop left out,
 * its loaded companion's BTF taken away as if the kernel had rejected it), everything else is the
 * dump's. No lab guest loads a companion without its module, so this is the closest real bytes get.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Kernel, type KernelModule } from '@kbtf/kernel';
import { verifyDump } from './verify.js';

const fixture = join(import.meta.dirname, '../../../test/fixtures/6.1-128m/dump.kdump');

function withModules(edit: (ms: KernelModule[]) => KernelModule[]) {
  const real = Kernel.prototype.modules;
  vi.spyOn(Kernel.prototype, 'modules').mockImplementation(function (this: Kernel) {
    return edit(real.call(this));
  });
}

afterEach(() => vi.restoreAllMocks());

describe('orphan companions', () => {
  it('a loaded companion without its module and with valid BTF is listed, not a reason', () => {
    withModules((ms) => ms.filter((m) => m.name !== 'loop'));
    const r = verifyDump(fixture);
    expect(r.orphans?.map((o) => [o.name, o.status])).toEqual([['loop_btf', 'ok']]);
    expect(r.reasons.filter((x) => x.startsWith('orphan'))).toEqual([]);
  });

  it('one whose BTF the kernel rejected makes the dump incomplete, naming it', () => {
    withModules((ms) =>
      ms.filter((m) => m.name !== 'loop').map((m) => (m.name === 'loop_btf' ? (Object.assign(Object.create(Object.getPrototypeOf(m) as object), m, { btfBytes: undefined }) as KernelModule) : m)),
    );
    const r = verifyDump(fixture);
    expect(r.verdict).toBe('incomplete');
    expect(r.reasons).toEqual(['orphan companion loop_btf: btf-rejected (loaded, but not in btf_modules: the kernel rejected its BTF)']);
  });

  it('the unedited dump has no orphans', () => {
    expect(verifyDump(fixture).orphans).toBeUndefined();
  });
});
