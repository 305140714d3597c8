export * from './errors.js';
export * from './cursor.js';
export * from './writer.js';
export * from './input-file.js';
export * from './elf.js';
export * from './process.js';
export * from './address.js';
export * from './hexdump.js';
