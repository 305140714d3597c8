#!/usr/bin/env node
// node truth.mjs OUTDIR
//
// Turns OUTDIR/truth.raw (what the guest printed on its second serial port, see guest-init.sh)
// into OUTDIR/truth.json, OUTDIR/kallsyms.txt and OUTDIR/proc-modules.txt, and, when
// OUTDIR/qemu-elf.core exists, OUTDIR/vmcoreinfo.txt (the VMCOREINFO note of the dump).
// Schema: docs/lab.md.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: truth.mjs OUTDIR');
  process.exit(2);
}

// x86_64 kernel text starts at __START_KERNEL_map + CONFIG_PHYSICAL_START (16 MiB) without KASLR.
const START_KERNEL_MAP = 0xffffffff80000000n;
const DEFAULT_TEXT = 0xffffffff81000000n;

function hex(n) {
  return n < 0n ? '-0x' + (-n).toString(16) : '0x' + n.toString(16);
}

function parseSections(text) {
  const sections = new Map();
  let name = null;
  let lines = [];
  let ready = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = /^@@LAB (BEGIN|END) (\S+)(?: (-?\d+))?$/.exec(line);
    if (m && m[1] === 'BEGIN') {
      name = m[2];
      lines = [];
    } else if (m && m[1] === 'END' && name === m[2]) {
      sections.set(name, { lines, status: Number(m[3] ?? 0) });
      name = null;
    } else if (line === '@@LAB READY') {
      ready = true;
    } else if (name !== null) {
      lines.push(line);
    }
  }
  return { sections, ready };
}

function parseModules(lines) {
  // /proc/modules: name size refcount deps state address [taints]   (kernel/module/procfs.c)
  return lines.filter(Boolean).map((line) => {
    const [name, size, refcount, deps, state, address, ...rest] = line.split(/\s+/);
    return {
      name,
      size: Number(size),
      refcount: refcount === '-' ? null : Number(refcount),
      deps: deps === '-' ? [] : deps.split(',').filter(Boolean),
      state,
      address,
      taints: rest.length ? rest.join(' ').replace(/[()]/g, '') : '',
    };
  });
}

function parseKallsyms(lines) {
  const symbols = new Map();
  let count = 0;
  for (const line of lines) {
    const m = /^([0-9a-f]+) (\S) (\S+)(?:\s+\[(\S+)\])?$/.exec(line);
    if (!m) continue;
    count++;
    if (!m[4] && !symbols.has(m[3])) symbols.set(m[3], BigInt('0x' + m[1]));
  }
  return { symbols, count };
}

// "Kernel code" in /proc/iomem is the physical range of _text.._etext.
function kernelCodePhys(lines) {
  for (const line of lines) {
    const m = /^\s*([0-9a-f]+)-[0-9a-f]+ : Kernel code$/.exec(line);
    if (m) return BigInt('0x' + m[1]);
  }
  return null;
}

function readVmcoreinfo(corePath) {
  if (!fs.existsSync(corePath)) return null;
  const fd = fs.openSync(corePath, 'r');
  try {
    const eh = Buffer.alloc(64);
    fs.readSync(fd, eh, 0, 64, 0);
    const phoff = Number(eh.readBigUInt64LE(32));
    const phnum = eh.readUInt16LE(56);
    if (phnum === 0xffff) return null;
    const ph = Buffer.alloc(phnum * 56);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (ph.readUInt32LE(i * 56) !== 4 /* PT_NOTE */) continue;
      const off = Number(ph.readBigUInt64LE(i * 56 + 8));
      const size = Number(ph.readBigUInt64LE(i * 56 + 32));
      const notes = Buffer.alloc(size);
      fs.readSync(fd, notes, 0, size, off);
      for (let p = 0; p + 12 <= size; ) {
        const namesz = notes.readUInt32LE(p);
        const descsz = notes.readUInt32LE(p + 4);
        const name = notes.subarray(p + 12, p + 12 + namesz).toString('latin1').replace(/\0+$/, '');
        const descOff = p + 12 + ((namesz + 3) & ~3);
        if (name === 'VMCOREINFO') {
          return notes.subarray(descOff, descOff + descsz).toString('latin1').replace(/\0+$/, '');
        }
        p = descOff + ((descsz + 3) & ~3);
      }
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function vmcoreinfoFacts(text) {
  const get = (key) => {
    const line = text.split('\n').find((l) => l.startsWith(key + '='));
    return line ? line.slice(key.length + 1) : null;
  };
  const l5 = get('NUMBER(pgtable_l5_enabled)');
  const phys = get('NUMBER(phys_base)');
  const off = get('KERNELOFFSET');
  return {
    osrelease: get('OSRELEASE'),
    build_id: get('BUILD-ID'),
    pgtable_l5_enabled: l5 === null ? null : Number(l5),
    phys_base: phys === null ? null : hex(BigInt(phys)),
    kerneloffset: off === null ? null : hex(BigInt('0x' + off)),
  };
}

const raw = fs.readFileSync(path.join(outDir, 'truth.raw'), 'latin1');
const { sections, ready } = parseSections(raw);
if (!ready) {
  console.error(`truth: ${outDir}/truth.raw: no @@LAB READY marker`);
  process.exit(1);
}
const lines = (name) => sections.get(name)?.lines ?? [];

const kallsymsLines = lines('kallsyms');
fs.writeFileSync(path.join(outDir, 'kallsyms.txt'), kallsymsLines.join('\n') + '\n');
fs.writeFileSync(path.join(outDir, 'proc-modules.txt'), lines('modules').join('\n') + '\n');
const { symbols, count } = parseKallsyms(kallsymsLines);

const text = symbols.get('_text');
const stext = symbols.get('_stext');
const codePhys = kernelCodePhys(lines('iomem'));
const kaslrOffset = text !== undefined ? text - DEFAULT_TEXT : null;
// __pa_symbol(x) = x - __START_KERNEL_map + phys_base  (arch/x86/include/asm/page_64.h)
const physBase = text !== undefined && codePhys !== null ? codePhys - (text - START_KERNEL_MAP) : null;

let vmcoreinfo = null;
const vmcoreinfoText = readVmcoreinfo(path.join(outDir, 'qemu-elf.core'));
if (vmcoreinfoText) {
  fs.writeFileSync(path.join(outDir, 'vmcoreinfo.txt'), vmcoreinfoText);
  vmcoreinfo = { file: 'vmcoreinfo.txt', ...vmcoreinfoFacts(vmcoreinfoText) };
}

const truth = {
  schema: 'kbtf-lab-truth/1',
  source: 'guest /dev/ttyS1 (tools/lab/guest-init.sh)',
  kernel: lines('uname')[0] ?? null,
  cmdline: lines('cmdline')[0] ?? null,
  la57: lines('cpuinfo_la57')[0] === '1',
  modules: parseModules(lines('modules')),
  modprobe_failed: lines('modprobe_failed').filter(Boolean),
  kallsyms: {
    file: 'kallsyms.txt',
    count,
    sha256: crypto.createHash('sha256').update(kallsymsLines.join('\n') + '\n').digest('hex'),
    _text: text !== undefined ? hex(text) : null,
    _stext: stext !== undefined ? hex(stext) : null,
  },
  btf: lines('btf')
    .filter(Boolean)
    .map((l) => {
      const [name, size, sha256] = l.split(' ');
      return { name, size: Number(size), sha256 };
    }),
  dmesg_btf: lines('dmesg_btf').filter(Boolean),
  // What the guest did to have dynamic kallsyms (BPF programs, kprobes): null when it did not try.
  bpf_load: sections.has('bpf_load') ? { status: sections.get('bpf_load').status, lines: lines('bpf_load').filter(Boolean) } : null,
  kprobes: sections.has('kprobes') ? { status: sections.get('kprobes').status, lines: lines('kprobes').filter(Boolean) } : null,
  kaslr_offset: kaslrOffset !== null ? hex(kaslrOffset) : null,
  phys_base: physBase !== null ? hex(physBase) : null,
  kernel_code_phys: codePhys !== null ? hex(codePhys) : null,
  vmcoreinfo,
};
fs.writeFileSync(path.join(outDir, 'truth.json'), JSON.stringify(truth, null, 2) + '\n');
console.log(
  `truth: ${truth.kernel}: ${truth.modules.length} modules, ${count} kallsyms, ` +
    `${truth.btf.length} BTF files, kaslr ${truth.kaslr_offset}, phys_base ${truth.phys_base}, ` +
    `la57 ${truth.la57}` +
    (vmcoreinfo ? `, VMCOREINFO l5=${vmcoreinfo.pgtable_l5_enabled} phys_base=${vmcoreinfo.phys_base}` : ''),
);
