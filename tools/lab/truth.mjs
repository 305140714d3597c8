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
import zlib from 'node:zlib';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: truth.mjs OUTDIR');
  process.exit(2);
}

// LAB_ARCH=arm64 (set by lab.sh --arch arm64; default x86_64) selects the arm64 computations.

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

// "Kernel code" in /proc/iomem is the physical range of _text.._etext (x86_64); on arm64 it ends at
// __init_begin and starts at _stext (6.1) or _text (6.12) (arch/arm64/kernel/setup.c).
function kernelCodePhys(lines) {
  for (const line of lines) {
    const m = /^\s*([0-9a-f]+)-[0-9a-f]+ : Kernel code$/.exec(line);
    if (m) return BigInt('0x' + m[1]);
  }
  return null;
}

// Top-level "System RAM" ranges of /proc/iomem (x86_64: several; arm64 virt: from 0x40000000).
function systemRam(lines) {
  const out = [];
  for (const line of lines) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) : System RAM$/.exec(line);
    if (m) out.push({ start: hex(BigInt('0x' + m[1])), end: hex(BigInt('0x' + m[2])) });
  }
  return out;
}

// arm64 with 48-bit VA (VA_BITS_MIN 48): KIMAGE_VADDR = MODULES_END = 0xffff800000000000 +
// MODULES_VSIZE, which is 128 MiB before 6.5 and 2 GiB since (arch/arm64/include/asm/memory.h);
// _stext is SEGMENT_ALIGN (64 KiB) after _text = KIMAGE_VADDR (arch/arm64/kernel/vmlinux.lds.S).
// Debian's System.map is a placeholder and arm64's /proc/kallsyms has no _text, so the link-time
// _stext comes from these constants; lab.sh checks the result against VMCOREINFO's KERNELOFFSET.
function arm64LinkedStext(release) {
  const [major, minor] = (release ?? '').split('.').map(Number);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) return null;
  const modulesVsize = major > 6 || (major === 6 && minor >= 5) ? 0x80000000n : 0x8000000n;
  return 0xffff800000000000n + modulesVsize + 0x10000n;
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
  const facts = {
    osrelease: get('OSRELEASE'),
    build_id: get('BUILD-ID'),
    pgtable_l5_enabled: l5 === null ? null : Number(l5),
    phys_base: phys === null ? null : hex(BigInt(phys)),
    kerneloffset: off === null ? null : hex(BigInt('0x' + off)),
  };
  // arm64 (arch/arm64/kernel/vmcore_info.c, crash_core.c): present only there.
  const num = (v) => (v === null ? null : hex(BigInt(v.startsWith('0x') ? v : '0x' + v)));
  if (get('NUMBER(VA_BITS)') !== null) {
    Object.assign(facts, {
      page_size: Number(get('PAGESIZE')),
      va_bits: Number(get('NUMBER(VA_BITS)')),
      kimage_voffset: num(get('NUMBER(kimage_voffset)')),
      phys_offset: num(get('NUMBER(PHYS_OFFSET)')),
      tcr_el1_t1sz: get('NUMBER(TCR_EL1_T1SZ)') === null ? null : Number(get('NUMBER(TCR_EL1_T1SZ)')),
      kernelpacmask: num(get('NUMBER(KERNELPACMASK)')),
    });
  }
  return facts;
}

const raw = fs.readFileSync(path.join(outDir, 'truth.raw'), 'latin1');
const { sections, ready } = parseSections(raw);
if (!ready) {
  console.error(`truth: ${outDir}/truth.raw: no @@LAB READY marker`);
  process.exit(1);
}
const lines = (name) => sections.get(name)?.lines ?? [];

// guest-init.sh sends /proc/kallsyms gzipped and base64'd (section kallsyms_gz); outputs made
// before that have it as plain text (section kallsyms).
function kallsymsSection() {
  const gz = sections.get('kallsyms_gz');
  if (!gz) return lines('kallsyms');
  if (gz.status !== 0) {
    console.error(`truth: ${outDir}/truth.raw: the guest's gzip | base64 of /proc/kallsyms exited ${gz.status}`);
    process.exit(1);
  }
  const text = zlib.gunzipSync(Buffer.from(gz.lines.join(''), 'base64')).toString('utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}
const kallsymsLines = kallsymsSection();
fs.writeFileSync(path.join(outDir, 'kallsyms.txt'), kallsymsLines.join('\n') + '\n');
fs.writeFileSync(path.join(outDir, 'proc-modules.txt'), lines('modules').join('\n') + '\n');
const { symbols, count } = parseKallsyms(kallsymsLines);

const arch = process.env.LAB_ARCH ?? 'x86_64';
const text = symbols.get('_text');
const stext = symbols.get('_stext');
const codePhys = kernelCodePhys(lines('iomem'));
let kaslrOffset = null;
let physBase = null;
let arm64 = null;
if (arch === 'arm64') {
  // KASLR: _stext - its link-time address. __pa_symbol(x) = x - kimage_voffset
  // (arch/arm64/include/asm/memory.h). "Kernel code" starts at __pa_symbol(_text) or
  // __pa_symbol(_stext): the Image is loaded 2 MiB-aligned (arm64 boot protocol, text_offset 0), so
  // a 2 MiB-aligned start is _text's (6.12), an unaligned one _stext's (6.1: _text + 64 KiB).
  const linked = arm64LinkedStext(lines('uname')[0]);
  kaslrOffset = stext !== undefined && linked !== null ? stext - linked : null;
  const codeSym = codePhys === null ? null : codePhys % 0x200000n === 0n ? '_text' : '_stext';
  const codeVirt = codeSym === '_text' ? text : codeSym === '_stext' ? stext : undefined;
  arm64 = {
    kimage_vaddr: linked !== null ? hex(linked - 0x10000n) : null,
    kernel_code_symbol: codeSym,
    kimage_voffset: codeVirt !== undefined && codePhys !== null ? hex(codeVirt - codePhys) : null,
  };
} else {
  kaslrOffset = text !== undefined ? text - DEFAULT_TEXT : null;
  // __pa_symbol(x) = x - __START_KERNEL_map + phys_base  (arch/x86/include/asm/page_64.h)
  physBase = text !== undefined && codePhys !== null ? codePhys - (text - START_KERNEL_MAP) : null;
}

let vmcoreinfo = null;
const vmcoreinfoText = readVmcoreinfo(path.join(outDir, 'qemu-elf.core'));
if (vmcoreinfoText) {
  fs.writeFileSync(path.join(outDir, 'vmcoreinfo.txt'), vmcoreinfoText);
  vmcoreinfo = { file: 'vmcoreinfo.txt', ...vmcoreinfoFacts(vmcoreinfoText) };
}

const truth = {
  schema: 'kbtf-lab-truth/1',
  source: arch === 'arm64' ? 'guest console /dev/ttyAMA0 (tools/lab/guest-init.sh)' : 'guest /dev/ttyS1 (tools/lab/guest-init.sh)',
  arch,
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
  system_ram: systemRam(lines('iomem')),
  ...(arm64 ? { arm64 } : {}),
  vmcoreinfo,
};
// arm64: the guest's own view (kallsyms, /proc/iomem, System.map) must agree with what the dumped
// kernel wrote in VMCOREINFO; a disagreement means one of them is misread.
if (arm64 && vmcoreinfo) {
  const bad = [];
  if (truth.kaslr_offset !== vmcoreinfo.kerneloffset) bad.push(`kaslr_offset ${truth.kaslr_offset} != KERNELOFFSET ${vmcoreinfo.kerneloffset}`);
  if (arm64.kimage_voffset !== vmcoreinfo.kimage_voffset) bad.push(`kimage_voffset ${arm64.kimage_voffset} != VMCOREINFO ${vmcoreinfo.kimage_voffset}`);
  if (bad.length) {
    console.error(`truth: ${outDir}: ${bad.join('; ')}`);
    process.exit(1);
  }
}
fs.writeFileSync(path.join(outDir, 'truth.json'), JSON.stringify(truth, null, 2) + '\n');
console.log(
  `truth: ${truth.kernel}: ${truth.modules.length} modules, ${count} kallsyms, ` +
    `${truth.btf.length} BTF files, kaslr ${truth.kaslr_offset}, phys_base ${truth.phys_base}, ` +
    (arm64 ? `kimage_voffset ${arm64.kimage_voffset}` : `la57 ${truth.la57}`) +
    (vmcoreinfo ? `, VMCOREINFO l5=${vmcoreinfo.pgtable_l5_enabled} phys_base=${vmcoreinfo.phys_base}` : ''),
);
