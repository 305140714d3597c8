/**
 * Real BTF blobs of the lab kernels for the e2e suites: vmlinux BTF taken from the lab's vmlinuz
 * (decompressed like scripts/extract-vmlinux, then its .BTF section) and module BTF from the
 * lab's .ko files. The guest's own /sys/kernel/btf hashes in truth.json say they are the real ones.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { elfSection } from '@kbtf/btf';
import { labDir, labJson, labVariants } from '../lab.js';

interface Manifest {
  kernel: { kver: string; vmlinuz: string; modules_dir: string };
}
export interface TruthBtf {
  name: string;
  size: number;
  sha256: string;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** One variant per distinct lab kernel. */
export function labKernels(): { variant: string; kver: string; vmlinuz: string; modulesDir: string; truthBtf: TruthBtf[] }[] {
  const seen = new Set<string>();
  const out = [];
  for (const variant of labVariants) {
    const m = labJson<Manifest>(variant, 'manifest.json');
    if (seen.has(m.kernel.kver)) continue;
    seen.add(m.kernel.kver);
    const truth = labJson<{ btf: TruthBtf[] }>(variant, 'truth.json');
    out.push({ variant, kver: m.kernel.kver, vmlinuz: m.kernel.vmlinuz, modulesDir: m.kernel.modules_dir, truthBtf: truth.btf });
  }
  return out;
}

const MAGICS: [number[], string[]][] = [
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], ['xz', '-dc']],
  [[0x28, 0xb5, 0x2f, 0xfd], ['zstd', '-dc']],
  [[0x1f, 0x8b, 0x08], ['gzip', '-dc']],
];

function findAll(hay: Uint8Array, needle: number[]): number[] {
  const out: number[] = [];
  let i = hay.indexOf(needle[0]);
  while (i >= 0 && out.length < 16) {
    if (needle.every((b, j) => hay[i + j] === b)) out.push(i);
    i = hay.indexOf(needle[0], i + 1);
  }
  return out;
}

/** Decompress the kernel ELF out of a bzImage (as scripts/extract-vmlinux does). */
export function extractVmlinux(vmlinuz: string): Uint8Array {
  const img = readFileSync(vmlinuz);
  for (const [magic, cmd] of MAGICS) {
    for (const at of findAll(img, magic)) {
      const r = spawnSync(cmd[0], cmd.slice(1), { input: img.subarray(at), maxBuffer: 1 << 30 });
      const out = r.stdout;
      if (out && out.length > 4 && out[0] === 0x7f && out[1] === 0x45 && out[2] === 0x4c && out[3] === 0x46) return new Uint8Array(out);
    }
  }
  throw new Error(`no compressed ELF kernel found in ${vmlinuz}`);
}

const cacheDir = join(labDir, 'btf-cache');

/** The vmlinux BTF of a lab kernel (cached under .lab/btf-cache). */
export function labVmlinuxBtf(k: { kver: string; vmlinuz: string }): Uint8Array {
  const p = join(cacheDir, k.kver, 'vmlinux.btf');
  if (existsSync(p)) return new Uint8Array(readFileSync(p));
  const btf = elfSection(extractVmlinux(k.vmlinuz), '.BTF', k.vmlinuz);
  if (!btf) throw new Error(`${k.vmlinuz}: no .BTF`);
  mkdirSync(join(cacheDir, k.kver), { recursive: true });
  writeFileSync(p, btf);
  return btf;
}

function findKo(dir: string, name: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const hit = findKo(p, name);
      if (hit) return hit;
    } else if (/^(.*)\.ko(\.xz|\.zst|\.gz)?$/.exec(e.name)?.[1]?.replace(/-/g, '_') === name.replace(/-/g, '_')) return p;
  }
  return undefined;
}

/** Path of module `name`'s file (.ko, .ko.xz, .ko.zst or .ko.gz); `-` and `_` alike, as kmod. */
export function labModuleFile(k: { modulesDir: string }, name: string): string {
  const p = findKo(k.modulesDir, name);
  if (!p) throw new Error(`module ${name}.ko not found under ${k.modulesDir}`);
  return p;
}

/** The uncompressed ELF bytes of module `name`. */
export function labModuleElf(k: { modulesDir: string }, name: string): Uint8Array {
  const p = labModuleFile(k, name);
  const raw = readFileSync(p);
  const tool = p.endsWith('.xz') ? 'xz' : p.endsWith('.zst') ? 'zstd' : p.endsWith('.gz') ? 'gzip' : undefined;
  if (!tool) return new Uint8Array(raw);
  const r = spawnSync(tool, ['-dc'], { input: raw, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${tool} -dc ${p} failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

/** The .BTF section of module `name` of a lab kernel. */
export function labModuleBtf(k: { modulesDir: string }, name: string): Uint8Array {
  const btf = elfSection(labModuleElf(k, name), '.BTF', name);
  if (!btf) throw new Error(`${name}: no .BTF`);
  return btf;
}

/** Write a blob to a cache file (for bpftool). */
export function cacheFile(rel: string, bytes: Uint8Array): string {
  const p = join(cacheDir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, bytes);
  return p;
}
