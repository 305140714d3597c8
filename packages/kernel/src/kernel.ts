/**
 * A kernel read out of a dump with nothing else: the dump's VMCOREINFO finds the page tables and
 * kallsyms; kallsyms finds vmlinux BTF (`__start_BTF`..`__stop_BTF`), `modules` and `btf_modules`;
 * BTF gives every type. Each piece is read on first use and kept.
 */
import { KbtfError, MAX_OBJECT_FILE, NotFoundError, UnsupportedError, UsageError, hex, readRegularFile, withContext } from '@kbtf/binary';
import { ANCHOR_SYMBOL, btfBytesFromFile, kindNumber, parseBtf, readSectionAnchors, sectionAnchorName, type Btf } from '@kbtf/btf';
import { openVmcore, type Vmcore, type VmcoreInfo } from '@kbtf/vmcore';
import { detectArch, type Arch } from './arch.js';
import { withDataSymbols } from './data-symbols.js';
import { bootstrapDeclaration } from './bootstrap.js';
import { readDynamicSymbols, type DynamicSymbols } from './dynamic-ksyms.js';
import { readKallsyms, kallsymsLocation, type Kallsyms, type SymbolAt } from './kallsyms.js';
import { KernelMemory } from './memory.js';
import { asciiBytes, readModules, type KernelModule } from './modules.js';
import { KObject } from './object.js';
import { arrayOf, btfType, parseTypeName, sizeOfType, type KType } from './ktype.js';

export interface KernelOptions {
  /** vmlinux BTF bytes to use instead of the copy in the dump (e.g. /sys/kernel/btf/vmlinux). */
  vmlinuxBtf?: Uint8Array;
}

/** A symbol an address falls in: vmlinux (no `module`), a module, or a dynamic source (`bpf`, …). */
export interface KernelSymbolAt extends SymbolAt {
  /** The /proc/kallsyms tag: module name, `bpf`, `__builtin__ftrace`, `__builtin__kprobes`. */
  module?: string;
}

/** The loaded name of the kernel's own companion (docs/design.md §2). */
export const VMLINUX_COMPANION = 'vmlinux_btf';

/** Taint letters by bit (kernel/panic.c taint_flags, 6.1: bits 0–18). */
const TAINT_LETTERS = 'PFSRMBUDAWCIOELKXTN';

export class Kernel {
  readonly arch: Arch;
  readonly memory: KernelMemory;
  readonly vmcoreinfo: VmcoreInfo;
  private kallsymsCache?: Kallsyms;
  private btfCache?: Btf;
  private readonly typeCache = new Map<string, KType>();
  private modulesCache?: KernelModule[];
  private dynamicCache?: DynamicSymbols;
  /** Globals found by name: a name is looked up in vmlinux BTF and the companions once. */
  private readonly globalCache = new Map<string, KObject>();
  private releaseCache?: string;
  /** [_stext, _end) and [_sinittext, _einittext) from kallsyms, for symbolize. */
  private imageRanges?: [bigint | undefined, bigint | undefined][];

  constructor(
    readonly vmcore: Vmcore,
    private readonly options: KernelOptions = {},
  ) {
    const info = vmcore.vmcoreinfo;
    if (!info) throw new UnsupportedError(`${vmcore.path}: no VMCOREINFO in the dump: cannot find the kernel`);
    this.vmcoreinfo = info;
    this.arch = detectArch(info, vmcore.machine);
    this.memory = new KernelMemory(vmcore, this.arch.translator(vmcore, info), vmcore.virtualSegments, this.arch.isKernelAddress);
  }

  get kallsyms(): Kallsyms {
    try {
      // Without CONFIG_KALLSYMS_ALL (Debian arm64 6.1) lookups of data symbols fall back to the dump (data-symbols.ts).
      return (this.kallsymsCache ??= withDataSymbols(readKallsyms(this.memory, kallsymsLocation(this.vmcoreinfo)), { memory: this.memory, vmcoreinfo: this.vmcoreinfo, type: (n) => this.type(n) }));
    } catch (err) {
      throw withContext(err, 'reading kallsyms');
    }
  }

  /** vmlinux BTF: from the option, else `__start_BTF`..`__stop_BTF` in the dump. */
  get btf(): Btf {
    if (this.btfCache) return this.btfCache;
    try {
      if (this.options.vmlinuxBtf) return (this.btfCache = parseBtf(this.options.vmlinuxBtf, { source: 'vmlinux BTF (file)' }));
      return (this.btfCache = parseBtf(this.vmlinuxBtfBytes(), { source: 'vmlinux BTF (dump)' }));
    } catch (err) {
      throw withContext(err, 'reading vmlinux BTF');
    }
  }

  /** The raw vmlinux BTF as found in memory. */
  vmlinuxBtfBytes(): Uint8Array {
    const start = this.kallsyms.address('__start_BTF');
    const stop = this.kallsyms.address('__stop_BTF');
    if (stop <= start || stop - start > 256n << 20n) throw new UnsupportedError(`implausible vmlinux BTF range ${hex(start)}..${hex(stop)}`);
    return this.memory.read(start, Number(stop - start));
  }

  /** A type by C name (`struct module`, `u64`, `char *`), from vmlinux BTF. */
  type(name: string): KType {
    let t = this.typeCache.get(name);
    if (!t) {
      t = parseTypeName(this.btf, name);
      this.typeCache.set(name, t);
    }
    return t;
  }

  /** An object of `type` at `address`. */
  object(type: KType | string, address: bigint): KObject {
    return new KObject(this.memory, typeof type === 'string' ? this.type(type) : type, address);
  }

  /** Address of a symbol: vmlinux kallsyms first, then module symbols. */
  symbolAddress(name: string): bigint {
    const v = this.kallsyms.lookup(name);
    if (v !== undefined) return v;
    for (const m of this.modules()) {
      const s = m.symbols.find((x) => x.name === name);
      if (s) return s.value;
    }
    const d = this.dynamicSymbols().symbols.find((x) => x.name === name);
    if (d) return d.address;
    throw new NotFoundError(`no symbol '${name}' in kallsyms, module symbols or dynamic symbols (BPF, ftrace, kprobes)`);
  }

  /**
   * The symbols /proc/kallsyms lists after the modules (dynamic-ksyms.ts): ftrace_mod_maps, ftrace
   * trampolines, BPF programs, kprobe pages, in that order. A source that cannot be read to its end
   * is in `failures`, what it gave before is kept.
   */
  dynamicSymbols(): DynamicSymbols {
    return (this.dynamicCache ??= readDynamicSymbols({ memory: this.memory, type: (n) => this.type(n), symbol: (n) => this.kallsyms.lookup(n) }));
  }

  /**
   * The symbol `address` falls in, as the kernel's kallsyms_lookup() searches: vmlinux between
   * `_stext` and `_end` (CONFIG_KALLSYMS_ALL) or in init text, then the module whose memory holds it
   * (its nearest named symbol at or below), then a BPF program, ftrace function or trampoline, or
   * kprobe page that covers it. Undefined when none does. Module or dynamic sources that cannot be
   * read are skipped (`modules()` and `dynamicSymbols()` say why).
   */
  symbolize(address: bigint): KernelSymbolAt | undefined {
    const ks = this.kallsyms;
    // The image's ranges, looked up once (a formatted value symbolizes every pointer it holds).
    const image = (this.imageRanges ??= [
      [ks.lookup('_stext'), ks.lookup('_end')],
      [ks.lookup('_sinittext'), ks.lookup('_einittext')],
    ]);
    if (image.some(([a, b]) => a !== undefined && b !== undefined && a <= address && address < b)) return ks.symbolize(address);
    let modules: KernelModule[] = [];
    try {
      modules = this.modules();
    } catch (err) {
      if (!(err instanceof KbtfError)) throw err;
    }
    const a = BigInt.asUintN(64, address);
    for (const m of modules) {
      if (!m.regions.some((r) => r.base <= address && address < r.base + BigInt(r.size))) continue;
      // The nearest named symbol at or below, from the symtab's columns: one symbol made, not all.
      const i = a === address ? m.symtab.nearestAtOrBelow(Number(a >> 32n), Number(a & 0xffffffffn)) : -1;
      if (i >= 0) {
        const s = m.symbol(i);
        return { name: s.name, address: s.value, type: s.type, offset: address - s.value, module: m.name };
      }
    }
    for (const d of this.dynamicSymbols().symbols) {
      if (d.address <= address && address < d.address + (d.size ?? 1n)) return { name: d.name, address: d.address, type: d.type, offset: address - d.address, module: d.module };
    }
    return undefined;
  }

  /**
   * A global variable: a VAR in vmlinux BTF (per-CPU variables), a VAR in the loaded `vmlinux_btf`
   * companion, else a bootstrap declaration (bootstrap.ts). NotFoundError when none knows it.
   */
  global(name: string): KObject {
    let obj = this.globalCache.get(name);
    if (!obj) this.globalCache.set(name, (obj = this.findGlobal(name)));
    return obj;
  }

  private findGlobal(name: string): KObject {
    const btf = this.btf;
    const varId = btf.firstOfKindNamed(kindNumber('var'), new TextEncoder().encode(name));
    if (varId !== undefined) {
      // vmlinux BTF's VARs are per-CPU; without data symbols in kallsyms the companion's anchor of their section places them.
      const address = this.kallsyms.lookup(name) ?? this.anchoredAddress(btf, varId) ?? this.kallsyms.address(name);
      return new KObject(this.memory, btfType(btf, btf.type(varId).kind === 'var' ? (btf.type(varId) as { type: number }).type : varId), address);
    }
    const companion = this.companionVar(name);
    if (companion) return companion;
    const boot = this.bootstrapGlobal(name);
    if (boot) return boot;
    throw new NotFoundError(`no type for global '${name}': not a VAR in vmlinux BTF, no ${VMLINUX_COMPANION} companion loaded, not a bootstrap declaration`);
  }

  /** A global through the bootstrap table alone (bootstrap.ts); undefined when it has no entry. */
  bootstrapGlobal(name: string): KObject | undefined {
    const decl = bootstrapDeclaration(name);
    if (!decl) return undefined;
    const address = this.kallsyms.address(name);
    return new KObject(this.memory, this.bootstrapType(decl.type, name, address), address);
  }

  private bootstrapType(text: string, name: string, address: bigint): KType {
    if (!text.endsWith('[]')) return this.type(text);
    // An array whose length is not in BTF: take the distance to the next symbol.
    const elem = this.type(text.slice(0, -2));
    const sym = this.kallsyms;
    const i = sym.indexOf(name)!;
    let next = address;
    for (let j = i + 1; j < sym.count && next === address; j++) next = sym.addressAt(j);
    const elemSize = BigInt(sizeOfType(elem));
    return arrayOf(elem, Number((next - address) / elemSize) || 1);
  }

  /**
   * A VAR in a loaded companion's BTF: `vmlinux_btf` (address from kallsyms, or from its section
   * anchor: DATASEC offset + kallsyms(_stext) + anchor, docs/design.md §2; the anchor first when
   * kallsyms has no data symbols), then each `M_btf` (address from module M's own symbols). A
   * companion whose BTF cannot be read is skipped.
   */
  private companionVar(name: string): KObject | undefined {
    let modules: KernelModule[];
    try {
      modules = this.modules();
    } catch (err) {
      if (err instanceof KbtfError) return undefined; // no usable module list: the bootstrap table decides
      throw err;
    }
    const companions = modules.filter((m) => m.name.endsWith('_btf')).sort((a, b) => Number(b.name === VMLINUX_COMPANION) - Number(a.name === VMLINUX_COMPANION));
    for (const companion of companions) {
      let btf: Btf | undefined;
      try {
        btf = companion.btf();
      } catch (err) {
        if (err instanceof KbtfError) continue;
        throw err;
      }
      const id = btf && findVar(btf, name);
      if (!btf || id === undefined) continue;
      const address = companion.name === VMLINUX_COMPANION ? this.vmlinuxVarAddress(btf, id, name) : moduleVarAddress(modules, companion.name.slice(0, -'_btf'.length), name, btf, id);
      if (address !== undefined) return new KObject(this.memory, btfType(btf, (btf.type(id) as { type: number }).type), address);
    }
    return undefined;
  }

  /**
   * kallsyms lists data symbols (CONFIG_KALLSYMS_ALL; Debian's arm64 6.1 lacks it): jiffies_64
   * (kernel/time/timer.c, in every kernel) is there.
   */
  hasDataSymbols(): boolean {
    return this.kallsyms.lookup('jiffies_64') !== undefined;
  }

  private vmlinuxVarAddress(btf: Btf, varId: number, name: string): bigint | undefined {
    if (!this.hasDataSymbols()) return this.anchoredAddress(btf, varId, btf) ?? this.kallsyms.lookup(name);
    return this.kallsyms.lookup(name) ?? this.anchoredAddress(btf, varId, btf);
  }

  /**
   * Where VAR `varId` of `btf` is by the vmlinux companion's section anchors: its DATASEC's anchored
   * base + its offset. `anchorsFrom`: the companion's BTF (default: the loaded `vmlinux_btf`'s).
   */
  private anchoredAddress(btf: Btf, varId: number, anchorsFrom?: Btf): bigint | undefined {
    let from = anchorsFrom;
    if (!from) {
      try {
        from = this.modules().find((m) => m.name === VMLINUX_COMPANION)?.btf();
      } catch (err) {
        if (err instanceof KbtfError) return undefined;
        throw err;
      }
    }
    const anchors = from && readSectionAnchors(from);
    const stext = anchors && this.kallsyms.lookup(ANCHOR_SYMBOL);
    if (!anchors || stext === undefined) return undefined;
    for (const ds of btf.typesOfKind('datasec')) {
      const e = ds.vars.find((v) => v.type === varId);
      if (!e) continue;
      const anchor = anchors.get(sectionAnchorName(ds.name));
      return anchor === undefined ? undefined : BigInt.asUintN(64, stext + anchor + BigInt(e.offset));
    }
    return undefined;
  }

  /** `per_cpu(var, cpu)`: the CPU's copy of a per-CPU variable (address + __per_cpu_offset[cpu]). */
  perCpu(obj: KObject, cpu: number): KObject {
    if (obj.address === undefined) throw new UsageError('per_cpu needs a per-CPU variable, not a value');
    const offsets = this.global('__per_cpu_offset');
    const s = offsets.shape;
    if (s.kind === 'array' && (cpu < 0 || cpu >= s.count)) throw new UsageError(`per_cpu: CPU ${cpu} out of range (0..${s.count - 1})`);
    return new KObject(this.memory, obj.type, BigInt.asUintN(64, obj.address + offsets.index(cpu).value()));
  }

  /** Loaded modules in `modules` list order (= /proc/modules order). */
  modules(): KernelModule[] {
    try {
      return (this.modulesCache ??= readModules(this));
    } catch (err) {
      throw withContext(err, 'walking modules');
    }
  }

  /** `uname -r` as recorded in init_uts_ns. */
  release(): string {
    return (this.releaseCache ??= new TextDecoder().decode(this.global('init_uts_ns').path('name.release').string()));
  }

  /** The kernel command line (`saved_command_line`, = /proc/cmdline). */
  commandLine(): string {
    return new TextDecoder().decode(this.global('saved_command_line').string());
  }

  /** `tainted_mask` and its letters as /proc/sys/kernel/tainted and oops reports show them. */
  taint(): { mask: bigint; flags: string } {
    const mask = this.global('tainted_mask').value();
    let flags = '';
    for (let bit = 0; bit < TAINT_LETTERS.length; bit++) if (mask & (1n << BigInt(bit))) flags += TAINT_LETTERS[bit];
    return { mask, flags };
  }

  /**
   * Wall-clock seconds at the last timekeeping update before the dump (shadow_timekeeper.xtime_sec,
   * which timekeeping_advance() copies into tk_core on every tick): the crash time to a tick.
   * Debian unstable's 7.2 has no shadow_timekeeper: both timekeepers live in
   * `timekeeper_data[TIMEKEEPER_CORE = 0]` (struct tk_data: timekeeper, shadow_timekeeper).
   */
  crashTime(): bigint | undefined {
    for (const read of [
      () => this.global('shadow_timekeeper').member('xtime_sec'),
      () => this.global('timekeeper_data').index(0).member('shadow_timekeeper').member('xtime_sec'),
    ]) {
      try {
        return read().value();
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return undefined;
  }

  /** Release the dump's file descriptors. */
  close(): void {
    this.vmcore.close();
  }
}

/**
 * Open a dump (one path, or the parts of a split kdump) as a kernel. `btfPath` supplies vmlinux BTF
 * from a file (raw BTF, /sys/kernel/btf/vmlinux, or an ELF with .BTF) instead of the dump's copy.
 */
export function openKernel(path: string | string[], options: { btfPath?: string } = {}): Kernel {
  const vmlinuxBtf = options.btfPath ? btfBytesFromFile(readRegularFile(options.btfPath, MAX_OBJECT_FILE, 'vmlinux BTF'), options.btfPath) : undefined;
  const vmcore = openVmcore(path);
  try {
    return new Kernel(vmcore, { vmlinuxBtf });
  } catch (err) {
    vmcore.close();
    throw err;
  }
}

/**
 * The VAR named `name` in this BTF's own ids (not its base): the first, by a scan of the kinds
 * column comparing name bytes (Btf.firstOfKindNamed), no string decoded. Kernel.global asks once
 * per name.
 */
function findVar(btf: Btf, name: string): number | undefined {
  return btf.firstOfKindNamed(kindNumber('var'), new TextEncoder().encode(name));
}

/**
 * A data symbol of module `owner` (names folded as kmod folds them: `-` → `_`); when the module's
 * kallsyms has no data symbol at all (no CONFIG_KALLSYMS_ALL: text only), its section's address
 * (sect_attrs) + the VAR's DATASEC offset.
 */
export function moduleVarAddress(modules: KernelModule[], owner: string, name: string, btf: Btf, varId: number): bigint | undefined {
  const mod = modules.find((m) => m.name.replace(/-/g, '_') === owner.replace(/-/g, '_'));
  if (!mod) return undefined;
  // From the symtab's columns (an ASCII name compares as its bytes), not the symbol objects.
  const tab = mod.symtab;
  const bytes = asciiBytes(name);
  const at = bytes ? tab.dataIndexOf(bytes, 0, bytes.length) : mod.symbols.findIndex((s) => s.name === name && !/^[tTuU]$/.test(s.type));
  const sym = at < 0 ? undefined : tab.value(at);
  if (sym !== undefined || tab.typetab.some((_, i) => tab.isData(i))) return sym;
  for (const ds of btf.typesOfKind('datasec')) {
    const e = ds.vars.find((v) => v.type === varId);
    if (!e) continue;
    const base = mod.sections.find((x) => x.name === ds.name)?.address;
    return base === undefined ? undefined : base + BigInt(e.offset);
  }
  return undefined;
}
