/**
 * The last gate before a companion is written: read the assembled `.ko` back as the kernel's module
 * loader will (kernel/module/main.c, 6.1: `.BTF` found by name with no SHF_ALLOC requirement,
 * `.modinfo` keys, `vermagic`) and check its BTF with @kbtf/btf's validator by the rules the
 * kernel runs when a module loads (btf_parse_module: header, strings, every record's meta checks).
 */
import { BadDataError, ElfFile, SHF_ALLOC } from '@kbtf/binary';
import { companionRules, parseBtf, validateBtf, type Btf } from '@kbtf/btf';
import { COMPANION_MODINFO_KEY } from './stub.js';
import { checkMachine, kernelArch, type KernelArch } from './arch.js';

export interface CompanionCheck {
  /** Module name the kernel will give it (`ext4_btf`). */
  name: string;
  of: string;
  vermagic: string;
  btfSize: number;
  vars: number;
}

export interface CompanionExpect {
  of: string;
  kver: string;
  btf: Uint8Array;
  base: Btf;
  /** The kernel's architecture (default: by its release, arch.ts): the companion's e_machine and vermagic. */
  arch?: KernelArch;
  /** The kernel's own modules' vermagic, when known: the companion's must be equal. */
  vermagic?: string;
}

/** Throws BadDataError on the first problem; returns what was checked. */
export function checkCompanion(ko: Uint8Array, source: string, expect: CompanionExpect): CompanionCheck {
  const elf = ElfFile.fromBytes(ko, source, { littleEndian64: true });
  const arch = expect.arch ?? kernelArch(expect.kver);
  checkMachine(elf, arch, expect.kver);
  const fail = (msg: string) => new BadDataError(source, undefined, msg);
  const sec = elf.section('.BTF');
  if (!sec) throw fail('no .BTF section');
  if (sec.flags & SHF_ALLOC) throw fail('.BTF is SHF_ALLOC: the loader would copy it into module memory');
  // 6.12+ (commit "module, bpf: store BTF base pointer in struct module"): with a .BTF.base the
  // loader reads .BTF as split on that distilled base and relocates it; a companion's is split on
  // the full vmlinux BTF.
  if (elf.section('.BTF.base')) throw fail('.BTF.base present: the kernel would relocate .BTF against a distilled base it was not encoded on');
  const btfBytes = elf.sectionBytes('.BTF');
  if (Buffer.compare(Buffer.from(btfBytes), Buffer.from(expect.btf)) !== 0) throw fail('.BTF differs from the pruned BTF');
  for (const s of elf.sections) {
    if (s.name.startsWith('.debug_')) throw fail(`${s.name} left in the companion (strip it)`);
  }
  const info = elf.modinfo();
  const of = info.get(COMPANION_MODINFO_KEY) ?? [];
  if (of.length !== 1 || of[0] !== expect.of) throw fail(`.modinfo ${COMPANION_MODINFO_KEY}=${of.join(',')}, want ${expect.of}`);
  const want = `${expect.of}_btf`.replace(/-/g, '_');
  const name = info.get('name')?.[0] ?? '';
  if (name !== want) throw fail(`.modinfo name=${name}, want ${want}`);
  const vermagic = info.get('vermagic')?.[0] ?? '';
  if (!vermagic.startsWith(`${expect.kver} `)) throw fail(`vermagic "${vermagic}" is not for ${expect.kver}`);
  if (expect.vermagic !== undefined && vermagic !== expect.vermagic) throw fail(`vermagic "${vermagic}", but ${expect.kver}'s modules have "${expect.vermagic}"`);
  if (arch.vermagicArch && vermagic.trim().split(' ').at(-1) !== arch.vermagicArch) throw fail(`vermagic "${vermagic}" does not end with ${arch.vermagicArch}, as every ${arch.deb} module's does`);
  if (elf.sections.some((s) => s.name === '.text' && s.size > 0)) throw fail('a companion has no code, but .text is not empty');

  const v = validateBtf(btfBytes, { base: expect.base, mode: 'module', kernel: companionRules(expect.kver) });
  if (!v.valid) {
    const e = v.errors[0];
    throw fail(`the kernel would reject its BTF: [${e.typeId}] ${e.message}${e.detail ? ` (${e.detail})` : ''}`);
  }
  const btf = parseBtf(btfBytes, { base: expect.base, source: `${source} .BTF` });
  let vars = 0;
  for (const t of btf.typesOfKind('var')) if (t.id >= btf.firstId) vars++;
  if (vars === 0) throw fail('no VAR in the companion BTF');
  return { name, of: expect.of, vermagic, btfSize: btfBytes.byteLength, vars };
}
