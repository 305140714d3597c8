/**
 * The section anchors of the vmlinux companion (docs/design.md §2, contract version 2; the encoding
 * is @kbtf/btf's anchors.ts): from the -dbg vmlinux's section headers and symbol table, every
 * allocated section's link-time address and those of `__init_begin`/`__init_end`, relative to
 * `_stext`.
 */
import { BadDataError, SHF_ALLOC, type ElfFile } from '@kbtf/binary';
import { ANCHOR_SYMBOL, type AnchorInput } from '@kbtf/btf';

/** Symbols anchored besides the sections: the init range verify needs (free_initmem()'s). */
export const ANCHORED_SYMBOLS = ['__init_begin', '__init_end'] as const;

export function vmlinuxAnchors(elf: ElfFile, source: string): AnchorInput {
  const sections = new Map<string, bigint>();
  for (const s of elf.sections) if (s.flags & SHF_ALLOC && s.addr !== 0n && !sections.has(s.name)) sections.set(s.name, s.addr);
  const wanted = new Set<string>([ANCHOR_SYMBOL, ...ANCHORED_SYMBOLS]);
  const found = new Map<string, bigint>();
  for (const sym of elf.symbols()) if (wanted.has(sym.name) && !found.has(sym.name) && sym.shndx !== 0) found.set(sym.name, sym.value);
  const reference = found.get(ANCHOR_SYMBOL);
  if (reference === undefined) throw new BadDataError(source, undefined, `no ${ANCHOR_SYMBOL} in the vmlinux symbol table: cannot anchor its sections`);
  const symbols = new Map<string, bigint>();
  for (const n of ANCHORED_SYMBOLS) {
    const v = found.get(n);
    if (v !== undefined) symbols.set(n, v);
  }
  return { sections, symbols, reference };
}
