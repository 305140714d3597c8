/**
 * Section anchors of a vmlinux companion (docs/design.md §2, companion contract version 2): where
 * vmlinux's sections are, for a dump whose kallsyms has no data symbols (a kernel built without
 * CONFIG_KALLSYMS_ALL, such as Debian's arm64 6.1). The loaded companion's `.modinfo` is not in
 * the dump, only its BTF (mod->btf_data), so the anchors are BTF: one ENUM64 named
 * `kbtf_section_anchors` whose enumerators are
 *
 *   kbtf_sec_<section name, every byte outside [A-Za-z0-9_] as `_`> = sh_addr(section) − _stext
 *   kbtf_sym_<symbol>                                                = st_value(symbol) − _stext
 *
 * at link time, signed. `_stext` is the reference because kallsyms always lists it (a text
 * symbol; and VMCOREINFO has SYMBOL(_stext)): the running kernel's section base is then
 * kallsyms(_stext) + anchor, KASLR included. The symbols anchored are the ones verify needs that
 * text-only kallsyms lacks (`__init_end`). Sections linked at 0 (x86_64's zero-based
 * `.data..percpu`) have no anchor. Enumerator names are C identifiers (kernel/bpf/btf.c
 * btf_name_valid_identifier, 6.1): the escape keeps them so; two sections that escape to one name
 * are refused by the builder.
 */
import { UsageError } from '@kbtf/binary';
import type { Btf } from './btf.js';
import type { Enum64Type } from './types.js';

export const SECTION_ANCHORS = 'kbtf_section_anchors';
/** The symbol every anchor is relative to. */
export const ANCHOR_SYMBOL = '_stext';

/** The enumerator of section `name`. */
export function sectionAnchorName(name: string): string {
  return `kbtf_sec_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The enumerator of symbol `name`. */
export function symbolAnchorName(name: string): string {
  return `kbtf_sym_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export interface AnchorInput {
  /** Section name → link-time address (sh_addr). */
  sections: ReadonlyMap<string, bigint>;
  /** Symbol name → link-time address. */
  symbols: ReadonlyMap<string, bigint>;
  /** Link-time address of ANCHOR_SYMBOL. */
  reference: bigint;
}

/** The ENUM64 record (id `id`); UsageError when two names escape to one enumerator. */
export function sectionAnchorsType(id: number, input: AnchorInput): Enum64Type {
  const values: { name: string; value: bigint }[] = [];
  const seen = new Map<string, string>();
  const add = (enumerator: string, what: string, addr: bigint) => {
    const prev = seen.get(enumerator);
    if (prev !== undefined) throw new UsageError(`section anchors: ${prev} and ${what} both escape to ${enumerator}`);
    seen.set(enumerator, what);
    values.push({ name: enumerator, value: BigInt.asIntN(64, addr - input.reference) });
  };
  for (const [name, addr] of input.sections) if (addr !== 0n) add(sectionAnchorName(name), `section ${name}`, addr);
  for (const [name, addr] of input.symbols) add(symbolAnchorName(name), `symbol ${name}`, addr);
  return { id, kind: 'enum64', name: SECTION_ANCHORS, size: 8, signed: true, values };
}

/** Enumerator → value of the companion's own `kbtf_section_anchors`; undefined when it has none (version 1). */
export function readSectionAnchors(btf: Btf): Map<string, bigint> | undefined {
  for (const t of btf.typesOfKind('enum64')) {
    if (t.id < btf.firstId || t.name !== SECTION_ANCHORS) continue;
    return new Map(t.values.map((v) => [v.name, BigInt.asIntN(64, v.value)]));
  }
  return undefined;
}
