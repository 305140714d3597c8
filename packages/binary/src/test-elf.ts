/** Tests only: a minimal ELF64 relocatable file with the given sections. */
import { ByteWriter } from './writer.js';

export interface TestSection {
  name: string;
  data: Uint8Array;
  type?: number;
  flags?: bigint;
}

export function makeElf(sections: TestSection[]): Uint8Array {
  const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
  const strtab: number[] = [];
  const nameOff: number[] = [];
  for (const n of names) {
    nameOff.push(strtab.length);
    for (const ch of Buffer.from(n)) strtab.push(ch);
    strtab.push(0);
  }
  const all = [...sections.map((s) => ({ ...s })), { name: '.shstrtab', data: Uint8Array.from(strtab), type: 3 }];
  const w = new ByteWriter();
  w.zeros(64);
  const offsets: number[] = [];
  for (const s of all) {
    w.align(8);
    offsets.push(w.length);
    w.bytes(s.data);
  }
  w.align(8);
  const shoff = w.length;
  w.zeros(64); // section 0
  all.forEach((s, i) => {
    w.u32(nameOff[i + 1]).u32(s.type ?? 1).u64(s.flags ?? 0n).u64(0n).u64(BigInt(offsets[i])).u64(BigInt(s.data.length));
    w.u32(0).u32(0).u64(1n).u64(0n);
  });
  const out = w.finish();
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 62, true); // EM_X86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x34, 64, true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, all.length + 1, true);
  v.setUint16(0x3e, all.length, true);
  return out;
}

/** A `.note.gnu.build-id` section body. */
export function buildIdNote(hex: string): Uint8Array {
  const desc = Buffer.from(hex, 'hex');
  const w = new ByteWriter();
  w.u32(4).u32(desc.length).u32(3).bytes(Buffer.from('GNU\0')).bytes(desc).align(4);
  return w.finish();
}

/** A `.modinfo` section body. */
export function modinfo(entries: Record<string, string>): Uint8Array {
  return Buffer.from(Object.entries(entries).map(([k, v]) => `${k}=${v}\0`).join(''));
}
