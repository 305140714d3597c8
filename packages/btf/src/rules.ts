/**
 * Which kernel's BTF rules apply to a companion (or any module BTF) for a kernel release: the one
 * answer the policy check, the companion builder and verify share.
 *
 * '6.1': Linux 6.1's checks, which hold up to 6.14 (kernel/bpf/btf.c: a kind_flag on TYPE_TAG or
 * DECL_TAG is "Invalid btf_info kind_flag"); 'current': what the running 6.18 kernel checks, i.e.
 * 6.1's plus kind_flag on both tags, allowed from Linux 6.15 (commit 53ee0d66d7a6 "bpf: Allow
 * kind_flag for BTF type and decl tags", in the 6.15 BPF pull). The resolver is the same in both
 * (validate-resolve.ts; test/btf/kernel-oracle.test.ts checks 'current' against the live kernel).
 * A release is '6.1' when its version is below 6.15: `6.1`, `6.1-rc7`, `6.1.0-57-amd64` and its
 * `-rt`/`-cloud` flavours, Debian's 6.12 (`6.12.117+deb12-amd64`, `+deb13`); `6.15`…`6.19`, `7.x`
 * and a release that does not parse are 'current'.
 */
export type KernelRules = '6.1' | 'current';

/** The first kernel version that accepts kind_flag on TYPE_TAG and DECL_TAG. */
const TAG_KFLAG = [6, 15];

export function companionRules(kernelRelease: string): KernelRules {
  const m = /^(\d+)\.(\d+)(?:[.\-+]|$)/.exec(kernelRelease);
  if (!m) return 'current';
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major < TAG_KFLAG[0] || (major === TAG_KFLAG[0] && minor < TAG_KFLAG[1]) ? '6.1' : 'current';
}
