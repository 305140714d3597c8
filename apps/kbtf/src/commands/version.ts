import { defineCommand } from '../cli/command.js';
import { VERSION, CONTRACT_VERSION, COMPANION_CONTRACT_VERSION } from '../version.js';

export const command = defineCommand({
  name: 'version',
  summary: 'print the version of kbtf and of the contracts it implements',
  usage: ['version [--json]'],
  run({ out }) {
    if (out.json) out.document({ kbtf: VERSION, companionContract: COMPANION_CONTRACT_VERSION, settingsContract: CONTRACT_VERSION, node: process.version });
    else out.line(`kbtf ${VERSION} (companion contract v${COMPANION_CONTRACT_VERSION}, settings contract v${CONTRACT_VERSION})`);
    return 0;
  },
});
