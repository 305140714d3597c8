/** Counts per kind and section sizes of a BTF blob. */
import type { Btf } from './btf.js';
import { KIND_NAMES } from './types.js';
import { infoKind } from './wire.js';

export interface BtfStats {
  byteOrder: 'little' | 'big';
  split: boolean;
  firstId: number;
  types: number;
  kinds: Record<string, number>;
  headerBytes: number;
  typeBytes: number;
  stringBytes: number;
  totalBytes: number;
}

export function btfStats(btf: Btf): BtfStats {
  const kinds: Record<string, number> = {};
  for (const id of btf.ids()) {
    const k = KIND_NAMES[infoKind(btf.info(id))];
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return {
    byteOrder: btf.littleEndian ? 'little' : 'big',
    split: btf.base !== undefined,
    firstId: btf.firstId,
    types: btf.count,
    kinds,
    headerBytes: btf.header.hdrLen,
    typeBytes: btf.header.typeLen,
    stringBytes: btf.header.strLen,
    totalBytes: btf.bytes.length,
  };
}
