/**
 * Loaded modules, walked from `modules` (kernel/module/main.c) through `struct module.list`, with
 * every offset taken from vmlinux BTF:
 * - memory: `core_layout`/`init_layout` (4.5–6.3; `data_layout` with
 *   CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC) or `mem[MOD_MEM_NUM_TYPES]` (6.4+, named by
 *   `enum mod_mem_type`). /proc/modules shows the core (6.4+: MOD_TEXT) base and the sum of sizes
 *   (kernel/module/procfs.c m_show).
 * - symbols: `mod->kallsyms` → `struct mod_kallsyms {symtab, num_symtab, strtab, typetab}`, each an
 *   Elf64_Sym with a real st_size and its /proc/kallsyms type in typetab (5.2+), upper-cased when
 *   the symbol is exported through `mod->syms` (kernel/module/kallsyms.c is_exported()).
 * - sections: `mod->sect_attrs` → `attrs[nsections]` {name (≤ 5.7: `name`, later `battr.attr.name`),
 *   address} as in /sys/module/M/sections.
 * - BTF: `mod->btf_data` is NULL once the module is live; the bytes stay in `btf_modules`, a list of
 *   `struct btf_module {list, module, btf}` (kernel/bpf/btf.c), at `btf->data`, `btf->data_size`.
 */
import { BadDataError, Cursor, FaultError, NotFoundError, digestHex } from '@kbtf/binary';
import { KSYM_NAME_LEN, parseBtf, type Btf } from '@kbtf/btf';
import type { Kallsyms } from './kallsyms.js';
import { bytesHash, hashSlot, nameIndex, type NameIndex } from './name-hash.js';
import type { KernelMemory } from './memory.js';
import { KObject, listForEachEntry, listForEachEntryReverse, offsetOf } from './object.js';
import { findTypeId, shape, sizeOfType, type KType } from './ktype.js';

/**
 * What reading modules needs of the kernel (kernel.ts's Kernel; declared here so that the two files
 * do not import each other).
 */
export interface ModuleContext {
  readonly memory: KernelMemory;
  readonly kallsyms: Kallsyms;
  readonly btf: Btf;
  type(name: string): KType;
  bootstrapGlobal(name: string): KObject | undefined;
}

/** Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64. */
const ELF64_SYM_SIZE = 24;

export interface MemoryRegion {
  /** `core`, `init`, `data` (≤ 6.3) or `text`, `data`, `rodata`, `ro_after_init`, `init_text`, … */
  name: string;
  base: bigint;
  size: number;
}

export interface ModuleSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** The type character as /proc/kallsyms prints it. */
  type: string;
}

export interface ModuleSection {
  name: string;
  address: bigint;
}

/** taint_flags[] entries with `.module = true` (kernel/panic.c, 6.1): bit → letter. */
const MODULE_TAINTS: [number, string][] = [
  [0, 'P'], [1, 'F'], [10, 'C'], [12, 'O'], [13, 'E'], [15, 'K'], [16, 'X'], [17, 'T'], [18, 'N'],
];

const STATE_NAMES: Record<string, string> = {
  MODULE_STATE_LIVE: 'Live',
  MODULE_STATE_COMING: 'Loading',
  MODULE_STATE_GOING: 'Unloading',
  MODULE_STATE_UNFORMED: 'Unformed',
};

export class KernelModule {
  private symbolsCache?: ModuleSymbol[];
  private symtabCache?: ModuleSymtab;
  private exportedCache?: { names: Set<string>; keys: Set<string> };
  private sectionsCache?: ModuleSection[];
  private btfCache?: Btf | null;

  constructor(
    private readonly kernel: ModuleContext,
    /** The `struct module`. */
    readonly object: KObject,
    readonly name: string,
    /** The enumerator, e.g. MODULE_STATE_LIVE. */
    readonly state: string,
    readonly regions: MemoryRegion[],
    /** Base and size as /proc/modules shows them. */
    readonly base: bigint,
    readonly size: number,
    /** The module's BTF as the kernel holds it, when in `btf_modules`. */
    readonly btfBytes: Uint8Array | undefined,
    /** Why the BTF bytes could not be read, when they could not. */
    readonly btfError: string | undefined,
  ) {}

  get address(): bigint {
    return this.object.address!;
  }

  /** Live, Loading, Unloading, as /proc/modules says. */
  get stateName(): string {
    return STATE_NAMES[this.state] ?? this.state;
  }

  /**
   * The module's taint letters as /proc/modules shows them in parentheses (kernel/module/main.c
   * module_flags(): the taint_flags with `.module = true`, in bit order), e.g. `OE`.
   */
  get taints(): string {
    const mask = this.object.member('taints').value();
    let out = '';
    for (const [bit, letter] of MODULE_TAINTS) if (mask & (1n << BigInt(bit))) out += letter;
    return out;
  }

  get btfSha256(): string | undefined {
    return this.btfBytes && digestHex('sha256', this.btfBytes);
  }

  /** The module's BTF parsed as split BTF on vmlinux BTF; undefined when it has none. */
  btf(): Btf | undefined {
    if (this.btfCache === undefined) {
      this.btfCache = this.btfBytes ? parseBtf(this.btfBytes, { base: this.kernel.btf, source: `${this.name} BTF` }) : null;
    }
    return this.btfCache ?? undefined;
  }

  /** Symbols in symtab order (= /proc/kallsyms order within the module), the empty-named ones kept. */
  get symbols(): ModuleSymbol[] {
    return (this.symbolsCache ??= moduleSymbols(this.kernel, this.object, this.symtab));
  }

  /** Symbol i (symtab order) as `symbols[i]`, made alone when the others are not needed. */
  symbol(i: number): ModuleSymbol {
    if (this.symbolsCache) return this.symbolsCache[i];
    return symbolAt(this.kernel, this.object, this.symtab, i, (this.exportedCache ??= exportedSymbols(this.kernel, this.object)));
  }

  /** The same symbols as columns, names as the bytes of the module's strtab: no object or string per symbol. */
  get symtab(): ModuleSymtab {
    return (this.symtabCache ??= readSymtab(this.kernel, this.object));
  }

  /** mod->kallsyms->num_symtab, without reading the symbols. */
  get symbolCount(): number {
    return this.symbolsCache?.length ?? Number(this.object.member('kallsyms').deref().member('num_symtab').value());
  }

  get sections(): ModuleSection[] {
    return (this.sectionsCache ??= readSections(this.kernel, this.object));
  }
}

export function readModules(kernel: ModuleContext): KernelModule[] {
  const moduleType = kernel.type('struct module');
  const btfByModule = readBtfModules(kernel);
  const out: KernelModule[] = [];
  for (const ptr of listForEachEntry(need(kernel.bootstrapGlobal('modules'), 'modules'), moduleType, 'list')) {
    const mod = ptr.deref();
    const state = mod.member('state').enumName() ?? `state ${mod.member('state').value()}`;
    if (state === 'MODULE_STATE_UNFORMED') continue; // ignored by /proc/modules and kallsyms
    const name = new TextDecoder().decode(mod.member('name').string());
    const { regions, base, size } = readLayout(mod);
    const btf = btfByModule.get(mod.address!) ?? btfByModule.get(UNREACHED);
    out.push(new KernelModule(kernel, mod, name, state, regions, base, size, btf?.bytes, btf?.error));
  }
  return out;
}

function hasMember(t: KType, name: string): boolean {
  const s = shape(t);
  return (s.kind === 'struct' || s.kind === 'union') && s.members.some((m) => m.name === name);
}

function readLayout(mod: KObject): { regions: MemoryRegion[]; base: bigint; size: number } {
  if (hasMember(mod.type, 'mem')) {
    // 6.4+ (commit ac3b43283923 "module: replace module_layout with module_memory").
    const mem = mod.member('mem');
    const s = mem.shape;
    const count = s.kind === 'array' ? s.count : 0;
    const names = memTypeNames(mem, count);
    const regions = names.map((name, i) => {
      const m = mem.index(i);
      return { name, base: m.member('base').value(), size: Number(m.member('size').value()) };
    });
    const text = regions[names.indexOf('text')] ?? regions[0];
    return { regions, base: text.base, size: regions.reduce((a, r) => a + r.size, 0) };
  }
  const regions: MemoryRegion[] = [];
  for (const [member, name] of [['core_layout', 'core'], ['init_layout', 'init'], ['data_layout', 'data']] as const) {
    if (!hasMember(mod.type, member)) continue;
    const l = mod.member(member);
    regions.push({ name, base: l.member('base').value(), size: Number(l.member('size').value()) });
  }
  return { regions, base: regions[0]?.base ?? 0n, size: regions.reduce((a, r) => a + r.size, 0) };
}

/** `enum mod_mem_type` names, lower-cased without the prefix: MOD_TEXT → text. */
function memTypeNames(mem: KObject, count: number): string[] {
  const names = Array.from({ length: count }, (_, i) => `mem${i}`);
  const s = mem.shape;
  if (s.kind !== 'array') return names;
  const elem = s.elem;
  if (elem.kind !== 'btf') return names;
  const id = findTypeId(elem.btf, 'mod_mem_type', ['enum']);
  const e = id === undefined ? undefined : elem.btf.type(id);
  if (e && e.kind === 'enum') for (const v of e.values) if (v.value >= 0 && v.value < count) names[v.value] = v.name.replace(/^MOD_/, '').toLowerCase();
  return names;
}

interface ModuleBtf {
  bytes?: Uint8Array;
  error?: string;
}

function readBtfModules(kernel: ModuleContext): Map<bigint, ModuleBtf> {
  const out = new Map<bigint, ModuleBtf>();
  // CONFIG_DEBUG_INFO_BTF_MODULES=n: no btf_modules symbol, no module BTF.
  if (kernel.kallsyms.lookup('btf_modules') === undefined) return out;
  const head = need(kernel.bootstrapGlobal('btf_modules'), 'btf_modules');
  const btfModuleType = kernel.type('struct btf_module');
  const add = (ptr: KObject): void => {
    const bm = ptr.deref();
    const mod = bm.member('module').value();
    if (out.has(mod)) return;
    try {
      const btf = bm.member('btf').deref();
      const size = Number(btf.member('data_size').value());
      out.set(mod, { bytes: kernel.memory.read(btf.member('data').value(), size) });
    } catch (err) {
      if (!(err instanceof FaultError)) throw err;
      out.set(mod, { error: err.message });
    }
  };
  try {
    for (const ptr of listForEachEntry(head, btfModuleType, 'list')) add(ptr);
  } catch (err) {
    // A list node in a page the dump left out (makedumpfile -d 31 on a kernel it misreads, e.g. 6.12
    // slab pages under makedumpfile 1.7.2). The list is doubly linked: walk back from the tail to
    // reach the entries after the hole; only the unreadable nodes stay unknown.
    if (!(err instanceof FaultError)) throw err;
    out.set(UNREACHED, { error: `btf_modules entry unreadable: ${err.message}` });
    try {
      for (const ptr of listForEachEntryReverse(head, btfModuleType, 'list')) add(ptr);
    } catch (err2) {
      if (!(err2 instanceof FaultError)) throw err2;
    }
  }
  return out;
}

/** Key of the entry that records why the btf_modules walk stopped early. */
const UNREACHED = -1n;

/**
 * `name` as the bytes a symtab holds for it when it is ASCII (then it compares as those bytes
 * exactly as the decoded names compare as strings); undefined for any other name.
 */
export function asciiBytes(name: string): Buffer | undefined {
  const bytes = Buffer.from(name, 'latin1');
  return bytes.some((b, i) => b >= 0x80 || name.charCodeAt(i) > 0xff) ? undefined : bytes;
}

/**
 * A module's symtab (`mod->kallsyms`) as columns: each symbol's name as an offset into `names`
 * (strtab, every name NUL-terminated), its value's u32 halves, its size (a Number; NaN when not
 * exact), its typetab byte. `indexAt` finds a symbol by name bytes and address through a hash
 * index of the names, built on first use.
 */
export class ModuleSymtab {
  private byHash?: NameIndex;
  private hashes?: Int32Array;

  constructor(
    readonly count: number,
    readonly names: Uint8Array,
    /** Where the last name starts: the names before it end at their NUL or here, whichever is first. */
    private readonly lastName: number,
    readonly nameOff: Uint32Array,
    readonly valueHi: Uint32Array,
    readonly valueLo: Uint32Array,
    readonly size: Float64Array,
    readonly typetab: Uint8Array,
  ) {}

  /** `names` as a Buffer (for latin1 slices). */
  get text(): Buffer {
    return (this.textView ??= Buffer.from(this.names.buffer, this.names.byteOffset, this.names.length));
  }
  private textView?: Buffer;

  /**
   * The symbol nearest at or below the address whose u32 halves are (hi, lo), of those with a
   * name (the last of equal values is not taken over the first): its index, -1 when none.
   */
  nearestAtOrBelow(hi: number, lo: number): number {
    let best = -1;
    for (let i = 0; i < this.count; i++) {
      if (this.names[this.nameOff[i]] === 0) continue;
      const vh = this.valueHi[i];
      const vl = this.valueLo[i];
      if (vh > hi || (vh === hi && vl > lo)) continue;
      if (best < 0 || vh > this.valueHi[best] || (vh === this.valueHi[best] && vl > this.valueLo[best])) best = i;
    }
    return best;
  }

  /** The end (NUL) of symbol i's name in `names`. */
  nameEnd(i: number): number {
    const at = this.nameOff[i];
    const e = this.names.indexOf(0, at);
    return at === this.lastName ? e : Math.min(e, this.lastName);
  }

  /**
   * The first symbol, in symtab order, named bytes[start, end) and at the address whose u32 halves
   * are (hi, lo); -1 when none.
   */
  indexAt(bytes: Uint8Array, start: number, end: number, hi: number, lo: number): number {
    return this.first(bytes, start, end, (i) => this.valueHi[i] === hi && this.valueLo[i] === lo);
  }

  /**
   * The first symbol, in symtab order, named bytes[start, end); -1 when none. Through the name
   * index once indexAt built it; before, a scan of the names (one lookup does not pay for an index).
   */
  indexOf(bytes: Uint8Array, start: number, end: number): number {
    if (this.byHash) return this.first(bytes, start, end, () => true);
    for (let i = 0; i < this.count; i++) if (this.nameIs(i, bytes, start, end)) return i;
    return -1;
  }

  /** Whether symbol i's type letter is other than t, T, u, U (not text, not undefined). */
  isData(i: number): boolean {
    const c = this.typetab[i] | 0x20;
    return c !== 0x74 && c !== 0x75;
  }

  /** The first symbol named bytes[start, end) whose type letter isData; -1 when none (a scan). */
  dataIndexOf(bytes: Uint8Array, start: number, end: number): number {
    for (let i = 0; i < this.count; i++) if (this.isData(i) && this.nameIs(i, bytes, start, end)) return i;
    return -1;
  }

  /** Whether symbol i is named bytes[start, end). */
  private nameIs(i: number, bytes: Uint8Array, start: number, end: number): boolean {
    const at = this.nameOff[i];
    if (this.names[at] !== bytes[start] && end > start) return false;
    if (this.nameEnd(i) - at !== end - start) return false;
    for (let q = 0; q < end - start; q++) if (this.names[at + q] !== bytes[start + q]) return false;
    return true;
  }

  /** The value of symbol i, as a BigInt. */
  value(i: number): bigint {
    return (BigInt(this.valueHi[i]) << 32n) | BigInt(this.valueLo[i]);
  }

  private first(bytes: Uint8Array, start: number, end: number, also: (i: number) => boolean): number {
    const index = (this.byHash ??= this.index());
    const slots = index.slots;
    const hashes = this.hashes!;
    const h = bytesHash(bytes, start, end);
    const mask = slots.length - 1;
    // Symbols go in in symtab order, so the ones of one hash are met in symtab order.
    for (let k = hashSlot(h, index.shift); slots[k] !== 0; k = (k + 1) & mask) {
      const i = slots[k] - 1;
      if (hashes[i] === h && also(i) && this.nameIs(i, bytes, start, end)) return i;
    }
    return -1;
  }

  private index(): NameIndex {
    const hashes = new Int32Array(this.count);
    const index = nameIndex(this.count, 16);
    for (let i = 0; i < this.count; i++) {
      const h = bytesHash(this.names, this.nameOff[i], this.nameEnd(i));
      hashes[i] = h;
      index.add(h, i);
    }
    this.hashes = hashes;
    return index;
  }
}

function readSymtab(kernel: ModuleContext, mod: KObject): ModuleSymtab {
  const ks = mod.member('kallsyms').deref();
  const count = Number(ks.member('num_symtab').value());
  const none = new Uint32Array(0);
  if (count === 0) return new ModuleSymtab(0, new Uint8Array(1), 0, none, none, none, new Float64Array(0), new Uint8Array(0));
  const symtab = kernel.memory.read(ks.member('symtab').value(), count * ELF64_SYM_SIZE);
  const typetab = kernel.memory.read(ks.member('typetab').value(), count);
  const strtabAddr = ks.member('strtab').value();
  const c = new Cursor(symtab, { source: 'module symtab', littleEndian: true });
  const nameOff = new Uint32Array(count);
  let maxName = 0;
  for (let i = 0; i < count; i++) maxName = Math.max(maxName, (nameOff[i] = c.u32At(i * ELF64_SYM_SIZE)));
  // Everything up to the last name in one read, then the last name on its own (it may end the
  // page), then its NUL: one buffer in which every name ends.
  const head = kernel.memory.read(strtabAddr, maxName);
  const last = kernel.memory.cstring(strtabAddr + BigInt(maxName), KSYM_NAME_LEN);
  const names = new Uint8Array(maxName + last.length + 1);
  names.set(head, 0);
  names.set(last, maxName);
  const valueHi = new Uint32Array(count);
  const valueLo = new Uint32Array(count);
  const size = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * ELF64_SYM_SIZE;
    valueLo[i] = c.u32At(at + 8);
    valueHi[i] = c.u32At(at + 12);
    const hi = c.u32At(at + 20);
    size[i] = hi < 0x200000 ? hi * 2 ** 32 + c.u32At(at + 16) : NaN;
  }
  return new ModuleSymtab(count, names, maxName, nameOff, valueHi, valueLo, size, typetab);
}

function moduleSymbols(kernel: ModuleContext, mod: KObject, tab: ModuleSymtab): ModuleSymbol[] {
  if (tab.count === 0) return [];
  const exported = exportedSymbols(kernel, mod);
  const out: ModuleSymbol[] = [];
  for (let i = 0; i < tab.count; i++) out.push(symbolAt(kernel, mod, tab, i, exported));
  return out;
}

const latin1Decoder = new TextDecoder('latin1');

/** Symbol i of a module's symtab, its type letter upper case when `exported` lists it. */
function symbolAt(kernel: ModuleContext, mod: KObject, tab: ModuleSymtab, i: number, exported: { names: Set<string>; keys: Set<string> }): ModuleSymbol {
  const strtab = tab.names;
  const nameOff = tab.nameOff[i];
  const end = tab.nameEnd(i);
  // TextDecoder's 'latin1' is windows-1252; on ASCII (every kernel name) it is Buffer's latin1,
  // one native slice without a view per name (a module has thousands).
  let ascii = true;
  for (let k = nameOff; k < end && ascii; k++) ascii = strtab[k] < 0x80;
  const name = ascii ? tab.text.toString('latin1', nameOff, end) : latin1Decoder.decode(strtab.subarray(nameOff, end));
  const value = tab.value(i);
  const size = Number.isNaN(tab.size[i]) ? symbolSize(kernel, mod, i) : BigInt(tab.size[i]);
  const t = String.fromCharCode(tab.typetab[i]);
  // Most symbols are not exported: the value is printed for a key only when the name is.
  const type = exported.names.has(name) && exported.keys.has(`${name}@${value}`) ? t.toUpperCase() : t.toLowerCase();
  return { name, value, size, type };
}

/** st_size of symbol i read again as a u64 (one too large for a Number: never a real size). */
function symbolSize(kernel: ModuleContext, mod: KObject, i: number): bigint {
  const symtab = mod.member('kallsyms').deref().member('symtab').value();
  const b = kernel.memory.read(symtab + BigInt(i * ELF64_SYM_SIZE + 16), 8);
  return new Cursor(b, { source: 'module symtab', littleEndian: true }).u64At(0);
}

/**
 * `name@value` of each symbol in `mod->syms` (keys), and their names (only the non-GPL table counts, as in is_exported()).
 * `struct kernel_symbol` is {value_offset, name_offset, namespace_offset} (s32, place-relative) with
 * CONFIG_HAVE_ARCH_PREL32_RELOCATIONS (x86_64, 4.19+), else {value, name, namespace} pointers.
 */
function exportedSymbols(kernel: ModuleContext, mod: KObject): { names: Set<string>; keys: Set<string> } {
  const names = new Set<string>();
  const out = { names, keys: new Set<string>() };
  const n = Number(mod.member('num_syms').value());
  if (n === 0) return out;
  const syms = mod.member('syms');
  const ksType = syms.shape.kind === 'pointer' ? (syms.shape as { target: KType }).target : undefined;
  if (!ksType) return out;
  const rel = hasMember(ksType, 'value_offset');
  const base = syms.value();
  const stride = sizeOfType(ksType);
  const table = kernel.memory.read(base, n * stride);
  const c = new Cursor(table, { source: 'module syms', littleEndian: true });
  const valueAt = offsetOf(ksType, rel ? 'value_offset' : 'value');
  const nameAt = offsetOf(ksType, rel ? 'name_offset' : 'name');
  const latin1 = new TextDecoder('latin1');
  for (let i = 0; i < n; i++) {
    const at = i * stride;
    const entry = base + BigInt(at);
    const value = rel ? BigInt.asUintN(64, entry + BigInt(valueAt) + BigInt(c.i32At(at + valueAt))) : c.u64At(at + valueAt);
    const nameAddr = rel ? BigInt.asUintN(64, entry + BigInt(nameAt) + BigInt(c.i32At(at + nameAt))) : c.u64At(at + nameAt);
    const name = latin1.decode(kernel.memory.cstring(nameAddr, KSYM_NAME_LEN));
    names.add(name);
    out.keys.add(`${name}@${value}`);
  }
  return out;
}

function readSections(kernel: ModuleContext, mod: KObject): ModuleSection[] {
  const ptr = mod.member('sect_attrs');
  if (ptr.value() === 0n) return [];
  const attrs = ptr.deref();
  if (!hasMember(attrs.type, 'nsections')) return readBinSections(attrs);
  const n = Number(attrs.member('nsections').value());
  const arr = attrs.member('attrs');
  const out: ModuleSection[] = [];
  // One decoder and one look at the element type for all of a module's sections (tens each).
  const latin1 = new TextDecoder('latin1');
  let named: boolean | undefined;
  for (let i = 0; i < n; i++) {
    const a = arr.index(i);
    named ??= hasMember(a.type, 'name');
    const nameObj = named ? a.member('name') : a.path('battr.attr.name');
    out.push({ name: latin1.decode(nameObj.string(KSYM_NAME_LEN)), address: a.member('address').value() });
  }
  return out;
}

/** Upper bound on a module's section attributes (ELF e_shnum is a u16). */
const MAX_SECT_ATTRS = 0xffff;

/**
 * Sections of a kernel whose `module_sect_attrs` has no `nsections` (Debian unstable's 7.2): `attrs[]`
 * are `bin_attribute`s, listed by the NULL-terminated `grp.bin_attrs`; the name is `attr.name`, the
 * section address `private`.
 */
function readBinSections(attrs: KObject): ModuleSection[] {
  const list = attrs.path('grp.bin_attrs');
  const out: ModuleSection[] = [];
  const latin1 = new TextDecoder('latin1');
  for (let i = 0; i < MAX_SECT_ATTRS; i++) {
    const p = list.index(i);
    if (p.value() === 0n) return out;
    const a = p.deref();
    out.push({ name: latin1.decode(a.path('attr.name').string(KSYM_NAME_LEN)), address: a.member('private').value() });
  }
  throw new BadDataError('module_sect_attrs', undefined, `grp.bin_attrs has no NULL terminator in ${MAX_SECT_ATTRS} entries`);
}

function need(o: KObject | undefined, name: string): KObject {
  if (!o) throw new NotFoundError(`no bootstrap declaration for '${name}'`);
  return o;
}
