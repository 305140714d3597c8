import { UsageError } from '@kbtf/binary';
import {
  buildRequested, cacheDir, ensurePaholeTree, formatSummary, headersDir, KernelTree, kernelSuite, kernelToolchain,
  packageCompanions, paholeSuite, probePahole, kernelFetcher, summaryRows, treePaholeArgv, type CompanionResult,
} from '@kbtf/companion';
import { VERSION } from '../version.js';
import { defineCommand, type CommandContext } from '../cli/command.js';

function progress(ctx: CommandContext): (m: string) => void {
  return (m) => ctx.out.stderr.write(`kbtf: ${m}\n`);
}

function report(ctx: CommandContext, kver: string, outDir: string, results: CompanionResult[]): number {
  const { rows, total } = summaryRows(results);
  if (ctx.out.json) {
    ctx.out.document({
      kernel: kver,
      out: outDir,
      companions: results.map((r) => ({
        of: r.of, companion: r.companion, file: r.file, buildId: r.buildId ?? null, moduleBtf: r.moduleBtfSize, rawBtf: r.rawBtfSize,
        btf: r.btfSize, ko: r.koSize, vars: r.stats.vars, types: r.stats.types, rawTypes: r.stats.rawTypes,
        duplicateEntries: r.stats.duplicateEntries, droppedDatasecs: r.stats.droppedDatasecs,
      })),
      total,
      rows: rows.length,
    });
  } else {
    for (const l of formatSummary(results)) ctx.out.line(l);
    ctx.out.line();
    ctx.out.line(`${results.length} companion(s) for ${kver} written to ${outDir}`);
  }
  return 0;
}

const build = defineCommand({
  name: 'build',
  summary: 'build M-btf.ko companions (and vmlinux-btf.ko) for a Debian kernel from its -dbg DWARF',
  usage: [
    'companion build --kernel KVER [MODULE...] [--deps] [--all] [--vmlinux] [--out DIR] [--json]',
    'companion build --module M.ko --dwarf M.debug.ko --vmlinux-btf FILE [--kernel KVER] [--out DIR]',
  ],
  help: `
Builds companion modules (companion contract v2): for module M, M-btf.ko holds the BTF of M's global
variables as split BTF on the kernel's vmlinux BTF, in a code-less module with
btf_companion_of=M. Pipeline: pahole >= 1.28 (global_var; trixie's, from a debootstrap'd tree in the
cache) on the -dbg DWARF, pruned to VARs + DATASECs + the types vmlinux lacks, placed in a stub built
by kbuild against linux-headers-KVER, and checked before anything is written.

Kernel mode fetches what it needs into the cache (apt-get download linux-image-KVER and -dbg, only the
needed members extracted) and writes OUT/lib/modules/KVER/updates/kbtf/M-btf.ko, ready for depmod.
File mode builds one companion from explicit files into OUT/M-btf.ko.

Options:
  --kernel KVER        Debian kernel release, e.g. 6.1.0-56-amd64 (file mode: from the module's vermagic);
                       an arm64 one (6.1.0-57-arm64) is cross-built on an amd64 host (aarch64-linux-gnu-gcc)
  --deps               also build companions for the modules' dependencies (modules.dep)
  --all                every module of the kernel
  --vmlinux            also build vmlinux-btf.ko (the kernel's own globals)
  --out DIR            output root (default: $KBTF_CACHE/companions)
  --cache DIR          cache of packages, DWARF and the pahole tree (default: $KBTF_CACHE or /var/cache/kbtf)
  --headers DIR        kbuild tree (default: /usr/src/linux-headers-KVER; for another architecture's
                       kernel, its headers unpacked into the cache)
  --pahole PATH        use this pahole (>= 1.28) instead of the cache's trixie pahole
  --no-download        use only what the cache holds (no apt-get, no debootstrap)
  --work DIR           keep intermediate files (raw and pruned BTF, stubs) in DIR
Exit: 0 built; 2 refused (pahole too old, headers missing, DWARF build-id mismatch, …) — nothing written.`,
  options: {
    kernel: { type: 'string' },
    deps: { type: 'boolean' },
    all: { type: 'boolean' },
    vmlinux: { type: 'boolean' },
    out: { type: 'string' },
    cache: { type: 'string' },
    headers: { type: 'string' },
    pahole: { type: 'string' },
    'no-download': { type: 'boolean' },
    work: { type: 'string' },
    module: { type: 'string' },
    dwarf: { type: 'string' },
    'vmlinux-btf': { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const { kver, outDir, results } = await buildRequested({
      cache: v.cache ?? cacheDir(ctx.env), modules: ctx.args, kernel: v.kernel, all: v.all, deps: v.deps, vmlinux: v.vmlinux,
      out: v.out, headers: v.headers, pahole: v.pahole, download: !v['no-download'], workDir: v.work,
      module: v.module, dwarf: v.dwarf, vmlinuxBtf: v['vmlinux-btf'], log: progress(ctx),
    });
    return report(ctx, kver, outDir, results);
  },
});

const provision = defineCommand({
  name: 'provision',
  summary: "fetch what companion builds for a kernel need: trixie's pahole, the image and -dbg packages",
  usage: ['companion provision --kernel KVER [--cache DIR] [--json]'],
  help: `
Idempotent: debootstraps Debian trixie with dwarves (pahole 1.30) into CACHE/trixie, downloads
linux-image-KVER and linux-image-KVER-dbg into CACHE/debs, unpacks the image (modules, depmod) and
extracts the -dbg vmlinux and its .BTF. For a kernel of the host's release the headers are checked,
not installed: apt-get install linux-headers-KVER. For a Debian 13 kernel (+deb13) on another host,
the packages come through the trixie tree's apt, and make and linux-headers-KVER (with gcc-14) are
installed into the tree, never on the host.`,
  options: { kernel: { type: 'string' }, cache: { type: 'string' } },
  async run(ctx) {
    const kver = ctx.values.kernel;
    if (!kver) throw new UsageError('companion provision: --kernel KVER is required');
    const cache = ctx.values.cache ?? cacheDir(ctx.env);
    const log = progress(ctx);
    // A sid kernel's companions are encoded by the sid tree's pahole (1.32), the rest by trixie's.
    const tree = await ensurePaholeTree(cache, { log, suite: paholeSuite(kver) });
    const pahole = await probePahole(treePaholeArgv(tree));
    const k = new KernelTree(cache, kver, log, undefined, await kernelFetcher(cache, kver, true, log));
    await k.ensureImage(true);
    await k.ensureDbg([], true, true);
    const vmlinuxBtf = k.ensureVmlinuxBtf();
    // A trixie kernel's headers (and gcc-14, make) are installed into the trixie tree; the host's are only checked.
    let headers = headersDir(kver);
    let headersOk = true;
    try {
      headers = (await kernelToolchain({ cache, kver, download: true, log })).headers;
    } catch {
      headersOk = false;
    }
    const doc = { kernel: kver, cache, pahole: pahole.version, modules: k.modulesDir, vmlinuxBtf, headers, headersOk, moduleCount: k.modules().size };
    if (ctx.out.json) ctx.out.document(doc);
    else {
      ctx.out.line(`pahole ${pahole.version} (${tree})`);
      ctx.out.line(`${doc.moduleCount} modules in ${doc.modules}`);
      ctx.out.line(`vmlinux BTF ${vmlinuxBtf}`);
      ctx.out.line(headersOk ? `headers ${headers}` : `headers missing: apt-get install linux-headers-${kver}`);
    }
    return headersOk ? 0 : 1;
  },
});

const pkg = defineCommand({
  name: 'package',
  summary: 'build the Debian package kbtf-companions-KVER_VERSION_ARCH.deb of a kernel\'s companions',
  usage: ['companion package --kernel KVER [--output DIR] [MODULE... | --all] [--deps] [--vmlinux] [--json]'],
  help: `
Builds (or reuses) the companions of a Debian kernel and packages them with dpkg-deb as
OUTPUT/kbtf-companions-KVER_${VERSION}_ARCH.deb (ARCH: the kernel's, amd64 or arm64):
  /lib/modules/KVER/updates/kbtf/M-btf.ko (and vmlinux-btf.ko)
  Depends: linux-image-KVER (= the exact Debian version of the image they were built from)
  postinst/postrm: depmod -a KVER when that kernel's module tree is there; initramfs trigger
The bytes are reproducible (SOURCE_DATE_EPOCH, or the image package's build time).

Companions are reused from the build root (--companions, default $KBTF_CACHE/companions) when its
summary lists them with the module's current build-id and they pass the loader-side check; the
rest are built there first, as 'kbtf companion build' would. Debian 13 (+deb13) kernels are built
through the trixie tree (see 'kbtf companion provision').

Install it beside the kernel: apt install ./kbtf-companions-KVER_${VERSION}_ARCH.deb

Options:
  --kernel KVER        Debian kernel release, e.g. 6.12.57+deb13-amd64
  --output DIR         where the .deb goes (default: .)
  --deps, --all, --vmlinux   as for 'companion build'
  --companions DIR     build root to reuse from and build into (default: $KBTF_CACHE/companions)
  --maintainer TEXT    Maintainer field (default: ${'$'}DEBFULLNAME <${'$'}DEBEMAIL> when set)
  --cache, --headers, --pahole, --no-download, --work   as for 'companion build'
Exit: 0 written; 2 refused (unknown module, headers or packages missing, …) — nothing written.`,
  options: {
    kernel: { type: 'string' },
    output: { type: 'string' },
    deps: { type: 'boolean' },
    all: { type: 'boolean' },
    vmlinux: { type: 'boolean' },
    companions: { type: 'string' },
    maintainer: { type: 'string' },
    cache: { type: 'string' },
    headers: { type: 'string' },
    pahole: { type: 'string' },
    'no-download': { type: 'boolean' },
    work: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const kver = v.kernel;
    if (!kver) throw new UsageError('companion package: --kernel KVER is required');
    if (ctx.args.length === 0 && !v.all && !v.vmlinux) throw new UsageError('companion package: name modules, or give --all or --vmlinux');
    kernelSuite(kver); // refuses a kernel of a release it cannot build for, before anything else
    const cache = v.cache ?? cacheDir(ctx.env);
    const env = ctx.env;
    const maintainer = v.maintainer ?? (env.DEBFULLNAME && env.DEBEMAIL ? `${env.DEBFULLNAME} <${env.DEBEMAIL}>` : undefined);
    const r = await packageCompanions({
      cache, kver, modules: ctx.args, all: !!v.all, deps: !!v.deps, vmlinux: !!v.vmlinux,
      companions: v.companions, output: v.output ?? '.', version: VERSION, maintainer,
      headers: v.headers, pahole: v.pahole, download: !v['no-download'], workDir: v.work, log: progress(ctx),
    });
    if (ctx.out.json) ctx.out.document(r);
    else {
      ctx.out.line(r.deb);
      ctx.out.line(`  ${r.package} ${r.version}, Depends: ${r.depends}`);
      ctx.out.line(`  ${r.modules.length} companion(s) (${r.built.length} built, ${r.modules.length - r.built.length} reused)${r.without.length ? `; no globals, no companion: ${r.without.join(', ')}` : ''}`);
      ctx.out.line(`  sha256 ${r.sha256}`);
    }
    return 0;
  },
});

export const command = defineCommand({
  name: 'companion',
  summary: 'build companion modules (M-btf.ko, vmlinux-btf.ko) from a Debian kernel\'s DWARF',
  usage: ['companion build ...', 'companion package ...', 'companion provision ...'],
  subcommands: { build, package: pkg, provision },
});
