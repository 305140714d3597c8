import { hexDump, parseAddress, UsageError } from '@kbtf/binary';
import { Kernel } from '@kbtf/kernel';
import { openVmcore, type OpenedVmcore } from '@kbtf/vmcore';
import { defineCommand } from '../cli/command.js';

/**
 * `kbtf read VMCORE --phys ADDR LEN`: a hex dump of memory from a dump.
 *
 * Address spaces are a table: each entry names its option and reads `len` bytes at `addr` from an
 * opened dump. `--virt` (packages/kernel's translation) is added as one more entry.
 */
export interface AddressSpace {
  /** Option name, without the dashes. */
  option: string;
  /** 'physical' or 'virtual', for the output. */
  space: string;
  help: string;
  read(core: OpenedVmcore, addr: bigint, len: number): Uint8Array;
}

export const addressSpaces: AddressSpace[] = [
  { option: 'phys', space: 'physical', help: 'ADDR is a physical address', read: (core, addr, len) => core.read(addr, len) },
  { option: 'virt', space: 'virtual', help: 'ADDR is a kernel virtual address (page tables in the dump)', read: (core, addr, len) => new Kernel(core).memory.read(addr, len) },
];

/** Largest dump a `read` prints. */
const MAX_LEN = 1 << 20;

export const command = defineCommand({
  name: 'read',
  summary: 'hex dump of memory from a vmcore',
  usage: addressSpaces.map((s) => `read VMCORE --${s.option} ADDR LEN [--json]`),
  help: [
    'Print LEN bytes at ADDR (hex with 0x, or decimal) from the dump as a hex dump.',
    ...addressSpaces.map((s) => `  --${s.option} ADDR   ${s.help}`),
    'A page the dump lacks is an error naming the address and the reason (excluded, not-in-dump,',
    'lost), never zeros. --json: {space, address, length, hex}. Exit 2 on a fault or bad input.',
  ].join('\n'),
  options: Object.fromEntries(addressSpaces.map((s) => [s.option, { type: 'string' as const }])),
  run({ args, values, out }) {
    const chosen = addressSpaces.flatMap((space) => {
      const text = values[space.option];
      return text === undefined ? [] : [{ space, text }];
    });
    if (chosen.length !== 1) throw new UsageError(`read: give exactly one of ${addressSpaces.map((s) => `--${s.option}`).join(', ')} ADDR`);
    const { space, text } = chosen[0];
    if (args.length !== 2) throw new UsageError(`read: usage: kbtf read VMCORE --${space.option} ADDR LEN`);
    const addr = parseAddress(text, 'read: ADDR');
    const lenBig = parseAddress(args[1], 'read: LEN');
    if (lenBig <= 0n || lenBig > BigInt(MAX_LEN)) throw new UsageError(`read: LEN must be 1..${MAX_LEN}`);
    const len = Number(lenBig);
    const core = openVmcore(args[0]);
    try {
      const bytes = space.read(core, addr, len);
      if (out.json) out.document({ space: space.space, address: `0x${addr.toString(16)}`, length: len, hex: Buffer.from(bytes).toString('hex') });
      else for (const line of hexDump(addr, bytes)) out.line(line);
    } finally {
      core.close();
    }
    return 0;
  },
});
