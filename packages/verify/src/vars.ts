/**
 * Resolving a companion's variables against the dump (docs/design.md §2, verified on Debian 6.1 for all
 * 28,000 VARs): for every resident VAR, section base + DATASEC offset = the symbol's address.
 * - module companion `M_btf`: section bases from `M`'s `sect_attrs` (/sys/module/M/sections), the
 *   symbol and its real st_size from `M`'s own `mod->kallsyms`; per-CPU variables live at
 *   `mod->percpu` + offset for each CPU (the loader clears SHF_ALLOC on `.data..percpu`, so it is
 *   not in sect_attrs: kernel/module/main.c, 6.1).
 * - `vmlinux_btf`: vmlinux sections have no sect_attrs; a section's base is the one every symbol of
 *   the section agrees on (address − offset), and kallsyms has no sizes, so the type must fit before
 *   the next symbol's address. Per-CPU symbols are offsets (absolute-percpu kallsyms, ≤ 6.15).
 * - `vmlinux_btf` with section anchors (contract version 2, @kbtf/btf anchors.ts): a section's base
 *   is also kallsyms(_stext) + its anchor. With data symbols in kallsyms both must agree (a
 *   mismatch fails the section's VARs, naming both bases); without them (no CONFIG_KALLSYMS_ALL:
 *   Debian arm64 6.1) the anchor alone places each VAR (`by: 'anchor'`): its bytes must be readable
 *   and its type must fit in its DATASEC.
 * - `.init.*` sections are freed once the module's init ran: init-only, not a failure.
 * - sections the loader never allocates (`__versions`, `.modinfo`, …) are not resident.
 */
import { FaultError, KbtfError, unlessThrown } from '@kbtf/binary';
import { ANCHOR_SYMBOL, readSectionAnchors, sectionAnchorName, symbolAnchorName, type Btf } from '@kbtf/btf';
import { KObject, btfType, formatObject, type Kernel, type KernelModule, type ModuleSymbol } from '@kbtf/kernel';
import { countVar, emptyCounts, type VarCounts, type VarResult, type VarStatus } from './report.js';

const PERCPU_SECTION = '.data..percpu';
const VALUE_MAX = 120;

export interface VarTarget {
  /** `vmlinux` or the parent module. */
  module?: KernelModule;
  /** Dump level from the kdump header, when known (names the bit that excluded a page). */
  dumpLevel?: number;
  /** Keep every result (not only problems), with every value printed. */
  all?: boolean;
  /** Keep every result, without values (values are printed only with `all`). */
  keep?: boolean;
}

export interface VarsOutcome {
  counts: VarCounts;
  results: VarResult[];
}

interface DatasecEntry {
  varId: number;
  name: string;
  offset: number;
  size: number;
  typeId: number;
  /** The DATASEC's size (its section's, as pahole writes it; 0 when unknown). */
  sectionSize: number;
}

/** vmlinux_btf's section anchors, made absolute: undefined without anchors or without _stext. */
interface Anchors {
  /** The section's base in the running kernel. */
  section(name: string): bigint | undefined;
  symbol(name: string): bigint | undefined;
  /** kallsyms has data symbols (CONFIG_KALLSYMS_ALL): anchors are checked, not relied on. */
  dataSymbols: boolean;
}

function vmlinuxAnchors(kernel: Kernel, btf: Btf): Anchors | undefined {
  const raw = readSectionAnchors(btf);
  const stext = raw && kernel.kallsyms.lookup(ANCHOR_SYMBOL);
  if (!raw || stext === undefined) return undefined;
  const at = (v: bigint | undefined) => (v === undefined ? undefined : BigInt.asUintN(64, stext + v));
  return {
    section: (name) => at(raw.get(sectionAnchorName(name))),
    symbol: (name) => at(raw.get(symbolAnchorName(name))),
    dataSymbols: kernel.hasDataSymbols(),
  };
}

/**
 * The VARs of one section (its DATASECs, in id order) as columns: tens of thousands on vmlinux_btf,
 * none an object that lives through the section's loop (each would be copied by the young
 * generation's GC, then promoted); `entry(k)` makes the one being resolved.
 */
class SectionVars {
  count = 0;
  readonly varIds: Uint32Array;
  readonly offsets: Uint32Array;
  readonly sizes: Uint32Array;
  readonly sectionSizes: Uint32Array;

  constructor(
    private readonly btf: Btf,
    capacity: number,
  ) {
    this.varIds = new Uint32Array(capacity);
    this.offsets = new Uint32Array(capacity);
    this.sizes = new Uint32Array(capacity);
    this.sectionSizes = new Uint32Array(capacity);
  }

  name(k: number): string {
    return this.btf.nameOf(this.varIds[k]);
  }

  typeId(k: number): number {
    return this.btf.sizeOrType(this.varIds[k]);
  }

  entry(k: number): DatasecEntry {
    const varId = this.varIds[k];
    return { varId, name: this.btf.nameOf(varId), offset: this.offsets[k], size: this.sizes[k], typeId: this.btf.sizeOrType(varId), sectionSize: this.sectionSizes[k] };
  }
}

/**
 * Every VAR of a companion's DATASECs, by section. The loops are functions of their own: each runs
 * once over tens of thousands of types, so V8 compiles it while it runs (on-stack replacement),
 * and a small function is a small compile job for V8's one compiler thread (launcher).
 */
function datasecs(btf: Btf): Map<string, SectionVars> {
  const out = new Map<string, SectionVars>();
  for (const [name, list] of datasecIds(btf)) {
    const parts = list.map((id) => ({ size: btf.sizeOrType(id), ...btf.datasecEntries(id) }));
    const vars = new SectionVars(btf, parts.reduce((n, p) => n + p.types.length, 0));
    for (const part of parts) addVars(btf, vars, part.types, part.offsets, part.sizes, part.size);
    out.set(name, vars);
  }
  return out;
}

/** The DATASEC ids of each section name, in id order. */
function datasecIds(btf: Btf): Map<string, number[]> {
  const ids = new Map<string, number[]>();
  for (let id = btf.firstId; id < btf.endId; id++) {
    if (btf.kindOf(id) !== 'datasec') continue;
    const name = btf.nameOf(id);
    const list = ids.get(name);
    if (list) list.push(id);
    else ids.set(name, [id]);
  }
  return ids;
}

/** Append one DATASEC's VAR entries (not its FUNCs or others) to `vars`. */
function addVars(btf: Btf, vars: SectionVars, types: Uint32Array, offsets: Uint32Array, sizes: Uint32Array, sectionSize: number): void {
  for (let i = 0; i < types.length; i++) {
    if (btf.kindOf(types[i]) !== 'var') continue;
    const k = vars.count++;
    vars.varIds[k] = types[i];
    vars.offsets[k] = offsets[i];
    vars.sizes[k] = sizes[i];
    vars.sectionSizes[k] = sectionSize;
  }
}

export function resolveCompanionVars(kernel: Kernel, btf: Btf, target: VarTarget): VarsOutcome {
  const counts = emptyCounts();
  const results: VarResult[] = [];
  const record = (r: VarResult) => {
    countVar(counts, r.status);
    if (r.by && (r.status === 'resolved' || r.status === 'per-cpu')) counts.withoutSymbol = (counts.withoutSymbol ?? 0) + 1;
    if (target.all || target.keep || !QUIET_STATUSES.has(r.status)) results.push(r);
  };
  // A module's symbols by name, made only when a VAR needs resolveOne (moduleVarQuietly reads the
  // symtab's columns).
  let symbolIndex: Map<string, ModuleSymbol[]> | undefined;
  const symbols = (): Map<string, ModuleSymbol[]> | undefined => (target.module ? (symbolIndex ??= moduleSymbolIndex(target.module.symbols)) : undefined);
  // vmlinux_btf: every VAR is looked up in kallsyms by name (tens of thousands); index the names
  // once instead of scanning the table for each (the same index gives a name's every address).
  if (!target.module) kernel.kallsyms.indexNames();
  const sections = target.module ? new Map(target.module.sections.map((s) => [s.name, s.address])) : undefined;
  const anchors = target.module ? undefined : vmlinuxAnchors(kernel, btf);
  // A module's own kallsyms has no data symbols either without CONFIG_KALLSYMS_ALL (kernel/module/
  // kallsyms.c is_core_symbol(), 6.1: SHF_EXECINSTR sections only; `u` is the null symbol): its sect_attrs alone place its VARs.
  const symtab = target.module?.symtab;
  const bySection = symtab !== undefined && !symtab.typetab.some((_, i) => symtab.isData(i));
  for (const [section, vars] of datasecs(btf)) {
    const n = vars.count;
    if (section.startsWith('.init') || section.startsWith('.exit')) {
      for (let k = 0; k < n; k++) record({ name: vars.name(k), section, status: 'init-only' });
      continue;
    }
    if (section === PERCPU_SECTION) {
      for (let k = 0; k < n; k++) record(resolvePerCpu(kernel, btf, target, vars.entry(k), section, symbols(), anchors));
      continue;
    }
    // vmlinux: the kallsyms index of each VAR's first symbol of its name (what kallsyms.lookup
    // answers), found once for the base and the checks. 7.2's x86 startup code (built
    // position-independent) is in kallsyms as __pi_NAME, at the VAR's own address
    // (cpuid_table_copy, sev_snp_needs_sfw, ...): the alias counts when NAME is absent.
    const symbolAt = sections ? undefined : firstSymbols(kernel, btf, vars);
    let base: bigint | undefined;
    let byAnchor = false;
    if (sections) base = sections.get(section);
    else {
      base = vmlinuxSectionBase(kernel, vars, symbolAt!);
      const anchored = anchors?.section(section);
      if (anchors && anchored !== undefined && !anchors.dataSymbols) {
        base = anchored;
        byAnchor = true;
      } else if (anchored !== undefined && base !== undefined && anchored !== base) {
        for (let k = 0; k < n; k++) record({ name: vars.name(k), section, status: 'unresolved', detail: `section anchor puts ${section} at ${hexAddr(anchored)}, kallsyms symbols at ${hexAddr(base)}` });
        continue;
      }
    }
    // vmlinux init sections are not all named .init.* (.x86_cpu_dev.init, .altinstr_aux, …): what
    // free_initmem() frees is [__init_begin, __init_end) (arch/x86/kernel/vmlinux.lds.S, 6.1).
    if (!sections && base !== undefined && inInitRange(kernel, base, anchors)) {
      for (let k = 0; k < n; k++) record({ name: vars.name(k), section, status: 'init-only' });
      continue;
    }
    if (base === undefined) {
      for (let k = 0; k < n; k++) record({ name: vars.name(k), section, status: 'not-resident', detail: 'section not loaded' });
      continue;
    }
    resolveSection(kernel, btf, target, { section, vars, base, symbolAt, by: byAnchor ? 'anchor' : bySection ? 'section' : undefined }, record, symbols);
  }
  return { counts, results };
}

/** One section's VARs, to resolve from `base`: by their symbols (symbolAt, or the module's), or by address alone (`by`). */
interface SectionWork {
  section: string;
  vars: SectionVars;
  base: bigint;
  symbolAt: Int32Array | undefined;
  by: 'anchor' | 'section' | undefined;
}

/**
 * Resolve and record each VAR of a section. The common vmlinux VAR is decided without a BigInt or
 * an object (resolvedQuietly); the rest, and every VAR whose result is kept, take resolveOne. A
 * function of its own: the loop that runs ~20,000 times, compiled while it runs, is a smaller
 * compile job without resolveCompanionVars around it (14 ms of V8's one compiler thread).
 */
function resolveSection(kernel: Kernel, btf: Btf, target: VarTarget, w: SectionWork, record: (r: VarResult) => void, symbols: () => Map<string, ModuleSymbol[]> | undefined): void {
  const { section, vars, base, symbolAt, by } = w;
  const quiet = symbolAt !== undefined && by === undefined && !target.all && !target.keep;
  const quietModule = target.module !== undefined && by !== 'section' && !target.all;
  const baseHi = Number(base >> 32n);
  const baseLo = Number(base & 0xffffffffn);
  for (let k = 0; k < vars.count; k++) {
    if (quiet && resolvedQuietly(kernel, btf, vars, k, symbolAt[k], baseHi, baseLo)) {
      record(QUIET_RESOLVED.symbol);
      continue;
    }
    if (quietModule && moduleVarQuietly(kernel, btf, target.module!, vars, k, baseHi, baseLo)) {
      record(target.keep ? new KeptResolved(kernel, btf, vars.typeId(k), vars.name(k), section, base + BigInt(vars.offsets[k])) : QUIET_RESOLVED.symbol);
      continue;
    }
    const e = vars.entry(k);
    const at = base + BigInt(e.offset);
    if (by !== undefined) record(resolveByAddress(kernel, btf, target, e, section, at, by));
    else record(resolveOne(kernel, btf, target, e, section, at, symbols(), symbolAt && symbolOf(kernel, e.name, symbolAt[k])));
  }
}

/** No symbol of the name (nor of its __pi_ alias), in firstSymbols' column. */
const NO_SYMBOL = -1;
/** firstSymbols' column: the index found is __pi_NAME's. */
const PI_ALIAS = 1 << 30;

/**
 * For each VAR, the kallsyms table index of the first symbol of its name (| PI_ALIAS when it is
 * __pi_NAME's), NO_SYMBOL when neither exists: an Int32Array, not an address array per VAR. An
 * ASCII name (every kernel name) is looked up as its bytes in the BTF string section, no string made.
 */
function firstSymbols(kernel: Kernel, btf: Btf, vars: SectionVars): Int32Array {
  const ks = kernel.kallsyms;
  const out = new Int32Array(vars.count);
  for (let k = 0; k < vars.count; k++) {
    const i = asciiName(btf, vars.varIds[k]) ? ks.indexOfBytes(nameBytes.bytes, nameBytes.start, nameBytes.end) : ks.indexOf(vars.name(k));
    if (i !== undefined) out[k] = i;
    else {
      const pi = ks.indexOf(`__pi_${vars.name(k)}`);
      out[k] = pi === undefined ? NO_SYMBOL : pi | PI_ALIAS;
    }
  }
  return out;
}

/** asciiName's answer: where the name's bytes are. */
const nameBytes: { bytes: Uint8Array; start: number; end: number } = { bytes: new Uint8Array(0), start: 0, end: 0 };

/**
 * Whether type `id`'s name is NUL-terminated ASCII in its BTF string section (every kernel name),
 * and then where (in `nameBytes`): such a name compares as bytes exactly as its string does. Any
 * other takes the string path, which decodes (or rejects) it as before.
 */
function asciiName(btf: Btf, id: number): boolean {
  const off = btf.nameOffsetOf(id);
  const table = btf.strings.tableOf(off);
  if (!table) return false;
  const b = table.bytes;
  const start = off - table.start;
  let end = start;
  while (end < b.length && b[end] !== 0) if (b[end++] >= 0x80) return false;
  if (end >= b.length) return false;
  nameBytes.bytes = b;
  nameBytes.start = start;
  nameBytes.end = end;
  return true;
}

/**
 * A module VAR decided from the module's symtab columns, without its symbol objects or a BigInt
 * for the common case: the first symbol of its name at section base + offset (as resolveOne's
 * `cands.find`), its type within the symbol's size, its bytes readable (checked once a page).
 * False decides nothing: resolveOne then checks the VAR and says why.
 */
function moduleVarQuietly(kernel: Kernel, btf: Btf, mod: KernelModule, vars: SectionVars, k: number, baseHi: number, baseLo: number): boolean {
  if (!asciiName(btf, vars.varIds[k])) return false;
  const carry = baseLo + vars.offsets[k] >= 2 ** 32 ? 1 : 0;
  const lo = baseLo + vars.offsets[k] - carry * 2 ** 32;
  const hi = baseHi + carry;
  const tab = mod.symtab;
  const i = tab.indexAt(nameBytes.bytes, nameBytes.start, nameBytes.end, hi, lo);
  if (i < 0) return false;
  const size = btf.sizeof(vars.typeId(k));
  const symSize = tab.size[i];
  if (Number.isNaN(symSize) || (symSize !== 0 && size > symSize)) return false;
  return readableAt(kernel, hi, lo, size);
}

/**
 * Whether `size` bytes at the address whose u32 halves are (hi, lo) are readable: known from an
 * earlier check of their page, else checked now (the first VAR of its page). False for a page that
 * fails: resolveOne then checks the VAR again and reports why.
 */
function readableAt(kernel: Kernel, hi: number, lo: number, size: number): boolean {
  if (kernel.memory.knownReadable(hi, lo, size)) return true;
  return unlessThrown(KbtfError, () => (kernel.memory.check((BigInt(hi) << 32n) + BigInt(lo), size), true)) ?? false;
}

/**
 * The common case of a vmlinux VAR, decided from u32 halves without a BigInt or an object (but for
 * the first VAR of a page, which checks it): its name's first symbol is at section base + offset,
 * its type fits before the next symbol, and its bytes are readable. False decides nothing:
 * resolveOne then checks the VAR and says why.
 */
function resolvedQuietly(kernel: Kernel, btf: Btf, vars: SectionVars, k: number, symbol: number, baseHi: number, baseLo: number): boolean {
  if (symbol === NO_SYMBOL) return false;
  const carry = baseLo + vars.offsets[k] >= 2 ** 32 ? 1 : 0;
  const lo = baseLo + vars.offsets[k] - carry * 2 ** 32;
  const hi = baseHi + carry;
  const ks = kernel.kallsyms;
  if (!ks.isAt(symbol & ~PI_ALIAS, hi, lo)) return false;
  const size = btf.sizeof(vars.typeId(k));
  const room = ks.gapAboveSymbol(symbol & ~PI_ALIAS);
  return room !== undefined && size <= room && readableAt(kernel, hi, lo, size);
}

/** What resolveOne needs of a VAR's symbols: the first address, and the name whose every address is looked up only when it does not match. */
interface FirstSymbol {
  first: bigint;
  name: string;
}

function symbolOf(kernel: Kernel, name: string, at: number): FirstSymbol | undefined {
  if (at === NO_SYMBOL) return undefined;
  return { first: kernel.kallsyms.addressAt(at & ~PI_ALIAS), name: at & PI_ALIAS ? `__pi_${name}` : name };
}

function moduleSymbolIndex(symbols: ModuleSymbol[]): Map<string, ModuleSymbol[]> {
  const m = new Map<string, ModuleSymbol[]>();
  for (const s of symbols) {
    const l = m.get(s.name);
    if (l) l.push(s);
    else m.set(s.name, [s]);
  }
  return m;
}

/**
 * The base most of the section's symbols agree on (address − DATASEC offset; of equal counts, the
 * one met first). A base that more than half agree on is found by a majority vote over u32 halves
 * (Boyer-Moore), without a BigInt per VAR; the count of every base is kept only when none has that.
 */
function vmlinuxSectionBase(kernel: Kernel, vars: SectionVars, symbolAt: Int32Array): bigint | undefined {
  // The first symbol of the name, as kallsyms.lookup answers; base = its address − offset, as
  // halves (baseHi may be -1: a symbol below its offset). Each loop is a small function of its own
  // (no array or call per VAR in it): they run over every vmlinux VAR, mostly before V8 has
  // optimised them, and are compiled while they run by V8's one compiler thread.
  const { hi, lo } = kernel.kallsyms.addressHalves();
  const k = majorityCandidate(hi, lo, vars.offsets, vars.count, symbolAt);
  if (k >= 0) {
    // The candidate's base as baseByCount makes it, and as the halves the loops compare (a base
    // below zero, a symbol below its offset, has -1 as its high half there too).
    const base = kernel.kallsyms.addressAt(symbolAt[k] & ~PI_ALIAS) - BigInt(vars.offsets[k]);
    if (majorityMargin(hi, lo, vars.offsets, vars.count, symbolAt, Number(base >> 32n), Number(BigInt.asUintN(32, base))) > 0) return base;
  }
  return baseByCount(kernel, vars, symbolAt);
}

/**
 * Boyer-Moore's majority vote over the VARs' bases: the only base that can have more than half,
 * as the VAR whose base it is (-1 when the vote ends even). One number out, not an object: the
 * loop is compiled while it runs, and code after it that never ran (an object literal) made the
 * compiled loop deoptimize at its exit, for each section.
 */
function majorityCandidate(hi: Uint32Array, lo: Uint32Array, offsets: Uint32Array, count: number, symbolAt: Int32Array): number {
  let leadHi = 0;
  let leadLo = 0;
  let leadK = -1;
  let lead = 0;
  // The answer so far, kept in the loop: even a compare after the loop deoptimizes it (no feedback).
  let answer = -1;
  for (let k = 0; k < count; k++) {
    if (symbolAt[k] === NO_SYMBOL) continue;
    const i = symbolAt[k] & ~PI_ALIAS;
    const below = lo[i] < offsets[k] ? 1 : 0;
    const baseLo = lo[i] - offsets[k] + below * 2 ** 32;
    const baseHi = hi[i] - below;
    if (lead === 0) {
      leadHi = baseHi;
      leadLo = baseLo;
      leadK = k;
      lead = 1;
    } else lead += baseHi === leadHi && baseLo === leadLo ? 1 : -1;
    answer = lead > 0 ? leadK : -1;
  }
  return answer;
}

/** Twice the VARs that put their section at (leadHi, leadLo), less every VAR with a symbol: > 0 for a majority. */
function majorityMargin(hi: Uint32Array, lo: Uint32Array, offsets: Uint32Array, count: number, symbolAt: Int32Array, leadHi: number, leadLo: number): number {
  let margin = 0;
  for (let k = 0; k < count; k++) {
    if (symbolAt[k] === NO_SYMBOL) continue;
    const i = symbolAt[k] & ~PI_ALIAS;
    const below = lo[i] < offsets[k] ? 1 : 0;
    margin += hi[i] - below === leadHi && lo[i] - offsets[k] + below * 2 ** 32 === leadLo ? 1 : -1;
  }
  return margin;
}

/** The base most VARs agree on when none has a majority (of equal counts, the one met first). */
function baseByCount(kernel: Kernel, vars: SectionVars, symbolAt: Int32Array): bigint | undefined {
  const ks = kernel.kallsyms;
  const votes = new Map<bigint, number>();
  for (let k = 0; k < vars.count; k++) {
    if (symbolAt[k] === NO_SYMBOL) continue;
    const b = ks.addressAt(symbolAt[k] & ~PI_ALIAS) - BigInt(vars.offsets[k]);
    votes.set(b, (votes.get(b) ?? 0) + 1);
  }
  let best: bigint | undefined;
  let n = 0;
  for (const [b, c] of votes) if (c > n) [best, n] = [b, c];
  return best;
}

function resolveOne(kernel: Kernel, btf: Btf, target: VarTarget, e: DatasecEntry, section: string, expected: bigint, symbols?: Map<string, ModuleSymbol[]>, symbol?: FirstSymbol): VarResult {
  const r = (): VarResult => ({ name: e.name, section, status: 'unresolved', address: hexAddr(expected) });
  const typeSize = btf.sizeof(e.typeId);
  if (symbols) {
    const cands = symbols.get(e.name);
    if (!cands) return { ...r(), detail: `no symbol '${e.name}' in ${target.module!.name}'s symbols` };
    const sym = cands.find((s) => s.value === expected);
    if (!sym) return { ...r(), detail: `symbol at ${cands.map((s) => hexAddr(s.value)).join(', ')}, section base + offset = ${hexAddr(expected)}` };
    if (sym.size !== 0n && BigInt(typeSize) > sym.size) return { ...r(), detail: `type size ${typeSize} > symbol size ${sym.size}` };
  } else {
    // Static variables share names across files (`tokens`, `extable`): any symbol of the name at
    // the expected address is this one.
    if (symbol === undefined) return { ...r(), detail: `no symbol '${e.name}' in kallsyms` };
    if (symbol.first !== expected && !kernel.kallsyms.hasSymbolAt(symbol.name, expected)) {
      const addrs = kernel.kallsyms.addressesOf(symbol.name) ?? [];
      return { ...r(), detail: `kallsyms has '${e.name}' at ${addrs.map(hexAddr).join(', ')}, section base + offset = ${hexAddr(expected)}` };
    }
    // Bytes before the next kallsyms symbol at a higher address (aliases skipped).
    const room = kernel.kallsyms.gapAbove(expected);
    if (room !== undefined && typeSize > room) return { ...r(), detail: `type size ${typeSize} > ${room} bytes before the next symbol` };
  }
  return readVar(kernel, btf, e.typeId, typeSize, expected, r, target);
}

/**
 * A VAR placed by its section's base alone, no symbol to check against (the vmlinux companion's
 * anchor, or a module's sect_attrs): its type must fit in its DATASEC (pahole gives a DATASEC its
 * section's size) and its bytes must be readable.
 */
function resolveByAddress(kernel: Kernel, btf: Btf, target: VarTarget, e: DatasecEntry, section: string, address: bigint, by: 'anchor' | 'section'): VarResult {
  const r = (): VarResult => ({ name: e.name, section, status: 'unresolved', address: hexAddr(address), by });
  const typeSize = btf.sizeof(e.typeId);
  if (e.sectionSize > 0 && e.offset + typeSize > e.sectionSize) return { ...r(), detail: `offset ${e.offset} + type size ${typeSize} > ${section}'s size ${e.sectionSize}` };
  return readVar(kernel, btf, e.typeId, typeSize, address, r, target, by);
}

function inInitRange(kernel: Kernel, address: bigint, anchors?: Anchors): boolean {
  const begin = kernel.kallsyms.lookup('__init_begin') ?? anchors?.symbol('__init_begin');
  const end = kernel.kallsyms.lookup('__init_end') ?? anchors?.symbol('__init_end');
  return begin !== undefined && end !== undefined && address >= begin && address < end;
}

function resolvePerCpu(kernel: Kernel, btf: Btf, target: VarTarget, e: DatasecEntry, section: string, symbols?: Map<string, ModuleSymbol[]>, anchors?: Anchors): VarResult {
  let r: VarResult = { name: e.name, section, status: 'unresolved' };
  let offset: bigint;
  if (target.module) {
    const base = target.module.object.member('percpu').value();
    offset = base + BigInt(e.offset);
    const cands = symbols?.get(e.name);
    if (cands && !cands.some((s) => s.value === offset)) return { ...r, detail: `symbol at ${cands.map((s) => hexAddr(s.value)).join(', ')}, mod->percpu + offset = ${hexAddr(offset)}` };
  } else {
    let a = kernel.kallsyms.lookup(e.name);
    // Without data symbols, arm64's per-CPU symbols are addresses in .data..percpu (no absolute-percpu kallsyms): anchored.
    const anchored = anchors && !anchors.dataSymbols ? anchors.section(section) : undefined;
    if (a === undefined && anchored !== undefined) {
      a = anchored + BigInt(e.offset);
      r = { ...r, by: 'anchor' };
    }
    if (a === undefined) return { ...r, detail: `no symbol '${e.name}' in kallsyms` };
    offset = a;
  }
  const type = btfType(btf, e.typeId);
  const cpus = possibleCpus(kernel);
  let first: VarResult | undefined;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const obj = kernel.perCpu(new KObject(kernel.memory, type, offset), cpu);
    const one = readValue(kernel, obj, { ...r, address: hexAddr(obj.address!) }, target);
    if (one.status !== 'resolved') return { ...one, detail: `CPU ${cpu}: ${one.detail ?? one.status}` };
    first ??= one;
  }
  return { ...(first ?? r), status: 'per-cpu', address: hexAddr(offset), detail: `${cpus} CPUs` };
}

const cpuCountCache = new WeakMap<Kernel, number>();

/** nr_cpu_ids (kernel/smp.c), read as the unsigned int it is. */
function possibleCpus(kernel: Kernel): number {
  let n = cpuCountCache.get(kernel);
  if (n === undefined) {
    // Without data symbols in kallsyms, the vmlinux companion places it (Kernel.global).
    const at = kernel.kallsyms.lookup('nr_cpu_ids') ?? kernel.global('nr_cpu_ids').address!;
    n = Math.max(1, Math.min(8192, kernel.memory.u32(at)));
    cpuCountCache.set(kernel, n);
  }
  return n;
}

/**
 * A variable of `size` bytes at `address`: checked readable, its bytes not copied (some are
 * megabytes). A result nobody keeps (resolved, without --all-vars or keep) is only counted, so it
 * gets no type name; --all-vars reads and prints the value.
 */
function readVar(kernel: Kernel, btf: Btf, typeId: number, size: number, address: bigint, r: () => VarResult, target: VarTarget, by?: 'anchor' | 'section'): VarResult {
  if (target.all) return readValue(kernel, new KObject(kernel.memory, btfType(btf, typeId), address), r(), target);
  try {
    kernel.memory.check(address, size);
  } catch (err) {
    return readFailure(err, new KObject(kernel.memory, btfType(btf, typeId), address), r(), target);
  }
  if (target.keep) return { ...r(), status: 'resolved', type: new KObject(kernel.memory, btfType(btf, typeId), address).typeName };
  // Only counted (record keeps no resolved result here): one shared result per placement, no name,
  // address or type formatted for it.
  return QUIET_RESOLVED[by ?? 'symbol'];
}

/**
 * A resolved VAR kept (a module companion's, to pick the self-test's global from) as resolveOne
 * keeps it, but its address and type name made only when read: the pick reads a few, not
 * thousands. Never printed (resolved results are shown only with --all-vars, which takes
 * resolveOne); toJSON gives the plain result all the same.
 */
class KeptResolved implements VarResult {
  readonly status = 'resolved';
  private typeName?: string;

  constructor(
    private readonly kernel: Kernel,
    private readonly btf: Btf,
    private readonly typeId: number,
    readonly name: string,
    readonly section: string,
    private readonly at: bigint,
  ) {}

  get address(): string {
    return hexAddr(this.at);
  }

  get type(): string {
    return (this.typeName ??= new KObject(this.kernel.memory, btfType(this.btf, this.typeId), this.at).typeName);
  }

  toJSON(): VarResult {
    return { name: this.name, section: this.section, status: this.status, address: this.address, type: this.type };
  }
}

/** Statuses whose results are only counted unless --all-vars or keep asks for them. */
const QUIET_STATUSES: ReadonlySet<string> = new Set(['resolved', 'per-cpu', 'init-only', 'not-resident']);

const QUIET_RESOLVED: Record<'symbol' | 'anchor' | 'section', VarResult> = {
  symbol: Object.freeze({ name: '', section: '', status: 'resolved' }),
  anchor: Object.freeze({ name: '', section: '', status: 'resolved', by: 'anchor' }),
  section: Object.freeze({ name: '', section: '', status: 'resolved', by: 'section' }),
};

function readValue(kernel: Kernel, obj: KObject, r: VarResult, target: VarTarget): VarResult {
  try {
    // Readable: every byte is in the dump (checked, not copied: some variables are megabytes). A
    // value is reported only with --all-vars (a problem has none: its read failed), so without it
    // the check is all and nothing is printed: a 30,000-variable check stays a check per variable
    // (a char * would read its string too). A result nobody keeps (resolved, without --all-vars
    // or keep) is only counted: no type name for it.
    kernel.memory.check(obj.address!, obj.size);
    if (!target.all) return target.keep ? { ...r, status: 'resolved', type: obj.typeName } : { ...r, status: 'resolved' };
    const value = formatObject(obj);
    return { ...r, status: 'resolved', type: obj.typeName, value: value.length > VALUE_MAX ? value.slice(0, VALUE_MAX - 1) + '…' : value };
  } catch (err) {
    return readFailure(err, obj, r, target);
  }
}

function readFailure(err: unknown, obj: KObject, r: VarResult, target: VarTarget): VarResult {
  if (err instanceof FaultError && err.reason === 'excluded') {
    return { ...r, status: 'excluded', type: obj.typeName, detail: excludedDetail(err, target.dumpLevel) };
  }
  if (err instanceof KbtfError) return { ...r, status: 'unresolved' satisfies VarStatus, type: obj.typeName, detail: err.message };
  throw err;
}

/**
 * Which dump-level bit dropped a page of kernel or module data. makedumpfile's bits: 1 zero pages,
 * 2 and 4 page cache, 8 user pages, 16 free pages. Static kernel and module data are never page
 * cache, user or free pages, so the bit that applies is 1 (the page was all zeros).
 */
export function excludedDetail(err: FaultError, dumpLevel: number | undefined): string {
  const where = `page ${hexAddr(err.address)}`;
  if (dumpLevel === undefined) return `${where} excluded by the dump level (kernel data: zero page, bit 1)`;
  if (dumpLevel & 1) return `${where} excluded by dump level ${dumpLevel}, bit 1 (zero page)`;
  return `${where} excluded by dump level ${dumpLevel}`;
}

function hexAddr(a: bigint): string {
  return `0x${a.toString(16).padStart(16, '0')}`;
}
