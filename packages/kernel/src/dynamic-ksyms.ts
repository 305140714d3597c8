/**
 * The symbols /proc/kallsyms lists after vmlinux and the modules: code the kernel makes at run time.
 * kernel/kallsyms.c update_iter_mod() (6.1 and 6.12 alike) takes them in this order, each source
 * numbered from 0 until it answers -ERANGE:
 *
 * 1. `get_ksymbol_ftrace_mod` → kernel/trace/ftrace.c ftrace_mod_get_kallsym():
 *    - `ftrace_mod_maps`, a list of `struct ftrace_mod_map {list, mod, …, funcs, num_funcs}`, each
 *      holding `struct ftrace_mod_func {list, name, ip, size}`: the traced init functions of a
 *      module, kept when its init text is freed. Type 'T' (exported = 1), tag `[mod->name]`.
 *      The kernel's inner loop skips while `symnum > 1`, so symbol numbers 0 and 1 both give the
 *      first function and the map's last function is never shown: reproduced as is.
 *    - then ftrace_get_trampoline_kallsym(): `ftrace_ops_trampoline_list` of `struct ftrace_ops`
 *      (member `list`), those with a non-zero `trampoline`: "ftrace_trampoline", 't',
 *      `[__builtin__ftrace]` (FTRACE_TRAMPOLINE_SYM / FTRACE_TRAMPOLINE_MOD).
 * 2. `get_ksymbol_bpf` → kernel/bpf/core.c bpf_get_kallsym(): `bpf_kallsyms`, a list of
 *    `struct bpf_ksym {start, end, name[KSYM_NAME_LEN], lnode, …}` (programs and subprograms,
 *    BPF trampolines, dispatchers), `ksym->name` at `ksym->start`, BPF_SYM_ELF_TYPE 't', `[bpf]`;
 *    nothing at all unless bpf_jit_kallsyms_enabled(): `bpf_jit_harden == 0 && bpf_jit_kallsyms == 1`
 *    (include/linux/filter.h).
 * 3. `get_ksymbol_kprobe` → kernel/kprobes.c kprobe_get_kallsym(): the pages of
 *    `kprobe_insn_slots`, then of `kprobe_optinsn_slots` (CONFIG_OPTPROBES), each a
 *    `struct kprobe_insn_cache {…, sym, pages, …}` listing `struct kprobe_insn_page {list, insns, …}`:
 *    `cache->sym` ("kprobe_insn_page", "kprobe_optinsn_page") at `kip->insns`, 't',
 *    `[__builtin__kprobes]`, one PAGE_SIZE each (alloc_insn_page: PAGE_SIZE on x86_64 and arm64; the
 *    dump's page size, so 16/64 KiB on such arm64 kernels). Neither x86 nor arm64 has an
 *    arch_kprobe_get_kallsym() (powerpc's optprobe template is the only one).
 *
 * s_show() prints a module-tagged line as "%px %c %s\t[%s]" with the type upper-cased when exported,
 * lower-cased otherwise, and skips empty names. Every layout comes from the dump's BTF; a kernel
 * without a source (no such symbol: CONFIG_DYNAMIC_FTRACE, CONFIG_BPF_JIT, CONFIG_KPROBES off) just
 * has no lines from it. Each list walk is bounded: a cycle, a NULL link or an entry past
 * MAX_ENTRIES is a BadDataError naming the list and the address; an unreadable entry a FaultError.
 */
import { BadDataError, KbtfError, NotFoundError, hex, withContext } from '@kbtf/binary';
import { KSYM_NAME_LEN } from '@kbtf/btf';
import type { KernelMemory } from './memory.js';
import { KObject, containerOf } from './object.js';
import { shape, type KType } from './ktype.js';

/** MODULE_NAME_LEN on 64-bit: 64 − sizeof(unsigned long). */
const MODULE_NAME_LEN = 56;
/** Entries any one list may have before it is called corrupt (a systemd host has a dozen BPF programs). */
export const MAX_ENTRIES = 1 << 20;

export type DynamicSource = 'ftrace_mod' | 'ftrace' | 'bpf' | 'kprobes';

export interface DynamicSymbol {
  address: bigint;
  /** The type letter as /proc/kallsyms prints it (case already folded by `exported`). */
  type: string;
  name: string;
  /** The tag /proc/kallsyms prints in brackets: a module name, `bpf`, `__builtin__ftrace`, `__builtin__kprobes`. */
  module: string;
  /** Bytes the symbol covers when the kernel knows (BPF: end − start; ftrace: size), for address lookup. */
  size?: bigint;
  source: DynamicSource;
}

/** What the walker needs from a kernel: memory, BTF types by C name, vmlinux symbol addresses. */
export interface DynamicKsymsContext {
  memory: KernelMemory;
  type(name: string): KType;
  /** Address of a vmlinux symbol, undefined when the kernel has none of that name. */
  symbol(name: string): bigint | undefined;
}

export interface DynamicSymbols {
  /** In /proc/kallsyms order; what each source gave before it failed is kept. */
  symbols: DynamicSymbol[];
  /** One error per source that could not be read to its end, with the source as context. */
  failures: KbtfError[];
}

/** Every dynamic kallsyms source of the kernel, in /proc/kallsyms order. */
export function readDynamicSymbols(ctx: DynamicKsymsContext): DynamicSymbols {
  const out: DynamicSymbols = { symbols: [], failures: [] };
  const run = (what: string, read: (ctx: DynamicKsymsContext, into: DynamicSymbol[]) => void): void => {
    try {
      read(ctx, out.symbols);
    } catch (err) {
      if (!(err instanceof KbtfError)) throw err;
      out.failures.push(withContext(err, what) as KbtfError);
    }
  };
  run('ftrace_mod_maps', readFtraceModMaps);
  run('ftrace_ops_trampoline_list', readFtraceTrampolines);
  run('bpf_kallsyms', readBpfKsyms);
  run('kprobe insn slots', readKprobePages);
  // Every list above is found by a data symbol. A kernel built without CONFIG_KALLSYMS_ALL (Debian
  // arm64 6.1) has none in kallsyms, not even jiffies_64: its missing lists are unknown, not absent.
  if (ctx.symbol('jiffies_64') === undefined && ctx.symbol('jiffies') === undefined) {
    out.failures.push(
      new NotFoundError(
        'kallsyms has no data symbols (a kernel built without CONFIG_KALLSYMS_ALL): ftrace_mod_maps, ftrace_ops_trampoline_list, bpf_kallsyms and the kprobe slot lists cannot be found, so /proc/kallsyms\' lines after the modules ([bpf], [__builtin__*]) cannot be listed',
      ),
    );
  }
  return out;
}

/** The list_head object of a vmlinux list, undefined when the kernel has no such symbol. */
function listHead(ctx: DynamicKsymsContext, name: string): KObject | undefined {
  const at = ctx.symbol(name);
  return at === undefined ? undefined : new KObject(ctx.memory, ctx.type('struct list_head'), at);
}

/**
 * `list_for_each_entry(pos, head, member)`, bounded: each node is visited once (a node seen again
 * is a cycle), a NULL `next` and more than MAX_ENTRIES entries are corrupt data; all name `list`
 * and the node's address.
 */
export function* boundedListEntries(head: KObject, type: KType, member: string, list: string): Generator<KObject> {
  const headAddr = head.address!;
  const seen = new Set<bigint>();
  let from = headAddr;
  let node = head.member('next').value();
  while (node !== headAddr) {
    if (node === 0n) throw new BadDataError(list, from, `NULL next pointer in the list node at ${hex(from)} after ${seen.size} entries`);
    if (seen.has(node)) throw new BadDataError(list, node, `cycle: the list node at ${hex(node)} (next of ${hex(from)}) was reached again after ${seen.size} entries, never returning to the head ${hex(headAddr)}`);
    if (seen.size >= MAX_ENTRIES) throw new BadDataError(list, node, `more than ${MAX_ENTRIES} entries (corrupt?)`);
    seen.add(node);
    const nodeObj = new KObject(head.mem, head.type, node);
    yield containerOf(nodeObj, type, member).deref();
    from = node;
    try {
      node = nodeObj.member('next').value();
    } catch (err) {
      throw withContext(err, `${list}: next pointer of the node at ${hex(node)}`);
    }
  }
}

const latin1 = new TextDecoder('latin1');
/** A name as strscpy(…, KSYM_NAME_LEN) leaves it. */
function cname(o: KObject, max = KSYM_NAME_LEN): string {
  const b = o.string(max);
  return latin1.decode(b.subarray(0, Math.min(b.length, max - 1)));
}

function hasMember(t: KType, name: string): boolean {
  const s = shape(t);
  return (s.kind === 'struct' || s.kind === 'union') && s.members.some((m) => m.name === name);
}

interface ModMap {
  module: string;
  numFuncs: number;
  funcs: { name: string; ip: bigint; size: bigint }[];
}

function readFtraceModMaps(ctx: DynamicKsymsContext, into: DynamicSymbol[]): void {
  const head = listHead(ctx, 'ftrace_mod_maps');
  if (!head) return;
  const maps: ModMap[] = [];
  const funcType = ctx.type('struct ftrace_mod_func');
  for (const map of boundedListEntries(head, ctx.type('struct ftrace_mod_map'), 'list', 'ftrace_mod_maps')) {
    const funcs: ModMap['funcs'] = [];
    for (const f of boundedListEntries(map.member('funcs'), funcType, 'list', `ftrace_mod_map ${hex(map.address!)} funcs`)) {
      funcs.push({ name: cname(f.member('name')), ip: f.member('ip').value(), size: f.member('size').value() });
    }
    maps.push({ module: cname(map.member('mod').deref().member('name'), MODULE_NAME_LEN), numFuncs: Number(map.member('num_funcs').value()), funcs });
  }
  // ftrace_mod_get_kallsym() for symnum = 0, 1, … until it falls through to the trampolines.
  for (let symnum = 0; ; symnum++) {
    const hit = ftraceModSymbol(maps, symnum);
    if (!hit) break;
    into.push({ address: hit.ip, type: 'T', name: hit.name, module: hit.module, size: hit.size, source: 'ftrace_mod' });
  }
}

/** The kernel's loop, including its `symnum > 1` quirk; undefined where it passes on to the trampolines. */
function ftraceModSymbol(maps: ModMap[], symnum: number): (ModMap['funcs'][number] & { module: string }) | undefined {
  for (const map of maps) {
    if (symnum >= map.numFuncs) {
      symnum -= map.numFuncs;
      continue;
    }
    for (const f of map.funcs) {
      if (symnum > 1) {
        symnum--;
        continue;
      }
      return { ...f, module: map.module };
    }
    return undefined; // WARN_ON(1): num_funcs larger than the list
  }
  return undefined;
}

function readFtraceTrampolines(ctx: DynamicKsymsContext, into: DynamicSymbol[]): void {
  const head = listHead(ctx, 'ftrace_ops_trampoline_list');
  if (!head) return;
  const opsType = ctx.type('struct ftrace_ops');
  const sized = hasMember(opsType, 'trampoline_size');
  for (const op of boundedListEntries(head, opsType, 'list', 'ftrace_ops_trampoline_list')) {
    const address = op.member('trampoline').value();
    if (address === 0n) continue;
    const size = sized ? op.member('trampoline_size').value() : undefined;
    into.push({ address, type: 't', name: 'ftrace_trampoline', module: '__builtin__ftrace', size, source: 'ftrace' });
  }
}

/** bpf_jit_kallsyms_enabled() (include/linux/filter.h, 6.1–6.12). */
function bpfKallsymsEnabled(ctx: DynamicKsymsContext): boolean {
  const int = (name: string): bigint | undefined => {
    const at = ctx.symbol(name);
    return at === undefined ? undefined : new KObject(ctx.memory, ctx.type('int'), at).value();
  };
  return (int('bpf_jit_harden') ?? 0n) === 0n && int('bpf_jit_kallsyms') === 1n;
}

function readBpfKsyms(ctx: DynamicKsymsContext, into: DynamicSymbol[]): void {
  const head = listHead(ctx, 'bpf_kallsyms');
  if (!head || !bpfKallsymsEnabled(ctx)) return;
  for (const k of boundedListEntries(head, ctx.type('struct bpf_ksym'), 'lnode', 'bpf_kallsyms')) {
    const start = k.member('start').value();
    const end = k.member('end').value();
    into.push({ address: start, type: 't', name: cname(k.member('name')), module: 'bpf', size: end > start ? end - start : undefined, source: 'bpf' });
  }
}

function readKprobePages(ctx: DynamicKsymsContext, into: DynamicSymbol[]): void {
  const pageType = (): KType => ctx.type('struct kprobe_insn_page');
  for (const cacheName of ['kprobe_insn_slots', 'kprobe_optinsn_slots']) {
    const at = ctx.symbol(cacheName);
    if (at === undefined) continue;
    const cache = new KObject(ctx.memory, ctx.type('struct kprobe_insn_cache'), at);
    let name: string | undefined;
    for (const kip of boundedListEntries(cache.member('pages'), pageType(), 'list', `${cacheName}.pages`)) {
      name ??= cname(cache.member('sym'));
      into.push({ address: kip.member('insns').value(), type: 't', name, module: '__builtin__kprobes', size: BigInt(ctx.memory.phys.pageSize), source: 'kprobes' });
    }
  }
}
