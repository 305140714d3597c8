/**
 * `kbtf check`: will this root tree (an image, a chroot, `/`) produce self-contained dumps?
 *
 * 1. Which modules load: modules-load.d and /etc/modules, the given lists (e.g. the initramfs'
 *    /etc/initramfs-tools/modules), or every module of modules.dep (`all`); then, as kmod does,
 *    their modules.dep dependencies and softdeps (resolved by name or modules.alias).
 * 2. For each that the policy selects: the companion is in modules.dep; its `.modinfo` has the
 *    parent's vermagic and `btf_companion_of=<parent>`; its `.BTF` passes the checks the target
 *    kernel runs when a module loads (@kbtf/btf validateBtf, mode 'module', that kernel's rules)
 *    and parses as split BTF on the kernel's vmlinux BTF; the first kmod softdep for the module (what kmod uses) loads it; no
 *    `install` line replaces the companion's load. `required` modules are checked whether or not a
 *    boot list names them, and so are the modules initramfs-tools' initramfs loads by name.
 * 2b. Something in the tree loads the selected companions at boot (check-wiring.ts, wiring.ts): a
 *    persistent softdep file, the enabled unit, `kbtf hook` install lines, and for initramfs
 *    modules the initramfs-tools hook.
 * 3. kdump keeps it (check-kdump.ts, kdump.ts): in mode `always`, `crashkernel=` is on the configured
 *    command line and kdump-tools or kdumpctl is set up; a tree whose kdump tool is armed at boot
 *    must load every companion, and its core collector must keep the pages verify reads.
 * Each finding names the file that caused it and a fix hint. Severity `error` makes the exit 1.
 */
import { parseBtf, btfBytesFromFile, companionRules, elfSection, validateBtf, type Btf, type KernelRules } from '@kbtf/btf';
import { KbtfError } from '@kbtf/binary';
import { Root } from './root-tree.js';
import { decide } from './decide.js';
import { companionOf, foldName, isCompanion, matchesPattern, VMLINUX, VMLINUX_COMPANION } from './names.js';
import { bootModules, readModulesDir, type ModulesDir } from './modules.js';
import { readModprobeConfig, softdepFor, installFor, blacklisted, type ModprobeConfig, MODPROBE_DIRS } from './modprobe-d.js';
import { UNIT_NAME, readUnitWiring, readHookWiring, readInitramfs } from './wiring.js';
import { checkWiring, companionLoad, shadowsKbtf, type WiringReport } from './check-wiring.js';
import { checkKdump } from './check-kdump.js';
import type { Finding, LoadedModule } from './finding.js';
export type { Finding, LoadedModule, Severity } from './finding.js';
import type { KdumpFacts } from './kdump.js';
import { readSettings, type Settings, type SettingsOptions } from './settings.js';
import { renderConfig, DEFAULT_MODPROBE_OUTPUT, DEFAULT_MODULES_LOAD_OUTPUT } from './render.js';
import { readModuleFile, modinfoOf, modinfoValue } from './modinfo.js';
import { confFiles } from './conf-files.js';
import { MODULES_LOAD_DIRS } from './modules.js';
import { fnmatch } from './glob.js';
import { formatSource } from './setting-source.js';

export interface CheckOptions extends SettingsOptions {
  /** Check every module of modules.dep, not only those that load at boot. */
  all?: boolean;
  /** Extra module lists (in-tree paths), one name a line: e.g. /etc/initramfs-tools/modules. */
  lists?: string[];
  /** vmlinux BTF (raw BTF or an ELF with .BTF), a host path; else the tree's. */
  vmlinuxBtf?: Uint8Array;
  vmlinuxBtfSource?: string;
}

export interface CheckReport {
  root: string;
  kernel: string;
  settings: { mode: string; modeSource: string; vmlinux: boolean };
  modules: LoadedModule[];
  /** Selected modules that lack a companion in modules.dep. */
  missingCompanions: string[];
  /** What loads the companions at boot (added in issue 13). */
  wiring: WiringReport;
  /** The tree's kdump set-up and capture path (added in issue 22; check-kdump.ts). */
  kdump: KdumpFacts;
  findings: Finding[];
  errors: number;
}

export { UNIT_NAME };
/** What the unit renders at every boot: a tree's copy in /run stands for nothing (it is not there at boot). */
const RENDERED = new Set([DEFAULT_MODPROBE_OUTPUT, DEFAULT_MODULES_LOAD_OUTPUT]);

export function checkRoot(root: Root, options: CheckOptions = {}): CheckReport {
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const settings = readSettings(root, { ...options, configuredCmdline: options.cmdline === undefined && !root.isLive ? true : options.configuredCmdline });
  for (const p of settings.problems) add({ severity: p.severity, code: 'setting-invalid', file: p.file, line: p.line, message: p.message, hint: `valid values: always, on-demand, off (docs/policy.md)` });
  const mods = readModulesDir(root, options.kernel);
  const unitWiring = readUnitWiring(root);
  const hook = readHookWiring(root);
  const unit = unitWiring.active ? unitWiring.file : undefined;
  const cfg = modprobeView(root, settings, mods, unit);
  const aliases = parseAliases(root.readTextIfExists(`${mods.dir}/modules.alias`) ?? '');
  const initramfsView = readInitramfs(root, mods, aliases);
  const seeds = [...requiredSeeds(root, settings, mods, add), ...(initramfsView?.loads ?? [])];
  const loaded = modulesThatLoad(root, mods, cfg, options, add, seeds, aliases);
  const initramfs = initramfsView && { ...initramfsView, loaded: expandLoads(mods, cfg, aliases, initramfsView.loads) };
  // Loaded from an initramfs the hook wires: its softdep is in the image (a reload later needs the root's).
  const hooked = new Set(hook.active ? (initramfs?.loaded ?? []).map((m) => m.name) : []);

  const missing: string[] = [];
  let vmlinuxBase: Btf | undefined | null = null; // null: not looked for yet
  const base = (): Btf | undefined => {
    if (vmlinuxBase === null) vmlinuxBase = findVmlinuxBtf(root, mods.kernel, options, add);
    return vmlinuxBase;
  };
  for (const m of loaded) {
    if (isCompanion(m.name)) continue;
    const d = decide(settings, m.name);
    if (!d.load) continue;
    const comp = companionOf(m.name)!;
    const parent = mods.modules.get(m.name);
    const entry = mods.modules.get(comp);
    if (!entry) {
      missing.push(m.name);
      add({
        severity: d.required ? 'error' : 'warning',
        code: d.required ? 'required-missing' : 'companion-missing',
        file: mods.depFile,
        module: m.name,
        message: `${m.name} (${m.why}) has no companion ${m.name}-btf in modules.dep`,
        hint: `build ${m.name}-btf.ko (kbtf companion build) and install it under ${mods.dir}/, then run depmod ${mods.kernel}`,
      });
      continue;
    }
    checkCompanionFile(root, mods, m.name, entry.file, parent?.file, add, base);
    checkLoadPath(root, settings, cfg, m.name, add, !!unit, hooked.has(m.name));
  }
  const selected = renderConfig(root, settings, mods).softdeps.map((s) => s.module);
  const wiring = checkWiring({ root, cfg, selected, unit: unitWiring, hook, initramfs, always: settings.mode.value === 'always' }, add);
  const hookLoadsVmlinux = hook.active && !!initramfs;
  if (checkVmlinux(root, settings, mods, cfg, unit ?? (hookLoadsVmlinux ? hook.file : undefined), add, !options.all && loaded.some((m) => m.name === foldName(VMLINUX_COMPANION))) === 'missing') missing.push(VMLINUX);
  const kdump = checkKdump({ root, settings, mods, loaded, wiring, findings }, add);
  const order = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || (a.module ?? '').localeCompare(b.module ?? '') || a.code.localeCompare(b.code));
  return {
    root: root.dir,
    kernel: mods.kernel,
    settings: { mode: settings.mode.value, modeSource: formatSource(settings.mode.source), vmlinux: settings.vmlinux.value },
    modules: loaded,
    missingCompanions: missing.sort(),
    wiring,
    kdump,
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
  };
}

/**
 * kmod's view at boot: the tree's persistent files (the unit's /run rendering of a tree is not
 * there at boot), plus what the enabled unit renders when the tree has no kbtf.conf of its own.
 */
function modprobeView(root: Root, settings: Settings, mods: ModulesDir, unit: string | undefined): ModprobeConfig {
  const own = MODPROBE_DIRS.some((d) => !RENDERED.has(`${d}/kbtf.conf`) && root.kind(`${d}/kbtf.conf`) === 'file');
  if (own || !unit) return readModprobeConfig(root, mods.dir, undefined, RENDERED);
  return readModprobeConfig(root, mods.dir, { path: DEFAULT_MODPROBE_OUTPUT, text: renderConfig(root, settings, mods).modprobe }, RENDERED);
}

function builtinModules(root: Root, mods: ModulesDir): Set<string> {
  return new Set(
    (root.readTextIfExists(`${mods.dir}/modules.builtin`) ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((p) => foldName(p.slice(p.lastIndexOf('/') + 1).replace(/\.ko$/, ''))),
  );
}

/** The modules of modules.dep a `required` pattern names: checked whether or not anything lists them. */
function requiredSeeds(root: Root, settings: Settings, mods: ModulesDir, add: (f: Finding) => void): LoadedModule[] {
  const out: LoadedModule[] = [];
  let builtin: Set<string> | undefined;
  for (const r of settings.required) {
    const hits = [...mods.modules.keys()].filter((n) => !isCompanion(n) && matchesPattern(r.pattern, n));
    for (const name of hits) out.push({ name, why: `required (${formatSource(r.source)})` });
    builtin ??= builtinModules(root, mods);
    if (!hits.length && !/[*?[]/.test(r.pattern) && foldName(r.pattern) !== VMLINUX && !builtin.has(foldName(r.pattern))) {
      add({ severity: 'warning', code: 'module-unknown', file: r.source.file ?? 'policy', line: r.source.line, module: foldName(r.pattern), message: `${r.pattern} is required but is neither in modules.dep nor built in`, hint: 'remove it from required, or install the module' });
    }
  }
  return out;
}

function modulesThatLoad(root: Root, mods: ModulesDir, cfg: ModprobeConfig, options: CheckOptions, add: (f: Finding) => void, seeds: LoadedModule[], aliases: Alias[]): LoadedModule[] {
  const builtin = builtinModules(root, mods);
  const queue: LoadedModule[] = [];
  if (options.all) for (const name of [...mods.modules.keys()].sort()) queue.push({ name, why: 'modules.dep (--all)' });
  else {
    for (const b of bootModules(root, options.lists ?? [], RENDERED)) {
      if (mods.modules.has(b.name)) queue.push({ name: b.name, why: `${b.at.file}:${b.at.line}` });
      else if (builtin.has(b.name)) continue;
      else add({ severity: 'warning', code: 'module-unknown', file: b.at.file, line: b.at.line, module: b.name, message: `${b.name} is listed to load but is neither in modules.dep nor built in`, hint: 'remove the line or install the module' });
    }
    queue.push(...seeds);
  }
  return expandLoads(mods, cfg, aliases, queue);
}

/** A modules.alias line; `prefix`: the pattern's literal start (up to its first glob character), a cheap pre-test. */
type Alias = { pattern: string; module: string; prefix: string };
/** Alias resolutions per modules.alias list (one list per check). */
const resolved = new WeakMap<Alias[], Map<string, string[]>>();

/** The modules `queue` loads, as kmod resolves them: each module's modules.dep dependencies and softdeps. */
function expandLoads(mods: ModulesDir, cfg: ModprobeConfig, aliases: Alias[], seeds: LoadedModule[]): LoadedModule[] {
  const out = new Map<string, LoadedModule>();
  const queue = [...seeds];
  const resolve = (n: string): string[] => {
    const f = foldName(n);
    if (mods.modules.has(f)) return [f];
    if (isCompanion(f)) return [];
    // modules.alias has ~25000 patterns (fnmatch): each name is matched against them once.
    let hit = resolved.get(aliases)?.get(n);
    if (!hit) {
      const match = (a: Alias, x: string) => x.startsWith(a.prefix) && fnmatch(a.pattern, x);
      hit = aliases.filter((a) => match(a, n) || match(a, f)).map((a) => a.module).filter((m) => mods.modules.has(m));
      if (!resolved.has(aliases)) resolved.set(aliases, new Map());
      resolved.get(aliases)!.set(n, hit);
    }
    return hit;
  };
  while (queue.length) {
    const m = queue.shift()!;
    if (out.has(m.name)) continue;
    out.set(m.name, m);
    const e = mods.modules.get(m.name);
    for (const dep of e?.deps ?? []) {
      const name = mods.modules.get(foldName(dep.slice(dep.lastIndexOf('/') + 1).replace(/\.ko(\.\w+)?$/, '')))?.name;
      if (name) queue.push({ name, why: `dependency of ${m.name}` });
    }
    if (isCompanion(m.name)) continue;
    const sd = softdepFor(cfg, m.name);
    for (const s of [...(sd?.pre ?? []), ...(sd?.post ?? [])]) for (const r of resolve(s)) if (!isCompanion(r)) queue.push({ name: r, why: `softdep of ${m.name}` });
  }
  return [...out.values()];
}

function parseAliases(text: string): Alias[] {
  const out: Alias[] = [];
  for (const l of text.split('\n')) {
    const m = /^alias\s+(\S+)\s+(\S+)/.exec(l);
    if (m) out.push({ pattern: m[1], module: foldName(m[2]), prefix: m[1].slice(0, m[1].search(/[*?[\\]|$/)) });
  }
  return out;
}

function checkCompanionFile(root: Root, mods: ModulesDir, module: string, file: string, parentFile: string | undefined, add: (f: Finding) => void, base: () => Btf | undefined): void {
  const at = { file, module };
  let elf: Uint8Array;
  let info;
  try {
    elf = readModuleFile(root, file);
    info = modinfoOf(elf, file);
  } catch (err) {
    add({ ...at, severity: 'error', code: 'companion-unreadable', message: `cannot read the companion: ${(err as Error).message}`, hint: 'rebuild the companion; it must be an ELF kernel module' });
    return;
  }
  const vermagic = modinfoValue(info, 'vermagic');
  let parentVermagic: string | undefined;
  if (parentFile) {
    try {
      parentVermagic = modinfoValue(modinfoOf(readModuleFile(root, parentFile), parentFile), 'vermagic');
    } catch {
      parentVermagic = undefined;
    }
  }
  const kernelOk = vermagic?.split(' ')[0] === mods.kernel;
  if (!vermagic || !kernelOk || (parentVermagic !== undefined && parentVermagic !== vermagic)) {
    add({ ...at, severity: 'error', code: 'vermagic-mismatch', message: `vermagic '${vermagic ?? '(none)'}' does not match ${parentVermagic !== undefined ? `${module}'s '${parentVermagic}'` : `kernel ${mods.kernel}`}`, hint: `rebuild ${module}-btf against linux-headers-${mods.kernel}` });
  }
  const of = modinfoValue(info, 'btf_companion_of');
  if (of === undefined) add({ ...at, severity: 'error', code: 'companion-of-missing', message: `.modinfo has no btf_companion_of (is this a companion?)`, hint: `build it with MODULE_INFO(btf_companion_of, "${module}")` });
  else if (foldName(of) !== module) add({ ...at, severity: 'error', code: 'companion-of-mismatch', message: `.modinfo says btf_companion_of=${of}, but the file is the companion of ${module}`, hint: `rebuild or rename: ${of}'s companion must be ${of}-btf.ko` });
  const btfBytes = elfSection(elf, '.BTF', file);
  if (!btfBytes || btfBytes.length === 0) {
    add({ ...at, severity: 'error', code: 'companion-no-btf', message: 'the companion has no .BTF section', hint: 'objcopy --add-section .BTF=OUT.btf (docs/companions.md)' });
    return;
  }
  const vmlinux = base();
  if (!vmlinux) return;
  const hint = `regenerate with pahole --btf_base=<vmlinux BTF of ${mods.kernel}> (kbtf companion build --kernel ${mods.kernel} ${module})`;
  const rules = companionRules(mods.kernel);
  const rejected = kernelBtfProblem(btfBytes, vmlinux, rules);
  if (rejected) {
    add({ ...at, severity: 'error', code: 'companion-btf-invalid', message: `the kernel (Linux ${rules} rules, module load) rejects the companion's .BTF: ${rejected}; the module loads without its BTF`, hint });
    return;
  }
  const problem = splitBtfProblem(btfBytes, vmlinux, file);
  if (problem) add({ ...at, severity: 'error', code: 'companion-btf-invalid', message: `.BTF is not valid split BTF on this kernel's vmlinux BTF: ${problem}`, hint });
}

/**
 * What the kernel says when it loads a module with this `.BTF` (btf_parse_module: header, strings and
 * every record's meta checks, split on vmlinux), in its words: `[id] message (detail)`.
 */
export function kernelBtfProblem(bytes: Uint8Array, base: Btf, kernel: KernelRules): string | undefined {
  const r = validateBtf(bytes, { base, mode: 'module', kernel });
  if (r.valid) return undefined;
  const e = r.errors[0];
  return `${e.typeId ? `[${e.typeId}] ` : ''}${e.message}${e.detail ? ` (${e.detail})` : ''}`;
}

/** Parse as split BTF on `base` and decode every type and what each VAR points at. */
export function splitBtfProblem(bytes: Uint8Array, base: Btf, source: string): string | undefined {
  try {
    const btf = parseBtf(bytes, { base, source: `${source} .BTF` });
    let vars = 0;
    for (let id = btf.firstId; id < btf.endId; id++) {
      const t = btf.type(id);
      if (t.kind === 'var') {
        vars++;
        btf.type(t.type);
      }
    }
    if (vars === 0) return 'no VAR types (a companion carries the module\'s global variables)';
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function findVmlinuxBtf(root: Root, kernel: string, options: CheckOptions, add: (f: Finding) => void): Btf | undefined {
  const candidates: { bytes: () => Uint8Array; source: string }[] = [];
  if (options.vmlinuxBtf) candidates.push({ bytes: () => options.vmlinuxBtf!, source: options.vmlinuxBtfSource ?? '--vmlinux-btf' });
  else {
    if (root.isLive) candidates.push({ bytes: () => root.readBytes('/sys/kernel/btf/vmlinux'), source: '/sys/kernel/btf/vmlinux' });
    for (const p of [`/usr/lib/debug/boot/vmlinux-${kernel}`, `/boot/vmlinux-${kernel}`, `/usr/lib/debug/lib/modules/${kernel}/vmlinux`]) {
      if (root.kind(p) === 'file') candidates.push({ bytes: () => root.readBytes(p), source: p });
    }
  }
  for (const c of candidates) {
    try {
      return parseBtf(btfBytesFromFile(c.bytes(), c.source), { source: c.source });
    } catch (err) {
      add({ severity: 'error', code: 'vmlinux-btf-unreadable', file: c.source, message: `cannot read vmlinux BTF: ${err instanceof KbtfError || err instanceof Error ? err.message : String(err)}`, hint: 'give the kernel\'s BTF with --vmlinux-btf FILE (/sys/kernel/btf/vmlinux of that kernel, or its vmlinux)' });
      return undefined;
    }
  }
  add({ severity: 'info', code: 'btf-unchecked', file: `/boot/vmlinux-${kernel}`, message: `no vmlinux BTF for ${kernel}: companions' BTF not validated`, hint: 'give it with --vmlinux-btf FILE' });
  return undefined;
}

/** `hooked`: the module loads from an initramfs whose hook gives it its companion there (no softdep needed in the root). */
function checkLoadPath(root: Root, settings: Settings, cfg: ModprobeConfig, module: string, add: (f: Finding) => void, unit: boolean, hooked: boolean): void {
  const comp = companionOf(module)!;
  const { softdep: sd, bySoftdep: loads, install: inst, byHookLine: viaHook, hookProgramMissing } = companionLoad(root, cfg, module);
  if (!loads && !viaHook) {
    if (sd && shadowsKbtf(sd)) {
      add({ severity: 'error', code: 'softdep-shadowed', file: sd.at.file, line: sd.at.line, module, message: `kmod uses only the first softdep for ${module}: this one, which does not load ${module}-btf`, hint: `add 'post: ${module}-btf' to it, or rename the file to sort after kbtf.conf` });
    } else if (!hooked) {
      const why = hookProgramMissing ? ` (its install line runs ${hookProgramMissing}, which is not in the tree)` : '';
      add({ severity: 'error', code: 'softdep-missing', file: unit ? DEFAULT_MODPROBE_OUTPUT : '/etc/modprobe.d/kbtf.conf', module, message: `nothing makes kmod load ${module}-btf after ${module}${why}`, hint: `kbtf modprobe-config --root ROOT --output ROOT/etc/modprobe.d/kbtf.conf (again after installing companions), or install and enable ${UNIT_NAME}` });
    }
  }
  if (loads && inst && !viaHook) {
    add({ severity: 'warning', code: 'install-ignored', file: inst.at.file, line: inst.at.line, module, message: `'install ${module} ${inst.command}' is ignored by kmod once ${module} has a softdep (kmod 30 ignores install commands of modules with softdeps)`, hint: `if that command matters, use 'install ${module} /usr/bin/kbtf hook ${module} $CMDLINE_OPTS' semantics in it, or drop the companion softdep` });
  }
  const cinst = installFor(cfg, comp);
  if (cinst) add({ severity: 'error', code: 'companion-install', file: cinst.at.file, line: cinst.at.line, module, message: `'install ${cinst.module} ${cinst.command}' replaces the load of ${module}-btf`, hint: 'remove the install line for the companion' });
  const bl = blacklisted(cfg, comp, settings.cmdline);
  if (bl) add({ severity: 'warning', code: 'companion-blacklisted', file: bl.file, line: bl.line, module, message: `${comp} is blacklisted: kmod still loads it by name through the softdep, but the intent conflicts`, hint: `remove the blacklist of ${comp}, or exclude ${module} in the policy` });
}

/** `inLists`: vmlinux-btf is in a boot list check was given (`--list`, e.g. the initramfs' module list). */
function checkVmlinux(root: Root, settings: Settings, mods: ModulesDir, cfg: ModprobeConfig, unit: string | undefined, add: (f: Finding) => void, inLists: boolean): 'missing' | undefined {
  const d = decide(settings, VMLINUX);
  if (!d.load) return;
  const comp = foldName(VMLINUX_COMPANION);
  const entry = mods.modules.get(comp);
  if (!entry) {
    add({ severity: d.required ? 'error' : 'warning', code: d.required ? 'required-missing' : 'companion-missing', file: mods.depFile, module: VMLINUX, message: `vmlinux-btf is selected (${formatSource(settings.vmlinux.source)}) but not in modules.dep`, hint: `build vmlinux-btf.ko for ${mods.kernel} and run depmod` });
    return 'missing';
  }
  const { files } = confFiles(root, MODULES_LOAD_DIRS, '.conf', RENDERED);
  const listed = [...files, ...(root.kind('/etc/modules') === 'file' ? ['/etc/modules'] : [])].some((f) =>
    root.readText(f).split('\n').some((l) => foldName(l.trim()) === comp),
  );
  if (!listed && !inLists && !unit) add({ severity: 'error', code: 'vmlinux-not-loaded', file: DEFAULT_MODULES_LOAD_OUTPUT, module: VMLINUX, message: 'nothing loads vmlinux-btf at boot (no modules-load.d entry, no enabled unit, no initramfs hook)', hint: `kbtf modprobe-config --root ROOT --modules-load ROOT/etc/modules-load.d/kbtf.conf, or install and enable ${UNIT_NAME}` });
  const inst = installFor(cfg, comp);
  if (inst) add({ severity: 'error', code: 'companion-install', file: inst.at.file, line: inst.at.line, module: VMLINUX, message: `'install ${inst.module} ${inst.command}' replaces the load of vmlinux-btf`, hint: 'remove the install line' });
  return undefined;
}
