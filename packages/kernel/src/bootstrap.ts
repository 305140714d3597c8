/**
 * Bootstrap declarations: the few globals kbtf needs before any companion BTF is loaded. Stock
 * vmlinux BTF has VARs only for per-CPU variables, so the types of `modules`, `btf_modules` and
 * friends are declared here by hand, each with the kernel source that defines it (checked against
 * Debian's linux-source-6.1; unchanged in 6.12), the same on x86_64 and arm64 (64-bit, little endian).
 * Every type named here is itself in vmlinux BTF.
 * A companion `vmlinux_btf` module, when loaded, supersedes this table.
 */
export interface BootstrapDeclaration {
  name: string;
  /** A C type name parsed against vmlinux BTF; `[]` takes the length from the kallsyms extent. */
  type: string;
  source: string;
}

export const BOOTSTRAP: readonly BootstrapDeclaration[] = [
  { name: 'modules', type: 'struct list_head', source: 'kernel/module/main.c: LIST_HEAD(modules);' },
  { name: 'btf_modules', type: 'struct list_head', source: 'kernel/bpf/btf.c: static LIST_HEAD(btf_modules);' },
  { name: 'jiffies_64', type: 'u64', source: 'kernel/time/timer.c: __visible u64 jiffies_64 __cacheline_aligned_in_smp = INITIAL_JIFFIES;' },
  { name: 'jiffies', type: 'unsigned long', source: 'arch/x86/kernel/vmlinux.lds.S and arch/arm64/kernel/vmlinux.lds.S: jiffies = jiffies_64; (little endian: the low word)' },
  { name: 'init_uts_ns', type: 'struct uts_namespace', source: 'init/version.c: struct uts_namespace init_uts_ns __weak;' },
  { name: 'saved_command_line', type: 'char *', source: 'init/main.c: char *saved_command_line;' },
  { name: 'tainted_mask', type: 'unsigned long', source: 'kernel/panic.c: static unsigned long tainted_mask;' },
  { name: '__per_cpu_offset', type: 'unsigned long []', source: 'arch/x86/kernel/setup_percpu.c: unsigned long __per_cpu_offset[NR_CPUS] __ro_after_init; arm64: drivers/base/arch_numa.c (CONFIG_NUMA, Debian) or mm/percpu.c: unsigned long __per_cpu_offset[NR_CPUS] __read_mostly;' },
  { name: 'shadow_timekeeper', type: 'struct timekeeper', source: 'kernel/time/timekeeping.c: static struct timekeeper shadow_timekeeper;' },
];

export function bootstrapDeclaration(name: string): BootstrapDeclaration | undefined {
  return BOOTSTRAP.find((d) => d.name === name);
}
