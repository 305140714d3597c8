/**
 * Put every VAR in the DATASEC and at the offset the module's own symbol table says.
 *
 * pahole 1.30 finds a variable's section by its address among the sections' sh_addr ranges. In a
 * relocatable object sh_addr is normally 0 everywhere, and the section index of the symbol decides;
 * but Debian 6.12's -dbg modules carry non-zero sh_addr (ext4.ko: .data at 0x3340, .text at 0), so
 * pahole filed 377 of ext4's variables under `.text` at the wrong offsets. The kernel accepts such
 * BTF, and nothing resolves: section base + offset misses the symbol (kbtf verify found it on the
 * 6.12 companion guest). The truth is in .symtab: st_shndx names the section, st_value is the offset
 * within it (what the module loader adds the section's address to).
 */
import type { ElfFile, ElfSection } from '@kbtf/binary';
import type { Btf, BtfType, DatasecType, VarSecInfo } from '@kbtf/btf';

const STT_OBJECT = 1;
const STT_TLS = 6;
const SHN_LORESERVE = 0xff00;

export interface ObjectSymbol {
  name: string;
  value: bigint;
  size: bigint;
  section: ElfSection;
}

/** Data symbols (STT_OBJECT, STT_TLS) defined in a section of `elf`. */
export function objectSymbols(elf: ElfFile): ObjectSymbol[] {
  if (!elf.section('.strtab')) return [];
  const out: ObjectSymbol[] = [];
  for (const s of elf.symbols()) {
    if ((s.type !== STT_OBJECT && s.type !== STT_TLS) || s.shndx === 0 || s.shndx >= SHN_LORESERVE || s.shndx >= elf.sections.length) continue;
    out.push({ name: s.name, value: s.value, size: s.size, section: elf.sections[s.shndx] });
  }
  return out;
}

/** Name given to DATASECs left empty by the realignment; the pruner drops them by name. */
export const EMPTY_DATASEC = '.kbtf-empty';

export interface Realigned {
  /** The split part of `btf` with the DATASECs rebuilt (new DATASECs appended). */
  types: BtfType[];
  /** VAR entries whose section or offset changed. */
  moved: number;
}

export function realignDatasecs(btf: Btf, elf: ElfFile): Realigned {
  const byName = new Map<string, ObjectSymbol[]>();
  for (const s of objectSymbols(elf)) {
    const l = byName.get(s.name);
    if (l) l.push(s);
    else byName.set(s.name, [s]);
  }
  const types = [...btf.types()];
  const datasecs = types.filter((t): t is DatasecType => t.kind === 'datasec');
  const bySection = new Map<string, { entries: VarSecInfo[]; size: number }>();
  let moved = 0;
  for (const ds of datasecs) {
    const chosen = elf.section(ds.name);
    const chosenAddr = chosen?.addr ?? 0n;
    for (const e of ds.vars) {
      const v = btf.type(e.type);
      const cands = v.kind === 'var' ? (byName.get(v.name) ?? []) : [];
      // pahole's address is sh_addr(chosen section) + offset; a symbol's is sh_addr + st_value.
      const at = chosenAddr + BigInt(e.offset);
      const sym = cands.length === 1 ? cands[0] : cands.find((s) => s.section.addr + s.value === at) ?? cands.find((s) => s.section.name === ds.name && s.value === BigInt(e.offset));
      const section = sym ? sym.section.name : ds.name;
      const offset = sym ? Number(sym.value) : e.offset;
      if (section !== ds.name || offset !== e.offset) moved++;
      const slot = bySection.get(section) ?? { entries: [], size: sym ? sym.section.size : ds.size };
      slot.entries.push({ ...e, offset });
      bySection.set(section, slot);
    }
  }
  if (moved === 0) return { types, moved };
  // Reuse the DATASEC records in order (their ids are roots only: nothing refers to a DATASEC),
  // append what is missing, and name what is left over for the pruner to drop.
  const sections = [...bySection.keys()];
  let nextId = btf.endId;
  for (let i = 0; i < Math.max(sections.length, datasecs.length); i++) {
    const name = sections[i];
    const slot = name === undefined ? undefined : bySection.get(name)!;
    const record: DatasecType = slot
      ? { ...(datasecs[i] ?? { id: nextId++, kind: 'datasec' }), name, size: slot.size, vars: slot.entries.sort((a, b) => a.offset - b.offset) }
      : { ...datasecs[i], name: EMPTY_DATASEC, vars: [] };
    if (i < datasecs.length) types[types.indexOf(datasecs[i])] = record;
    else types.push(record);
  }
  return { types, moved };
}
