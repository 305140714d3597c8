import type { Command } from '../cli/command.js';

/**
 * The command table. Each entry loads its file only when the command runs, so `kbtf --help`
 * and each command start fast. One line per command; keep the list sorted.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<{ command: Command }>;
}

export const commands: CommandEntry[] = [
  { name: 'btf', summary: 'read, check and print BTF (raw blobs or ELF .BTF)', load: () => import('./btf.js') },
  { name: 'check', summary: 'pre-deploy check: will this root tree load companions and keep them in crash dumps?', load: () => import('./check.js') },
  { name: 'companion', summary: 'build companion modules (M-btf.ko, vmlinux-btf.ko) from a Debian kernel\'s DWARF', load: () => import('./companion.js') },
  { name: 'hook', summary: 'modprobe.d install helper: load MODULE, then its companion', load: () => import('./hook.js') },
  { name: 'info', summary: 'describe a vmcore: format, headers, VMCOREINFO, release, page counts, compression', load: () => import('./info.js') },
  { name: 'modprobe-config', summary: 'render the modprobe.d softdeps that make kmod load companions', load: () => import('./modprobe-config.js') },
  { name: 'modules', summary: 'list the modules loaded in a vmcore, with their memory, symbols and BTF', load: () => import('./modules.js') },
  { name: 'policy', summary: 'companion policy: effective settings and their sources', load: () => import('./policy.js') },
  { name: 'print', summary: 'print kernel variables and objects from a vmcore, the way drgn prints them', load: () => import('./print.js') },
  { name: 'read', summary: 'hex dump of memory from a vmcore', load: () => import('./read.js') },
  { name: 'symbols', summary: 'list every kernel, module, BPF, ftrace and kprobe symbol in a vmcore, as /proc/kallsyms does', load: () => import('./symbols.js') },
  { name: 'sync', summary: 'load the companions of modules already loaded, with modprobe', load: () => import('./sync.js') },
  { name: 'verify', summary: 'check that a vmcore can be debugged with what is inside it: kallsyms, BTF, companions', load: () => import('./verify.js') },
  { name: 'version', summary: 'print the version of kbtf and of the contracts it implements', load: () => import('./version.js') },
];
