import { describe, expect, it } from 'vitest';
import { addressSpaces } from './read.js';
import { runCli } from '../cli/test-io.js';

describe('kbtf read', () => {
  it('has the physical space as a table entry (where --virt is added)', () => {
    expect(addressSpaces.map((s) => s.option)).toContain('phys');
  });
  it('needs exactly one address option', async () => {
    const r = await runCli(['read', 'x.core', '16']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('USAGE');
  });
});
