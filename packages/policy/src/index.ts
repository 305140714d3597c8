// @kbtf/policy — which companions a host loads, making kmod load them, and the pre-deploy check.
// The user-facing spec is docs/policy.md; the contracts are docs/design.md §2–4.
export * from './root-tree.js';
export * from './glob.js';
export * from './names.js';
export * from './setting-source.js';
export * from './cmdline.js';
export * from './sysctl.js';
export * from './conf-files.js';
export * from './policy-file.js';
export * from './settings.js';
export * from './decide.js';
export * from './modules.js';
export * from './modprobe-d.js';
// A module's sections are read with @kbtf/binary's ELF reader (ElfFile); its BTF rules are @kbtf/btf's companionRules.
export * from './modinfo.js';
export * from './render.js';
export * from './exec.js';
export * from './sync.js';
export * from './hook.js';
export * from './check.js';
export * from './wiring.js';
export * from './check-wiring.js';
export * from './kdump.js';
export * from './makedumpfile-versions.js';
export * from './check-kdump.js';
