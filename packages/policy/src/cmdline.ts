/**
 * The kernel command line: parsing with the kernel's rules, and finding it.
 *
 * Parsing follows lib/cmdline.c `next_arg` (6.1): words are separated by whitespace; a `"` toggles
 * quoting anywhere in a word, and a value that starts with `"` has that quote and a trailing one
 * removed; a bare `--` ends the kernel's parameters (the rest goes to init). Parameter names compare
 * with `-` and `_` equal (kernel/params.c `parameq`); a later occurrence overrides an earlier one.
 *
 * Where it comes from: the live `/proc/cmdline`, a given string or file, or, for a root tree, the
 * line its boot loader is configured with: BLS entries `/boot/loader/entries/*.conf` (`options`),
 * then `/etc/kernel/cmdline` (kernel-install, systemd-boot, UKIs), then `/etc/default/grub`
 * (`GRUB_CMDLINE_LINUX` + `GRUB_CMDLINE_LINUX_DEFAULT`, with `/etc/default/grub.d/*.cfg` applied
 * after it, as Debian's grub-mkconfig does).
 */
import { BadDataError } from '@kbtf/binary';
import { Root } from './root-tree.js';
import type { Source } from './setting-source.js';
import { compareBytes } from './root-tree.js';

export interface CmdlineParam {
  /** Name as written. */
  name: string;
  /** Value with the kernel's quote stripping; undefined for a bare flag. */
  value: string | undefined;
}

export function parseCmdline(line: string): CmdlineParam[] {
  const out: CmdlineParam[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
  while (i < n) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) break;
    // One word: up to unquoted whitespace. Mirrors next_arg(): quotes toggle, `=` splits once.
    let inQuote = false;
    let equals = -1;
    const start = i;
    let quotedStart = false;
    if (line[i] === '"') {
      quotedStart = true;
      inQuote = true;
      i++;
    }
    for (; i < n; i++) {
      const c = line[i];
      if (isSpace(c) && !inQuote) break;
      if (equals < 0 && c === '=') equals = i;
      if (c === '"') inQuote = !inQuote;
    }
    let word = line.slice(quotedStart ? start + 1 : start, i);
    if (quotedStart && word.endsWith('"')) word = word.slice(0, -1);
    if (word === '--') break; // parse_args() checks after quote stripping
    if (equals < 0) {
      out.push({ name: word, value: undefined });
      continue;
    }
    const eq = equals - (quotedStart ? start + 1 : start);
    const name = word.slice(0, eq);
    let value = word.slice(eq + 1);
    if (value.startsWith('"')) {
      value = value.slice(1);
      if (value.endsWith('"')) value = value.slice(0, -1);
    }
    out.push({ name, value });
  }
  return out;
}

/** kernel/params.c parameq: `-` and `_` are the same character in parameter names. */
export function paramEq(a: string, b: string): boolean {
  return a.replace(/-/g, '_') === b.replace(/-/g, '_');
}

/** The last occurrence of parameter `name`, or undefined. */
export function lastParam(params: CmdlineParam[], name: string): CmdlineParam | undefined {
  let found: CmdlineParam | undefined;
  for (const p of params) if (paramEq(p.name, name)) found = p;
  return found;
}

/** A command line and where it was read from. */
export interface Cmdline {
  line: string;
  params: CmdlineParam[];
  source: Source;
  /** Other configured lines seen but not used (e.g. several BLS entries). */
  alternatives?: { line: string; source: Source }[];
}

export function cmdlineFromString(line: string, source: Source = { kind: 'cmdline', file: '--cmdline' }): Cmdline {
  return { line: line.trim(), params: parseCmdline(line), source };
}

/**
 * The command line for a root: the live `/proc/cmdline` for the running system, else the boot
 * loader's configured line. Undefined when the tree configures none.
 */
export function readCmdline(root: Root, options: { kernel?: string; preferConfigured?: boolean } = {}): Cmdline | undefined {
  if (root.isLive && !options.preferConfigured) {
    const text = root.readTextIfExists('/proc/cmdline');
    if (text !== undefined) return cmdlineFromString(text, { kind: 'cmdline', file: '/proc/cmdline' });
  }
  return configuredCmdline(root, options.kernel);
}

export function configuredCmdline(root: Root, kernel?: string): Cmdline | undefined {
  return blsCmdline(root, kernel) ?? kernelCmdlineFile(root) ?? grubCmdline(root);
}

/** BLS Type #1 entries: `options` lines (several are joined with a space, per the spec). */
function blsCmdline(root: Root, kernel?: string): Cmdline | undefined {
  const dir = '/boot/loader/entries';
  const entries: { file: string; line: string; lineNo: number; version?: string }[] = [];
  for (const name of root.list(dir)) {
    if (!name.endsWith('.conf')) continue;
    const file = `${dir}/${name}`;
    const text = root.readTextIfExists(file);
    if (text === undefined) continue;
    const options: string[] = [];
    let lineNo = 0;
    let version: string | undefined;
    text.split('\n').forEach((raw, idx) => {
      const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(raw);
      if (!m || m[1].startsWith('#')) return;
      if (m[1] === 'options') {
        options.push(m[2]);
        if (!lineNo) lineNo = idx + 1;
      } else if (m[1] === 'version') version = m[2];
      else if (m[1] === 'linux' && !version) version = /vmlinuz-(.+)$/.exec(m[2])?.[1];
    });
    if (options.length) entries.push({ file, line: options.join(' '), lineNo, version });
  }
  if (!entries.length) return undefined;
  // The entry for the kernel asked about; else the last by name (sd-boot's default is the newest).
  const chosen = (kernel && entries.find((e) => e.version === kernel || e.file.includes(kernel))) || entries[entries.length - 1];
  const cmd = cmdlineFromString(chosen.line, { kind: 'cmdline', file: chosen.file, line: chosen.lineNo });
  const others = entries.filter((e) => e !== chosen).map((e) => ({ line: e.line, source: { kind: 'cmdline' as const, file: e.file, line: e.lineNo } }));
  if (others.length) cmd.alternatives = others;
  return cmd;
}

/** kernel-install's /etc/kernel/cmdline (then /usr/lib/kernel/cmdline): one line, `#` comments. */
function kernelCmdlineFile(root: Root): Cmdline | undefined {
  for (const file of ['/etc/kernel/cmdline', '/usr/lib/kernel/cmdline']) {
    const text = root.readTextIfExists(file);
    if (text === undefined) continue;
    const lines = text.split('\n');
    const parts: string[] = [];
    let first = 0;
    lines.forEach((l, i) => {
      const t = l.trim();
      if (!t || t.startsWith('#')) return;
      parts.push(t);
      if (!first) first = i + 1;
    });
    return cmdlineFromString(parts.join(' '), { kind: 'cmdline', file, line: first || 1 });
  }
  return undefined;
}

/**
 * /etc/default/grub is a shell fragment. We evaluate the subset these files use: `VAR=word`
 * assignments with single/double quotes and `$VAR`/`${VAR}` expansion (e.g.
 * `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"` in grub.d snippets); other lines are ignored.
 */
function grubCmdline(root: Root): Cmdline | undefined {
  const files = ['/etc/default/grub', ...root.list('/etc/default/grub.d').filter((n) => n.endsWith('.cfg')).sort(compareBytes).map((n) => `/etc/default/grub.d/${n}`)];
  const vars = new Map<string, { value: string; file: string; line: number }>();
  let any = false;
  for (const file of files) {
    const text = root.readTextIfExists(file);
    if (text === undefined) continue;
    any = true;
    text.split('\n').forEach((raw, idx) => {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
      if (!m) return;
      let value: string;
      try {
        value = shellWord(m[2], (name) => vars.get(name)?.value ?? '');
      } catch (err) {
        if (err instanceof BadDataError) throw new BadDataError(`${file}:${idx + 1}`, undefined, `${m[1]} expands to more than ${MAX_SHELL_VALUE} characters`);
        throw err;
      }
      vars.set(m[1], { value, file, line: idx + 1 });
    });
  }
  if (!any) return undefined;
  const linux = vars.get('GRUB_CMDLINE_LINUX');
  const dflt = vars.get('GRUB_CMDLINE_LINUX_DEFAULT');
  const line = [linux?.value ?? '', dflt?.value ?? ''].filter(Boolean).join(' ');
  const where = dflt ?? linux;
  return cmdlineFromString(line, { kind: 'cmdline', file: where?.file ?? '/etc/default/grub', line: where?.line });
}

/**
 * How long one expanded value may be: a kernel command line is at most COMMAND_LINE_SIZE (2,048 on
 * x86_64, 4,096 on arm64); a value past this is not one (a grub.d snippet doubling
 * GRUB_CMDLINE_LINUX 30 times made a string too long for JavaScript).
 */
export const MAX_SHELL_VALUE = 64 * 1024;

/** One shell word (the value of an assignment), stopping at unquoted whitespace or `#`. */
export function shellWord(text: string, lookup: (name: string) => string): string {
  let out = '';
  let i = 0;
  const braced = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/y;
  const bare = /\$([A-Za-z_][A-Za-z0-9_]*)/y;
  const expand = (s: string, at: number): [string, number] => {
    braced.lastIndex = at;
    const b = braced.exec(s);
    if (b) return [lookup(b[1]), at + b[0].length];
    bare.lastIndex = at;
    const v = bare.exec(s);
    if (v) return [lookup(v[1]), at + v[0].length];
    return ['$', at + 1];
  };
  while (i < text.length) {
    if (out.length > MAX_SHELL_VALUE) throw new BadDataError('shell word', undefined, `expands to more than ${MAX_SHELL_VALUE} characters`);
    const c = text[i];
    if (c === ' ' || c === '\t' || c === ';' || c === '#') break;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      out += text.slice(i + 1, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) {
          out += text[i + 1];
          i += 2;
        } else if (text[i] === '$') {
          const [v, next] = expand(text, i);
          out += v;
          i = next;
          if (out.length > MAX_SHELL_VALUE) throw new BadDataError('shell word', undefined, `expands to more than ${MAX_SHELL_VALUE} characters`);
        } else out += text[i++];
      }
      i++;
    } else if (c === '$') {
      const [v, next] = expand(text, i);
      out += v;
      i = next;
    } else if (c === '\\' && i + 1 < text.length) {
      out += text[i + 1];
      i += 2;
    } else out += text[i++];
  }
  if (out.length > MAX_SHELL_VALUE) throw new BadDataError('shell word', undefined, `expands to more than ${MAX_SHELL_VALUE} characters`);
  return out;
}
