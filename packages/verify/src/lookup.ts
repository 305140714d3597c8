/**
 * `--lookup EXPR`: resolve an expression with nothing but the dump, and say why when it cannot.
 *   jiffies_64, init_uts_ns.name.release, *(struct module *)0x…   kernel expressions (kbtf print)
 *   ext4:ext4_li_info, ext4:ext4_li_info.li_state                  a module global, typed by the
 *                                                                  module's companion `ext4_btf`
 */
import { KbtfError, NotFoundError, hex } from '@kbtf/binary';
import { parseBtf } from '@kbtf/btf';
import { KObject, btfType, evaluate, exactSymbolizer, formatObject, type Kernel } from '@kbtf/kernel';
import { foldName } from '@kbtf/policy';
import type { LookupResult } from './report.js';

const MODULE_REF = /^([A-Za-z0-9_-]{1,55}):([A-Za-z_][A-Za-z0-9_]*)((?:\.|\[).*)?$/;

export function lookup(kernel: Kernel, expr: string): LookupResult {
  try {
    const m = MODULE_REF.exec(expr.trim());
    const obj = m ? moduleGlobal(kernel, m[1], m[2], m[3]) : evaluate(kernel, expr);
    return { expr, status: 'resolved', type: obj.typeName, address: obj.address === undefined ? undefined : hex(obj.address), value: formatObject(obj, { symbolize: exactSymbolizer(kernel) }) };
  } catch (err) {
    if (err instanceof KbtfError) return { expr, status: 'failed', error: err.message };
    throw err;
  }
}

function moduleGlobal(kernel: Kernel, moduleName: string, name: string, rest: string | undefined): KObject {
  const folded = foldName(moduleName);
  const mods = kernel.modules();
  const mod = mods.find((x) => foldName(x.name) === folded);
  if (!mod) throw new NotFoundError(`module ${moduleName} is not loaded`);
  const companion = mods.find((x) => foldName(x.name) === `${folded}_btf`);
  if (!companion) throw new NotFoundError(`${moduleName}: companion ${folded}_btf is not loaded: no type for '${name}'`);
  if (!companion.btfBytes) throw new NotFoundError(`${moduleName}: companion ${folded}_btf has no BTF in btf_modules`);
  const btf = parseBtf(companion.btfBytes, { base: kernel.btf, source: `${folded}_btf BTF` });
  const varId = btf.findAllByName(name, 'var')[0];
  if (varId === undefined) throw new NotFoundError(`${folded}_btf has no variable '${name}'`);
  const sym = mod.symbols.find((s) => s.name === name);
  if (!sym) throw new NotFoundError(`${moduleName} has no symbol '${name}'`);
  const v = btf.type(varId) as unknown as { type: number };
  let obj = new KObject(kernel.memory, btfType(btf, v.type), sym.value);
  if (rest) obj = obj.path(rest.replace(/^\./, ''));
  return obj;
}
