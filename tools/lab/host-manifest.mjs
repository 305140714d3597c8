#!/usr/bin/env node
// node host-manifest.mjs OUTDIR   (run by host.sh; reads HOST_* environment variables)
// Writes OUTDIR/manifest.json for a real-host lab output (schema kbtf-lab-host/1, docs/lab.md).
import fs from 'node:fs';
import path from 'node:path';

const outDir = process.argv[2];
const env = process.env;

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(outDir, file), 'utf8'));
  } catch {
    return null;
  }
};
const timings = Object.fromEntries(
  (env.HOST_TIMINGS ?? '').split(/\s+/).filter(Boolean).map((kv) => {
    const [k, v] = kv.split('=');
    return [k, Number(v)];
  }),
);

const dump = env.HOST_DUMP;
const stampDir = path.dirname(dump);
const reportFile = path.join(stampDir, 'kbtf-verify.json');
const report = readJson(reportFile);
const hostVerify = readJson('host-verify.json');
const packages = Object.fromEntries(
  fs.readFileSync(path.join(outDir, 'image-packages.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')),
);
const records = (boot) => {
  const dir = path.join(outDir, 'kbtf-lab', boot);
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(
    fs.readdirSync(dir).filter((f) => !f.endsWith('.rc')).sort().map((f) => {
      const rc = fs.existsSync(path.join(dir, `${f}.rc`)) ? Number(fs.readFileSync(path.join(dir, `${f}.rc`), 'utf8')) : null;
      return [f, { file: `kbtf-lab/${boot}/${f}`, rc }];
    }),
  );
};

const manifest = {
  schema: 'kbtf-lab-host/1',
  key: env.HOST_KEY,
  kernel: {
    kver: env.HOST_KVER,
    package: `linux-image-${env.HOST_KVER} ${packages[`linux-image-${env.HOST_KVER}`] ?? '?'}`,
  },
  image: {
    suite: 'trixie',
    base: env.HOST_BASE,
    discovery: env.HOST_DISC,
    packages: 'image-packages.txt',
    kbtf: `${env.HOST_KBTF_DEB} (installed ${packages.kbtf ?? '?'})`,
    companions: `${env.HOST_COMP_DEB} (installed ${packages[`kbtf-companions-${env.HOST_KVER}`] ?? '?'})`,
    setting: env.HOST_SETTING,
    removed_companion: env.HOST_REMOVED || null,
    kdump_initramfs: env.HOST_KDUMP_STATE === 'from-host-trixie' ? "host-trixie's, built at its first boot" : 'built by kdump-tools at boot 1',
    discovered_modules: 'discovered-modules.txt',
  },
  guest: {
    mem: `${env.HOST_MEM}M`,
    smp: Number(env.HOST_SMP),
    cmdline: env.HOST_CMDLINE,
    qemu_cpu: env.HOST_CPU,
    qemu_accel: env.HOST_ACCEL,
  },
  dump: { file: dump, size: fs.statSync(path.join(outDir, dump)).size, writer: 'kdump-tools (makedumpfile in the capture kernel)' },
  report: {
    file: reportFile,
    written_by: 'kbtf-verify-crashes.service in the guest, at the boot after the crash',
    verdict: report?.verdict ?? null,
  },
  host_verify: {
    file: 'host-verify.json',
    rc: Number(fs.readFileSync(path.join(outDir, 'host-verify.rc'), 'utf8')),
    verdict: hostVerify?.verdict ?? null,
  },
  boot1: records('boot1'),
  boot2: records('boot2'),
  serial_logs: ['boot1.serial.log', 'boot1.lab.log', 'boot2.serial.log', 'boot2.lab.log'],
  timings_s: timings,
  config: env.HOST_CONFIG,
  created: new Date().toISOString(),
};
fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
