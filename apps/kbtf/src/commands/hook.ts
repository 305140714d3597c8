import { Root, kmsgLogger, runHook, realRunner, validateHookArgs, wantsCompanion } from '@kbtf/policy';
import { defineCommand } from '../cli/command.js';

export const command = defineCommand({
  name: 'hook',
  summary: 'modprobe.d install helper: load MODULE, then its companion (never failing MODULE)',
  usage: ['hook MODULE [PARAM...]'],
  help: `For a modprobe.d line:  install MODULE /usr/bin/kbtf hook MODULE $CMDLINE_OPTS
Runs 'modprobe --ignore-install -- MODULE PARAM...' (its exit code is kbtf's), then, if the settings
select it and modules.dep has it, 'modprobe --ignore-install -q -- MODULE-btf'. A companion failure is
logged to stderr and /dev/kmsg only. MODULE must be 1-55 of [A-Za-z0-9_-]; a PARAM must be key or
key=value. Anything else: exit 2, nothing is run. Prefer the softdep of 'kbtf modprobe-config': kmod
ignores install lines of modules that have a softdep.`,
  async run({ args, out, env }) {
    const [module, ...params] = args;
    validateHookArgs(module, params);
    const root = new Root('/');
    const r = await runHook(module, params, {
      run: realRunner(env),
      log: kmsgLogger((text) => out.stderr.write(text)),
      modprobe: env.KBTF_MODPROBE || 'modprobe',
      wantsCompanion: (name) => wantsCompanion(root, name),
    });
    if (out.json) out.document(r);
    return r.code;
  },
});
