/**
 * The BTF wire format (include/uapi/linux/btf.h, Linux 6.1), kept apart from the public model.
 *
 *   struct btf_header { u16 magic; u8 version; u8 flags; u32 hdr_len;
 *                       u32 type_off; u32 type_len; u32 str_off; u32 str_len; }
 *
 * `type_off`/`str_off` are relative to the end of the header (`hdr_len`, which newer writers may
 * make longer than 24 bytes). The magic 0xEB9F read byte-swapped means the other byte order.
 *
 *   struct btf_type { u32 name_off; u32 info; union { u32 size; u32 type; }; }
 *   info: bits 0-15 vlen, bits 24-28 kind, bit 31 kind_flag (bits 16-23, 29-30 unused).
 *
 * Each kind is followed by kind-specific data (see `extraSize`).
 */
import { Cursor, BadDataError } from '@kbtf/binary';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
/** Size of the header as defined in Linux 4.18–6.x. */
export const BTF_HEADER_SIZE = 24;
export const BTF_TYPE_SIZE = 12;

export const KIND_UNKN = 0;
export const KIND_INT = 1;
export const KIND_PTR = 2;
export const KIND_ARRAY = 3;
export const KIND_STRUCT = 4;
export const KIND_UNION = 5;
export const KIND_ENUM = 6;
export const KIND_FWD = 7;
export const KIND_TYPEDEF = 8;
export const KIND_VOLATILE = 9;
export const KIND_CONST = 10;
export const KIND_RESTRICT = 11;
export const KIND_FUNC = 12;
export const KIND_FUNC_PROTO = 13;
export const KIND_VAR = 14;
export const KIND_DATASEC = 15;
export const KIND_FLOAT = 16;
export const KIND_DECL_TAG = 17;
export const KIND_TYPE_TAG = 18;
/** Linux 6.0. */
export const KIND_ENUM64 = 19;
export const KIND_MAX = 19;

/** The kernel's limits (kernel/bpf/btf.c, Linux 6.1). */
export const BTF_MAX_TYPE = 0x000fffff;
export const BTF_MAX_NAME_OFFSET = 0x00ffffff;
export const BTF_MAX_VLEN = 0xffff;
export const BTF_MAX_SIZE = 16 * 1024 * 1024;
/** Bits of `info` the kernel allows to be set (BTF_INFO_MASK). */
export const BTF_INFO_MASK = 0x9f00ffff;

/** INT encoding bits (BTF_INT_ENCODING). */
export const INT_SIGNED = 1 << 0;
export const INT_CHAR = 1 << 1;
export const INT_BOOL = 1 << 2;

export const infoKind = (info: number): number => (info >>> 24) & 0x1f;
export const infoVlen = (info: number): number => info & 0xffff;
export const infoKindFlag = (info: number): boolean => info >>> 31 === 1;
export const makeInfo = (kind: number, vlen: number, kindFlag: boolean): number => ((kindFlag ? 0x80000000 : 0) | (kind << 24) | (vlen & 0xffff)) >>> 0;

export interface BtfHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** Detect the byte order from the magic. Returns undefined if neither order matches. */
export function detectByteOrder(bytes: Uint8Array): boolean | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  return undefined;
}

/** Read the header fields (bounds only; the validator applies the kernel's rules). */
export function readHeader(c: Cursor): BtfHeader {
  if (c.length < 8) throw c.error(0, `BTF header truncated (${c.length} bytes)`);
  const hdrLen = c.u32At(4);
  if (hdrLen < BTF_HEADER_SIZE) throw c.error(4, `BTF hdr_len ${hdrLen} shorter than ${BTF_HEADER_SIZE}`);
  if (hdrLen > c.length) throw c.error(4, `BTF hdr_len ${hdrLen} beyond the blob (${c.length} bytes)`);
  return {
    magic: c.u16At(0),
    version: c.u8At(2),
    flags: c.u8At(3),
    hdrLen,
    typeOff: c.u32At(8),
    typeLen: c.u32At(12),
    strOff: c.u32At(16),
    strLen: c.u32At(20),
  };
}

/**
 * Per kind number (0–31), the bytes of kind-specific data after the 12-byte btf_type: a fixed part
 * (-1 for an unknown kind) plus a part per vlen entry.
 */
const EXTRA_FIXED = new Int32Array(32).fill(-1);
const EXTRA_PER_VLEN = new Int32Array(32);
for (const k of [KIND_PTR, KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC, KIND_FLOAT, KIND_TYPE_TAG]) EXTRA_FIXED[k] = 0;
for (const k of [KIND_INT, KIND_VAR, KIND_DECL_TAG]) EXTRA_FIXED[k] = 4;
EXTRA_FIXED[KIND_ARRAY] = 12;
for (const [k, per] of [[KIND_STRUCT, 12], [KIND_UNION, 12], [KIND_ENUM, 8], [KIND_FUNC_PROTO, 8], [KIND_DATASEC, 12], [KIND_ENUM64, 12]]) {
  EXTRA_FIXED[k] = 0;
  EXTRA_PER_VLEN[k] = per;
}

/**
 * Bytes of kind-specific data after the 12-byte btf_type, or -1 for an unknown kind. From tables,
 * not a switch: every call runs the same operations, so a kind first met after V8 optimised a
 * caller's loop (DECL_TAG, ENUM64 late in a blob) does not deoptimise it.
 */
export function extraSize(kind: number, vlen: number): number {
  if ((kind & 31) !== kind) return -1;
  return EXTRA_FIXED[kind] + EXTRA_PER_VLEN[kind] * vlen;
}

/** Throw a BadDataError for the type record at `offset`. */
export function badType(c: Cursor, offset: number, id: number, message: string): BadDataError {
  return c.error(offset, `type [${id}]: ${message}`);
}
