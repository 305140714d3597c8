import { describe, expect, it } from 'vitest';
import { parseBtf, writeBtf, type BtfType } from '@kbtf/btf';
import { SparseMemory } from './test-memory.js';
import { KernelMemory } from './memory.js';
import { KObject, containerOf, listForEachEntry, listForEachEntryReverse, offsetOf } from './object.js';
import { formatObject } from './format.js';
import { btfType, parseTypeName, pointerTo, typeName } from './ktype.js';

/** A tiny BTF with what the object layer must handle: bitfields, enums, char arrays, anonymous unions, lists. */
const TYPES: BtfType[] = [
  { id: 1, kind: 'int', name: 'unsigned int', size: 4, encoding: 0, bitsOffset: 0, bits: 32 },
  { id: 2, kind: 'int', name: 'char', size: 1, encoding: 1, bitsOffset: 0, bits: 8 },
  { id: 3, kind: 'int', name: 'long unsigned int', size: 8, encoding: 0, bitsOffset: 0, bits: 64 },
  { id: 4, kind: 'ptr', name: '', type: 5 },
  {
    id: 5, kind: 'struct', name: 'item', size: 48, bitfields: true, members: [
      { name: 'a', type: 11, bitOffset: 0, bitfieldSize: 0 },
      { name: 'lo', type: 1, bitOffset: 32, bitfieldSize: 3 },
      { name: 'hi', type: 13, bitOffset: 35, bitfieldSize: 5 },
      { name: 'state', type: 6, bitOffset: 64, bitfieldSize: 0 },
      { name: 'name', type: 7, bitOffset: 96, bitfieldSize: 0 },
      { name: 'list', type: 8, bitOffset: 192, bitfieldSize: 0 },
      { name: '', type: 10, bitOffset: 320, bitfieldSize: 0 },
      { name: 'ok', type: 12, bitOffset: 352, bitfieldSize: 0 },
    ],
  },
  { id: 6, kind: 'enum', name: 'state', size: 4, signed: false, values: [{ name: 'ST_A', value: 0 }, { name: 'ST_B', value: 1 }, { name: 'ST_C', value: 7 }] },
  { id: 7, kind: 'array', name: '', type: 2, indexType: 1, nelems: 8 },
  { id: 8, kind: 'struct', name: 'list_head', size: 16, bitfields: false, members: [{ name: 'next', type: 9, bitOffset: 0, bitfieldSize: 0 }, { name: 'prev', type: 9, bitOffset: 64, bitfieldSize: 0 }] },
  { id: 9, kind: 'ptr', name: '', type: 8 },
  { id: 10, kind: 'union', name: '', size: 4, bitfields: false, members: [{ name: 'u', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'c', type: 2, bitOffset: 0, bitfieldSize: 0 }] },
  { id: 11, kind: 'typedef', name: 'u32', type: 1 },
  { id: 12, kind: 'int', name: '_Bool', size: 1, encoding: 4, bitsOffset: 0, bits: 8 },
  { id: 13, kind: 'int', name: 'int', size: 4, encoding: 1, bitsOffset: 0, bits: 32 },
];

const V = 0xffff888000100000n;
const P = 0x100000n;

function setup() {
  const btf = parseBtf(writeBtf(TYPES), { source: 'test BTF' });
  const phys = new SparseMemory();
  const mem = new KernelMemory(phys, undefined, [{ vaddr: V, paddr: P, fileSize: 0x10000n, memSize: 0x10000n }]);
  const put = (v: bigint, bytes: Uint8Array) => phys.write(P + (v - V), bytes);
  const u64 = (v: bigint, x: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, x, true);
    put(v, b);
  };
  // head at V; items at V+0x100 and V+0x200, linked head → item1 → item2 → head.
  const head = V;
  const items = [V + 0x100n, V + 0x200n];
  const lists = items.map((i) => i + 24n);
  u64(head, lists[0]);
  u64(head + 8n, lists[1]);
  u64(lists[0], lists[1]);
  u64(lists[0] + 8n, head);
  u64(lists[1], head);
  u64(lists[1] + 8n, lists[0]);
  // item 1: a = 0xdeadbeef, lo = 5, hi = -3 (5 bits: 0b11101), state = ST_C, name "one", union u = 0x41, ok = 1.
  put(items[0], Uint8Array.from([0xef, 0xbe, 0xad, 0xde]));
  put(items[0] + 4n, Uint8Array.from([5 | (0b11101 << 3), 0, 0, 0]));
  put(items[0] + 8n, Uint8Array.from([7, 0, 0, 0]));
  put(items[0] + 12n, new TextEncoder().encode('one\0'));
  put(items[0] + 40n, Uint8Array.from([0x41, 0, 0, 0, 1]));
  put(items[1] + 8n, Uint8Array.from([9, 0, 0, 0]));
  put(items[1] + 12n, new TextEncoder().encode('two-long'));
  return { btf, mem, head, items, item: btfType(btf, 5), listHead: btfType(btf, 8) };
}

describe('KObject', () => {
  it('reads members, bitfields (signed and unsigned), enums, strings, anonymous union members', () => {
    const { mem, items, item } = setup();
    const o = new KObject(mem, item, items[0]);
    expect(o.member('a').value()).toBe(0xdeadbeefn);
    expect(o.member('a').typeName).toBe('u32');
    expect(o.member('lo').value()).toBe(5n);
    expect(o.member('hi').value()).toBe(-3n);
    expect(o.member('state').enumName()).toBe('ST_C');
    expect(new TextDecoder().decode(o.member('name').string())).toBe('one');
    expect(o.member('u').value()).toBe(0x41n);
    expect(o.member('c').value()).toBe(0x41n);
    expect(o.path('name[1]').value()).toBe(BigInt('n'.charCodeAt(0)));
    expect(new KObject(mem, item, items[1]).member('state').enumName()).toBeUndefined();
    expect(new TextDecoder().decode(new KObject(mem, item, items[1]).member('name').string())).toBe('two-long');
    expect(() => o.member('nope')).toThrow(/struct item has no member 'nope'/);
  });

  it('dereferences, casts, takes addresses and indexes through pointers', () => {
    const { btf, mem, items, item } = setup();
    const p = KObject.fromValue(mem, pointerTo(item), items[0]);
    expect(p.typeName).toBe('struct item *');
    expect(p.member('a').value()).toBe(0xdeadbeefn); // drgn's implicit dereference
    expect(p.deref().addressOf().value()).toBe(items[0]);
    expect(p.index(1).address).toBe(items[0] + 48n);
    expect(KObject.fromValue(mem, btfType(btf, 3), items[1]).cast(parseTypeName(btf, 'struct item *')).deref().member('state').value()).toBe(9n);
    expect(typeName(parseTypeName(btf, 'char [8]'))).toBe('char [8]');
    expect(typeName(parseTypeName(btf, 'unsigned long *'))).toBe('unsigned long *');
  });

  it('walks lists both ways and computes container_of and offsetof', () => {
    const { mem, head, items, item, listHead } = setup();
    const h = new KObject(mem, listHead, head);
    expect([...listForEachEntry(h, item, 'list')].map((p) => p.value())).toEqual(items);
    expect([...listForEachEntryReverse(h, item, 'list')].map((p) => p.value())).toEqual([...items].reverse());
    expect(offsetOf(item, 'list.prev')).toBe(32);
    expect(containerOf(new KObject(mem, listHead, items[1] + 24n), item, 'list').value()).toBe(items[1]);
  });

  it('prints like drgn', () => {
    const { mem, items, item } = setup();
    expect(formatObject(new KObject(mem, item, items[0]))).toBe(
      [
        '(struct item){',
        '\t.a = (u32)3735928559,',
        '\t.lo = (unsigned int)5,',
        '\t.hi = (int)-3,',
        '\t.state = (enum state)ST_C,',
        '\t.name = (char [8])"one",',
        '\t.list = (struct list_head){',
        `\t\t.next = (struct list_head *)0x${(items[1] + 24n).toString(16)},`,
        '\t\t.prev = (struct list_head *)0xffff888000100000,',
        '\t},',
        // drgn 0.0.22 shows an anonymous union's members in its parent's place.
        '\t.u = (unsigned int)65,',
        '\t.c = (char)65,',
        '\t.ok = (_Bool)true,',
        '}',
      ].join('\n'),
    );
    expect(formatObject(new KObject(mem, item, items[1]).member('state'))).toBe('(enum state)9');
  });
});
