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
  { name: 'version', summary: 'print the version of kbtf and of the contracts it implements', load: () => import('./version.js') },
];
