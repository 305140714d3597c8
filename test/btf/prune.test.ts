/**
 * Pruning a companion-style split BTF built on real module BTF: VARs for a few ext4 types in a
 * `.data` DATASEC (one variable twice at one offset, as pahole 1.30 does) and a bogus `.debug_info`
 * DATASEC. The pruned BTF keeps the VARs and what they reach, drops the rest, and validates.
 */
import { describe, expect, it } from 'vitest';
import { parseBtf, pruneSplit, typeRefs, validateBtf, writeBtf, type BtfType } from '@kbtf/btf';
import { labKernels, labModuleBtf, labVmlinuxBtf } from './lab-btf.js';

describe('pruneSplit on real module BTF', () => {
  for (const k of labKernels()) {
    it(`lab ${k.kver}: ext4 companion-style BTF`, () => {
      const vm = parseBtf(labVmlinuxBtf(k));
      const mod = parseBtf(labModuleBtf(k, 'ext4'), { base: vm });
      const sb = mod.findByName('ext4_sb_info', 'struct')!;
      const inode = mod.findByName('ext4_inode_info', 'struct')!;
      const intId = vm.findByName('int', 'int')!.id;
      expect(sb.id).toBeGreaterThanOrEqual(mod.firstId);
      const types: BtfType[] = [...mod.types()];
      let id = mod.endId;
      const v1 = id++, v2 = id++, v3 = id++, vdup = id++, vnote = id++;
      const ds = id++, dbg = id++;
      types.push(
        { id: v1, kind: 'var', name: 'ext4_sb_example', type: sb.id, linkage: 0 },
        { id: v2, kind: 'var', name: 'ext4_inode_example', type: inode.id, linkage: 1 },
        { id: v3, kind: 'var', name: 'ext4_counter', type: intId, linkage: 0 },
        { id: vdup, kind: 'var', name: 'ext4_counter', type: intId, linkage: 0 },
        { id: vnote, kind: 'var', name: '_note_18', type: intId, linkage: 0 },
        { id: ds, kind: 'datasec', name: '.data', size: 0x10000, vars: [
          { type: v1, offset: 0, size: mod.sizeof(sb.id) },
          { type: v3, offset: 0x8000, size: 4 },
          { type: vdup, offset: 0x8000, size: 4 },
          { type: v2, offset: 0x9000, size: mod.sizeof(inode.id) },
        ] },
        { id: dbg, kind: 'datasec', name: '.debug_info', size: 8, vars: [{ type: vnote, offset: 0, size: 4 }] },
      );
      const companion = writeBtf(types, { base: vm });
      const full = parseBtf(companion, { base: vm });
      // The duplicate entry makes the unpruned BTF invalid, as the kernel would say.
      expect(validateBtf(companion, { base: vm, mode: 'module' }).errors[0]).toMatchObject({ typeId: ds, message: 'Invalid offset' });

      const r = pruneSplit(full);
      expect(r.droppedDatasecs).toEqual(['.debug_info']);
      expect(r.droppedEntries.map((e) => e.entry.type)).toEqual([vdup]);
      expect(validateBtf(r.bytes, { base: vm, kernel: '6.1' }).errors).toEqual([]);
      const pruned = parseBtf(r.bytes, { base: vm });
      expect(pruned.firstId).toBe(vm.endId);
      expect(pruned.count).toBeLessThan(mod.count);
      expect(pruned.count).toBe(r.idMap.size);
      // The module's own VARs (6.12 has per-cpu ones) stay, plus ours, once each; `_note_18` is gone.
      const before = [...mod.typesOfKind('var')].map((v) => v.name);
      const vars = [...pruned.typesOfKind('var')].map((v) => v.name).sort();
      expect(vars).toEqual([...before, 'ext4_counter', 'ext4_inode_example', 'ext4_sb_example'].sort());
      expect([...pruned.typesOfKind('datasec')].map((d) => d.name)).toEqual([...[...mod.typesOfKind('datasec')].map((d) => d.name), '.data']);
      // Closed: every reference is void, a base type or a pruned type; nothing unreachable kept.
      const reached = new Set<number>();
      const stack = [...pruned.typesOfKind('datasec')].map((d) => d.id);
      while (stack.length) {
        const t = stack.pop()!;
        if (reached.has(t)) continue;
        reached.add(t);
        for (const ref of typeRefs(pruned.type(t))) {
          expect(ref).toBeLessThan(pruned.endId);
          if (ref >= pruned.firstId) stack.push(ref);
        }
      }
      expect(reached.size).toBe(pruned.count);
      // Same layout through the new ids.
      const newSb = pruned.findByName('ext4_sb_info', 'struct')!;
      const a = pruned.memberPath(newSb.id, 's_es');
      const b = mod.memberPath(sb.id, 's_es');
      expect({ ...a, typeId: pruned.nameOf(a.typeId) }).toEqual({ ...b, typeId: mod.nameOf(b.typeId) });
      expect(r.idMap.get(b.typeId) ?? b.typeId).toBe(a.typeId);
    });
  }
});
