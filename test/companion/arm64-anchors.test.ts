/**
 * Issue 17: the vmlinux companion's section anchors (docs/design.md §2, contract version 2) on the
 * kernel that needs them, Debian's arm64 6.1 (no CONFIG_KALLSYMS_ALL: kallsyms has text symbols only),
 * in the arm64 lab guest that loaded the companions under btf_companions=always:
 *
 *   bash tools/lab/lab-companions.sh 6.1 --arch arm64     (.lab/6.1-arm64-companions)
 *
 * Checked against real tools and the guest: every anchor against readelf's section headers and
 * symbol table of the -dbg vmlinux; every vmlinux VAR placed by an anchor against that symbol table
 * (readelf -sW) + the guest's KASLR offset (truth.json); VMCOREINFO's SYMBOL()s (the kernel's own
 * addresses); /proc/cmdline and uname -r as the guest recorded them; per-CPU runqueues' `cpu`.
 * Nothing is rebuilt here: a missing lab output or companion is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElfFile, openElfFile } from '@kbtf/binary';
import { SECTION_ANCHORS, parseBtf, readSectionAnchors, sectionAnchorName, sectionAnchorsType, symbolAnchorName, writeBtf, type Btf } from '@kbtf/btf';
import { vmlinuxAnchors } from '@kbtf/companion';
import { openKernel } from '@kbtf/kernel';
import { resolveCompanionVars, verifyDump } from '@kbtf/verify';
import { labJson, labKernel, labPath } from '../lab.js';

const KEY = '6.1-arm64-companions';
const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';

interface Truth {
  kernel: string;
  cmdline: string;
  kaslr_offset: string;
  modules: { name: string }[];
}
interface Manifest {
  dumps: { file: string }[];
}

function need(path: string): string {
  if (!existsSync(path)) throw new Error(`missing ${path}: bash tools/lab/lab-companions.sh 6.1 --arch arm64 (docs/companions.md)`);
  return path;
}

const kver = labKernel(KEY);
const truth = labJson<Truth>(KEY, 'truth.json');
const manifest = labJson<Manifest>(KEY, 'manifest.json');
const kaslr = BigInt(truth.kaslr_offset);
const dbgVmlinux = need(join(cache, 'kernels', kver, 'dbg/usr/lib/debug/boot', `vmlinux-${kver}`));
const vmlinuxBtf = parseBtf(readFileSync(need(join(cache, 'kernels', kver, 'vmlinux.btf'))), { source: 'vmlinux' });
const companionKo = need(join(cache, 'companions/lib/modules', kver, 'updates/kbtf/vmlinux-btf.ko'));
const companionBtf = parseBtf(ElfFile.fromBytes(readFileSync(companionKo), companionKo, { littleEndian64: true }).sectionBytes('.BTF'), { base: vmlinuxBtf, source: companionKo });

let symtab: string | undefined;
/** readelf -sW of the -dbg vmlinux, read once. */
function readelfSymbols(): string {
  return (symtab ??= execFileSync('readelf', ['-sW', dbgVmlinux], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

/**
 * The -dbg vmlinux's data symbols (readelf -sW: OBJECT and TLS), name → link-time addresses (static
 * names repeat). Debian's System.map is a placeholder pointing at the -dbg package.
 */
function linkedObjects(): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>();
  for (const line of readelfSymbols().split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || (f[3] !== 'OBJECT' && f[3] !== 'TLS')) continue;
    const l = out.get(f[7]) ?? [];
    l.push(BigInt(`0x${f[1]}`));
    out.set(f[7], l);
  }
  return out;
}

describe(`section anchors of ${kver}'s vmlinux companion`, () => {
  it('the kernel has no data symbols in kallsyms (the case anchors are for)', () => {
    const names = new Set(readFileSync(labPath(KEY, 'kallsyms.txt'), 'utf8').split('\n').map((l) => l.split(' ')[2]));
    expect(names.has('_stext')).toBe(true);
    for (const n of ['jiffies_64', 'saved_command_line', 'init_uts_ns', '__init_end']) expect(names.has(n), n).toBe(false);
  });

  it('every anchor is readelf\'s sh_addr (or st_value) − _stext; every allocated section at a non-zero address has one', () => {
    const anchors = readSectionAnchors(companionBtf)!;
    expect(anchors).toBeDefined();
    const symAddr = (n: string) => BigInt(`0x${new RegExp(`^\\s*\\d+: ([0-9a-f]{16}) .* ${n}$`, 'm').exec(readelfSymbols())![1]}`);
    const stext = symAddr('_stext');
    const want = new Map<string, bigint>();
    for (const line of execFileSync('readelf', ['-SW', dbgVmlinux], { encoding: 'utf8' }).split('\n')) {
      const m = /^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+\S+\s+\S+\s+\S+\s+(\S*A\S*)\s/.exec(line);
      if (m && BigInt(`0x${m[2]}`) !== 0n) want.set(sectionAnchorName(m[1]), BigInt(`0x${m[2]}`) - stext);
    }
    for (const n of ['__init_begin', '__init_end']) want.set(symbolAnchorName(n), symAddr(n) - stext);
    expect(want.size).toBeGreaterThan(25);
    expect(anchors).toEqual(want);
    // Spot values read off readelf by hand: .data at 0xffff800009cb0000, _stext at 0xffff800008010000.
    expect(anchors.get('kbtf_sec__data')).toBe(0xffff800009cb0000n - 0xffff800008010000n);
  });
});

describe.each(manifest.dumps.map((d) => d.file))(`${KEY} %s: vmlinux globals by anchor`, (file) => {
  it('Kernel.global finds what kallsyms lacks, at the kernel\'s own addresses; values equal the guest\'s', () => {
    const kernel = openKernel(labPath(KEY, file));
    try {
      expect(kernel.kallsyms.lookup('saved_command_line')).toBeUndefined();
      expect(kernel.commandLine()).toBe(truth.cmdline);
      expect(kernel.release()).toBe(truth.kernel);
      // VMCOREINFO SYMBOL(): addresses the crashed kernel wrote itself.
      for (const n of ['init_uts_ns', 'vmap_area_list']) {
        expect(kernel.global(n).address, n).toBe(kernel.vmcoreinfo.symbols.get(n));
      }
      const map = linkedObjects();
      for (const n of ['jiffies_64', 'saved_command_line', 'nr_cpu_ids', '__per_cpu_offset', 'modules', 'btf_modules']) {
        expect(kernel.global(n).address, n).toBe(map.get(n)![0] + kaslr);
      }
      expect(kernel.global('jiffies_64').value()).toBeGreaterThan(0n);
      expect(kernel.global('nr_cpu_ids').value()).toBe(2n);
      // vmlinux BTF's own per-CPU VAR, through the .data..percpu anchor and __per_cpu_offset.
      const rq = kernel.global('runqueues');
      expect([0, 1].map((cpu) => kernel.perCpu(rq, cpu).member('cpu').value())).toEqual([0n, 1n]);
    } finally {
      kernel.close();
    }
  });
});

describe(`${KEY}: kbtf verify`, () => {
  const map = linkedObjects();
  it.each(manifest.dumps.map((d) => d.file))('%s: every vmlinux VAR placed by anchor is at its -dbg vmlinux symbol + KASLR', (file) => {
    const kernel = openKernel(labPath(KEY, file));
    try {
      const companion = kernel.modules().find((m) => m.name === 'vmlinux_btf')!;
      const btf = parseBtf(companion.btfBytes!, { base: kernel.btf, source: 'vmlinux_btf' });
      const out = resolveCompanionVars(kernel, btf, { keep: true });
      expect(out.counts.unresolved).toBe(0);
      expect(out.counts.withoutSymbol).toBe(out.counts.resolved + out.counts.perCpu);
      let checked = 0;
      for (const r of out.results) {
        if (r.status !== 'resolved' && r.status !== 'per-cpu') continue;
        expect(r.by).toBe('anchor');
        // Static names that repeat: the address must be one of them. KVM's nVHE objects have their
        // symbols renamed __kvm_nvhe_* (arch/arm64/kvm/hyp/nvhe/Makefile), not their DWARF names.
        const at = [...(map.get(r.name) ?? []), ...(map.get(`__kvm_nvhe_${r.name}`) ?? [])];
        if (at.length === 0) continue;
        expect(at.map((a) => a + kaslr), r.name).toContain(BigInt(r.address!));
        checked++;
      }
      expect(checked).toBeGreaterThan(20000);
    } finally {
      kernel.close();
    }
  });

  it.each(manifest.dumps.map((d) => d.file))('%s: complete and self-contained, every companion VAR resolved, lookups equal the guest\'s', (file) => {
    const r = verifyDump(labPath(KEY, file), { lookups: ['saved_command_line', 'init_uts_ns.name.release', 'jiffies_64'] });
    expect(r.reasons).toEqual([]);
    expect(r.verdict).toBe('complete');
    expect(r.selfContained.verdict).toBe('self-contained');
    expect(r.policy.cmdlineSource).toBe('saved_command_line (dump)');
    expect(r.vmlinux.status).toBe('ok');
    const v = r.vmlinux.vars!;
    expect(v.unresolved).toBe(0);
    expect(v.resolved).toBeGreaterThan(15000);
    expect(v.withoutSymbol).toBe(v.resolved + v.perCpu);
    const parents = truth.modules.map((m) => m.name).filter((n) => !n.endsWith('_btf'));
    for (const m of r.modules) {
      expect(m.companion.status, m.name).toBe('ok');
      expect(m.companion.vars!.unresolved, m.name).toBe(0);
    }
    expect(r.modules.map((m) => m.name).sort()).toEqual(parents.sort());
    expect(r.lookups.map((l) => l.status)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(r.lookups[0].value).toContain(JSON.stringify(truth.cmdline));
    expect(r.lookups[1].value).toContain(JSON.stringify(truth.kernel));
    expect(r.selfTest.length).toBeGreaterThan(0);
    for (const l of r.selfTest) expect(l.status, l.expr).toBe('resolved');
  });
});

/**
 * An amd64 kernel lists data symbols (CONFIG_KALLSYMS_ALL): there the anchors are checked against the
 * bases kallsyms' symbols agree on. The 6.1 amd64 companion guest's vmlinux_btf (read from its dump)
 * with the anchors the builder computes from the -dbg vmlinux appended: the same counts as without
 * them; with `.data`'s anchor off by a page: every `.data` VAR unresolved, naming both bases.
 */
describe('6.1-companions (amd64, with data symbols): anchors checked against kallsyms', () => {
  const X86 = '6.1-companions';
  const x86kver = labKernel(X86);
  const x86dbg = need(join(cache, 'kernels', x86kver, 'dbg/usr/lib/debug/boot', `vmlinux-${x86kver}`));
  const withAnchors = (btf: Btf, shift: bigint): Btf => {
    const f = openElfFile(x86dbg, { littleEndian64: true });
    try {
      const input = vmlinuxAnchors(f.elf, x86dbg);
      const sections = new Map([...input.sections].map(([n, a]) => [n, n === '.data' ? a + shift : a]));
      // A version-2 companion already ends with the builder's anchors (prune.ts appends them last): replace them.
      const own = [...btf.types()].filter((t) => t.id >= btf.firstId && t.name !== SECTION_ANCHORS);
      const bytes = writeBtf([...own, sectionAnchorsType(btf.firstId + own.length, { ...input, sections })], { base: btf.base! });
      return parseBtf(bytes, { base: btf.base!, source: 'vmlinux_btf + anchors' });
    } finally {
      f.close();
    }
  };

  it('mkd-zlib.kdump: anchors that agree change nothing; a wrong one fails its section, naming both bases', () => {
    const kernel = openKernel(labPath(X86, 'mkd-zlib.kdump'));
    try {
      const companion = kernel.modules().find((m) => m.name === 'vmlinux_btf')!;
      const btf = parseBtf(companion.btfBytes!, { base: kernel.btf, source: 'vmlinux_btf' });
      // A version-1 companion (built before anchors) has none; a version-2 one has the builder's,
      // which must be exactly those of the -dbg vmlinux.
      const v2 = withAnchors(btf, 0n);
      const own = readSectionAnchors(btf);
      if (own) expect(own).toEqual(readSectionAnchors(v2));
      const before = resolveCompanionVars(kernel, btf, {});
      expect(before.counts.unresolved).toBe(0);
      const good = resolveCompanionVars(kernel, v2, {});
      expect(good.counts).toEqual(before.counts);
      expect(good.results).toEqual(before.results);
      const bad = resolveCompanionVars(kernel, withAnchors(btf, 0x1000n), {});
      const dataVars = [...btf.typesOfKind('datasec')].filter((d) => d.name === '.data').reduce((n, d) => n + d.vars.length, 0);
      expect(dataVars).toBeGreaterThan(1000);
      expect(bad.counts.unresolved).toBe(dataVars);
      const p = bad.results.find((r) => r.section === '.data')!;
      expect(p.detail).toMatch(/^section anchor puts \.data at 0x[0-9a-f]{16}, kallsyms symbols at 0x[0-9a-f]{16}$/);
      const [anchored, voted] = [...p.detail!.matchAll(/0x[0-9a-f]{16}/g)].map((m) => BigInt(m[0]));
      expect(anchored - voted).toBe(0x1000n);
    } finally {
      kernel.close();
    }
  });
});
