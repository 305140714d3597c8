import { UsageError } from '@kbtf/binary';
import {
  buildCompanions, buildForKernel, cacheDir, companionDir, ElfFile, ensurePaholeTree, formatSummary, headersDir,
  KernelTree, moduleFileName, probePahole, readModule, resolvePahole, summaryRows, treePaholeArgv, checkHeaders,
  type CompanionResult,
} from '@kbtf/companion';
import type { Command, CommandContext } from '../cli/command.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

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

const build: Command = {
  name: 'build',
  summary: 'build M-btf.ko companions (and vmlinux-btf.ko) for a Debian kernel from its -dbg DWARF',
  usage: [
    'companion build --kernel KVER [MODULE...] [--deps] [--all] [--vmlinux] [--out DIR] [--json]',
    'companion build --module M.ko --dwarf M.debug.ko --vmlinux-btf FILE [--kernel KVER] [--out DIR]',
  ],
  help: `
Builds companion modules (companion contract v1): for module M, M-btf.ko holds the BTF of M's global
variables as split BTF on the kernel's vmlinux BTF, in a code-less module with
btf_companion_of=M. Pipeline: pahole >= 1.28 (global_var; trixie's, from a debootstrap'd tree in the
cache) on the -dbg DWARF, pruned to VARs + DATASECs + the types vmlinux lacks, placed in a stub built
by kbuild against linux-headers-KVER, and checked before anything is written.

Kernel mode fetches what it needs into the cache (apt-get download linux-image-KVER and -dbg, only the
needed members extracted) and writes OUT/lib/modules/KVER/updates/kbtf/M-btf.ko, ready for depmod.
File mode builds one companion from explicit files into OUT/M-btf.ko.

Options:
  --kernel KVER        Debian kernel release, e.g. 6.1.0-56-amd64 (file mode: from the module's vermagic)
  --deps               also build companions for the modules' dependencies (modules.dep)
  --all                every module of the kernel
  --vmlinux            also build vmlinux-btf.ko (the kernel's own globals)
  --out DIR            output root (default: $KBTF_CACHE/companions)
  --cache DIR          cache of packages, DWARF and the pahole tree (default: $KBTF_CACHE or /var/cache/kbtf)
  --headers DIR        kbuild tree (default: /usr/src/linux-headers-KVER)
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
    const cache = str(v.cache) ?? cacheDir(ctx.env);
    const log = progress(ctx);
    const download = !v['no-download'];
    if (str(v.module) || str(v.dwarf)) {
      const module = str(v.module);
      const dwarf = str(v.dwarf);
      const vmlinuxBtf = str(v['vmlinux-btf']);
      if (!module || !dwarf || !vmlinuxBtf) throw new UsageError('companion build: file mode needs --module, --dwarf and --vmlinux-btf');
      if (ctx.args.length > 0 || v.all || v.deps || v.vmlinux) throw new UsageError('companion build: file mode takes no module names, --all, --deps or --vmlinux');
      const kver = str(v.kernel) ?? vermagicRelease(ElfFile.fromBytes(await readModule(module), module));
      const headers = str(v.headers) ?? headersDir(kver);
      checkHeaders(headers, kver);
      const pahole = await resolvePahole(cache, str(v.pahole), download, log);
      const outDir = str(v.out) ?? '.';
      const results = await buildCompanions([{ of: moduleFileName(module), module, dwarf }], {
        kver, headers, vmlinuxBtf, pahole, outDir, workDir: str(v.work), log,
      });
      return report(ctx, kver, outDir, results);
    }
    const kver = str(v.kernel);
    if (!kver) throw new UsageError('companion build: --kernel KVER is required (or file mode: --module/--dwarf/--vmlinux-btf)');
    if (ctx.args.length === 0 && !v.all && !v.vmlinux) throw new UsageError('companion build: name modules, or give --all or --vmlinux');
    const out = str(v.out) ?? `${cache}/companions`;
    const results = await buildForKernel({
      cache, kver, modules: ctx.args, all: !!v.all, deps: !!v.deps, vmlinux: !!v.vmlinux, out,
      headers: str(v.headers), pahole: str(v.pahole), download, workDir: str(v.work), log,
    });
    return report(ctx, kver, companionDir(out, kver), results);
  },
};

/** `vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions` → `6.1.0-56-amd64`. */
function vermagicRelease(elf: ElfFile): string {
  const vm = elf.modinfo().get('vermagic')?.[0];
  if (!vm) throw new UsageError(`${elf.source} has no vermagic: pass --kernel KVER`);
  return vm.split(' ')[0];
}

const provision: Command = {
  name: 'provision',
  summary: "fetch what companion builds for a kernel need: trixie's pahole, the image and -dbg packages",
  usage: ['companion provision --kernel KVER [--cache DIR] [--json]'],
  help: `
Idempotent: debootstraps Debian trixie with dwarves (pahole 1.30) into CACHE/trixie, downloads
linux-image-KVER and linux-image-KVER-dbg into CACHE/debs, unpacks the image (modules, depmod) and
extracts the -dbg vmlinux and its .BTF. The kernel headers are checked, not installed:
apt-get install linux-headers-KVER.`,
  options: { kernel: { type: 'string' }, cache: { type: 'string' } },
  async run(ctx) {
    const kver = str(ctx.values.kernel);
    if (!kver) throw new UsageError('companion provision: --kernel KVER is required');
    const cache = str(ctx.values.cache) ?? cacheDir(ctx.env);
    const log = progress(ctx);
    const tree = await ensurePaholeTree(cache, { log });
    const pahole = await probePahole(treePaholeArgv(tree));
    const k = new KernelTree(cache, kver, log);
    await k.ensureImage(true);
    await k.ensureDbg([], true, true);
    const vmlinuxBtf = k.ensureVmlinuxBtf();
    const headers = headersDir(kver);
    let headersOk = true;
    try {
      checkHeaders(headers, kver);
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
};

export const command: Command = {
  name: 'companion',
  summary: 'build companion modules (M-btf.ko, vmlinux-btf.ko) from a Debian kernel\'s DWARF',
  usage: ['companion build ...', 'companion provision ...'],
  subcommands: { build, provision },
};
