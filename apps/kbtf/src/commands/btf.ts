import { resolve } from 'node:path';
import { MAX_OBJECT_FILE, readRegularFile, UsageError } from '@kbtf/binary';
import { btfBytesFromFile, btfStats, formatC, formatJson, formatRawBytes, formatRawChunks, parseBtf, validateBtf, type Btf } from '@kbtf/btf';
import { defineCommand, type CommandContext, type OptionDecls } from '../cli/command.js';

function readFile(ctx: CommandContext, file: string): Uint8Array {
  const path = resolve(ctx.cwd, file);
  return readRegularFile(path, MAX_OBJECT_FILE, 'BTF or an ELF object');
}

function oneFile(ctx: CommandContext): string {
  if (ctx.args.length !== 1) throw new UsageError('expected exactly one FILE (raw BTF, or an ELF object/module with .BTF)');
  return ctx.args[0];
}

/** `--base FILE`: the base BTF of split BTF (a module's on vmlinux), for every subcommand. */
const baseOption = { base: { type: 'string', short: 'B' } } as const satisfies OptionDecls;

function loadBase(ctx: CommandContext<typeof baseOption>): Btf | undefined {
  const base = ctx.values.base;
  if (base === undefined) return undefined;
  return parseBtf(btfBytesFromFile(readFile(ctx, base), base), { source: base });
}

const dump = defineCommand({
  name: 'dump',
  summary: 'print BTF: raw (bpftool format), c (a header), json',
  usage: ['btf dump FILE [--base FILE] [--format raw|c|json]'],
  options: { ...baseOption, format: { type: 'string', short: 'f' } },
  help: '`raw` matches `bpftool btf dump file FILE format raw` line for line (with --base: `bpftool --base-btf`).',
  run(ctx) {
    const file = oneFile(ctx);
    const format = ctx.values.format ?? (ctx.out.json ? 'json' : 'raw');
    if (!['raw', 'c', 'json'].includes(format)) throw new UsageError(`unknown --format '${format}' (raw, c, json)`);
    const base = loadBase(ctx);
    const btf = parseBtf(btfBytesFromFile(readFile(ctx, file), file), { base, source: file });
    if (format === 'json') ctx.out.stdout.write(formatJson(btf));
    else if (format === 'c') ctx.out.stdout.write(formatC(btf));
    else if (ctx.out.stdout.writeBytes) for (const chunk of formatRawBytes(btf)) ctx.out.stdout.writeBytes(chunk);
    else for (const chunk of formatRawChunks(btf)) ctx.out.stdout.write(chunk);
    return 0;
  },
});

const validate = defineCommand({
  name: 'validate',
  summary: "check BTF by the kernel's rules (exit 0 valid, 1 invalid, 2 unreadable)",
  usage: ['btf validate FILE [--base FILE] [--mode full|module] [--kernel current|6.1] [--json]'],
  options: { ...baseOption, mode: { type: 'string' }, kernel: { type: 'string' } },
  help: [
    '--mode full (default): what the kernel checks on BPF_BTF_LOAD (adds type resolution: loops, sizes, members).',
    '--mode module: what the kernel checks when a module (a companion) loads.',
    "--kernel 6.1: Linux 6.1's rules exactly; current (default) also accepts kind_flag on type/decl tags.",
  ].join('\n'),
  run(ctx) {
    const file = oneFile(ctx);
    const mode = ctx.values.mode ?? 'full';
    const kernel = ctx.values.kernel ?? 'current';
    if (mode !== 'full' && mode !== 'module') throw new UsageError(`unknown --mode '${mode}' (full, module)`);
    if (kernel !== 'current' && kernel !== '6.1') throw new UsageError(`unknown --kernel '${kernel}' (current, 6.1)`);
    const base = loadBase(ctx);
    const r = validateBtf(btfBytesFromFile(readFile(ctx, file), file), { base, mode, kernel });
    if (ctx.out.json) ctx.out.document({ file, ...r });
    else if (r.valid) ctx.out.line(`${file}: valid (${r.types} types, ${mode} checks)`);
    else for (const e of r.errors) ctx.out.line(`${file}: invalid: [${e.typeId}] ${e.message}${e.detail ? ` (${e.detail})` : ''}`);
    return r.valid ? 0 : 1;
  },
});

const stats = defineCommand({
  name: 'stats',
  summary: 'count types per kind and section sizes',
  usage: ['btf stats FILE [--base FILE] [--json]'],
  options: baseOption,
  run(ctx) {
    const file = oneFile(ctx);
    const base = loadBase(ctx);
    const s = btfStats(parseBtf(btfBytesFromFile(readFile(ctx, file), file), { base, source: file }));
    if (ctx.out.json) {
      ctx.out.document({ file, ...s });
      return 0;
    }
    ctx.out.line(`${file}: ${s.split ? 'split' : 'base'} BTF, ${s.byteOrder}-endian, ${s.types} types (ids ${s.firstId}..${s.firstId + s.types - 1})`);
    ctx.out.line(`bytes: ${s.totalBytes} (header ${s.headerBytes}, types ${s.typeBytes}, strings ${s.stringBytes})`);
    for (const [k, n] of Object.entries(s.kinds).sort((a, b) => b[1] - a[1])) ctx.out.line(`  ${k.padEnd(11)} ${n}`);
    return 0;
  },
});

export const command = defineCommand({
  name: 'btf',
  summary: 'read, check and print BTF (raw blobs or ELF .BTF)',
  usage: ['btf dump FILE [--base FILE] [--format raw|c|json]', 'btf validate FILE [--base FILE]', 'btf stats FILE'],
  subcommands: { dump, validate, stats },
});
