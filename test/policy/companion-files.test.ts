// `kbtf check`'s findings that read a companion file, on the REAL companions built for the lab's
// Debian kernels ($KBTF_CACHE/companions, 6.1 and 6.12) in root trees made from the real kernel
// module trees: a valid companion gives no finding; a companion of the other kernel, an ordinary
// module posing as a companion, another module's companion, a companion whose .BTF the kernel
// rejects (objcopy --update-section with a mutated blob), one whose .BTF does not resolve, and one
// without .BTF each give their finding. A missing cache fails (CI builds the companions first).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { companionRules, parseBtf, elfSection, validateBtf, type Btf } from '@kbtf/btf';
import { Root, checkRoot, type CheckReport } from '@kbtf/policy';
import { buildTree, cachedKernel, modulePath, CHECK_CMDLINE, type CachedKernel } from './companion-cache.js';

const BTF_MAX_TYPE = 0x000fffff;

function check(k: CachedKernel, root: string): CheckReport {
  return checkRoot(new Root(root), { kernel: k.kver, cmdline: CHECK_CMDLINE, vmlinuxBtf: readFileSync(k.vmlinuxBtf), vmlinuxBtfSource: k.vmlinuxBtf });
}

/** A tree with loop, e1000 and crc16 of the real kernel, vmlinux-btf and e1000-btf, and `loopBtf` as loop's companion. */
function treeWithLoopCompanion(k: CachedKernel, loopBtf: string, name = 'loop-btf.ko'): string {
  return buildTree(k, {
    modules: ['loop', 'e1000', 'crc16'],
    companions: { [name]: loopBtf, 'e1000-btf.ko': join(k.companions, 'e1000-btf.ko'), 'vmlinux-btf.ko': join(k.companions, 'vmlinux-btf.ko') },
    load: ['loop', 'e1000', 'vmlinux-btf'],
  });
}

const codes = (r: CheckReport, module: string) => r.findings.filter((f) => f.module === module).map((f) => f.code).sort();

/** A copy of `ko` whose .BTF is `mutate`d (record bytes located with the parser), via objcopy --update-section. */
function mutatedCompanion(k: CachedKernel, ko: string, mutate: (bytes: Uint8Array, btf: Btf, typeBase: number) => number): { file: string; id: number; endId: number } {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-bad-btf-'));
  const elf = readFileSync(ko);
  const btfBytes = Uint8Array.from(elfSection(elf, '.BTF')!);
  const base = parseBtf(readFileSync(k.vmlinuxBtf), { source: k.vmlinuxBtf });
  const btf = parseBtf(btfBytes, { base, source: ko });
  const dv = new DataView(btfBytes.buffer, btfBytes.byteOffset, btfBytes.byteLength);
  const typeBase = dv.getUint32(4, true) + dv.getUint32(8, true); // hdr_len + type_off
  const id = mutate(btfBytes, btf, typeBase);
  const out = join(dir, 'loop-btf.ko');
  writeFileSync(join(dir, 'bad.btf'), btfBytes);
  copyFileSync(ko, out);
  execFileSync('objcopy', [`--update-section`, `.BTF=${join(dir, 'bad.btf')}`, out]);
  return { file: out, id, endId: btf.endId };
}

/** Point the first VAR's type at `target(btf)`: returns the VAR's id. */
function retargetFirstVar(target: (btf: Btf) => number) {
  return (bytes: Uint8Array, btf: Btf, typeBase: number): number => {
    const id = [...btf.ids()].find((i) => i >= btf.firstId && btf.kindOf(i) === 'var');
    if (id === undefined) throw new Error('no VAR in the companion');
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(typeBase + btf.recordOffset(id) + 8, target(btf), true);
    return id;
  };
}

for (const [series, other] of [['6.1', '6.12'], ['6.12', '6.1']] as const) {
  describe(`kbtf check on real ${series} companions`, () => {
    const k = cachedKernel(series);

    it(`uses Linux 6.1's BTF rules (no kind_flag tags before 6.15) for ${k.kver}`, () => {
      expect(companionRules(k.kver)).toBe('6.1');
    });

    it('a tree whose companions are the real ones gives no finding at all', () => {
      const r = check(k, treeWithLoopCompanion(k, join(k.companions, 'loop-btf.ko')));
      expect(r.kernel).toBe(k.kver);
      expect(r.modules.map((m) => m.name).sort()).toEqual(['e1000', 'loop', 'vmlinux_btf']);
      expect(r.findings).toEqual([]);
      expect(r.missingCompanions).toEqual([]);
    });

    it(`a ${other} companion in the ${series} tree: vermagic-mismatch naming both vermagics`, () => {
      const o = cachedKernel(other);
      const r = check(k, treeWithLoopCompanion(k, join(o.companions, 'loop-btf.ko')));
      const f = r.findings.find((x) => x.code === 'vermagic-mismatch');
      expect(f?.module).toBe('loop');
      expect(f?.severity).toBe('error');
      expect(f?.file).toBe(`/lib/modules/${k.kver}/updates/kbtf/loop-btf.ko`);
      expect(f?.message).toContain(`vermagic '${o.kver} `);
      expect(f?.message).toContain(`loop's '${k.kver} `);
      expect(codes(r, 'e1000')).toEqual([]);
      expect(r.errors).toBeGreaterThan(0);
    });

    it('an ordinary module posing as M-btf.ko: companion-of-missing', () => {
      const crc16 = modulePath(k, 'crc16');
      const ext = crc16.slice(crc16.indexOf('.ko'));
      const r = check(k, treeWithLoopCompanion(k, join(k.modules, crc16), `loop-btf${ext}`));
      expect(codes(r, 'loop')).toContain('companion-of-missing');
      expect(codes(r, 'loop')).not.toContain('vermagic-mismatch');
      expect(codes(r, 'e1000')).toEqual([]);
    });

    it("another module's companion as M-btf.ko: companion-of-mismatch naming it", () => {
      const r = check(k, treeWithLoopCompanion(k, join(k.companions, 'e1000-btf.ko')));
      const f = r.findings.find((x) => x.code === 'companion-of-mismatch');
      expect(f?.module).toBe('loop');
      expect(f?.message).toContain('btf_companion_of=e1000');
      expect(codes(r, 'loop')).toEqual(['companion-of-mismatch']);
    });

    it("a VAR with a type id past BTF_MAX_TYPE: companion-btf-invalid with the kernel's message", () => {
      const bad = mutatedCompanion(k, join(k.companions, 'loop-btf.ko'), retargetFirstVar(() => BTF_MAX_TYPE + 1));
      const r = check(k, treeWithLoopCompanion(k, bad.file));
      expect(codes(r, 'loop')).toEqual(['companion-btf-invalid']);
      const f = r.findings.find((x) => x.code === 'companion-btf-invalid')!;
      expect(f.message).toContain(`Linux ${companionRules(k.kver)} rules`);
      expect(f.message).toContain(`[${bad.id}] Invalid type_id`);
      expect(f.severity).toBe('error');
    });

    it('a VAR pointing past the last type: the kernel accepts it at module load, the parse check does not', () => {
      const bad = mutatedCompanion(k, join(k.companions, 'loop-btf.ko'), retargetFirstVar((btf) => btf.endId + 7));
      const base = parseBtf(readFileSync(k.vmlinuxBtf));
      const section = elfSection(readFileSync(bad.file), '.BTF')!;
      expect(validateBtf(section, { base, mode: 'module', kernel: companionRules(k.kver) }).valid).toBe(true);
      expect(validateBtf(section, { base, mode: 'full', kernel: companionRules(k.kver) }).valid).toBe(false);
      const r = check(k, treeWithLoopCompanion(k, bad.file));
      expect(codes(r, 'loop')).toEqual(['companion-btf-invalid']);
      const f = r.findings.find((x) => x.code === 'companion-btf-invalid')!;
      expect(f.message).toContain('not valid split BTF');
      expect(f.message).toContain(String(bad.endId + 7));
    });

    it('a companion with its .BTF removed: companion-no-btf', () => {
      const dir = mkdtempSync(join(tmpdir(), 'kbtf-no-btf-'));
      const out = join(dir, 'loop-btf.ko');
      execFileSync('objcopy', ['--remove-section', '.BTF', join(k.companions, 'loop-btf.ko'), out]);
      const r = check(k, treeWithLoopCompanion(k, out));
      expect(codes(r, 'loop')).toEqual(['companion-no-btf']);
    });
  });
}
