import { describe, expect, it } from 'vitest';
import { BadDataError, FaultError } from '@kbtf/binary';
import { parseNotes } from './notes.js';
import { openVmcoreSource } from './open.js';
import { MemorySource } from './source.js';
import { buildElf, type ElfOptions } from './test-writer.js';

const page = (fill: number, n = 4096): Uint8Array => new Uint8Array(n).fill(fill);
const VMCOREINFO = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\nNUMBER(phys_base)=-27262976\nKERNELOFFSET=1e800000\n';

function prstatus(rip: bigint): Uint8Array {
  const d = new Uint8Array(336);
  const dv = new DataView(d.buffer);
  dv.setInt32(32, 42, true); // pr_pid
  dv.setBigUint64(112 + 16 * 8, rip, true); // rip is register 16
  dv.setBigUint64(112 + 19 * 8, 0xffffc90000003f00n, true); // rsp
  return d;
}

function open(o: Partial<ElfOptions> = {}) {
  const bytes = buildElf({
    segments: [
      { paddr: 0x1000n, data: new Uint8Array([...page(1), ...page(2)]) },
      { paddr: 0x10000n, data: page(3), memsz: 3 * 4096 },
    ],
    notes: [
      { name: 'CORE', type: 1, desc: prstatus(0xffffffff81000000n) },
      { name: 'CORE', type: 1, desc: prstatus(0xffffffff81000010n) },
      { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(VMCOREINFO) },
      { name: 'QEMU', type: 0, desc: new Uint8Array(16) },
    ],
    ...o,
  });
  return { bytes, core: openVmcoreSource(new MemorySource('test.core', bytes)) };
}

describe('ElfCore', () => {
  it('reads across segment pages and page boundaries', () => {
    const { core } = open();
    expect(core.format).toBe('elf');
    const r = core.read(0x1ffcn, 8);
    expect([...r]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(core.read(0x10000n, 4096).every((b) => b === 3)).toBe(true);
  });

  it('fails excluded tails and absent memory with the address', () => {
    const { core } = open();
    const ex = (() => {
      try {
        core.read(0x10ff0n, 0x20);
      } catch (e) {
        return e;
      }
    })() as FaultError;
    expect(ex).toBeInstanceOf(FaultError);
    expect(ex.reason).toBe('excluded');
    expect(ex.address).toBe(0x11000n);
    expect(() => core.read(0x5000n, 1)).toThrow(/0x5000: not-in-dump/);
    expect(core.isPresent(0x1000n, 8192)).toBe(true);
    expect(core.isPresent(0x1000n, 8193)).toBe(false);
  });

  it('marks an incomplete dump (e_flags bit 0) and calls the missing tail lost', () => {
    const { core } = open({ flags: 1 });
    expect(core.incomplete).toBe(true);
    expect(() => core.read(0x11000n, 1)).toThrow(/lost/);
  });

  it('a PT_LOAD inside an earlier one\'s zero-fill is read from the file (libkdumpfile elf-overlap)', () => {
    // Segment A: 0x0..0x10000 in memory, only 0x0..0x8000 in the file; segment B: 0xc000..0xe000 in the file.
    const core = openVmcoreSource(
      new MemorySource('o.core', buildElf({ segments: [{ paddr: 0n, data: new Uint8Array(0x8000).fill(1), memsz: 0x10000 }, { paddr: 0xc000n, data: new Uint8Array(0x2000).fill(2) }] })),
    );
    expect(core.read(0x7fffn, 1)[0]).toBe(1);
    expect(core.read(0xc000n, 0x2000).every((b) => b === 2)).toBe(true);
    for (const addr of [0x8000n, 0xbfffn, 0xe000n, 0xffffn]) expect(() => core.read(addr, 1), addr.toString(16)).toThrow(/excluded/);
    expect(() => core.read(0x10000n, 1)).toThrow(/not-in-dump/);
    expect(core.ranges().map((r) => [Number(r.start), Number(r.end), r.state])).toEqual([
      [0, 0x8000, 'present'],
      [0x8000, 0xc000, 'excluded'],
      [0xc000, 0xe000, 'present'],
      [0xe000, 0x10000, 'excluded'],
    ]);
  });

  it('overlapping file-backed parts: the lower address, then the earlier header, wins', () => {
    const core = openVmcoreSource(
      new MemorySource('o2.core', buildElf({ segments: [{ paddr: 0x1000n, data: new Uint8Array(0x2000).fill(3) }, { paddr: 0x0n, data: new Uint8Array(0x2000).fill(4) }, { paddr: 0x1000n, data: new Uint8Array(0x1000).fill(5) }] })),
    );
    expect([0x0n, 0x1fffn, 0x2000n, 0x2fffn].map((a) => core.read(a, 1)[0])).toEqual([4, 4, 3, 3]);
  });

  it('reports ranges and page counts', () => {
    const { core } = open();
    expect(core.ranges()).toEqual([
      { start: 0n, end: 0x1000n, state: 'not-in-dump' },
      { start: 0x1000n, end: 0x3000n, state: 'present' },
      { start: 0x3000n, end: 0x10000n, state: 'not-in-dump' },
      { start: 0x10000n, end: 0x11000n, state: 'present' },
      { start: 0x11000n, end: 0x13000n, state: 'excluded' },
    ]);
    expect(core.pageCounts()).toMatchObject({ present: 3, excluded: 2 });
  });

  it('parses VMCOREINFO, NT_PRSTATUS and lists other notes', () => {
    const { core } = open();
    expect(core.vmcoreinfo?.osRelease).toBe('6.1.0-test');
    expect(core.physBase).toBe(-27262976n);
    expect(core.prstatus).toHaveLength(2);
    expect(core.prstatus[1].registers.rip).toBe(0xffffffff81000010n);
    expect(core.prstatus[0].pid).toBe(42);
    expect(core.notes.map((n) => n.name)).toEqual(['CORE', 'CORE', 'VMCOREINFO', 'QEMU']);
    expect(core.machine).toBe('x86_64');
  });

  it("handles QEMU 7.2's layout (sections before program headers, wrong e_ehsize) and PN_XNUM", () => {
    for (const o of [{ qemuLayout: true }, { pnXnum: true }, { qemuLayout: true, pnXnum: true }]) {
      const { core } = open(o);
      expect(core.read(0x2000n, 1)[0]).toBe(2);
      expect(core.header.programHeaders).toBe(3);
    }
  });

  it('exposes virtual segments only for real kernel addresses', () => {
    expect(open().core.virtualSegments).toEqual([]);
    const vaddr = 0xffff888000001000n;
    const { core } = open({ segments: [{ paddr: 0x1000n, vaddr, data: page(1) }, { paddr: 0x2000n, vaddr: 0x2000n, data: page(2) }] });
    expect(core.virtualSegments).toEqual([{ vaddr, paddr: 0x1000n, fileSize: 4096n, memSize: 4096n }]);
  });

  it('skips /proc/kcore segments without a physical address and clips overlaps', () => {
    const { core } = open({
      segments: [
        { paddr: 0xffffffffffffffffn, vaddr: 0xffffc90000000000n, data: page(7) }, // vmalloc
        { paddr: 0x1000n, vaddr: 0xffff888000001000n, data: new Uint8Array([...page(1), ...page(2)]) }, // direct map
        { paddr: 0x2000n, vaddr: 0xffffffff81000000n, data: page(2) }, // kernel text, same memory
      ],
    });
    expect(core.read(0x2000n, 1)[0]).toBe(2);
    expect(core.ranges().filter((r) => r.state === 'present')).toEqual([{ start: 0x1000n, end: 0x3000n, state: 'present' }]);
    expect(core.virtualSegments).toHaveLength(3);
  });

  it('ends a note list at zero padding (kdump /proc/vmcore pads per-CPU notes)', () => {
    const one = [5, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, ...Buffer.from('CORE\0\0\0\0'), 1, 2, 3, 4];
    const bytes = new Uint8Array([...one, ...new Uint8Array(64)]);
    const notes = parseNotes(bytes, 100, true, 'pad');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ name: 'CORE', type: 1, descOffset: 120 });
    expect(() => parseNotes(bytes.subarray(0, 22), 0, true, 'cut')).toThrow(/note/);
  });

  it('reads big-endian headers', () => {
    const { core } = open({ bigEndian: true, notes: [] });
    expect(core.read(0x1000n, 1)[0]).toBe(1);
    expect(core.header.byteOrder).toBe('big');
  });

  it('throws BadDataError with an offset when truncated at every structural boundary', () => {
    const { bytes } = open();
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const phoff = Number(dv.getBigUint64(32, true));
    const noteOff = Number(dv.getBigUint64(phoff + 8, true));
    const firstLoad = Number(dv.getBigUint64(phoff + 56 + 8, true));
    for (const cut of [0, 10, 63, 64, phoff + 20, phoff + 3 * 56 - 1, noteOff + 5, noteOff + 20, firstLoad + 100, bytes.length - 1]) {
      let err: unknown;
      try {
        openVmcoreSource(new MemorySource('cut.core', bytes.slice(0, cut)));
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(BadDataError);
      expect((err as BadDataError).offset, `cut at ${cut}`).toBeTypeOf('number');
    }
  });

  it('caps the program header count by the file size', () => {
    const { bytes } = open({ pnXnum: true });
    const b = bytes.slice();
    new DataView(b.buffer).setUint32(64 + 44, 0x7fffffff, true); // sh_info of section 0
    expect(() => openVmcoreSource(new MemorySource('x.core', b))).toThrow(/program headers past end/);
  });
});
