/**
 * The raw printer's two paths (issue 16): the byte path (formatRawChunks when every name is ASCII:
 * records read straight from the type section) and the object path (formatRawType per type, used
 * for other names) give the same text — on this host's vmlinux, a lab module's split BTF, and
 * seeded mutations of a small blob (where both may also end in the same typed error). A BTF with a
 * UTF-8 name takes the object path and still equals bpftool. The built CLI (apps/kbtf/bin/kbtf.js;
 * CI builds before the tests) writes the byte path's chunks to its stdout pipe as they are.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KbtfError } from '@kbtf/binary';
import { formatRaw, formatRawType, parseBtf, type Btf } from '@kbtf/btf';
import { TestBtf, rng } from '../../packages/btf/src/test-builder.js';
import { labKernels, labModuleBtf, labVmlinuxBtf } from './lab-btf.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'apps/kbtf/bin/kbtf.js');
const objectPath = (btf: Btf): string => [...btf.types()].map((t) => `${formatRawType(btf, t)}\n`).join('');

/** The text of both paths, or the typed error's message; anything else fails the test. */
function both(bytes: Uint8Array, base?: Btf): [string, string] {
  const run = (f: (b: Btf) => string): string => {
    try {
      return f(parseBtf(bytes, { base }));
    } catch (e) {
      if (!(e instanceof KbtfError)) throw e;
      return `error: ${e.message}`;
    }
  };
  return [run(formatRaw), run(objectPath)];
}

describe('raw printer: byte path = object path', () => {
  it('this host: /sys/kernel/btf/vmlinux (byte path taken: every name ASCII)', () => {
    const bytes = new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux'));
    const [ours, objects] = both(bytes);
    expect(ours.length).toBeGreaterThan(1_000_000);
    expect(ours === objects).toBe(true);
  });

  it('a lab module: split BTF on its vmlinux', () => {
    const k = labKernels()[0];
    const vm = parseBtf(labVmlinuxBtf(k));
    const [ours, objects] = both(labModuleBtf(k, 'ext4'), vm);
    expect(ours).toMatch(/^\[\d+\] /);
    expect(ours === objects).toBe(true);
  });

  it('2000 seeded mutations of a small blob: same text or the same typed error', () => {
    const b = new TestBtf();
    const int = b.int('int');
    const s = b.struct('node', 16, [['val', int, 0], ['next', 3, 64], ['bits', int, 96, 3]], { kflag: true });
    b.ptr(s);
    b.enum('e', 4, [['A', 1], ['B', -1]], true);
    b.enum64('e64', 8, [['C', 1n << 40n], ['D', -5n]]);
    const v = b.var('v', int);
    b.datasec('.data', 8, [[v, 0, 4], [0, 4, 4]]);
    b.func('f', b.funcProto(int, [['x', int], ['', s]]));
    b.float('double', 8);
    b.fwd('fw', true);
    b.array(int, int, 7);
    b.declTag('tag', v);
    b.typeTag('user', int);
    const blob = b.build();
    const r = rng(20261202);
    let texts = 0;
    for (let i = 0; i < 2000; i++) {
      const m = blob.slice();
      for (let n = 0; n < 3; n++) m[24 + Math.floor(r() * (m.length - 24))] ^= 1 << Math.floor(r() * 8);
      const [ours, objects] = both(m);
      expect(ours).toBe(objects);
      if (!ours.startsWith('error: ')) texts++;
    }
    expect(texts).toBeGreaterThan(100);
  });

  it('a UTF-8 name (object path) equals bpftool', () => {
    const b = new TestBtf();
    const int = b.int('int');
    b.typedef(Buffer.from('café_t', 'utf8').toString('latin1'), int);
    const blob = b.build();
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-raw-'));
    try {
      const file = join(dir, 'utf8.btf');
      writeFileSync(file, blob);
      const r = spawnSync('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(formatRaw(parseBtf(blob))).toBe(r.stdout);
      expect(r.stdout).toContain("TYPEDEF 'café_t'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built CLI: btf dump /sys/kernel/btf/vmlinux --format raw on a pipe equals bpftool byte for byte', () => {
    const path = '/sys/kernel/btf/vmlinux';
    const ours = spawnSync(process.execPath, [bin, 'btf', 'dump', path, '--format', 'raw'], { maxBuffer: 1 << 30 });
    const theirs = spawnSync('bpftool', ['btf', 'dump', 'file', path, 'format', 'raw'], { maxBuffer: 1 << 30 });
    expect([ours.status, theirs.status]).toEqual([0, 0]);
    expect(theirs.stdout.length).toBeGreaterThan(1_000_000);
    expect(Buffer.compare(ours.stdout, theirs.stdout)).toBe(0);
  });
});
