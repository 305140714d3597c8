/**
 * openVmcore: detect the format by its magic and return one physical-memory view.
 *   "\x7fELF"          ELF core (elf-core.ts)
 *   "KDUMP   "         kdump-compressed (kdump-core.ts)
 *   "makedumpfile"     flattened (flattened.ts) around either of the above
 * Several paths = one `makedumpfile --split` set.
 */
import { BadDataError, UnsupportedError, UsageError, withContext } from '@kbtf/binary';
import { ElfCore } from './elf-core.js';
import { FlattenedSource, isFlattened, type Progress } from './flattened.js';
import { KdumpCore } from './kdump-core.js';
import { KdumpFile } from './kdump-file.js';
import { KDUMP_SIGNATURE } from './kdump-header.js';
import { FileSource, type ByteSource } from './source.js';
import type { HeaderFields, Vmcore, VmcoreDetails } from './contract.js';

export interface OpenOptions {
  /** Decoded pages (kdump) or file blocks (ELF) kept in the LRU cache; default 1024. */
  cachePages?: number;
  /**
   * Progress while indexing a flattened file. Default: a percentage on stderr when stderr is a
   * TTY and the file is larger than 256 MiB; `false` for none.
   */
  progress?: Progress | false;
}

/** What openVmcore returns: the contract plus the details `kbtf info` shows. */
export type OpenedVmcore = Vmcore & VmcoreDetails;

const BIG_FILE = 256 << 20;

export function openVmcore(path: string | string[], options: OpenOptions = {}): OpenedVmcore {
  const paths = typeof path === 'string' ? [path] : path;
  if (paths.length === 0) throw new UsageError('openVmcore: no path');
  const sources: ByteSource[] = [];
  try {
    if (paths.length === 1) return openSource(new FileSource(paths[0]), options, sources);
    const files = paths.map((p) => {
      const { source, kind } = unwrap(new FileSource(p), options, sources);
      if (kind !== 'kdump') throw new UnsupportedError(`${p}: a split set must be kdump-compressed files (this is ${kind})`);
      return new KdumpFile(source);
    });
    return new KdumpCore(files, { cachePages: options.cachePages });
  } catch (err) {
    for (const s of sources) s.close();
    throw withContext(err, 'open vmcore');
  }
}

/** Open from an already-built byte source (tests, in-memory dumps). */
export function openVmcoreSource(source: ByteSource, options: OpenOptions = {}): OpenedVmcore {
  return openSource(source, options, []);
}

type Kind = 'elf' | 'kdump';

function openSource(file: ByteSource, options: OpenOptions, opened: ByteSource[]): OpenedVmcore {
  const { source, kind, flat } = unwrap(file, options, opened);
  const extraHeader: HeaderFields = flat ? { flattened: true, flattenedRecords: flat.records, reassembledSize: flat.reassembled } : {};
  if (kind === 'elf') return new ElfCore(source, { cachePages: options.cachePages, extraHeader });
  return new KdumpCore([new KdumpFile(source)], { format: flat ? 'kdump-flattened' : 'kdump', cachePages: options.cachePages, extraHeader });
}

function unwrap(file: ByteSource, options: OpenOptions, opened: ByteSource[]): { source: ByteSource; kind: Kind; flat?: { records: number; reassembled: number } } {
  opened.push(file);
  let source = file;
  let flat: { records: number; reassembled: number } | undefined;
  let head = source.read(0, Math.min(16, source.size), 'magic');
  if (isFlattened(head)) {
    const f = new FlattenedSource(file, { progress: progressFor(file, options) });
    flat = { records: f.records, reassembled: f.size };
    source = f;
    head = source.read(0, Math.min(16, source.size), 'magic');
  }
  const kind = detect(head);
  if (!kind) throw new BadDataError(file.name, 0, 'not a vmcore (no ELF, KDUMP or makedumpfile signature)');
  return { source, kind, flat };
}

function detect(head: Uint8Array): Kind | undefined {
  if (head.byteLength >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return 'elf';
  if (new TextDecoder('latin1').decode(head.subarray(0, 8)) === KDUMP_SIGNATURE) return 'kdump';
  return undefined;
}

function progressFor(file: ByteSource, options: OpenOptions): Progress | undefined {
  if (options.progress === false) return undefined;
  if (options.progress) return options.progress;
  if (!process.stderr.isTTY || file.size < BIG_FILE) return undefined;
  return (done, total) => {
    process.stderr.write(`\rindexing ${file.name}: ${Math.floor((done * 100) / total)}%${done >= total ? '\n' : ''}`);
  };
}
