import { NotFoundError, elfSection, isElf } from '@kbtf/binary';

/** The BTF bytes of a file: the file itself if raw BTF, else its `.BTF` section (ELF). */
export function btfBytesFromFile(bytes: Uint8Array, source = 'input'): Uint8Array {
  if (!isElf(bytes)) return bytes;
  const s = elfSection(bytes, '.BTF', source);
  if (!s) throw new NotFoundError(`${source}: ELF file has no .BTF section`);
  return s;
}
