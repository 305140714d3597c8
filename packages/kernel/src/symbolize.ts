/**
 * Naming what a pointer points to, for printing it as drgn does (`(type)ext4_fs_type+0x0 = 0x…`),
 * through Kernel.symbolize (vmlinux kallsyms, module symbols, dynamic symbols). kallsyms has no
 * symbol sizes, so only an address that is exactly a symbol's is named (drgn, with ELF sizes, also
 * names addresses inside a symbol: `sym+0x10`).
 */
import { KbtfError } from '@kbtf/binary';
import type { Kernel } from './kernel.js';

export function exactSymbolizer(kernel: Kernel): (address: bigint) => string | undefined {
  return (address) => {
    try {
      const s = kernel.symbolize(address);
      return s && s.offset === 0n ? s.name : undefined;
    } catch (err) {
      if (err instanceof KbtfError) return undefined;
      throw err;
    }
  };
}
