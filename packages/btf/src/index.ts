/**
 * @kbtf/btf — read, validate (by the kernel's rules), write, prune and print BTF.
 *
 * Reading:
 *   const vmlinux = parseBtf(bytes, { source: '/sys/kernel/btf/vmlinux' });
 *   const mod = parseBtf(modBytes, { base: vmlinux });        // split BTF: ids continue the base's
 *   vmlinux.count, vmlinux.firstId, vmlinux.endId             // ids firstId..endId-1 are this blob's
 *   vmlinux.type(id)                                          // { id, kind, name, ...kind fields }
 *   vmlinux.findByName('task_struct', 'struct'), findAllByName, typesOfKind('var'), types()
 *   vmlinux.sizeof(id), alignof(id), resolve(id), enumName(id, v), arrayInfo(id)
 *   vmlinux.memberPath(id, 'a.b[3].c') → { byteOffset, bitOffset, bitSize, bitfield, typeId }
 *   elfSection(elfBytes, '.BTF'), btfBytesFromFile(bytes)     // raw BTF or ELF with .BTF
 * Errors: BadDataError (BAD_DATA) for malformed input, NotFoundError for absent ids/names.
 * The wire format (wire.ts: kind numbers, header, info words) stays inside the package: callers
 * see BTF as the `BtfType` model, never as encoded words.
 */
export * from './types.js';
export { StringTable } from './strings.js';
export { Btf, parseBtf, decodeType, type ParseOptions } from './btf.js';
export * from './query.js';
// The ELF reader is @kbtf/binary's (elf.ts); these two are re-exported for `.BTF` callers.
export { elfSection, elfSections, isElf, type ElfSection } from '@kbtf/binary';
export { btfBytesFromFile } from './file.js';
export { formatRaw, formatRawType, formatRawChunks, formatRawBytes } from './print-raw.js';
export { writeBtf, type WriteOptions } from './writer.js';
export { validateBtf, type ValidateOptions, type ValidationError, type ValidationResult } from './validate.js';
export { pruneSplit, dedupDatasecEntries, typeRefs, remapType, type PruneOptions, type PruneResult } from './prune.js';
export { formatJson } from './json.js';
export { btfStats, type BtfStats } from './stats.js';
export { formatC } from './cformat.js';
export { companionRules, type KernelRules } from './rules.js';
export { KSYM_NAME_LEN } from './validate-names.js';
export { SECTION_ANCHORS, ANCHOR_SYMBOL, sectionAnchorName, symbolAnchorName, sectionAnchorsType, readSectionAnchors, type AnchorInput } from './anchors.js';
