/**
 * Which kernel's BTF rules apply to a companion (or any module BTF) for a kernel release: the one
 * answer the policy check, the companion builder and verify share.
 *
 * '6.1': exactly Linux 6.1's checks (kernel/bpf/btf.c of 6.1: a kind_flag on TYPE_TAG or DECL_TAG
 * is "Invalid btf_info kind_flag"); 'current': 6.1's plus what later kernels accept and real kernels
 * emit (validate.ts, ValidateOptions.kernel). A release is 6.1 when its version is 6.1 itself: the
 * upstream forms `6.1`, `6.1-rc7`, `6.1.0`, and every Debian flavour of the 6.1 ABI
 * (`6.1.0-57-amd64`, `-rt-amd64`, `-cloud-amd64`); `6.10`…`6.19` and 6.12's `+deb12`/`+deb13` are not.
 */
export type KernelRules = '6.1' | 'current';

export function companionRules(kernelRelease: string): KernelRules {
  return /^6\.1(?:[.\-+]|$)/.test(kernelRelease) ? '6.1' : 'current';
}
