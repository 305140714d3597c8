/** Synthetic physical memory for unit tests: sparse 4 KiB pages, absent pages fault. */
import { FaultError } from '@kbtf/binary';
import type { PhysicalMemory, VmcoreInfo } from '@kbtf/vmcore';

export class SparseMemory implements PhysicalMemory {
  readonly pageSize = 4096;
  readonly pages = new Map<bigint, Uint8Array>();
  reads = 0;

  write(paddr: bigint, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; ) {
      const a = paddr + BigInt(i);
      const pfn = a >> 12n;
      const off = Number(a & 0xfffn);
      let page = this.pages.get(pfn);
      if (!page) this.pages.set(pfn, (page = new Uint8Array(4096)));
      const n = Math.min(bytes.length - i, 4096 - off);
      page.set(bytes.subarray(i, i + n), off);
      i += n;
    }
  }

  u64(paddr: bigint, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    this.write(paddr, b);
  }

  check(paddr: bigint, length: number): void {
    this.read(paddr, length);
  }

  read(paddr: bigint, length: number): Uint8Array {
    this.reads++;
    const out = new Uint8Array(length);
    for (let i = 0; i < length; ) {
      const a = paddr + BigInt(i);
      const page = this.pages.get(a >> 12n);
      if (!page) throw new FaultError('physical', a, 'not-in-dump');
      const off = Number(a & 0xfffn);
      const n = Math.min(length - i, 4096 - off);
      out.set(page.subarray(off, off + n), i);
      i += n;
    }
    return out;
  }

  isPresent(paddr: bigint, length: number): boolean {
    try {
      this.read(paddr, length);
      return true;
    } catch {
      return false;
    }
  }
}

export function emptyVmcoreInfo(): VmcoreInfo {
  return { raw: '', symbols: new Map(), offsets: new Map(), sizes: new Map(), lengths: new Map(), numbers: new Map(), other: new Map() };
}
