export { main, EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE } from './main.js';
export type { Command, CommandContext } from './cli/command.js';
export { Output, table } from './cli/output.js';
export { VERSION } from './version.js';
