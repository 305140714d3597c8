/**
 * Data symbols of a kernel whose kallsyms has none: a kernel built without CONFIG_KALLSYMS_ALL
 * (Debian's arm64 6.1 is one; its x86_64 kernels and arm64 6.12 set it) lists text symbols only
 * (scripts/kallsyms.c symbol_valid(): !all_symbols keeps the text ranges), so `modules`,
 * `btf_modules` and `__start_BTF` are not in the dump's kallsyms. kbtf then finds them from the
 * dump itself:
 *
 * - any SYMBOL(name) of VMCOREINFO (kernel/crash_core.c: init_uts_ns, swapper_pg_dir, mem_section…);
 * - `__start_BTF`/`__stop_BTF`: the vmlinux BTF header (magic 0xeB9F, version 1, types then strings;
 *   include/uapi/linux/btf.h) searched in the kernel image after `_etext` (RO_DATA holds .BTF,
 *   include/asm-generic/vmlinux.lds.h), its extent from the header;
 * - `modules`: a `struct module` found in module memory (arm64: below the image, within 2 GiB of
 *   _stext or MODULES_VADDR..MODULES_END, arch/arm64/kernel/module.c and kaslr.c), recognised by
 *   a state of enum module_state, a module name, and a `list` whose neighbours point back at it;
 *   its list leads to the one node outside module memory, `modules` (kernel/module/main.c);
 * - `btf_modules`: the list head in the image's data whose first node is a `struct btf_module`
 *   (kernel/bpf/btf.c) pointing back at it and naming one of those modules.
 *
 * Each is searched once, only when asked for and only when kallsyms lacks it; what cannot be found
 * stays absent (the caller's NotFoundError, as before). `kbtf symbols` is unchanged: these are never
 * listed, only looked up.
 */
import { FaultError, KbtfError, unlessThrown } from '@kbtf/binary';
import type { VmcoreInfo } from '@kbtf/vmcore';
import { arm64AddressRefs, arm64Layout, arm64MappedRuns, arm64Paging, type MappedRun } from './arm64.js';
import type { Kallsyms } from './kallsyms.js';
import type { KernelMemory } from './memory.js';
import type { KType } from './ktype.js';
import { offsetOf } from './object.js';

export interface DataSymbolContext {
  memory: KernelMemory;
  vmcoreinfo: VmcoreInfo;
  /** kallsyms' own lookup (without this fallback). */
  lookup(name: string): bigint | undefined;
  /** kallsyms' room from an address to the next symbol above it (a function's extent). */
  gapAbove(address: bigint): number | bigint | undefined;
  type(name: string): KType;
}

const BTF_MAGIC = Buffer.from([0x9f, 0xeb, 0x01, 0x00]);
const SCAN_LIMIT = 96n << 20n;
/** spans(): chunk size, and the bytes each chunk repeats from the one before (a BTF header, a struct module's name). */
const SPAN_CHUNK = 4 << 20;
const SPAN_OVERLAP = 4096;
/** spans(): bytes read at once (a piece may run this far past SPAN_CHUNK). */
const SPAN_READ = 1 << 20;
const MODULE_NAME_LEN = 56;
const KERNEL_MIN = 0xfff0000000000000n;
/** The most code read of one function for the addresses it takes. */
const CODE_LIMIT = 16 << 10;

/**
 * Functions that take the address of a data symbol, looked in first: kallsyms keeps text symbols,
 * and a candidate from their code costs a page read where a scan of the image decodes megabytes.
 * Each candidate is checked exactly as the scan checks what it finds; none that holds, and the scan
 * runs. kernel/bpf/btf.c btf_parse_vmlinux() (5.5 on: `btf->data = __start_BTF`), kernel/bpf/
 * sysfs_btf.c btf_vmlinux_read() (5.5 to 6.10: `__start_BTF + off`), kernel/bpf/btf.c
 * btf_module_notify() (5.11 on: `list_add(&btf_mod->list, &btf_modules)`), btf_try_get_module()
 * and btf_get_module_btf() (5.11 and 5.18 on: `list_for_each_entry(…, &btf_modules, list)`),
 * kernel/module/main.c (kernel/module.c before 5.19) find_module_all() and print_modules()
 * (`list_for_each_entry_rcu(mod, &modules, list…)`).
 */
const REFERRERS = {
  btf: ['btf_parse_vmlinux', 'btf_vmlinux_read'],
  btfModules: ['btf_module_notify', 'btf_try_get_module', 'btf_get_module_btf'],
  modules: ['find_module_all', 'print_modules'],
};

/** A kallsyms lookup that falls back to the data symbols recovered from the dump. */
export class DataSymbols {
  private readonly found = new Map<string, bigint | undefined>();
  private moduleRuns?: MappedRun[];
  private spanBuffer?: Buffer;

  constructor(private readonly ctx: DataSymbolContext) {}

  lookup(name: string): bigint | undefined {
    const own = this.ctx.lookup(name);
    if (own !== undefined) return own;
    const info = this.ctx.vmcoreinfo.symbols.get(name);
    if (info !== undefined) return info;
    if (!this.found.has(name)) this.found.set(name, this.recover(name));
    return this.found.get(name);
  }

  private recover(name: string): bigint | undefined {
    // Only kernels without data symbols: with CONFIG_KALLSYMS_ALL a missing name is really absent.
    if (this.ctx.lookup('jiffies_64') !== undefined || !this.ctx.vmcoreinfo.numbers.has('kimage_voffset')) return undefined;
    try {
      switch (name) {
        case '__start_BTF':
          return this.btfRange()?.start;
        case '__stop_BTF':
          return this.btfRange()?.end;
        case 'modules':
          return this.modulesHead();
        case 'btf_modules':
          return this.btfModulesHead();
      }
    } catch (err) {
      if (err instanceof KbtfError) return undefined;
      throw err;
    }
    return undefined;
  }

  /**
   * The runs of the kernel image from _etext on: rodata, then data and bss after a gap where the
   * freed init sections were (6.3 MiB on Debian arm64 6.1); gaps under 32 MiB are crossed.
   */
  private imageRuns(): MappedRun[] {
    const etext = this.ctx.lookup('_etext');
    if (etext === undefined) return [];
    const runs = arm64MappedRuns(this.ctx.memory.phys, arm64Paging(this.ctx.vmcoreinfo), etext, etext + SCAN_LIMIT);
    const out: MappedRun[] = [];
    for (const r of runs) {
      if (out.length > 0 && r.start - out[out.length - 1].end > 32n << 20n) break;
      out.push(r);
    }
    return out;
  }

  private btfRange(): { start: bigint; end: bigint } | undefined {
    if (this.found.has('__start_BTF') && this.found.has('__stop_BTF')) {
      const start = this.found.get('__start_BTF');
      return start === undefined ? undefined : { start, end: this.found.get('__stop_BTF')! };
    }
    let range: { start: bigint; end: bigint } | undefined;
    for (const at of this.codeRefs(REFERRERS.btf)) {
      const head = this.readSafe(at, 24);
      range = head && this.btfAt(Buffer.from(head.buffer, head.byteOffset, 24), 0, at);
      if (range) break;
    }
    for (const run of range ? [] : this.imageRuns()) {
      range = this.searchBtf(run);
      if (range) break;
    }
    this.found.set('__start_BTF', range?.start);
    this.found.set('__stop_BTF', range?.end);
    return range;
  }

  private searchBtf(run: MappedRun): { start: bigint; end: bigint } | undefined {
    for (const { start: base, bytes } of this.spans(run)) {
      for (let i = bytes.indexOf(BTF_MAGIC); i >= 0 && i + 24 <= bytes.length; i = bytes.indexOf(BTF_MAGIC, i + 1)) {
        const range = this.btfAt(bytes, i, base + BigInt(i));
        if (range) return range;
      }
    }
    return undefined;
  }

  /**
   * The BTF at `start`, whose first 24 bytes are bytes[i..]: a header (magic, version 1, a sane
   * length), types first, strings after them and starting with the empty string.
   */
  private btfAt(bytes: Buffer, i: number, start: bigint): { start: bigint; end: bigint } | undefined {
    if (bytes.readUInt32LE(i) !== BTF_MAGIC.readUInt32LE(0)) return undefined;
    const hdrLen = bytes.readUInt32LE(i + 4);
    const typeOff = bytes.readUInt32LE(i + 8);
    const typeLen = bytes.readUInt32LE(i + 12);
    const strOff = bytes.readUInt32LE(i + 16);
    const strLen = bytes.readUInt32LE(i + 20);
    if (hdrLen < 24 || hdrLen > 256 || typeOff !== 0 || strOff < typeLen || strLen === 0 || typeLen === 0) return undefined;
    const size = BigInt(hdrLen + strOff + strLen);
    if (size > 256n << 20n) return undefined;
    const str = this.readSafe(start + BigInt(hdrLen + strOff), 1);
    return str && str[0] === 0 ? { start, end: start + size } : undefined;
  }

  /**
   * The addresses the named functions' code computes (arm64AddressRefs), and the pointer each
   * 64-bit load there reads (the GOT slot of a weak symbol holds its address): each once; none for
   * an absent or unreadable function.
   */
  private codeRefs(functions: string[]): bigint[] {
    const out = new Set<bigint>();
    for (const fn of functions) {
      const at = this.ctx.lookup(fn);
      const gap = at === undefined ? undefined : this.ctx.gapAbove(at);
      if (at === undefined || gap === undefined) continue;
      const n = Math.min(Number(gap), CODE_LIMIT) & ~3;
      const code = n > 0 ? this.readSafe(at, n) : undefined;
      for (const ref of code ? arm64AddressRefs(code, at) : []) {
        out.add(ref.address);
        const pointer = ref.load === 8 ? this.u64(ref.address) : undefined;
        if (pointer !== undefined && pointer >= KERNEL_MIN) out.add(pointer);
      }
    }
    return [...out];
  }

  /**
   * The readable pieces of a run, each one buffer: pages a filtered dump left out (makedumpfile
   * -d 31 drops zero pages, bss among them) split the run instead of failing it. A long piece comes
   * in chunks of SPAN_CHUNK bytes, each starting with the previous chunk's last `overlap` bytes (a
   * multiple of 8): a search that stops at its first match reads no further than that chunk.
   * Every chunk is a view of one buffer, read into in place (a scan of the whole image reads tens
   * of MB: fresh memory for each chunk cost more than the search): it is valid until the next one.
   */
  private *spans(run: MappedRun, overlap = SPAN_OVERLAP): Generator<{ start: bigint; bytes: Buffer }> {
    const page = BigInt(this.ctx.vmcoreinfo.pageSize ?? 4096);
    const buf = (this.spanBuffer ??= Buffer.allocUnsafe(SPAN_CHUNK + SPAN_READ));
    let start = run.start;
    let length = 0;
    /** The piece so far, if any; the buffer is then empty. */
    const flush = (): { start: bigint; bytes: Buffer } | undefined => {
      const out = length > 0 ? { start, bytes: buf.subarray(0, length) } : undefined;
      length = 0;
      return out;
    };
    /** Read `n` bytes at `at` onto the piece: false (and the piece unchanged) on a fault. */
    const add = (at: bigint, n: number): boolean => {
      if (length === 0) start = at;
      if (!this.readSafeInto(at, n, buf, length)) return false;
      length += n;
      return true;
    };
    /** The piece once it is SPAN_CHUNK long; after it is used, its last `overlap` bytes start the next one. */
    function* full(): Generator<{ start: bigint; bytes: Buffer }> {
      if (length < SPAN_CHUNK) return;
      const piece = flush()!;
      yield piece;
      const keep = Math.min(overlap, piece.bytes.length);
      buf.copyWithin(0, piece.bytes.length - keep, piece.bytes.length);
      length = keep;
      start = piece.start + BigInt(piece.bytes.length - keep);
    }
    for (let at = run.start; at < run.end; ) {
      const n = run.end - at < BigInt(SPAN_READ) ? run.end - at : BigInt(SPAN_READ);
      if (add(at, Number(n))) yield* full();
      else {
        for (let p = at; p < at + n; p += page) {
          if (add(p, Number(page))) yield* full();
          else {
            const piece = flush();
            if (piece) yield piece;
          }
        }
      }
      at += n;
    }
    const piece = flush();
    if (piece) yield piece;
  }

  /** readSafe into `dest` at `at`: false on a fault. */
  private readSafeInto(vaddr: bigint, length: number, dest: Uint8Array, at: number): boolean {
    return unlessThrown(FaultError, () => (this.ctx.memory.readInto(vaddr, length, dest, at), true)) ?? false;
  }

  private readSafe(vaddr: bigint, length: number): Uint8Array | undefined {
    return unlessThrown(FaultError, () => this.ctx.memory.read(vaddr, length));
  }

  private u64(vaddr: bigint): bigint | undefined {
    const b = this.readSafe(vaddr, 8);
    return b && Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE(0);
  }

  /** Module memory: arm64 places modules below the image, within 2 GiB of it (6.1 and 6.12). */
  private modulesMemory(): MappedRun[] {
    if (this.moduleRuns) return this.moduleRuns;
    const info = this.ctx.vmcoreinfo;
    const stext = info.symbols.get('_stext') ?? this.ctx.lookup('_stext');
    const runs: MappedRun[] = [];
    if (stext !== undefined) {
      const paging = arm64Paging(info);
      const lo = stext - (2n << 30n);
      runs.push(...arm64MappedRuns(this.ctx.memory.phys, paging, lo, stext));
      const mv = info.numbers.get('MODULES_VADDR');
      const me = info.numbers.get('MODULES_END');
      if (mv !== undefined && me !== undefined && (me <= lo || mv >= stext)) runs.push(...arm64MappedRuns(this.ctx.memory.phys, paging, mv, me));
    }
    return (this.moduleRuns = runs.filter((r) => r.end - r.start <= 64n << 20n));
  }

  private inModuleMemory(vaddr: bigint): boolean {
    return this.modulesMemory().some((r) => vaddr >= r.start && vaddr < r.end);
  }

  private modulesHead(): bigint | undefined {
    const t = this.ctx.type('struct module');
    const stateAt = offsetOf(t, 'state');
    const listAt = offsetOf(t, 'list');
    const nameAt = offsetOf(t, 'name');
    // A candidate head outside module memory whose first node is a module's list: the struct module
    // there is checked as the scan checks one, and its list must lead back to the candidate.
    for (const h of this.codeRefs(REFERRERS.modules)) {
      const next = h % 8n === 0n && !this.inModuleMemory(h) ? this.u64(h) : undefined;
      if (next === undefined || !this.inModuleMemory(next)) continue;
      const mod = next - BigInt(listAt);
      const b = this.readSafe(mod, nameAt + MODULE_NAME_LEN);
      if (b && this.moduleIn(Buffer.from(b.buffer, b.byteOffset, b.length), mod, { stateAt, listAt, nameAt }) === h) return h;
    }
    for (const run of this.modulesMemory()) {
      for (const { start, bytes: b } of this.spans(run)) {
        const found = this.moduleIn(b, start, { stateAt, listAt, nameAt });
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  private moduleIn(b: Buffer, base: bigint, at: { stateAt: number; listAt: number; nameAt: number }): bigint | undefined {
    const { stateAt, listAt, nameAt } = at;
    for (let p = 0; p + nameAt + MODULE_NAME_LEN <= b.length; p += 8) {
      if (b.readUInt32LE(p + stateAt) > 3 || !isModuleName(b, p + nameAt)) continue;
      const self = base + BigInt(p + listAt);
      const next = b.readBigUInt64LE(p + listAt);
      const prev = b.readBigUInt64LE(p + listAt + 8);
      if (next < KERNEL_MIN || prev < KERNEL_MIN || this.u64(next + 8n) !== self || this.u64(prev) !== self) continue;
      return this.headOf(self);
    }
    return undefined;
  }

  /** Follow a list from a module's node to the one node outside module memory. */
  private headOf(node: bigint): bigint | undefined {
    let at = node;
    for (let i = 0; i < 1 << 16; i++) {
      const next = this.u64(at);
      if (next === undefined || this.u64(next + 8n) !== at) return undefined;
      if (!this.inModuleMemory(next)) return next;
      at = next;
      if (at === node) return undefined;
    }
    return undefined;
  }

  private moduleAddresses(head: bigint): Set<bigint> {
    const listAt = BigInt(offsetOf(this.ctx.type('struct module'), 'list'));
    const out = new Set<bigint>();
    for (let at = this.u64(head); at !== undefined && at !== head && out.size < 1 << 16; at = this.u64(at)) out.add(at - listAt);
    return out;
  }

  private btfModulesHead(): bigint | undefined {
    const head = this.lookup('modules');
    if (head === undefined) return undefined;
    const mods = this.moduleAddresses(head);
    const t = this.ctx.type('struct btf_module');
    const listAt = BigInt(offsetOf(t, 'list'));
    const moduleAt = BigInt(offsetOf(t, 'module'));
    const layout = arm64Layout(this.ctx.vmcoreinfo);
    const linear = (v: bigint): boolean => v >= layout.pageOffset && v < layout.linearEnd;
    // The high 32 bits of a linear-map address, to pass over the image's other words without
    // making a BigInt of each (tens of MB of rodata, data and bss).
    const hiMin = Number(layout.pageOffset >> 32n);
    const hiMax = Number((layout.linearEnd - 1n) >> 32n);
    const at = { listAt, moduleAt, btfAt: BigInt(offsetOf(t, 'btf')) };
    let best = { h: 0n, n: 0 };
    /** A candidate head `h` whose first word is `next`: the length of its list, 0 when it is not btf_modules. */
    const candidate = (h: bigint, next: bigint): void => {
      const mod = this.u64(next - listAt + moduleAt);
      if (mod === undefined || !mods.has(mod) || this.u64(next + 8n) !== h) return;
      const n = listLength((v) => this.u64(v), h, mods, at, linear);
      if (n > best.n) best = { h, n };
    };
    for (const h of this.codeRefs(REFERRERS.btfModules)) {
      const next = h % 8n === 0n ? this.u64(h) : undefined;
      const prev = next === undefined ? undefined : this.u64(h + 8n);
      if (next !== undefined && prev !== undefined && linear(next) && linear(prev)) candidate(h, next);
    }
    if (best.n > 0) return best.h;
    // btf_modules is a static LIST_HEAD (kernel/bpf/btf.c): .data, which arm64's vmlinux.lds.S
    // places after the init sections; everything from _etext to __init_begin is RO_DATA (a list
    // head there could not be linked), ~10 MB of pages not to decode.
    const dataFrom = this.ctx.lookup('__init_begin');
    const runs = this.imageRuns()
      .map((r) => (dataFrom !== undefined && r.start < dataFrom ? { start: dataFrom, end: r.end } : r))
      .filter((r) => r.start < r.end);
    for (const run of runs) {
      for (const { start, bytes } of this.spans(run)) {
        for (let p = 0; p + 16 <= bytes.length; p += 8) {
          const hi = bytes.readUInt32LE(p + 4);
          if (hi < hiMin || hi > hiMax) continue;
          const next = bytes.readBigUInt64LE(p);
          if (linear(next) && linear(bytes.readBigUInt64LE(p + 8))) candidate(start + BigInt(p), next);
        }
      }
    }
    return best.n > 0 ? best.h : undefined;
  }
}

/**
 * Walk a candidate list: every node names a known module and has a `struct btf *`, none twice;
 * its length, 0 when it is not such a list. Other lists of {list_head, struct module *} exist in
 * .data: the longest wins.
 */
function listLength(u64: (v: bigint) => bigint | undefined, h: bigint, mods: Set<bigint>, at: { listAt: bigint; moduleAt: bigint; btfAt: bigint }, linear: (v: bigint) => boolean): number {
  const seen = new Set<bigint>();
  for (let node = u64(h); node !== h; node = u64(node)) {
    if (node === undefined || !linear(node) || seen.size > mods.size) return 0;
    const mod = u64(node - at.listAt + at.moduleAt);
    const btf = u64(node - at.listAt + at.btfAt);
    if (mod === undefined || !mods.has(mod) || seen.has(mod) || btf === undefined || !linear(btf)) return 0;
    seen.add(mod);
  }
  return seen.size;
}

/** A module name as the kernel accepts one: 1..55 bytes of [A-Za-z0-9_-], NUL-terminated. */
function isModuleName(b: Buffer, at: number): boolean {
  let n = 0;
  for (; n < MODULE_NAME_LEN; n++) {
    const c = b[at + n];
    if (c === 0) break;
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || (c >= 0x41 && c <= 0x5a);
    if (!ok) return false;
  }
  return n > 0 && n < MODULE_NAME_LEN;
}

/**
 * Make `kallsyms.lookup` (and `address`, which calls it) fall back to DataSymbols; the table
 * itself, its order and `kbtf symbols` stay as the kernel wrote them.
 */
export function withDataSymbols(kallsyms: Kallsyms, ctx: Omit<DataSymbolContext, 'lookup' | 'gapAbove'>): Kallsyms {
  const own = kallsyms.lookup.bind(kallsyms);
  const data = new DataSymbols({ ...ctx, lookup: own, gapAbove: (a) => kallsyms.gapAbove(a) });
  kallsyms.lookup = (name: string): bigint | undefined => data.lookup(name);
  return kallsyms;
}
