#!/usr/bin/env node
// node elf-fix.mjs IN.core OUT.core
//
// Rewrites the layout of a QEMU 7.2 `dump-guest-memory` ELF (paging=false) so that makedumpfile
// 1.7.2 can read it. QEMU 7.2 writes: ELF header (with a wrong e_ehsize), then section headers
// (e_shoff = 64), then the program headers, then notes and memory. makedumpfile expects the
// program headers directly after the ELF header. We copy the file and rewrite only its head:
// e_phoff = 64, no section headers, e_ehsize = 64. Because the program headers move 64*e_shnum
// bytes *earlier*, they never overwrite the notes or memory that follow; segment offsets stay valid.
//
// Only for e_phnum < 0xffff (PN_XNUM): with paging=true the real count lives in section 0's
// sh_info, which this rewrite would drop.
import fs from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: elf-fix.mjs IN.core OUT.core');
  process.exit(2);
}

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PN_XNUM = 0xffff;

const fd = fs.openSync(input, 'r');
const head = Buffer.alloc(EHDR_SIZE);
fs.readSync(fd, head, 0, EHDR_SIZE, 0);
if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) {
  console.error(`elf-fix: ${input}: not a little-endian ELF64 file`);
  process.exit(1);
}
const phoff = Number(head.readBigUInt64LE(32));
const phnum = head.readUInt16LE(56);
if (phnum === PN_XNUM) {
  console.error(`elf-fix: ${input}: e_phnum is PN_XNUM; only paging=false dumps are supported`);
  process.exit(1);
}
const phdrs = Buffer.alloc(phnum * PHDR_SIZE);
fs.readSync(fd, phdrs, 0, phdrs.length, phoff);
fs.closeSync(fd);

let minData = Infinity;
for (let i = 0; i < phnum; i++) {
  const off = Number(phdrs.readBigUInt64LE(i * PHDR_SIZE + 8));
  const filesz = Number(phdrs.readBigUInt64LE(i * PHDR_SIZE + 32));
  if (filesz > 0) minData = Math.min(minData, off);
}
if (EHDR_SIZE + phdrs.length > minData) {
  console.error(`elf-fix: ${input}: program headers would overlap segment data at ${minData}`);
  process.exit(1);
}

copySparse(input, output);
head.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
head.writeBigUInt64LE(0n, 40); // e_shoff
head.writeUInt16LE(EHDR_SIZE, 52); // e_ehsize
head.writeUInt16LE(0, 58); // e_shentsize
head.writeUInt16LE(0, 60); // e_shnum
head.writeUInt16LE(0, 62); // e_shstrndx
const out = fs.openSync(output, 'r+');
// Clear the old header area (ehdr end .. first data) before writing the moved program headers.
const gapEnd = Math.min(minData, phoff + phdrs.length);
fs.writeSync(out, Buffer.alloc(gapEnd - EHDR_SIZE), 0, gapEnd - EHDR_SIZE, EHDR_SIZE);
fs.writeSync(out, head, 0, EHDR_SIZE, 0);
fs.writeSync(out, phdrs, 0, phdrs.length, EHDR_SIZE);
fs.closeSync(out);

/** Copies IN to OUT leaving 64 KiB runs of zeros as holes: the copy reads back byte for byte the
 *  same, and a lab guest's mostly-zero RAM does not cost another half gigabyte of disk. */
function copySparse(from, to) {
  const CHUNK = 64 * 1024;
  const buf = Buffer.alloc(CHUNK);
  const zero = Buffer.alloc(CHUNK);
  const src = fs.openSync(from, 'r');
  const dst = fs.openSync(to, 'w');
  let pos = 0;
  for (;;) {
    const n = fs.readSync(src, buf, 0, CHUNK, pos);
    if (n === 0) break;
    const chunk = n === CHUNK ? buf : buf.subarray(0, n);
    if (!chunk.equals(n === CHUNK ? zero : zero.subarray(0, n))) fs.writeSync(dst, chunk, 0, n, pos);
    pos += n;
  }
  fs.ftruncateSync(dst, pos);
  fs.closeSync(src);
  fs.closeSync(dst);
}
