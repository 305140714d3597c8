/**
 * Module files: decompression and `.modinfo`.
 *
 * `.ko.xz` and `.ko.zst` are decompressed by the `xz` and `zstd` tools (execFile, never a shell),
 * `.ko.gz` by node's zlib. `.modinfo` is a run of NUL-terminated `key=value` strings, with NUL
 * padding between them (include/linux/moduleparam.h `__MODULE_INFO`).
 */
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { BadDataError, NotFoundError } from '@kbtf/binary';
import { elfSection } from '@kbtf/btf';
import { Root } from './fs.js';

/**
 * The most a module may decompress to. Debian's largest (amdgpu, 6.12) is ~25 MiB uncompressed; a
 * file that inflates past this is refused (a 4.6 MB ext4.ko.gz of 1 GiB of zeros peaked at 2.1 GB).
 */
export const MAX_MODULE = 128 * 1024 * 1024;

export function decompressModule(bytes: Uint8Array, name: string): Uint8Array {
  try {
    if (name.endsWith('.xz')) return execFileSync('xz', ['-dc'], { input: bytes, maxBuffer: MAX_MODULE });
    if (name.endsWith('.zst')) return execFileSync('zstd', ['-dcq'], { input: bytes, maxBuffer: MAX_MODULE });
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

export type Modinfo = Map<string, string[]>;

export function parseModinfo(section: Uint8Array): Modinfo {
  const info: Modinfo = new Map();
  const dec = new TextDecoder();
  let start = 0;
  for (let i = 0; i <= section.length; i++) {
    if (i < section.length && section[i] !== 0) continue;
    if (i > start) {
      const s = dec.decode(section.subarray(start, i));
      const eq = s.indexOf('=');
      if (eq > 0) {
        const k = s.slice(0, eq);
        const list = info.get(k) ?? [];
        list.push(s.slice(eq + 1));
        info.set(k, list);
      }
    }
    start = i + 1;
  }
  return info;
}

export function modinfoOf(elf: Uint8Array, source: string): Modinfo {
  const sec = elfSection(elf, '.modinfo', source);
  if (!sec) throw new NotFoundError(`${source}: no .modinfo section (not a kernel module)`);
  return parseModinfo(sec);
}

export function modinfoValue(info: Modinfo, key: string): string | undefined {
  return info.get(key)?.[0];
}
