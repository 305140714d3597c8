import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What a command gets: its positionals, its parsed options and where to write. */
export interface CommandContext {
  args: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  out: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * One `kbtf <command>`: a thin file over the packages. `run` returns the exit code:
 * 0 ok, 1 the check found problems; unusable input throws (a KbtfError), which the CLI maps to 2.
 * A command with subcommands (`kbtf btf dump`) lists them in `subcommands`.
 */
export interface Command {
  name: string;
  summary: string;
  /** Usage lines after `kbtf `, e.g. `info VMCORE [--json]`. */
  usage: string[];
  /** Longer help text: what it does, option meanings, exit codes. */
  help?: string;
  options?: OptionSpec;
  /** Subcommand name → command; `run` is then ignored. */
  subcommands?: Record<string, Command>;
  run?(ctx: CommandContext): Promise<number>;
}

/** Options every command accepts. */
export const globalOptions: OptionSpec = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
