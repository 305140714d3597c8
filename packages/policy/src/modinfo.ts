/**
 * Module files: decompression and `.modinfo`.
 *
 * `.ko.xz` and `.ko.zst` are decompressed by the `xz` and `zstd` tools (execFile, never a shell),
 * `.ko.gz` by node's zlib. `.modinfo` is read by @kbtf/binary's ELF reader (elf.ts).
 */
import { gunzipSync } from 'node:zlib';
import { BadDataError, ElfFile, NotFoundError, childProcess, type Modinfo } from '@kbtf/binary';
import { Root } from './root-tree.js';

/**
 * The most a module may decompress to. Debian's largest (amdgpu, 6.12) is ~25 MiB uncompressed; a
 * file that inflates past this is refused (a 4.6 MB ext4.ko.gz of 1 GiB of zeros peaked at 2.1 GB).
 */
export const MAX_MODULE = 128 * 1024 * 1024;

export function decompressModule(bytes: Uint8Array, name: string): Uint8Array {
  try {
    if (name.endsWith('.xz')) return childProcess().execFileSync('xz', ['-dc'], { input: bytes, maxBuffer: MAX_MODULE });
    if (name.endsWith('.zst')) return childProcess().execFileSync('zstd', ['-dcq'], { input: bytes, maxBuffer: MAX_MODULE });
    if (name.endsWith('.gz')) return gunzipSync(bytes, { maxOutputLength: MAX_MODULE });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOBUFS' || e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new BadDataError(name, undefined, `decompresses to more than ${MAX_MODULE} bytes, larger than any kernel module`, { cause: err });
    }
    throw new BadDataError(name, undefined, `cannot decompress: ${e.message.split('\n')[0]}`, { cause: err });
  }
  if (bytes.length > MAX_MODULE) throw new BadDataError(name, undefined, `${bytes.length} bytes, larger than any kernel module (${MAX_MODULE})`);
  return bytes;
}

/** The uncompressed ELF bytes of a module file in a root tree. */
export function readModuleFile(root: Root, file: string): Uint8Array {
  return decompressModule(root.readBytes(file), file);
}

export type { Modinfo } from '@kbtf/binary';

/** A module's `.modinfo` (parsed by @kbtf/binary's ELF reader); NotFoundError when it has none. */
export function modinfoOf(elf: Uint8Array, source: string): Modinfo {
  const file = ElfFile.fromBytes(elf, source);
  if (!file.section('.modinfo')) throw new NotFoundError(`${source}: no .modinfo section (not a kernel module)`);
  return file.modinfo();
}

export function modinfoValue(info: Modinfo, key: string): string | undefined {
  return info.get(key)?.[0];
}
