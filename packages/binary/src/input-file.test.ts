import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadDataError, NotFoundError, UsageError } from './errors.js';
import { fileError, openRegularFile, readRegularFile } from './input-file.js';

const dir = mkdtempSync(join(tmpdir(), 'kbtf-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('input files', () => {
  it('reads a regular file whole, up to the cap', () => {
    const f = join(dir, 'ten');
    writeFileSync(f, '0123456789');
    expect(Buffer.from(readRegularFile(f, 10)).toString()).toBe('0123456789');
    expect(() => readRegularFile(f, 9, 'BTF')).toThrow(BadDataError);
    expect(() => readRegularFile(f, 9, 'BTF')).toThrow(/10 bytes: larger than kbtf reads for BTF \(9 bytes\)/);
  });

  it('refuses what is not a regular file, naming what it is', () => {
    expect(() => openRegularFile(dir, 'a vmcore')).toThrow(new UsageError(`${dir}: a vmcore must be a regular file, not a directory`));
    expect(() => readRegularFile('/dev/zero', 1 << 20)).toThrow(/not a character device/);
    expect(() => openRegularFile('-', 'a vmcore')).toThrow(UsageError);
  });

  it('names the path in operating-system errors', () => {
    expect(() => openRegularFile(join(dir, 'missing'))).toThrow(new NotFoundError(`${join(dir, 'missing')}: no such file or directory`));
    const e = fileError('/x', Object.assign(new Error('EIO'), { code: 'EIO' }));
    expect(e).toBeInstanceOf(BadDataError);
    expect(e.message).toBe('/x: cannot read: input/output error');
  });
});
