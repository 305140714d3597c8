/**
 * Tiny writers of synthetic dumps, for unit tests of edge cases only (real behaviour is tested on
 * the lab's dumps under test/vmcore). Not part of the build (tsconfig.build excludes test-*.ts).
 */
import { deflateSync } from 'node:zlib';
import { ByteWriter } from '@kbtf/binary';

export interface ElfSegment {
  paddr: bigint;
  vaddr?: bigint;
  data: Uint8Array;
  /** Defaults to data length; larger = excluded tail. */
  memsz?: number;
}

export interface ElfOptions {
  segments: ElfSegment[];
  notes?: { name: string; type: number; desc: Uint8Array }[];
  flags?: number;
  machine?: number;
  /** QEMU 7.2: e_ehsize wrong, two section headers between ELF header and program headers. */
  qemuLayout?: boolean;
  /** Write e_phnum = PN_XNUM with the count in section 0's sh_info. */
  pnXnum?: boolean;
  bigEndian?: boolean;
}

function noteBytes(notes: NonNullable<ElfOptions['notes']>, le: boolean): Uint8Array {
  const w = new ByteWriter({ littleEndian: le });
  for (const n of notes) {
    const name = new TextEncoder().encode(n.name + '\0');
    w.u32(name.length).u32(n.desc.length).u32(n.type).bytes(name).align(4).bytes(n.desc).align(4);
  }
  return w.finish();
}

export function buildElf(o: ElfOptions): Uint8Array {
  const le = !o.bigEndian;
  const notes = noteBytes(o.notes ?? [], le);
  const nph = o.segments.length + 1;
  const shnum = o.qemuLayout || o.pnXnum ? (o.qemuLayout ? 2 : 1) : 0;
  const shoff = shnum ? 64 : 0;
  const phoff = 64 + shnum * 64;
  let dataAt = phoff + nph * 56;
  const notesAt = dataAt;
  dataAt += notes.length;
  const w = new ByteWriter({ littleEndian: le });
  w.bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  w.u16(4).u16(o.machine ?? 62).u32(1).u64(0n).u64(BigInt(phoff)).u64(BigInt(shoff)).u32(o.flags ?? 0);
  w.u16(o.qemuLayout ? 64 + 64 * shnum : 64).u16(56).u16(o.pnXnum ? 0xffff : nph).u16(64).u16(shnum).u16(0);
  for (let i = 0; i < shnum; i++) {
    w.u32(0).u32(0).u64(0n).u64(0n).u64(0n).u64(0n).u32(0).u32(i === 0 && o.pnXnum ? nph : 0).u64(0n).u64(0n);
  }
  // PT_NOTE
  w.u32(4).u32(0).u64(BigInt(notesAt)).u64(0n).u64(0n).u64(BigInt(notes.length)).u64(BigInt(notes.length)).u64(0n);
  let at = dataAt;
  for (const s of o.segments) {
    w.u32(1).u32(7).u64(BigInt(at)).u64(s.vaddr ?? 0n).u64(s.paddr).u64(BigInt(s.data.length)).u64(BigInt(s.memsz ?? s.data.length)).u64(0n);
    at += s.data.length;
  }
  w.bytes(notes);
  for (const s of o.segments) w.bytes(s.data);
  return w.finish();
}

export interface KdumpOptions {
  pageSize?: number;
  maxMapnr: number;
  /** Dumped pages by pfn. */
  pages: Map<number, Uint8Array>;
  /** Frames that exist but were excluded (1st bitmap set, 2nd clear). */
  excluded?: Iterable<number>;
  /** How to store a page: flags + bytes. Default raw. */
  encode?: (page: Uint8Array, pfn: number) => { flags: number; data: Uint8Array };
  headerVersion?: number;
  vmcoreinfo?: string;
  notes?: NonNullable<ElfOptions['notes']>;
  physBase?: bigint;
  dumpLevel?: number;
  split?: { start: number; end: number };
  /** Pfns whose descriptors are zeroed (lost) in an incomplete dump; sets status 0x8. */
  lost?: Iterable<number>;
  /** Share one stored page between all-zero pages. */
  shareZero?: boolean;
  status?: number;
  /** Drop the file after this many bytes (to test truncation). */
  machine?: string;
}

export const zlibPage = (page: Uint8Array): { flags: number; data: Uint8Array } => ({ flags: 1, data: deflateSync(page) });

export function buildKdump(o: KdumpOptions): Uint8Array {
  const ps = o.pageSize ?? 4096;
  const v = o.headerVersion ?? 6;
  const bitmapBytes = Math.ceil(Math.ceil(o.maxMapnr / 8) / ps) * ps;
  const bitmapBlocks = (bitmapBytes * 2) / ps;
  const first = new Uint8Array(bitmapBytes);
  const second = new Uint8Array(bitmapBytes);
  const set = (b: Uint8Array, pfn: number): void => void (b[pfn >> 3] |= 1 << (pfn & 7));
  const dumpedPfns = [...o.pages.keys()].sort((a, b) => a - b);
  for (const pfn of dumpedPfns) {
    set(first, pfn);
    set(second, pfn);
  }
  for (const pfn of o.excluded ?? []) set(first, pfn);
  const lost = new Set(o.lost ?? []);
  const range = o.split ?? { start: 0, end: o.maxMapnr };
  const inRange = dumpedPfns.filter((p) => p >= range.start && p < range.end);
  const descAt = (2 + bitmapBlocks) * ps;
  let dataAt = descAt + inRange.length * 24;
  const vmcoreinfo = o.vmcoreinfo ? new TextEncoder().encode(o.vmcoreinfo) : undefined;
  const notes = o.notes ? noteBytes(o.notes, true) : undefined;
  const viAt = dataAt;
  dataAt += vmcoreinfo?.length ?? 0;
  const noteAt = dataAt;
  dataAt += notes?.length ?? 0;
  const desc = new ByteWriter();
  const data = new ByteWriter();
  let zeroAt: number | undefined;
  for (const pfn of inRange) {
    const page = o.pages.get(pfn) as Uint8Array;
    if (lost.has(pfn)) {
      desc.zeros(24);
      continue;
    }
    if (o.shareZero && page.every((b) => b === 0)) {
      if (zeroAt === undefined) {
        zeroAt = dataAt + data.length;
        data.bytes(page);
      }
      desc.u64(BigInt(zeroAt)).u32(ps).u32(0).u64(0n);
      continue;
    }
    const e = o.encode ? o.encode(page, pfn) : { flags: 0, data: page };
    desc.u64(BigInt(dataAt + data.length)).u32(e.data.length).u32(e.flags).u64(0n);
    data.bytes(e.data);
  }
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('KDUMP   ')).i32(v);
  const uts = ['Linux', 'test', '6.1.0-test', '#1', o.machine ?? 'x86_64', ''];
  for (const s of uts) {
    const b = new Uint8Array(65);
    b.set(new TextEncoder().encode(s));
    w.bytes(b);
  }
  w.align(8).u64(0n).u64(0n); // timestamp at 408
  const status = (o.status ?? 0) | (lost.size ? 0x8 : 0);
  w.u32(status).i32(ps).i32(1).u32(bitmapBlocks).u32(Math.min(o.maxMapnr, 0xffffffff)).u32(0).u32(0).u32(0).u32(0).i32(1);
  w.zeros(ps - w.length);
  // sub header
  w.u64(o.physBase ?? 0n).i32(o.dumpLevel ?? 31).i32(o.split ? 1 : 0).u64(BigInt(range.start)).u64(BigInt(range.end));
  w.u64(BigInt(vmcoreinfo ? viAt : 0)).u64(BigInt(vmcoreinfo?.length ?? 0));
  w.u64(BigInt(notes ? noteAt : 0)).u64(BigInt(notes?.length ?? 0));
  w.u64(0n).u64(0n).u64(BigInt(range.start)).u64(BigInt(range.end)).u64(BigInt(o.maxMapnr));
  w.zeros(2 * ps - w.length);
  w.bytes(first).bytes(second).bytes(desc.finish());
  if (vmcoreinfo) w.bytes(vmcoreinfo);
  if (notes) w.bytes(notes);
  w.bytes(data.finish());
  return w.finish();
}

/** Wrap a file in the flattened format, as records of at most `recordSize` bytes. */
export function flatten(file: Uint8Array, recordSize = 4096, rewriteHeader = false): Uint8Array {
  const w = new ByteWriter({ littleEndian: false });
  const head = new Uint8Array(4096);
  head.set(new TextEncoder().encode('makedumpfile'));
  const dv = new DataView(head.buffer);
  dv.setBigInt64(16, 1n, false);
  dv.setBigInt64(24, 1n, false);
  w.bytes(head);
  const start = rewriteHeader ? 0 : 0;
  for (let at = start; at < file.length; at += recordSize) {
    const n = Math.min(recordSize, file.length - at);
    // When rewriting, first write garbage for the head and fix it with a later record (as makedumpfile does).
    const chunk = rewriteHeader && at === 0 ? new Uint8Array(n).fill(0xee) : file.subarray(at, at + n);
    w.i64(BigInt(at)).i64(BigInt(n)).bytes(chunk);
  }
  if (rewriteHeader) {
    const n = Math.min(recordSize, file.length);
    w.i64(0n).i64(BigInt(n)).bytes(file.subarray(0, n));
  }
  w.i64(-1n).i64(-1n);
  return w.finish();
}
