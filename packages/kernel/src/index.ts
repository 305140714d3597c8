// @kbtf/kernel — from a vmcore's physical memory to kernel objects, with no DWARF. See docs/kernel.md.
export * from './arch.js';
export * from './x86_64.js';
export * from './arm64.js';
export * from './memory.js';
export * from './kallsyms.js';
export * from './name-hash.js';
export * from './ktype.js';
export * from './object.js';
export * from './bootstrap.js';
export * from './kernel.js';
export * from './modules.js';
export * from './dynamic-ksyms.js';
export * from './proc-kallsyms.js';
export * from './format.js';
export * from './expr.js';
export * from './symbolize.js';
