export * from './errors.js';
export * from './cursor.js';
export * from './writer.js';
