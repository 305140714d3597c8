/** kbtf symbols prints what it read before a failure, then reports it (the bundled real dump). */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FaultError } from '@kbtf/binary';
import { Kernel } from '@kbtf/kernel';
import { runCli } from '../cli/test-io.js';

const fixture = join(import.meta.dirname, '../../../../test/fixtures/6.1-128m/dump.kdump');
afterEach(() => vi.restoreAllMocks());

describe('kbtf symbols on a dump whose module walk fails', () => {
  it('prints every vmlinux symbol, then one error line, exit 2', async () => {
    const whole = await runCli(['symbols', fixture]);
    const vmlinuxLines = whole.stdout.split('\n').filter((l) => l && !l.includes('\t['));
    vi.spyOn(Kernel.prototype, 'modules').mockImplementation(() => {
      throw new FaultError('virtual', 0xffffffffc0000000n, 'excluded', 'excluded by dump level 31');
    });
    const r = await runCli(['symbols', fixture]);
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(vmlinuxLines);
    expect(r.stderr).toBe('kbtf: FAULT: module list: virtual address 0xffffffffc0000000: excluded (excluded by dump level 31)\n');
    const j = await runCli(['symbols', fixture, '--json']);
    expect(j.code).toBe(2);
    expect((JSON.parse(j.stdout) as { symbols: unknown[] }).symbols).toHaveLength(vmlinuxLines.length);
  });
});
