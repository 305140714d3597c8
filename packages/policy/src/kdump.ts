/**
 * What a root tree says about kdump (`kbtf check`, check-kdump.ts): is it set up to save vmcores,
 * and how will the capture kernel write them?
 *
 * A tree saves vmcores when a kdump tool is armed at boot:
 * - Debian/Ubuntu kdump-tools: `/etc/default/kdump-tools` (a shell fragment kdump-config sources)
 *   with `USE_KDUMP=1`, and `kdump-tools.service` enabled (kdump-tools 1.10.7 links it into
 *   basic.target.wants; its `/etc/init.d` script and rc links are not used under systemd);
 * - Fedora/RHEL kdumpctl (kexec-tools, now kdump-utils): `/etc/kdump.conf` and `kdump.service`
 *   enabled (WantedBy=multi-user.target).
 * `crashkernel=` on the configured command line is what lets either load the crash kernel.
 *
 * The capture path: the core collector and its options.
 * - kdump-tools' kdump-config runs `makedumpfile $MAKEDUMP_ARGS /proc/vmcore | compress`, with
 *   `MAKEDUMP_ARGS=${MAKEDUMP_ARGS:="-F -c -d 31"}` and `-F` appended when missing; when
 *   makedumpfile fails (or is not installed) it copies /proc/vmcore whole with `cp`.
 *   `KDUMP_COMPRESSION` (bzip2, gzip, lz4, xz) compresses the whole saved file.
 * - kdumpctl's capture initramfs (kdump-utils dracut/99kdumpbase/kdump.sh) runs `core_collector`
 *   from kdump.conf, default `makedumpfile -l --message-level 7 -d 31`; kdumpctl refuses a
 *   directive given twice ("Duplicated kdump config value of option").
 * makedumpfile's options are read as its getopt_long does (makedumpfile.c main(), short options
 * "b:cDd:eEFfg:hi:lL:pRvXx:z", unambiguous prefixes of long options, `--opt=value`).
 */
import { Root } from './root-tree.js';
import { BadDataError } from '@kbtf/binary';
import { lastParam, shellWord, MAX_SHELL_VALUE, type Cmdline } from './cmdline.js';
import { readUnitWiring } from './wiring.js';
import type { Source } from './setting-source.js';
import { makedumpfileLatest, type MakedumpfileSupport } from './makedumpfile-versions.js';

export const KDUMP_TOOLS_DEFAULTS = '/etc/default/kdump-tools';
export const KDUMP_CONF = '/etc/kdump.conf';
export const KDUMP_TOOLS_UNIT = 'kdump-tools.service';
export const KDUMPCTL_UNIT = 'kdump.service';
/** kdump-config (kdump-tools 1.10.7): the value of MAKEDUMP_ARGS when unset or empty. */
export const KDUMP_TOOLS_DEFAULT_ARGS = '-F -c -d 31';
/** kdump-utils dracut/99kdumpbase/kdump.sh: CORE_COLLECTOR when kdump.conf has no core_collector. */
export const KDUMPCTL_DEFAULT_COLLECTOR = 'makedumpfile -l --message-level 7 -d 31';
/** Where the makedumpfile binary is looked for (Debian /usr/bin, Fedora /usr/sbin). */
export const MAKEDUMPFILE_PATHS = ['/usr/bin/makedumpfile', '/usr/sbin/makedumpfile', '/bin/makedumpfile', '/sbin/makedumpfile'];
const DPKG_STATUS = '/var/lib/dpkg/status';

/** A systemd unit of a kdump tool: installed, and enabled for a target a boot reaches. */
export interface KdumpUnit {
  name: string;
  file?: string;
  masked?: string;
  enabledBy: string[];
  enabled: boolean;
}

export interface ShellValue {
  value: string;
  line: number;
}

export interface KdumpToolsConfig {
  file: string;
  /** Assignments of the file, last one per name (values as the shell expands them). */
  vars: Record<string, ShellValue>;
  /** USE_KDUMP=1 (kdump-config refuses to load the crash kernel when it is unset or 0). */
  useKdump: boolean;
  unit: KdumpUnit;
}

export interface KdumpConfDirective {
  key: string;
  value: string;
  line: number;
}

export interface KdumpctlConfig {
  file: string;
  directives: KdumpConfDirective[];
  /** Directives given more than once: kdumpctl refuses to start. */
  duplicates: KdumpConfDirective[];
  unit: KdumpUnit;
}

export type Compression = 'zlib' | 'lzo' | 'snappy' | 'zstd' | 'none';

/** makedumpfile's command line, as its getopt_long reads it. */
export interface MakedumpfileArgs {
  /** `-d`: the first level of the list (the one it dumps with); 0 without `-d`. */
  dumpLevel: number;
  dumpLevelText?: string;
  /** `-d` with a level outside 0..31: makedumpfile exits with "Dump_level(N) is invalid". */
  dumpLevelInvalid?: boolean;
  /** An option that makes it write no vmcore (`--dump-dmesg`, `--mem-usage`, `-v`, …). */
  noVmcore?: string;
  /** Options that erase or filter memory by a script or rules (`--config`, `--eppic`, `--extension`). */
  filters: string[];
  /** Options makedumpfile does not know, or a missing argument: it exits ("Commandline parameter is invalid"). */
  invalid: string[];
  format: 'kdump' | 'elf';
  flattened: boolean;
  compression: Compression;
}

export interface Collector {
  tool: 'kdump-tools' | 'kdumpctl';
  /** Where it is set (or where it would be). */
  file: string;
  line?: number;
  key: 'MAKEDUMP_ARGS' | 'core_collector';
  /** Set in the file (else the tool's default). */
  configured: boolean;
  /** The command as the capture kernel runs it, without /proc/vmcore and the output. */
  command: string;
  program: string;
  makedumpfile?: MakedumpfileArgs;
}

export interface MakedumpfileInstall {
  /** Upstream version (`1.7.6`), from the binary's version string or the dpkg status. */
  version?: string;
  /** Where the version was read. */
  from?: string;
  binary?: string;
  support?: MakedumpfileSupport;
}

export interface KdumpFacts {
  /** A kdump tool is armed at boot: the tree saves vmcores. */
  configured: boolean;
  /** What makes it so (for messages): `kdump-tools (USE_KDUMP=1 in …, kdump-tools.service enabled)`. */
  signals: string[];
  kdumpTools?: KdumpToolsConfig;
  kdumpctl?: KdumpctlConfig;
  crashkernel?: { value: string; source: Source };
  collector?: Collector;
  makedumpfile?: MakedumpfileInstall;
}

function kdumpUnit(root: Root, name: string): KdumpUnit {
  const w = readUnitWiring(root, name);
  // The tool's own program (/etc/init.d/kdump-tools, /usr/bin/kdumpctl) is not required here: the
  // unit being enabled is the admin's intent, and a missing program is the package's problem.
  return { name, file: w.file, masked: w.masked, enabledBy: w.enabledBy, enabled: !!w.file && !w.masked && w.enabledBy.length > 0 };
}

/** `NAME=value` assignments of a shell fragment, expanded as sh would (quotes, $VAR); last wins. */
export function shellAssignments(text: string, file: string): Record<string, ShellValue> {
  const vars: Record<string, ShellValue> = Object.create(null) as Record<string, ShellValue>;
  text.split('\n').forEach((raw, i) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (!m) return;
    try {
      vars[m[1]] = { value: shellWord(m[2], (n) => vars[n]?.value ?? ''), line: i + 1 };
    } catch (err) {
      if (err instanceof BadDataError) throw new BadDataError(`${file}:${i + 1}`, undefined, `${m[1]} expands to more than ${MAX_SHELL_VALUE} characters`);
      throw err;
    }
  });
  return vars;
}

export function readKdumpTools(root: Root): KdumpToolsConfig | undefined {
  const text = root.readTextIfExists(KDUMP_TOOLS_DEFAULTS);
  if (text === undefined) return undefined;
  const vars = shellAssignments(text, KDUMP_TOOLS_DEFAULTS);
  return { file: KDUMP_TOOLS_DEFAULTS, vars, useKdump: vars.USE_KDUMP?.value === '1', unit: kdumpUnit(root, KDUMP_TOOLS_UNIT) };
}

/** kdump.conf as kdumpctl reads it (kdump_read_conf): `key value…`, `#` comments, blank lines skipped. */
export function readKdumpctl(root: Root): KdumpctlConfig | undefined {
  const text = root.readTextIfExists(KDUMP_CONF);
  if (text === undefined) return undefined;
  const directives: KdumpConfDirective[] = [];
  const duplicates: KdumpConfDirective[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const value = m[2].replace(/#.*$/, '').trim();
    const d = { key: m[1], value, line: i + 1 };
    // The dump targets (ext4, nfs, ssh, raw, …) are one option to kdumpctl ("More than one dump targets").
    const slot = /^(raw|ext[234]|minix|btrfs|xfs|nfs|ssh|virtiofs)$/.test(d.key) ? '_target' : d.key;
    if (seen.has(slot)) duplicates.push(d);
    seen.add(slot);
    directives.push(d);
  });
  return { file: KDUMP_CONF, directives, duplicates, unit: kdumpUnit(root, KDUMPCTL_UNIT) };
}

const SHORT_WITH_ARG = new Set(['b', 'd', 'g', 'i', 'L', 'x']);
const SHORT_FLAGS = new Set(['c', 'D', 'e', 'E', 'F', 'f', 'h', 'l', 'p', 'R', 'v', 'X', 'z']);
/** makedumpfile.c longopts: name → takes an argument. */
const LONG_OPTS: Record<string, boolean> = {
  split: false, reassemble: false, 'xen-syms': true, 'xen-vmcoreinfo': true, xen_phys_start: true, 'message-level': true, vtop: true,
  'dump-dmesg': false, 'partial-dmesg': false, config: true, help: false, diskset: true, 'cyclic-buffer': true, eppic: true, 'non-mmap': false,
  'mem-usage': false, 'splitblock-size': true, 'work-dir': true, 'num-threads': true, 'check-params': false, 'dry-run': false, 'show-stats': false, extension: true,
};
/** Options after which makedumpfile writes no vmcore (it prints something, or only checks). */
const NO_VMCORE: Record<string, string> = {
  'dump-dmesg': 'writes only the kernel log (--dump-dmesg)',
  'mem-usage': 'only prints memory usage (--mem-usage)',
  'dry-run': 'writes nothing (--dry-run)',
  'check-params': 'only checks its parameters (--check-params)',
  help: 'only prints its usage (--help)',
  reassemble: 'reassembles split dumps instead (--reassemble)',
  h: 'only prints its usage (-h)',
  v: 'only prints its version (-v)',
  g: 'generates a vmcoreinfo file instead (-g)',
  R: 'rearranges a flattened dump from stdin instead (-R)',
};
const COMPRESSION: Record<string, Compression> = { c: 'zlib', l: 'lzo', p: 'snappy', z: 'zstd' };

/** C atoi: leading blanks, an optional sign, digits; 0 when there are none. */
function atoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? parseInt(m[1], 10) : 0;
}

/** makedumpfile's options (the words after the program name). */
export function parseMakedumpfileArgs(words: string[]): MakedumpfileArgs {
  const a: MakedumpfileArgs = { dumpLevel: 0, filters: [], invalid: [], format: 'kdump', flattened: false, compression: 'none' };
  const seen = new Set<string>();
  const onShort = (c: string, arg?: string) => {
    seen.add(c);
    if (c === 'd') {
      a.dumpLevelText = arg;
      // parse_dump_level: a comma list, each atoi'd and within 0..31; the first is the level used.
      const levels = (arg ?? '').split(',').filter(Boolean).map(atoi);
      a.dumpLevel = levels[0] ?? 0;
      a.dumpLevelInvalid = levels.some((l) => l < 0 || l > 31);
    } else if (c === 'E') a.format = 'elf';
    else if (c === 'F') a.flattened = true;
    else if (COMPRESSION[c]) a.compression = COMPRESSION[c];
    if (NO_VMCORE[c]) a.noVmcore ??= NO_VMCORE[c];
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') break;
    if (w.startsWith('--')) {
      const [name, inline] = w.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const hits = name in LONG_OPTS ? [name] : Object.keys(LONG_OPTS).filter((k) => k.startsWith(name));
      if (hits.length !== 1) {
        a.invalid.push(w);
        continue;
      }
      const opt = hits[0];
      seen.add(opt);
      let arg = inline;
      if (LONG_OPTS[opt] && arg === undefined) {
        arg = words[++i];
        if (arg === undefined) a.invalid.push(w);
      }
      if (['config', 'eppic', 'extension'].includes(opt)) a.filters.push(`--${opt} ${arg ?? ''}`.trim());
      if (NO_VMCORE[opt]) a.noVmcore ??= NO_VMCORE[opt];
    } else if (w.startsWith('-') && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const c = w[j];
        if (SHORT_WITH_ARG.has(c)) {
          const arg: string | undefined = w.slice(j + 1) || words[++i];
          if (arg === undefined) a.invalid.push(`-${c}`);
          onShort(c, arg);
          break;
        }
        if (SHORT_FLAGS.has(c)) onShort(c);
        else a.invalid.push(`-${c}`);
      }
    }
    // Operands (the vmcore, the output) are the capture script's, not the configuration's.
  }
  // check_param_for_creating_dumpfile(): "-e requires --work-dir".
  if (seen.has('e') && !seen.has('work-dir')) a.invalid.push('-e (requires --work-dir)');
  return a;
}

function collectorFrom(tool: Collector['tool'], file: string, key: Collector['key'], command: string, configured: boolean, line?: number): Collector {
  const words = command.split(/\s+/).filter(Boolean);
  const program = words[0] ?? '';
  const isMkd = /(^|\/)makedumpfile$/.test(program);
  return { tool, file, line, key, configured, command, program, makedumpfile: isMkd ? parseMakedumpfileArgs(words.slice(1)) : undefined };
}

/** kdump-tools' collector: `makedumpfile $MAKEDUMP_ARGS` (default "-F -c -d 31", -F always added). */
export function kdumpToolsCollector(cfg: KdumpToolsConfig): Collector {
  const set = cfg.vars.MAKEDUMP_ARGS;
  let args = set?.value ? set.value : KDUMP_TOOLS_DEFAULT_ARGS;
  // kdump-config: [ "${MAKEDUMP_ARGS#-F*}" != "${MAKEDUMP_ARGS}" ] || MAKEDUMP_ARGS="${MAKEDUMP_ARGS} -F"
  if (!args.startsWith('-F')) args = `${args} -F`;
  return collectorFrom('kdump-tools', cfg.file, 'MAKEDUMP_ARGS', `makedumpfile ${args}`, !!set?.value, set?.line);
}

/** kdumpctl's collector: `core_collector` of kdump.conf, else kdump.sh's default. */
export function kdumpctlCollector(cfg: KdumpctlConfig): Collector {
  const set = cfg.directives.find((d) => d.key === 'core_collector' && d.value);
  return collectorFrom('kdumpctl', cfg.file, 'core_collector', set?.value ?? KDUMPCTL_DEFAULT_COLLECTOR, !!set, set?.line);
}

/** Upstream version of a Debian version (`1:1.7.6-1` → `1.7.6`). */
function upstreamOf(debVersion: string): string {
  return debVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** The image's makedumpfile: its binary's version string, else the dpkg database's record. */
export function readMakedumpfile(root: Root, kernel: string): MakedumpfileInstall {
  const out: MakedumpfileInstall = {};
  const binary = MAKEDUMPFILE_PATHS.find((p) => root.kind(p) === 'file');
  if (binary) {
    out.binary = binary;
    // DEBUG_MSG("makedumpfile: version " VERSION " (released on " RELEASE_DATE ")\n") in main().
    let text = '';
    try {
      text = new TextDecoder('latin1').decode(root.readBytes(binary));
    } catch {
      // Unreadable or oversized: the dpkg database may still say.
    }
    const m = /makedumpfile: version (\d+\.\d+\.\d+)\S* \(released on/.exec(text);
    if (m) {
      out.version = m[1];
      out.from = binary;
    }
  }
  if (!out.version) {
    const status = root.readTextIfExists(DPKG_STATUS) ?? '';
    for (const para of status.split(/\n\n+/)) {
      if (!/^Package: makedumpfile$/m.test(para) || !/^Status: install ok installed$/m.test(para)) continue;
      const v = /^Version: (\S+)$/m.exec(para);
      if (v) {
        out.version = upstreamOf(v[1]);
        out.from = `${DPKG_STATUS} (makedumpfile ${v[1]})`;
      }
    }
  }
  if (out.version) out.support = makedumpfileLatest(out.version, kernel);
  return out;
}

/** Everything kbtf check needs to know about the tree's kdump set-up. */
export function readKdump(root: Root, cmdline: Cmdline | undefined, kernel: string): KdumpFacts {
  const facts: KdumpFacts = { configured: false, signals: [] };
  const ck = cmdline && lastParam(cmdline.params, 'crashkernel');
  if (ck && cmdline) facts.crashkernel = { value: ck.value ?? '', source: cmdline.source };
  const tools = readKdumpTools(root);
  const ctl = readKdumpctl(root);
  facts.kdumpTools = tools;
  facts.kdumpctl = ctl;
  if (tools?.useKdump && tools.unit.enabled) {
    facts.signals.push(`kdump-tools (USE_KDUMP=1 in ${tools.file}:${tools.vars.USE_KDUMP.line}, ${tools.unit.enabledBy[0]})`);
    facts.collector = kdumpToolsCollector(tools);
  }
  if (ctl?.unit.enabled) {
    facts.signals.push(`kdumpctl (${ctl.file}, ${ctl.unit.enabledBy[0]})`);
    facts.collector ??= kdumpctlCollector(ctl);
  }
  facts.configured = facts.signals.length > 0;
  if (facts.configured) facts.makedumpfile = readMakedumpfile(root, kernel);
  return facts;
}
