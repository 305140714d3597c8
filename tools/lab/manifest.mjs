#!/usr/bin/env node
// node manifest.mjs OUTDIR   (run by lab.sh; reads LAB_* environment variables)
// Writes OUTDIR/manifest.json: the kernel, the guest configuration, and one entry per dump with
// its format, writer and arguments. Schema: docs/lab.md.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const outDir = process.argv[2];
const env = process.env;

function version(cmd, args, re) {
  try {
    const text = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return (re.exec(text) ?? [])[1] ?? text.split('\n')[0];
  } catch {
    return null;
  }
}

const arch = env.LAB_ARCH ?? 'x86_64';
const qemu = version(env.LAB_QEMU ?? 'qemu-system-x86_64', ['--version'], /version (\S+)/);
// arm64 (lab.sh --arch arm64): Debian's arm64 makedumpfile under qemu-aarch64-static (an x86_64
// makedumpfile cannot read an arm64 vmcore); same version as the host's.
const mkd = version(env.LAB_MKD_BIN || 'makedumpfile', ['-v'], /version (\S+)/) + (env.LAB_MKD_BIN ? ' (Debian sid)' : '') + (env.LAB_MKD_EMULATED ? ' (Debian arm64, under qemu-aarch64-static)' : '');

const dumps = [
  { file: 'qemu-elf.core', format: 'elf', writer: `qemu ${qemu}`, args: 'dump-guest-memory paging=false' },
  { file: 'qemu-elf-paging.core', format: 'elf', writer: `qemu ${qemu}`, args: 'dump-guest-memory paging=true' },
  { file: 'qemu-kdump.flat', format: 'kdump-flattened', compression: 'zlib', writer: `qemu ${qemu}`, args: 'dump-guest-memory format=kdump-zlib' },
  { file: 'qemu-kdump.kdump', format: 'kdump', compression: 'zlib', writer: `makedumpfile ${mkd}`, args: '-R < qemu-kdump.flat' },
];
const flags = { zlib: '-c', lzo: '-l', snappy: '-p', zstd: '-z' };
for (const name of (env.LAB_MKD_FORMATS ?? '').split(/\s+/).filter(Boolean).map((f) => f.split(':')[0])) {
  dumps.push({
    file: `mkd-${name}.kdump`,
    format: 'kdump',
    compression: name,
    writer: `makedumpfile ${mkd}`,
    args: `${flags[name]} -d 31 (input: qemu-elf.core with its program headers moved after the ELF header)`,
  });
}
if (env.LAB_MKD_TRIXIE) {
  // arm64: trixie's arm64 build, run under qemu-aarch64-static with its unpacked root.
  const v = env.LAB_MKD_TRIXIE_ROOT
    ? version('qemu-aarch64-static', ['-L', env.LAB_MKD_TRIXIE_ROOT, env.LAB_MKD_TRIXIE, '-v'], /version (\S+)/)
    : version(env.LAB_MKD_TRIXIE, ['-v'], /version (\S+)/);
  const how = env.LAB_MKD_TRIXIE_ROOT ? 'Debian trixie, arm64, under qemu-aarch64-static' : 'Debian trixie';
  dumps.push({
    file: 'mkd-zstd.kdump',
    format: 'kdump',
    compression: 'zstd',
    writer: `makedumpfile ${v} (${how})`,
    args: '-z -d 31 (input: qemu-elf.core with its program headers moved after the ELF header)',
  });
}
if (!env.LAB_MKD_SKIPPED) {
  dumps.push({
    file: 'mkd-elf.core',
    format: 'elf',
    writer: `makedumpfile ${mkd}`,
    args: '-E -d 31 (input: qemu-elf.core with its program headers moved after the ELF header)',
  });
}
for (const d of dumps) {
  d.size = fs.statSync(path.join(outDir, d.file)).size;
}

const kroot = env.LAB_KROOT;
const kver = env.LAB_KVER;
const modulesDir = fs.realpathSync(path.join(kroot, 'lib/modules', kver));
const timings = Object.fromEntries(
  (env.LAB_TIMINGS ?? '').split(/\s+/).filter(Boolean).map((kv) => {
    const [k, v] = kv.split('=');
    return [k, Number(v)];
  }),
);

const manifest = {
  schema: 'kbtf-lab-manifest/1',
  key: env.LAB_KEY,
  kernel: {
    kver,
    package: env.LAB_DEB,
    root: kroot,
    vmlinuz: path.join(kroot, 'boot', `vmlinuz-${kver}`),
    system_map: path.join(kroot, 'boot', `System.map-${kver}`),
    config: path.join(kroot, 'boot', `config-${kver}`),
    modules_dir: modulesDir,
  },
  guest: {
    arch,
    variant: env.LAB_VARIANT,
    mem: env.LAB_MEM,
    smp: Number(env.LAB_SMP),
    cmdline: env.LAB_CMDLINE.trim(),
    qemu_cpu: env.LAB_QEMU_CPU,
    qemu_accel: env.LAB_QEMU_ACCEL,
  },
  truth: 'truth.json',
  kallsyms: 'kallsyms.txt',
  proc_modules: 'proc-modules.txt',
  vmcoreinfo: fs.existsSync(path.join(outDir, 'vmcoreinfo.txt')) ? 'vmcoreinfo.txt' : null,
  serial_log: 'serial.log',
  dumps,
  // Why makedumpfile wrote nothing (arm64 kernels it refuses), else absent.
  ...(env.LAB_MKD_SKIPPED ? { makedumpfile_skipped: env.LAB_MKD_SKIPPED } : {}),
  timings_s: timings,
  config: env.LAB_CONFIG,
  created: new Date().toISOString(),
};
fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
