/**
 * `--lookup EXPR`: resolve an expression with nothing but the dump, and say why when it cannot.
 *   jiffies_64, init_uts_ns.name.release, *(struct module *)0x…   kernel expressions (kbtf print)
 *   ext4:ext4_li_info, ext4:ext4_li_info.li_state                  a module global, typed by the
 *                                                                  module's companion `ext4_btf`
 * The language is @kbtf/kernel's (expr.ts); pointers to symbols print with the symbol, as drgn.
 */
import { KbtfError, hex } from '@kbtf/binary';
import { evaluate, exactSymbolizer, formatObject, type Kernel } from '@kbtf/kernel';
import type { LookupResult } from './report.js';

export function lookup(kernel: Kernel, expr: string): LookupResult {
  try {
    const obj = evaluate(kernel, expr.trim());
    return { expr, status: 'resolved', type: obj.typeName, address: obj.address === undefined ? undefined : hex(obj.address), value: formatObject(obj, { symbolize: exactSymbolizer(kernel) }) };
  } catch (err) {
    if (err instanceof KbtfError) return { expr, status: 'failed', error: err.message };
    throw err;
  }
}
