/**
 * `kbtf check`: a tree set up to save vmcores must be set up to make them self-contained
 * (docs/policy.md, "kdump-configured images"; the facts: kdump.ts).
 *
 * Arming (any tree; in mode `always` as errors):
 * - `cmdline-missing` / `crashkernel-missing`: no configured command line / no `crashkernel=` on it;
 * - `kdump-missing` / `kdump-disabled`: neither kdump-tools nor kdump.conf / `USE_KDUMP` not 1;
 * - `kdump-unit-disabled` (warning): the tool is configured but its unit is installed and not
 *   enabled (or masked): no crash kernel is loaded at boot.
 * A kdump-configured tree (a tool armed at boot) must then load every companion, all the time: a
 * vmcore holds only what was in memory. Errors, or warnings when the policy file chose otherwise
 * (`mode:` other than always, `vmlinux: false`; an `exclude` pattern drops the module from the list):
 * - `kdump-mode-not-always`, `kdump-vmlinux-off`, `kdump-companions-missing` (modules that load,
 *   from the boot lists, the initramfs and `required`, without a companion in modules.dep), and
 *   `kdump-not-wired` (nothing at all loads companions: no unit, hook, softdep file or hook line;
 *   the detailed `companions-not-wired` takes its place when it was reported).
 * The capture path: `kdump-collector-no-vmcore` (error), `kdump-collector-invalid`,
 * `kdump-collector-filter`, `kdump-compression`, `makedumpfile-kernel-unsupported` (warnings),
 * `kdump-collector-copy`, `makedumpfile-missing`, `makedumpfile-kernel-unknown` (info).
 */
import type { Root } from './root-tree.js';
import { decide } from './decide.js';
import { companionOf, foldName, isCompanion, VMLINUX, VMLINUX_COMPANION } from './names.js';
import type { ModulesDir } from './modules.js';
import type { Settings } from './settings.js';
import { formatSource } from './setting-source.js';
import { UNIT_NAME, HOOK_PATH } from './wiring.js';
import type { WiringReport } from './check-wiring.js';
import type { Finding, LoadedModule, Severity } from './finding.js';
import { readKdump, KDUMP_CONF, KDUMP_TOOLS_DEFAULTS, type Collector, type KdumpFacts, type KdumpUnit } from './kdump.js';
import { firstSupporting } from './makedumpfile-versions.js';

export interface KdumpCheckInput {
  root: Root;
  settings: Settings;
  mods: ModulesDir;
  /** The modules that load (boot lists, initramfs, `required`, with dependencies). */
  loaded: LoadedModule[];
  wiring: WiringReport;
  /** The findings so far (`companions-not-wired` is not repeated). */
  findings: readonly Finding[];
}

type Add = (f: Finding) => void;

function sample(names: string[], n = 8): string {
  return names.length <= n ? names.join(', ') : `${names.slice(0, n).join(', ')} and ${names.length - n} more`;
}

export function checkKdump(input: KdumpCheckInput, add: Add): KdumpFacts {
  const { root, settings, mods } = input;
  const facts = readKdump(root, settings.cmdline, mods.kernel);
  checkArming(settings, facts, add);
  if (!facts.configured) return facts;
  checkSelfContained(input, facts, add);
  if (facts.collector) checkCollector(facts.collector, add);
  if (facts.kdumpTools?.vars.KDUMP_COMPRESSION?.value && facts.collector?.tool === 'kdump-tools') {
    const v = facts.kdumpTools.vars.KDUMP_COMPRESSION;
    add({ severity: 'warning', code: 'kdump-compression', file: KDUMP_TOOLS_DEFAULTS, line: v.line, message: `KDUMP_COMPRESSION=${v.value}: kdump-tools saves dump.STAMP compressed whole with ${v.value}; kbtf verify (and kbtf-verify-crashes at the next boot) cannot open it until it is decompressed`, hint: `remove KDUMP_COMPRESSION (makedumpfile already compresses each page: -c zlib, -l lzo, -z zstd in MAKEDUMP_ARGS), or decompress a dump before kbtf verify` });
  }
  checkMakedumpfile(facts, mods.kernel, add);
  return facts;
}

function unitProblem(u: KdumpUnit): string {
  return u.masked ? `${u.name} is masked (${u.masked})` : `${u.file} is installed but not enabled`;
}

/** The checks kbtf check always made (issue 13), and the units of configured tools. */
function checkArming(settings: Settings, facts: KdumpFacts, add: Add): void {
  const always = settings.mode.value === 'always';
  const sev: Severity = always ? 'error' : 'warning';
  const cmd = settings.cmdline;
  if (always && !cmd) add({ severity: 'error', code: 'cmdline-missing', file: '/etc/default/grub', message: 'no configured kernel command line found (BLS entries, /etc/kernel/cmdline, /etc/default/grub)', hint: 'configure the boot loader, or give --cmdline' });
  else if (cmd && !facts.crashkernel && (always || facts.configured)) {
    add({ severity: sev, code: 'crashkernel-missing', file: cmd.source.file ?? 'cmdline', line: cmd.source.line, message: `${always ? 'mode is always' : `kdump is set up (${facts.signals.join('; ')})`}, but the command line reserves no crash kernel memory (crashkernel=)`, hint: "add crashkernel=384M-:256M (or your distribution's default) to the kernel command line" });
  }
  const tools = facts.kdumpTools;
  const ctl = facts.kdumpctl;
  if (!tools && !ctl) {
    add({ severity: sev, code: 'kdump-missing', file: KDUMP_TOOLS_DEFAULTS, message: 'neither kdump-tools (/etc/default/kdump-tools) nor kdumpctl (/etc/kdump.conf) is configured', hint: 'apt-get install kdump-tools (Debian) or dnf install kexec-tools (Fedora)' });
  } else if (tools && !tools.useKdump) {
    const v = tools.vars.USE_KDUMP;
    add({ severity: sev, code: 'kdump-disabled', file: KDUMP_TOOLS_DEFAULTS, line: v?.line, message: `USE_KDUMP=${v?.value ?? '(unset)'}: kdump-tools will not load the crash kernel`, hint: 'set USE_KDUMP=1' });
  }
  // An installed unit that is not enabled: the tool is configured but never arms.
  if (tools?.useKdump && tools.unit.file && !tools.unit.enabled) {
    add({ severity: 'warning', code: 'kdump-unit-disabled', file: tools.unit.masked ?? tools.unit.file, message: `USE_KDUMP=1, but ${unitProblem(tools.unit)}: no crash kernel is loaded at boot, no vmcore is saved`, hint: `systemctl --root ROOT enable ${tools.unit.name}${tools.unit.masked ? ` (unmask: rm ${tools.unit.masked})` : ''}` });
  }
  if (ctl?.unit.file && !ctl.unit.enabled && (always || facts.crashkernel)) {
    add({ severity: 'warning', code: 'kdump-unit-disabled', file: ctl.unit.masked ?? ctl.unit.file, message: `${KDUMP_CONF} is there and crash kernel memory is reserved, but ${unitProblem(ctl.unit)}: kdumpctl never loads the crash kernel, no vmcore is saved`, hint: `systemctl --root ROOT enable ${ctl.unit.name}` });
  }
  if (ctl && ctl.duplicates.length) {
    const d = ctl.duplicates[0];
    add({ severity: 'warning', code: 'kdump-conf-invalid', file: KDUMP_CONF, line: d.line, message: `'${d.key}' is given again (kdumpctl: "Duplicated kdump config value of option ${d.key}", or "More than one dump targets specified"): kdumpctl refuses to start, no crash kernel is loaded`, hint: `keep one '${d.key}' line in ${KDUMP_CONF}` });
  }
}

function checkSelfContained(input: KdumpCheckInput, facts: KdumpFacts, add: Add): void {
  const { settings, mods, loaded, wiring } = input;
  const why = `this tree saves vmcores (${facts.signals.join('; ')}${facts.crashkernel ? `; crashkernel=${facts.crashkernel.value} from ${formatSource(facts.crashkernel.source)}` : ''})`;
  const mode = settings.mode;
  // The policy file chose a mode other than always: the admin decided, so warnings.
  const optedOut = mode.source.kind === 'policy' && mode.value !== 'always';
  const sev: Severity = optedOut ? 'warning' : 'error';
  const modeFile = mode.source.file ?? '/etc/default/grub';
  if (mode.value !== 'always') {
    add({
      severity: sev,
      code: 'kdump-mode-not-always',
      file: modeFile,
      line: mode.source.line,
      message: `${why}, but the companion mode is ${mode.value} (${formatSource(mode.source)}): ${mode.value === 'off' ? 'no companion loads' : 'only the companions the policy includes load'}, so a vmcore holds no BTF for the other modules and needs their DWARF after all`,
      hint: `put btf_companions=always on the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub), or 'mode: always' in /etc/kbtf/policy.yaml${optedOut ? '' : `; if ${mode.value} is meant, write 'mode: ${mode.value}' in /etc/kbtf/policy.yaml (then this is a warning)`}`,
    });
  }
  const vm = settings.vmlinux;
  if (!vm.value) {
    const chosen = vm.source.kind === 'policy';
    add({
      severity: chosen || optedOut ? 'warning' : 'error',
      code: 'kdump-vmlinux-off',
      file: vm.source.file ?? modeFile,
      line: vm.source.line,
      message: `${why}, but vmlinux-btf is not loaded at boot (vmlinux: false, ${vm.source.kind === 'default' ? 'the default outside mode always' : formatSource(vm.source)})`,
      hint: `mode always loads it; or 'vmlinux: true' in /etc/kbtf/policy.yaml${chosen ? '' : "; if this is meant, write 'vmlinux: false' there (then this is a warning)"}`,
    });
  }
  const missing: string[] = [];
  for (const m of loaded) {
    if (isCompanion(m.name)) continue;
    const d = decide(settings, m.name);
    if (d.reason === 'excluded' || d.required) continue; // excluded by choice; `required-missing` covers required ones
    if (!mods.modules.has(companionOf(m.name)!)) missing.push(m.name);
  }
  const vmd = decide(settings, VMLINUX);
  if (!vmd.required && !(vm.source.kind === 'policy' && !vm.value) && !mods.modules.has(foldName(VMLINUX_COMPANION))) missing.push(VMLINUX);
  if (missing.length) {
    add({
      severity: sev,
      code: 'kdump-companions-missing',
      file: mods.depFile,
      message: `${why}, but ${missing.length} module${missing.length === 1 ? '' : 's'} that load${missing.length === 1 ? 's' : ''} at boot (boot lists, initramfs, required, and their dependencies) ha${missing.length === 1 ? 's' : 've'} no companion in ${mods.depFile}: ${sample(missing)}; a vmcore lacks their BTF`,
      hint: `build and install the companions for ${mods.kernel} (kbtf companion package --kernel ${mods.kernel} --deps --vmlinux MODULE…, then apt-get install the package; docs/deploy.md), or exclude modules in /etc/kbtf/policy.yaml`,
    });
  }
  const wired = wiring.unit.active || wiring.hook.active || wiring.softdepFiles.length > 0 || wiring.installHooks.length > 0;
  if (!wired && !input.findings.some((f) => f.code === 'companions-not-wired')) {
    add({
      severity: sev,
      code: 'kdump-not-wired',
      file: wiring.unit.file ?? wiring.unit.masked ?? `/usr/lib/systemd/system/${UNIT_NAME}`,
      message: `${why}, but nothing would load companions at boot: ${wiring.unit.problem}; ${wiring.hook.problem}; no modprobe.d file has a companion softdep`,
      hint: `install kbtf (its package enables ${UNIT_NAME} and installs ${HOOK_PATH}), or render /etc/modprobe.d/kbtf.conf with kbtf modprobe-config --root ROOT --output ROOT/etc/modprobe.d/kbtf.conf after installing companions`,
    });
  }
}

function checkCollector(c: Collector, add: Add): void {
  const at = { file: c.file, line: c.line };
  const shown = c.key === 'MAKEDUMP_ARGS' ? c.command.replace(/^makedumpfile /, '') : c.command;
  const where = `${c.configured ? '' : 'the default '}${c.key} '${shown}'`;
  const fallback = c.tool === 'kdump-tools' ? 'kdump-tools then copies /proc/vmcore whole with cp (an ELF file as large as memory, which kbtf verify reads)' : 'kdumpctl then runs its failure_action: no vmcore';
  const mkd = c.makedumpfile;
  if (!mkd) {
    add({ ...at, severity: 'info', code: 'kdump-collector-copy', message: `the core collector is '${c.command}', not makedumpfile: the vmcore is /proc/vmcore whole (ELF), every page kept`, hint: 'nothing to do for kbtf; makedumpfile -d 31 makes far smaller dumps that keep the same kernel pages' });
    return;
  }
  if (mkd.noVmcore) {
    add({ ...at, severity: 'error', code: 'kdump-collector-no-vmcore', message: `${where}: makedumpfile ${mkd.noVmcore}: the capture kernel saves no vmcore`, hint: `remove that option from ${c.key} in ${c.file} (${c.tool === 'kdump-tools' ? 'kdump-tools saves the kernel log by itself: KDUMP_DUMP_DMESG' : 'kdumpctl saves vmcore-dmesg.txt by itself'})` });
  }
  const invalid = [...mkd.invalid, ...(mkd.dumpLevelInvalid ? [`-d ${mkd.dumpLevelText}`] : [])];
  if (invalid.length) {
    add({ ...at, severity: 'warning', code: 'kdump-collector-invalid', message: `${where}: makedumpfile rejects ${invalid.join(', ')} (${mkd.dumpLevelInvalid ? 'dump levels are 0 to 31' : 'Commandline parameter is invalid'}) and exits; ${fallback}`, hint: `fix ${c.key} in ${c.file}: ${c.tool === 'kdump-tools' ? '-c -d 31' : 'makedumpfile -l --message-level 7 -d 31'} is the default` });
  }
  if (mkd.filters.length) {
    add({ ...at, severity: 'warning', code: 'kdump-collector-filter', message: `${where}: ${mkd.filters.join(', ')} erases or filters kernel memory by rules or scripts; if they touch module BTF, kallsyms or module structures, kbtf verify finds them missing`, hint: 'keep the filter away from module memory, or check a saved dump with kbtf verify' });
  }
}

function checkMakedumpfile(facts: KdumpFacts, kernel: string, add: Add): void {
  const c = facts.collector;
  const mkd = c?.makedumpfile;
  const info = facts.makedumpfile;
  // A command line makedumpfile rejects, or one that saves no vmcore, is reported by itself.
  if (!c || !mkd || !info || mkd.noVmcore || mkd.invalid.length || mkd.dumpLevelInvalid) return;
  if (!info.version) {
    if (!info.binary) {
      add({ severity: 'info', code: 'makedumpfile-missing', file: '/usr/bin/makedumpfile', message: `the core collector is makedumpfile, but the tree has none (/usr/bin, /usr/sbin): ${c.tool === 'kdump-tools' ? 'kdump-tools copies /proc/vmcore whole with cp (every page kept, as large as memory)' : 'kdumpctl cannot build its capture initramfs'}`, hint: 'apt-get install makedumpfile (or dnf install makedumpfile)' });
    }
    return;
  }
  const s = info.support;
  if (!s) return;
  const byType = (mkd.dumpLevel & 0x1e) !== 0; // cache, cache private, user, free: judged by page flags
  const fix = firstSupporting(kernel);
  if (s.supported === false) {
    add({
      severity: byType ? 'warning' : 'info',
      code: 'makedumpfile-kernel-unsupported',
      file: info.binary ?? info.from ?? '/usr/bin/makedumpfile',
      message:
        `makedumpfile ${info.version} (${info.from}) supports kernels up to ${s.latestKernel ?? '(older than the table)'} (LATEST_VERSION of upstream ${s.release ?? info.version}); on a ${kernel} dump it prints "The kernel version is not supported." ` +
        (byType
          ? `and reads page flags and structures as older kernels had them: -d ${mkd.dumpLevel} excludes pages by type (cache, user, free), so a page of module BTF, kallsyms or module structures it misjudges is dropped (module BTF pages were lost with Debian 12's makedumpfile on 6.12)`
          : `(-d ${mkd.dumpLevel} excludes no page by type, so the pages kbtf reads are kept)`),
      hint: `install a makedumpfile whose LATEST_VERSION covers ${kernel}${fix ? ` (upstream ${fix[0]} or newer: up to ${fix[1]})` : ''}, e.g. from backports${byType ? `; or make the capture keep every non-zero page: ${c.tool === 'kdump-tools' ? 'MAKEDUMP_ARGS="-c -d 1" in /etc/default/kdump-tools' : "'core_collector makedumpfile -l --message-level 7 -d 1' in /etc/kdump.conf"} (larger dumps)` : ''}; then check a saved dump with kbtf verify`,
    });
  } else if (s.supported === undefined) {
    add({ severity: 'info', code: 'makedumpfile-kernel-unknown', file: info.binary ?? info.from ?? '/usr/bin/makedumpfile', message: `makedumpfile ${info.version} is newer than kbtf's table (last: ${s.release}, up to ${s.latestKernel}); whether it supports ${kernel} is not known here`, hint: `makedumpfile prints "The kernel version is not supported." in the capture kernel's log if it does not; check a saved dump with kbtf verify` });
  }
}
