#!/usr/bin/env node
// `npm run package` (after `npm run build`): build/deb/kbtf_<version>_all.deb with dpkg-deb.
// docs/packaging.md describes what goes where and why. Options: --output DIR (default build/deb);
// --kernel KVER [MODULE...] builds the companion package of that kernel too, in the same directory
// (`kbtf companion package --kernel KVER --deps --vmlinux MODULE...`; no MODULE: --all), so one
// command makes both packages: `npm run package -- --kernel 6.12.117+deb13-amd64 ext4 virtio_blk`.
//
// The tree is assembled in build/deb/kbtf_<version>_all/ from the bundled CLI (apps/kbtf/dist:
// kbtf.cjs, worker.js, yaml.cjs, zod.cjs; nothing from node_modules), the launcher
// (apps/kbtf/bin/kbtf.js with its bundle directory pointed at /usr/lib/kbtf), tools/systemd,
// tools/kdump, tools/initramfs-tools and tools/package/debian. The man page and the bash
// completion are generated from the CLI's own --help. Timestamps and the changelog date come
// from the last commit (SOURCE_DATE_EPOCH when set), so two builds of one commit are identical.
import { symlinkSync, chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const here = join(repo, 'tools', 'package');
const { values, positionals } = parseArgs({ options: { output: { type: 'string' }, kernel: { type: 'string' } }, allowPositionals: true });
if (positionals.length && !values.kernel) {
  console.error('package: MODULE arguments go with --kernel KVER');
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;
const outDir = values.output ?? join(repo, 'build', 'deb');
const name = `kbtf_${version}_all`;
const root = join(outDir, name);
const deb = join(outDir, `${name}.deb`);
const dist = join(repo, 'apps', 'kbtf', 'dist');

function git(...args) {
  try {
    return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
const epoch = Number(process.env.SOURCE_DATE_EPOCH || git('log', '-1', '--format=%ct') || Math.trunc(Date.now() / 1000));
const commit = git('rev-parse', '--short=12', 'HEAD') || 'unknown';
const maintainer = process.env.KBTF_MAINTAINER || git('log', '-1', '--format=%an <%ae>') || 'kbtf maintainers <kbtf@invalid>';

for (const f of ['kbtf.cjs', 'worker.js', 'yaml.cjs', 'zod.cjs']) {
  if (!existsSync(join(dist, f))) {
    console.error(`package: apps/kbtf/dist/${f} is missing: run npm run build first`);
    process.exit(2);
  }
}

rmSync(root, { recursive: true, force: true });
rmSync(deb, { force: true });

/** Write FILE (in-package path) with MODE. */
function put(path, data, mode = 0o644) {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
  writeFileSync(p, data);
  chmodSync(p, mode);
}
const copy = (from, to, mode) => put(to, readFileSync(from), mode);
const gz = (text) => gzipSync(Buffer.from(text), { level: 9 }); // gzip -9n: node writes no name, mtime 0

// The CLI. Its node flags (one: Linux passes what follows the interpreter as one argument) stay
// those of the repository's launcher.
const LAUNCHER_NODE_FLAGS = '--v8-pool-size=1';
const LAUNCHER_SHEBANG = `#!/usr/bin/env -S node ${LAUNCHER_NODE_FLAGS}`;
const launcher = readFileSync(join(repo, 'apps/kbtf/bin/kbtf.js'), 'utf8');
const distLine = "const dist = path.join(__dirname, '..', 'dist');";
if (!launcher.startsWith(`${LAUNCHER_SHEBANG}\n`) || !launcher.includes(distLine)) throw new Error('package: apps/kbtf/bin/kbtf.js changed: update tools/package/build.mjs');
// /usr/bin/kbtf is a symlink to the launcher, /usr/lib/kbtf/kbtf-cli.cjs: node runs a script by its
// real path, so the launcher finds the bundle beside itself, and the .cjs name keeps it CommonJS
// whatever package.json lies above (an extension-less /usr/bin/kbtf would be an ES module under a
// "type": "module" package.json, as in a checkout).
put(
  'usr/lib/kbtf/kbtf-cli.cjs',
  launcher
    .replace(`${LAUNCHER_SHEBANG}\n`, `#!/usr/bin/node ${LAUNCHER_NODE_FLAGS}\n`)
    .replace(distLine, 'const dist = __dirname;')
    .replace("fs.existsSync(bundle) ? runBundle() : import('../dist/main.js').then((m) => m.main(argv))", 'runBundle()'),
  0o755,
);
mkdirSync(join(root, 'usr/bin'), { recursive: true });
symlinkSync('../lib/kbtf/kbtf-cli.cjs', join(root, 'usr/bin/kbtf'));
for (const f of ['kbtf.cjs', 'worker.js', 'yaml.cjs', 'zod.cjs']) copy(join(dist, f), `usr/lib/kbtf/${f}`);
// worker.js is an ES module (the --jobs worker); kbtf.cjs and the launcher are CommonJS.
put('usr/lib/kbtf/package.json', JSON.stringify({ name: 'kbtf', version, private: true, type: 'module' }, null, 2) + '\n');
copy(join(here, 'debian/policy.yaml'), 'usr/lib/kbtf/policy.yaml');

// Boot and crash integration.
copy(join(repo, 'tools/systemd/kbtf-modprobe-config.service'), 'usr/lib/systemd/system/kbtf-modprobe-config.service');
copy(join(repo, 'tools/kdump/kbtf-verify-crashes.service'), 'usr/lib/systemd/system/kbtf-verify-crashes.service');
copy(join(repo, 'tools/kdump/kbtf-verify-crashes'), 'usr/libexec/kbtf/kbtf-verify-crashes', 0o755);
copy(join(repo, 'tools/initramfs-tools/hooks/kbtf'), 'usr/share/initramfs-tools/hooks/kbtf', 0o755);

// Documentation. A native package (version without a Debian revision): changelog.gz, as lintian
// and policy 12.7 want, not changelog.Debian.gz.
const doc = 'usr/share/doc/kbtf';
copy(join(here, 'debian/copyright'), `${doc}/copyright`);
put(`${doc}/changelog.gz`, gz(changelog()));
put(`${doc}/README.md.gz`, gz(readFileSync(join(repo, 'README.md'))));
for (const d of ['packaging.md', 'policy.md', 'verify.md', 'companions.md', 'deploy.md']) {
  const p = join(repo, 'docs', d);
  if (existsSync(p)) put(`${doc}/${d}${statSync(p).size > 4096 ? '.gz' : ''}`, statSync(p).size > 4096 ? gz(readFileSync(p)) : readFileSync(p));
}

// Man page and bash completion, from the CLI's --help.
const help = (...args) => execFileSync(process.execPath, [join(root, 'usr/lib/kbtf/kbtf-cli.cjs'), ...args], { encoding: 'utf8', env: { ...process.env, KBTF_COMPILE_CACHE: '0', NO_COLOR: '1' } });
const commands = helpCommands();
put('usr/share/man/man1/kbtf.1.gz', gz(manPage()));
put('usr/share/bash-completion/completions/kbtf', completion());

// Control files.
for (const s of ['postinst', 'prerm', 'postrm']) copy(join(here, 'debian', s), `DEBIAN/${s}`, 0o755);
copy(join(here, 'debian/triggers'), 'DEBIAN/triggers');
const installedKiB = du(root, 'DEBIAN');
put('DEBIAN/control', control(installedKiB));
put('DEBIAN/md5sums', md5sums());

normalize(root);
execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
console.log(relative(process.cwd(), deb) || deb);

if (values.kernel) {
  // The companion package, by the CLI just packaged (same version); it prints its own .deb path.
  const args = ['companion', 'package', '--kernel', values.kernel, '--deps', '--vmlinux', '--output', outDir, ...(positionals.length ? positionals : ['--all'])];
  try {
    execFileSync(process.execPath, [join(repo, 'apps', 'kbtf', 'bin', 'kbtf.js'), ...args], { stdio: 'inherit' });
  } catch (err) {
    process.exit(err.status ?? 1);
  }
}

function changelog() {
  const date = new Date(epoch * 1000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, '$1, $2 $3 $4 $5 +0000');
  return `kbtf (${version}) unstable; urgency=medium\n\n  * Built with npm run package from the kbtf repository, commit ${commit}.\n\n -- ${maintainer}  ${date}\n`;
}

function control(kib) {
  const desc = readFileSync(join(here, 'debian/description'), 'utf8').trimEnd();
  return `Package: kbtf
Version: ${version}
Architecture: all
Maintainer: ${maintainer}
Installed-Size: ${kib}
Depends: nodejs (>= 18), kmod
Suggests: kdump-tools, initramfs-tools
Section: admin
Priority: optional
${desc}
`;
}

function md5sums() {
  const lines = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = dir ? `${dir}/${e.name}` : e.name;
      if (p === 'DEBIAN') continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) lines.push(`${createHash('md5').update(readFileSync(join(root, p))).digest('hex')}  ${p}\n`);
    }
  };
  walk('');
  return lines.join('');
}

function du(dir, skip) {
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === skip && d === dir) continue;
      const p = join(d, e.name);
      bytes += e.isDirectory() ? 4096 : Math.ceil(lstatSync(p).size / 1024) * 1024;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

/** Directories 0755, files as put, every mtime the commit's. */
function normalize(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      chmodSync(p, 0o755);
      normalize(p);
    }
    if (!e.isSymbolicLink()) utimesSync(p, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

/** [{ name, summary, help }] of every command, from `kbtf --help` and `kbtf CMD --help`. */
function helpCommands() {
  const top = help('--help');
  const section = top.split(/^Commands:\n/m)[1].split(/\n\n/)[0];
  return section
    .split('\n')
    .map((l) => /^\s+([a-z][a-z-]*)\s+(.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => ({ name: m[1], summary: m[2], help: help(m[1], '--help') }));
}

function roffEscape(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^ -~\t\n]/gu, (c) => `\\[u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function manPage() {
  const top = help('--help');
  const date = new Date(epoch * 1000).toISOString().slice(0, 10);
  const out = [
    `.TH KBTF 1 "${date}" "kbtf ${version}" "User Commands"`,
    '.SH NAME',
    'kbtf \\- make Linux crash dumps self\\-contained: companion BTF for global variables, checked end to end',
    '.SH SYNOPSIS',
    '.B kbtf',
    '.I command',
    '.RI [ options ]',
    '.SH DESCRIPTION',
    'When a Linux machine crashes, kdump saves its memory to a vmcore. kbtf ships the BTF of the',
    "kernel's and the modules' global variables as small companion modules",
    '(\\fIM\\fR\\-btf.ko, vmlinux\\-btf.ko), makes kmod load them at boot on machines set up for kdump, and',
    'checks that a vmcore holds kallsyms and every BTF a debugger needs.',
    '.PP',
    'Global options: \\fB\\-\\-json\\fR (one JSON document on stdout), \\fB\\-\\-help\\fR, \\fB\\-\\-version\\fR.',
    '.SH COMMANDS',
  ];
  for (const c of commands) {
    out.push(`.SS "kbtf ${c.name}"`, roffEscape(c.summary) + '.', '.PP', '.nf', roffEscape(c.help.replace(/^kbtf [^\n]*\n\n?/, '').trimEnd()), '.fi');
  }
  out.push(
    '.SH EXIT STATUS',
    roffEscape(/^Exit codes: (.*)$/m.exec(top)?.[1] ?? '0 ok, 1 the check found problems, 2 unusable input or usage error') + '.',
    '.SH ENVIRONMENT',
    '.TP',
    '.B NO_COLOR',
    'disables colour (colour is only used on a terminal).',
    '.TP',
    '.B KBTF_COMPILE_CACHE',
    'directory of the compiled\\-code cache (default \\fI$XDG_CACHE_HOME/kbtf\\fR, else \\fI~/.cache/kbtf\\fR;',
    'none when HOME is unset or /); \\fB0\\fR turns it off.',
    '.SH FILES',
    '.TP',
    '.I /etc/kbtf/policy.yaml',
    'the companion policy; overrides \\fI/run/kbtf/policy.yaml\\fR and the default \\fI/usr/lib/kbtf/policy.yaml\\fR.',
    '.TP',
    '.I /run/modprobe.d/kbtf.conf, /run/modules\\-load.d/kbtf.conf',
    'rendered at boot by \\fBkbtf\\-modprobe\\-config.service\\fR.',
    '.TP',
    '.I /usr/share/initramfs\\-tools/hooks/kbtf',
    'puts the companions of the configured boot into the initramfs (not into kdump\\-tools\' capture initramfs).',
    '.TP',
    '.I /usr/libexec/kbtf/kbtf\\-verify\\-crashes',
    'run by \\fBkbtf\\-verify\\-crashes.service\\fR at boot: writes \\fIkbtf\\-verify.json\\fR and \\fIkbtf\\-verify.txt\\fR',
    'beside each new dump under \\fI/var/crash\\fR (\\fIkbtf\\-verify.failed\\fR when the dump cannot be read).',
    '.SH SEE ALSO',
    '.BR modprobe.d (5),',
    '.BR modules\\-load.d (5),',
    '.BR sysctl.d (5),',
    '.BR kdump\\-config (8),',
    '.BR initramfs\\-tools (7).',
    '.PP',
    '\\fI/usr/share/doc/kbtf/\\fR',
  );
  return out.join('\n') + '\n';
}

function completion() {
  const names = commands.map((c) => c.name);
  const cases = commands.map((c) => {
    const opts = [...new Set([...c.help.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]).concat(['--json', '--help']))].sort();
    const subs = (/^Subcommands:\n((?:\s+\S.*\n?)+)/m.exec(c.help)?.[1] ?? '').split('\n').map((l) => /^\s+([a-z][a-z-]*)\s/.exec(l)?.[1]).filter(Boolean);
    return `    ${c.name}) subs="${subs.join(' ')}"; opts="${opts.join(' ')}" ;;`;
  });
  return `# bash completion for kbtf(1)                          -*- shell-script -*-
# Generated by tools/package/build.mjs from kbtf ${version}'s --help.
_kbtf() {
  local cur prev words cword
  _init_completion || return
  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names.join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    --root|--output|-o|--modules-load|--policy|--vmlinux-btf|--report|--list|--proc-modules)
      _filedir; return ;;
  esac
  local subs="" opts=""
  case "\${words[1]}" in
${cases.join('\n')}
  esac
  if [ "$cword" -eq 2 ] && [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    _filedir
  fi
} &&
  complete -F _kbtf kbtf
`;
}
