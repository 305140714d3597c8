// Shared by the benchmarks that compare against drgn and crash (kernel, verify): where the
// -dbg vmlinux of a kernel is, if anything on this machine has it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The DWARF vmlinux of `kver`: the companion builder's cache, the lab's, or the installed -dbg. */
export function dbgVmlinux(kver, labDir) {
  const candidates = [
    `/var/cache/kbtf/kernels/${kver}/dbg/usr/lib/debug/boot/vmlinux-${kver}`,
    join(labDir, 'kernels', `${kver}-dbg`, `vmlinux-${kver}`),
    `/usr/lib/debug/boot/vmlinux-${kver}`,
  ];
  return candidates.find((p) => existsSync(p));
}
