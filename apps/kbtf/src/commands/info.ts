import { noteTypeName, openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { UsageError } from '@kbtf/binary';
import { defineCommand } from '../cli/command.js';

/** `kbtf info VMCORE… [--json]`: what a dump is and what it holds. Several files = a --split set. */
export const command = defineCommand({
  name: 'info',
  summary: 'describe a vmcore: format, headers, VMCOREINFO, release, page counts, compression',
  usage: ['info VMCORE [VMCORE…] [--json]'],
  help: [
    'Open a dump (ELF, kdump-compressed, flattened, or several files of a makedumpfile --split set)',
    'and print its format, header fields, VMCOREINFO (release, page size, KASLR offset, phys_base),',
    'notes and CPU registers, page counts (present, excluded, lost, zero) and the compression used.',
    'Exit 0; 2 when the file is not a readable dump.',
  ].join('\n'),
  run({ args, out }) {
    if (args.length === 0) throw new UsageError('info: usage: kbtf info VMCORE [--json]');
    const core = openVmcore(args.length === 1 ? args[0] : args);
    try {
      const doc = describe(core);
      if (out.json) out.document(doc);
      else printHuman(doc, (s) => out.line(s));
    } finally {
      core.close();
    }
    return 0;
  },
});

const hex = (v: bigint | undefined): string | null => (v === undefined ? null : v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`);

export function describe(core: OpenedVmcore) {
  const vi = core.vmcoreinfo;
  const utsRelease = core.header['utsname.release']; // the kdump header's copy of uname -r
  return {
    path: core.path,
    format: core.format,
    machine: core.machine,
    fileSize: core.fileSize,
    pageSize: core.pageSize,
    incomplete: core.incomplete,
    release: vi?.osRelease ?? (typeof utsRelease === 'string' ? utsRelease : null),
    kernelOffset: hex(vi?.kernelOffset),
    physBase: hex(core.physBase),
    compression: core.compression(),
    pages: core.pageCounts(),
    virtualSegments: core.virtualSegments.length,
    header: core.header,
    vmcoreinfo: vi
      ? {
          osRelease: vi.osRelease ?? null,
          buildId: vi.buildId ?? null,
          pageSize: vi.pageSize ?? null,
          kernelOffset: hex(vi.kernelOffset),
          physBase: vi.physBase ?? null,
          symbols: Object.fromEntries([...vi.symbols].map(([k, v]) => [k, hex(v)])),
          offsets: vi.offsets,
          sizes: vi.sizes,
          lengths: vi.lengths,
          numbers: vi.numbers,
          other: vi.other,
        }
      : null,
    notes: core.notes.map((n) => ({ name: n.name, type: n.type, typeName: noteTypeName(n), size: n.desc.byteLength })),
    cpus: core.prstatus.map((p) => ({ index: p.index, pid: p.pid, registers: Object.fromEntries(Object.entries(p.registers).map(([k, v]) => [k, hex(v)])) })),
  };
}

function printHuman(d: ReturnType<typeof describe>, line: (s: string) => void): void {
  line(`${d.path}: ${d.format} vmcore, ${d.machine}, ${d.fileSize} bytes${d.incomplete ? ', INCOMPLETE' : ''}`);
  line(`release       ${d.release ?? '(unknown)'}`);
  line(`page size     ${d.pageSize}`);
  line(`KERNELOFFSET  ${d.kernelOffset ?? '(none)'}`);
  line(`phys_base     ${d.physBase ?? '(none)'}`);
  if (d.vmcoreinfo?.buildId) line(`build id      ${d.vmcoreinfo.buildId}`);
  line(`compression   ${d.compression.join(', ')}`);
  const p = d.pages;
  line(`pages         ${p.present} present, ${p.excluded} excluded, ${p.lost} lost${p.zero === undefined ? '' : `, ${p.zero} zero (shared)`}`);
  if (d.virtualSegments) line(`virtual segs  ${d.virtualSegments}`);
  line('header:');
  for (const [k, v] of Object.entries(d.header)) line(`  ${k.padEnd(22)} ${typeof v === 'bigint' ? `${v} (0x${BigInt.asUintN(64, v).toString(16)})` : String(v)}`);
  line(`notes (${d.notes.length}): ${d.notes.map((n) => `${n.name}/${n.typeName}`).join(' ')}`);
  // x86_64 names rip/rsp, aarch64 pc/sp (struct user_pt_regs).
  for (const c of d.cpus) line(`cpu ${c.index}: pid ${c.pid} ${c.registers.rip !== undefined ? `rip ${c.registers.rip} rsp ${c.registers.rsp}` : `pc ${c.registers.pc} sp ${c.registers.sp}`}`);
  if (d.vmcoreinfo) line(`VMCOREINFO: ${Object.keys(d.vmcoreinfo.symbols).length} symbols, ${d.vmcoreinfo.offsets.size} offsets, ${d.vmcoreinfo.sizes.size} sizes, ${d.vmcoreinfo.numbers.size} numbers`);
}
