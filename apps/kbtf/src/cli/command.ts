import type { Output } from './output.js';

/**
 * One option, as node:util parseArgs declares it. A command's `options` is a record of these, and
 * the values its `run` gets are typed from that record (OptionValues): no casts in a command.
 */
export interface OptionDecl {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}

export type OptionDecls = Record<string, OptionDecl>;

/** The parsed value of one declared option: `--x V` a string, `--x` a boolean, `multiple` an array. */
export type OptionValue<D extends OptionDecl> = D['type'] extends 'string'
  ? D['multiple'] extends true ? string[] : string
  : D['multiple'] extends true ? boolean[] : boolean;

/** Options every command accepts. */
export const globalOptions = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionDecls;

/** What `run` gets for the declaration `O`: each option absent (undefined) or its value. */
export type OptionValues<O extends OptionDecls> = { [K in keyof O]?: OptionValue<O[K]> } & { [K in keyof typeof globalOptions]?: boolean };

/** What a command gets: its positionals, its parsed options and where to write. */
export interface CommandContext<O extends OptionDecls = OptionDecls> {
  args: string[];
  values: OptionValues<O>;
  out: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * One `kbtf <command>`: a thin file over the packages. `run` returns the exit code:
 * 0 ok, 1 the check found problems; unusable input throws (a KbtfError), which the CLI maps to 2.
 * A command with subcommands (`kbtf btf dump`) lists them in `subcommands`.
 * Declare one with `defineCommand`, which types `run`'s values from `options`.
 */
export interface Command<O extends OptionDecls = OptionDecls> {
  name: string;
  summary: string;
  /** Usage lines after `kbtf `, e.g. `info VMCORE [--json]`. */
  usage: string[];
  /** Longer help text: what it does, option meanings, exit codes. */
  help?: string;
  options?: O;
  /** Subcommand name → command; `run` is then ignored. */
  subcommands?: Record<string, Command>;
  /** Synchronous when the command awaits nothing (main awaits either). */
  run?(ctx: CommandContext<O>): number | Promise<number>;
}

/** A command whose `run` sees its own options' types (`values.root` is `string | undefined`). */
export function defineCommand<const O extends OptionDecls = Record<never, OptionDecl>>(command: Command<O>): Command<O> {
  return command;
}
