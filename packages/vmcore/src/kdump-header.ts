/**
 * The kdump-compressed header (makedumpfile diskdump_mod.h; QEMU dump/dump.c writes the same):
 *
 * block 0, struct disk_dump_header (x86_64/arm64 layout, 464 bytes used):
 *   0 signature[8] "KDUMP   "   8 int header_version   12 struct new_utsname (6 × 65 = 390)
 *   408 struct timeval timestamp (16)  424 u32 status  428 int block_size  432 int sub_hdr_size
 *   436 u32 bitmap_blocks  440 u32 max_mapnr (32-bit, obsolete since v6)  444 u32 total_ram_blocks
 *   448 u32 device_blocks  452 u32 written_blocks  456 u32 current_cpu  460 int nr_cpus
 * block 1, struct kdump_sub_header (fields by the header_version that introduced them):
 *   0 phys_base (v0)  8 int dump_level (v1)  12 int split (v2)  16 start_pfn, 24 end_pfn (v2)
 *   32 offset_vmcoreinfo, 40 size_vmcoreinfo (v3)  48 offset_note, 56 size_note (v4)
 *   64 offset_eraseinfo, 72 size_eraseinfo (v5)  80 start_pfn_64, 88 end_pfn_64, 96 max_mapnr_64 (v6)
 * then bitmap_blocks blocks of bitmap (first half: 1st bitmap, second half: 2nd), then the page
 * descriptors. Only 64-bit dumps are read (unsigned long = 8 bytes).
 */
import { BadDataError, Cursor, UnsupportedError } from '@kbtf/binary';
import type { ByteSource } from './source.js';
import type { HeaderFields } from './contract.js';

export const KDUMP_SIGNATURE = 'KDUMP   ';
export const DISK_DUMP_HEADER_SIZE = 464;
export const SUB_HEADER_SIZE = 104;
export const MAX_HEADER_VERSION = 6;

export const DUMP_DH_COMPRESSED_ZLIB = 0x1;
export const DUMP_DH_COMPRESSED_LZO = 0x2;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

const UTS_FIELD = 65;
const UTS_NAMES = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'] as const;

export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

export interface DiskDumpHeader {
  headerVersion: number;
  utsname: Utsname;
  timestampSec: bigint;
  timestampUsec: bigint;
  status: number;
  blockSize: number;
  subHdrSize: number;
  bitmapBlocks: number;
  maxMapnr32: number;
  totalRamBlocks: number;
  deviceBlocks: number;
  writtenBlocks: number;
  currentCpu: number;
  nrCpus: number;
}

export interface KdumpSubHeader {
  /** phys_base, read as signed (x86_64 phys_base may be negative: -0x14800000 seen here). */
  physBase: bigint;
  dumpLevel?: number;
  split?: number;
  startPfn?: bigint;
  endPfn?: bigint;
  offsetVmcoreinfo?: number;
  sizeVmcoreinfo?: number;
  offsetNote?: number;
  sizeNote?: number;
  offsetEraseinfo?: number;
  sizeEraseinfo?: number;
  startPfn64?: bigint;
  endPfn64?: bigint;
  maxMapnr64?: bigint;
}

export function readDiskDumpHeader(source: ByteSource): DiskDumpHeader {
  const c = new Cursor(source.read(0, DISK_DUMP_HEADER_SIZE, 'disk_dump_header'), { source: source.name });
  const sig = c.fixedStringAt(0, 8);
  if (sig !== KDUMP_SIGNATURE) throw new BadDataError(source.name, 0, `not a kdump-compressed file (signature ${JSON.stringify(sig)})`);
  const utsname = {} as Utsname;
  UTS_NAMES.forEach((n, i) => (utsname[n] = c.fixedStringAt(12 + i * UTS_FIELD, UTS_FIELD)));
  const h: DiskDumpHeader = {
    headerVersion: c.i32At(8),
    utsname,
    timestampSec: c.i64At(408),
    timestampUsec: c.i64At(416),
    status: c.u32At(424),
    blockSize: c.i32At(428),
    subHdrSize: c.i32At(432),
    bitmapBlocks: c.u32At(436),
    maxMapnr32: c.u32At(440),
    totalRamBlocks: c.u32At(444),
    deviceBlocks: c.u32At(448),
    writtenBlocks: c.u32At(452),
    currentCpu: c.u32At(456),
    nrCpus: c.i32At(460),
  };
  if (h.headerVersion < 0 || h.headerVersion > MAX_HEADER_VERSION) {
    throw new UnsupportedError(`${source.name}: kdump header_version ${h.headerVersion} (versions 0 to ${MAX_HEADER_VERSION} are known)`);
  }
  if (h.blockSize < 512 || h.blockSize > 1 << 20 || (h.blockSize & (h.blockSize - 1)) !== 0) {
    throw new BadDataError(source.name, 428, `block_size ${h.blockSize} is not a power of two between 512 and 1 MiB`);
  }
  if (h.subHdrSize < 0 || (1 + h.subHdrSize) * h.blockSize > source.size) {
    throw new BadDataError(source.name, 432, `sub_hdr_size ${h.subHdrSize} blocks runs past end of file (${source.size})`);
  }
  if (h.bitmapBlocks === 0) {
    // libkdumpfile's test suite has one (max_mapnr 0): a dump of no memory at all.
    throw new BadDataError(source.name, 436, `bitmap_blocks 0 (max_mapnr ${h.maxMapnr32}): an empty dump, no page of memory in it`);
  }
  if ((1 + h.subHdrSize + h.bitmapBlocks) * h.blockSize > source.size) {
    throw new BadDataError(source.name, 436, `bitmap_blocks ${h.bitmapBlocks} runs past end of file (${source.size})`);
  }
  // QEMU writes "Unknown" for targets without ELF_MACHINE_UNAME (dump/dump.c); VMCOREINFO then decides.
  if (h.utsname.machine !== '' && !/^(Unknown|x86_64|aarch64|arm64|ppc64le|ppc64|s390x|riscv64|loongarch64|mips64)$/.test(h.utsname.machine)) {
    throw new UnsupportedError(`${source.name}: kdump of machine '${h.utsname.machine}' (only 64-bit dumps are read)`);
  }
  return h;
}

export function readSubHeader(source: ByteSource, h: DiskDumpHeader): KdumpSubHeader {
  const v = h.headerVersion;
  const size = Math.min(SUB_HEADER_SIZE, h.subHdrSize * h.blockSize);
  const needed = v >= 6 ? 104 : v >= 5 ? 80 : v >= 4 ? 64 : v >= 3 ? 48 : v >= 2 ? 32 : v >= 1 ? 12 : 8;
  if (size < needed) throw new BadDataError(source.name, h.blockSize, `kdump_sub_header of ${size} bytes too short for header_version ${v}`);
  const c = new Cursor(source.read(h.blockSize, needed, 'kdump_sub_header'), { source: source.name, base: h.blockSize });
  const s: KdumpSubHeader = { physBase: c.i64At(0) }; // unsigned long in C, but a signed quantity
  if (v >= 1) s.dumpLevel = c.i32At(8);
  if (v >= 2) {
    s.split = c.i32At(12);
    s.startPfn = c.u64At(16);
    s.endPfn = c.u64At(24);
  }
  if (v >= 3) {
    s.offsetVmcoreinfo = c.u64NumberAt(32, 'offset_vmcoreinfo');
    s.sizeVmcoreinfo = c.u64NumberAt(40, 'size_vmcoreinfo');
  }
  if (v >= 4) {
    s.offsetNote = c.u64NumberAt(48, 'offset_note');
    s.sizeNote = c.u64NumberAt(56, 'size_note');
  }
  if (v >= 5) {
    s.offsetEraseinfo = c.u64NumberAt(64, 'offset_eraseinfo');
    s.sizeEraseinfo = c.u64NumberAt(72, 'size_eraseinfo');
  }
  if (v >= 6) {
    s.startPfn64 = c.u64At(80);
    s.endPfn64 = c.u64At(88);
    s.maxMapnr64 = c.u64At(96);
  }
  return s;
}

/** Header fields flattened for `kbtf info`. */
export function kdumpHeaderFields(h: DiskDumpHeader, s: KdumpSubHeader): HeaderFields {
  const f: HeaderFields = {
    header_version: h.headerVersion,
    ...Object.fromEntries(UTS_NAMES.map((n) => [`utsname.${n}`, h.utsname[n]])),
    timestamp: h.timestampSec,
    status: h.status,
    block_size: h.blockSize,
    sub_hdr_size: h.subHdrSize,
    bitmap_blocks: h.bitmapBlocks,
    max_mapnr: h.maxMapnr32,
    total_ram_blocks: h.totalRamBlocks,
    device_blocks: h.deviceBlocks,
    written_blocks: h.writtenBlocks,
    current_cpu: h.currentCpu,
    nr_cpus: h.nrCpus,
    'sub.phys_base': s.physBase,
  };
  const opt: [string, unknown][] = [
    ['sub.dump_level', s.dumpLevel],
    ['sub.split', s.split],
    ['sub.start_pfn', s.startPfn],
    ['sub.end_pfn', s.endPfn],
    ['sub.offset_vmcoreinfo', s.offsetVmcoreinfo],
    ['sub.size_vmcoreinfo', s.sizeVmcoreinfo],
    ['sub.offset_note', s.offsetNote],
    ['sub.size_note', s.sizeNote],
    ['sub.offset_eraseinfo', s.offsetEraseinfo],
    ['sub.size_eraseinfo', s.sizeEraseinfo],
    ['sub.start_pfn_64', s.startPfn64],
    ['sub.end_pfn_64', s.endPfn64],
    ['sub.max_mapnr_64', s.maxMapnr64],
  ];
  for (const [k, v] of opt) if (v !== undefined) f[k] = v as number | bigint;
  return f;
}
