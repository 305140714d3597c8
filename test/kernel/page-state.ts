import { FaultError } from '@kbtf/binary';
import { openVmcore } from '@kbtf/vmcore';

/** What the dump itself says about one physical byte: 'present', or the fault reason ('excluded', …). */
export function pageState(path: string, paddr: bigint): string {
  const core = openVmcore(path);
  try {
    core.read(paddr, 1);
    return 'present';
  } catch (err) {
    if (err instanceof FaultError) return err.reason;
    throw err;
  } finally {
    core.close();
  }
}
