/**
 * ELF notes (the format of PT_NOTE segments and of the kdump sub-header's note blob):
 *   u32 namesz, u32 descsz, u32 type, name[namesz] padded to 4, desc[descsz] padded to 4.
 * Core files align to 4 bytes even in ELF64 (the kernel's fs/binfmt_elf.c and
 * kernel/crash_core.c append_elf_note use 4). A zero-filled tail (kdump's /proc/vmcore pads the
 * PT_NOTE of each CPU) ends the list.
 */
import { Cursor } from '@kbtf/binary';
import type { ElfNote } from './contract.js';

export const NT_PRSTATUS = 1;
export const NT_PRFPREG = 2;
export const NT_PRPSINFO = 3;
export const NT_TASKSTRUCT = 4;
export const NT_AUXV = 6;
export const NT_X86_XSTATE = 0x202;
export const VMCOREINFO_NOTE_NAME = 'VMCOREINFO';

const NOTE_HEADER = 12;

/** Parse the notes in `bytes` (which sit at `fileOffset` in `source`). */
export function parseNotes(bytes: Uint8Array, fileOffset: number, littleEndian: boolean, source: string): ElfNote[] {
  const c = new Cursor(bytes, { source, littleEndian, base: fileOffset });
  const notes: ElfNote[] = [];
  let pos = 0;
  while (pos + NOTE_HEADER <= c.length) {
    const namesz = c.u32At(pos);
    const descsz = c.u32At(pos + 4);
    const type = c.u32At(pos + 8);
    if (namesz === 0 && descsz === 0 && type === 0) break; // zero padding
    const nameAt = pos + NOTE_HEADER;
    const descAt = nameAt + align4(namesz);
    c.check(nameAt, align4(namesz), 'note name');
    c.check(descAt, descsz, 'note descriptor');
    const name = c.fixedStringAt(nameAt, namesz);
    notes.push({ name, type, descOffset: fileOffset + descAt, desc: c.bytesAt(descAt, descsz) });
    pos = descAt + align4(descsz);
  }
  return notes;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

const CORE_TYPES: Record<number, string> = {
  [NT_PRSTATUS]: 'NT_PRSTATUS',
  [NT_PRFPREG]: 'NT_PRFPREG',
  [NT_PRPSINFO]: 'NT_PRPSINFO',
  [NT_TASKSTRUCT]: 'NT_TASKSTRUCT',
  [NT_AUXV]: 'NT_AUXV',
  [NT_X86_XSTATE]: 'NT_X86_XSTATE',
};

/** A readable name for a note type ("CORE"/"LINUX" types by name, others by number). */
export function noteTypeName(note: Pick<ElfNote, 'name' | 'type'>): string {
  if ((note.name === 'CORE' || note.name === 'LINUX') && CORE_TYPES[note.type]) return CORE_TYPES[note.type];
  if (note.name === VMCOREINFO_NOTE_NAME) return 'VMCOREINFO';
  if (note.name === 'QEMU') return 'QEMU_CPUSTATE';
  return `0x${note.type.toString(16)}`;
}

/** The VMCOREINFO text among notes, if any. */
export function vmcoreInfoText(notes: readonly ElfNote[]): string | undefined {
  const n = notes.find((x) => x.name === VMCOREINFO_NOTE_NAME);
  if (!n) return undefined;
  const nul = n.desc.indexOf(0);
  return new TextDecoder('latin1').decode(nul < 0 ? n.desc : n.desc.subarray(0, nul));
}
