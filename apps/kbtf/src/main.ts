import { parseArgs } from 'node:util';
import { KbtfError, UsageError } from '@kbtf/binary';
import { globalOptions, type Command } from './cli/command.js';
import { Output, type Sink, table } from './cli/output.js';
import { commands } from './commands/index.js';
import { VERSION } from './version.js';

/** Exit codes every command shares. */
export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_UNUSABLE = 2;

export interface MainIO {
  stdout?: Sink;
  stderr?: Sink;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Run `kbtf ARGV`, returning the exit code. Never throws. */
export async function main(argv: string[], io: MainIO = {}): Promise<number> {
  const stdout = io.stdout ?? processSink(process.stdout);
  const stderr = io.stderr ?? processSink(process.stderr);
  const env = io.env ?? process.env;
  const json = argv.includes('--json');
  const out = new Output(stdout, stderr, { json, env });
  try {
    return await dispatch(argv, out, env, io.cwd ?? process.cwd());
  } catch (err) {
    out.error(err);
    return EXIT_UNUSABLE;
  }
}

/**
 * A process stream whose reader may go away (`kbtf symbols DUMP | head -1`): once the pipe is
 * closed (EPIPE) the rest of the output is dropped and the command ends with its own exit code,
 * quietly, as `cat` and `git` do, instead of an unhandled 'error' event and a stack trace.
 */
function processSink(stream: NodeJS.WriteStream): Sink {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') closed = true;
    else throw err;
  });
  return {
    isTTY: stream.isTTY,
    write: (chunk: string) => closed || stream.write(chunk),
    writeBytes: (chunk: Uint8Array) => closed || stream.write(chunk),
  };
}

async function dispatch(argv: string[], out: Output, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && argv[1]) return dispatch([argv[1], '--help'], out, env, cwd);
    out.line(topHelp());
    return first === undefined ? EXIT_UNUSABLE : EXIT_OK;
  }
  if (first === '--version' || first === '-V') {
    out.line(VERSION);
    return EXIT_OK;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' before the command (see kbtf --help)`);
  const entry = commands.find((c) => c.name === first);
  if (!entry) throw new UsageError(`unknown command '${first}' (see kbtf --help)`);
  const { command } = await entry.load();
  return runCommand(command, [command.name], argv.slice(1), out, env, cwd);
}

async function runCommand(command: Command, path: string[], argv: string[], out: Output, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  if (command.subcommands) {
    const sub = argv[0];
    if (sub === undefined || sub === '--help' || sub === '-h') {
      out.line(commandHelp(command, path));
      return sub === undefined ? EXIT_UNUSABLE : EXIT_OK;
    }
    const next = command.subcommands[sub];
    if (!next) throw new UsageError(`unknown subcommand '${path.join(' ')} ${sub}' (see kbtf ${path.join(' ')} --help)`);
    return runCommand(next, [...path, sub], argv.slice(1), out, env, cwd);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...globalOptions, ...command.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${path.join(' ')}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed.values.help) {
    out.line(commandHelp(command, path));
    return EXIT_OK;
  }
  if (!command.run) throw new UsageError(`${path.join(' ')} cannot run`);
  return command.run({ args: parsed.positionals, values: parsed.values, out, env, cwd });
}

function topHelp(): string {
  return [
    'kbtf — make Linux crash dumps self-contained: companion BTF for global variables, checked end to end',
    '',
    'Usage: kbtf <command> [options]   (kbtf <command> --help for details)',
    '',
    'Commands:',
    table(['  command', 'summary'], commands.map((c) => [`  ${c.name}`, c.summary])).split('\n').slice(1).join('\n'),
    '',
    'Global options: --json (one JSON document on stdout), --help, --version',
    'Exit codes: 0 ok, 1 the check found problems, 2 unusable input or usage error',
    'Environment: NO_COLOR disables colour (colour is only used on a terminal)',
  ].join('\n');
}

function commandHelp(command: Command, path: string[]): string {
  const lines = [`kbtf ${path.join(' ')} — ${command.summary}`, '', 'Usage:'];
  for (const u of command.usage) lines.push(`  kbtf ${u}`);
  if (command.subcommands) {
    lines.push('', 'Subcommands:');
    lines.push(...table(['', ''], Object.values(command.subcommands).map((s) => [`  ${s.name}`, s.summary])).split('\n').slice(1));
  }
  if (command.help) lines.push('', command.help.trim());
  return lines.join('\n');
}

export { KbtfError };
