import * as fs from 'node:fs';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, type AtomicWriteFs } from './atomic-write.js';

const root = mkdtempSync(join(tmpdir(), 'kbtf-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
};

/** The real file system, but a write stops after `keep` bytes with ENOSPC (a full disk). */
function diskFullAfter(keep: number): AtomicWriteFs & { temps: string[] } {
  const temps: string[] = [];
  return {
    temps,
    writeFileSync(path, data, options) {
      temps.push(path);
      fs.writeFileSync(path, typeof data === 'string' ? data.slice(0, keep) : data.subarray(0, keep), options);
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
    },
    renameSync: fs.renameSync,
    unlinkSync: fs.unlinkSync,
  };
}

describe('writeFileAtomic', () => {
  it('writes a new file and replaces an old one, leaving nothing beside it', () => {
    const d = freshDir();
    const f = join(d, 'report.json');
    writeFileAtomic(f, '{"a":1}\n');
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}\n');
    writeFileAtomic(f, new Uint8Array([1, 2, 3]), { mode: 0o600 });
    expect([...readFileSync(f)]).toEqual([1, 2, 3]);
    expect(readdirSync(d)).toEqual(['report.json']);
  });

  it('applies the mode to a new file (under the umask)', () => {
    const d = freshDir();
    writeFileAtomic(join(d, 'x'), 'x', { mode: 0o600 });
    expect(statSync(join(d, 'x')).mode & 0o777).toBe(0o600);
  });

  it('leaves the old file whole and no temporary file when the write fails half-way', () => {
    const d = freshDir();
    const f = join(d, 'kbtf.conf');
    writeFileSync(f, 'old content\n');
    const full = diskFullAfter(3);
    expect(() => writeFileAtomic(f, 'new content, longer than three bytes\n', { fs: full })).toThrow(/ENOSPC/);
    expect(full.temps).toHaveLength(1);
    expect(full.temps[0].startsWith(join(d, '.kbtf.conf.'))).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('old content\n');
    expect(readdirSync(d)).toEqual(['kbtf.conf']);
  });

  it('removes the temporary file when the rename fails (the target is a non-empty directory)', () => {
    const d = freshDir();
    const target = join(d, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'data')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/) }));
    expect(readdirSync(d)).toEqual(['taken']);
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('throws the file system error, creating nothing, when the directory does not exist', () => {
    const d = freshDir();
    expect(() => writeFileAtomic(join(d, 'missing', 'f'), 'x')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(readdirSync(d)).toEqual([]);
  });

  it('gives two writes of one process different temporary names', () => {
    const names: string[] = [];
    const spy: AtomicWriteFs = {
      writeFileSync: (p, data, o) => {
        names.push(p);
        fs.writeFileSync(p, data, o);
      },
      renameSync: fs.renameSync,
      unlinkSync: fs.unlinkSync,
    };
    const d = freshDir();
    writeFileAtomic(join(d, 'f'), 'a', { fs: spy });
    writeFileAtomic(join(d, 'f'), 'b', { fs: spy });
    expect(new Set(names).size).toBe(2);
    expect(names.every((p) => p.includes(`.f.${process.pid}.`) && p.endsWith('.tmp'))).toBe(true);
    expect(readFileSync(join(d, 'f'), 'utf8')).toBe('b');
  });
});
