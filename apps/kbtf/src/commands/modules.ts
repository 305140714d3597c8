import { UsageError } from '@kbtf/binary';
import { openKernel, type KernelModule } from '@kbtf/kernel';
import { defineCommand } from '../cli/command.js';
import { table } from '../cli/output.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function moduleJson(m: KernelModule, sections: boolean): Record<string, unknown> {
  return {
    name: m.name,
    state: m.stateName,
    taints: m.taints,
    address: hex(m.address),
    base: hex(m.base),
    size: m.size,
    regions: m.regions.map((r) => ({ name: r.name, base: hex(r.base), size: r.size })),
    btf: m.btfBytes ? { size: m.btfBytes.length, sha256: m.btfSha256 } : null,
    ...(m.btfError ? { btfError: m.btfError } : {}),
    symbols: m.symbolCount,
    ...(sections ? { sections: m.sections.map((s) => ({ name: s.name, address: hex(s.address) })) } : {}),
  };
}

export const command = defineCommand({
  name: 'modules',
  summary: 'list the modules loaded in a vmcore, with their memory, symbols and BTF',
  usage: ['modules VMCORE [--sections] [--btf FILE] [--json]'],
  help: `Walks the kernel's module list in the dump with vmlinux BTF from the dump (no DWARF): for each
module its name, state and taints (as /proc/modules), the address of its struct module, base and size (as
/proc/modules), the size and SHA-256 of its BTF (as /sys/kernel/btf/NAME), and its symbol count.
--sections adds each module's section addresses (/sys/module/NAME/sections).
--btf FILE takes vmlinux BTF from FILE instead of the dump.
Exit 0, or 2 when the dump cannot be read.`,
  options: { sections: { type: 'boolean' }, btf: { type: 'string' } },
  run({ args, values, out }) {
    if (args.length !== 1) throw new UsageError('modules: give one VMCORE');
    const kernel = openKernel(args[0], { btfPath: values.btf });
    try {
      const modules = kernel.modules();
      const sections = !!values.sections;
      const unreadable = modules.filter((m) => m.btfError);
      if (unreadable.length) out.warn(`BTF of ${unreadable.length} module(s) unreadable from the dump (${unreadable.map((m) => m.name).join(', ')}): ${unreadable[0].btfError}`);
      if (out.json) {
        out.document({ kernel: kernel.vmcoreinfo.osRelease ?? null, modules: modules.map((m) => moduleJson(m, sections)) });
        return 0;
      }
      const rows = modules.map((m) => [
        m.name,
        m.taints ? `${m.stateName} (${m.taints})` : m.stateName,
        hex(m.address),
        hex(m.base),
        String(m.size),
        m.btfBytes ? String(m.btfBytes.length) : m.btfError ? 'unreadable' : '-',
        m.btfSha256 ?? '-',
        String(m.symbolCount),
      ]);
      out.line(table(['name', 'state', 'struct module', 'base', 'size', 'btf', 'btf sha256', 'symbols'], rows));
      if (sections) {
        for (const m of modules) {
          out.line(`\n${m.name}:`);
          for (const s of m.sections) out.line(`  ${s.name.padEnd(28)} ${hex(s.address)}`);
        }
      }
      return 0;
    } finally {
      kernel.close();
    }
  },
});
