#!/usr/bin/env bash
# The README's test command: sets up everything a fresh Debian 12 machine needs (as root), runs the
# lab (real Debian kernels under QEMU → real vmcores and the guests' ground truth, docs/lab.md),
# then every test: units beside the code and the end-to-end suites in test/ on the lab's dumps.
# Ends with vitest's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
say() { echo "=== $* ($(( $(date +%s) - start ))s)" >&2; }

# Real tools the tests check kbtf against (bpftool, gcc, kmod, makedumpfile, zstd, python3-lzo for
# LZO test pages, drgn for typed lookups, GNU time for the hostile-input limits), lintian for the
# packages, plus what the lab needs (it installs its own too).
PKGS="bpftool gcc make binutils kmod makedumpfile zstd xz-utils python3-lzo python3-drgn time qemu-system-x86 busybox-static cpio debootstrap lintian"
# arm64 (issue 17): the guests under qemu-system-aarch64, Debian's arm64 makedumpfile under
# qemu-aarch64-static, the guest's BPF loader and the companions' kbuild stubs cross-built.
PKGS="$PKGS qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross"
# The vendored zstd decoder is rebuilt from Debian's libzstd source and compared (below).
PKGS="$PKGS clang-14 lld-14"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "apt-get install$missing"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
fi

[ -d node_modules ] || { say "npm ci"; npm ci --no-audit --no-fund >&2; }

# packages/vmcore/src/zstd-wasm.ts must be exactly what tools/vendor/zstd-wasm.mjs builds.
say "vendored zstd decoder: rebuilt from source"
node tools/vendor/zstd-wasm.mjs --check >&2

say "lab: 6.1-4level, 6.1-la57, 6.12-4level"
bash tools/lab/lab.sh --all >&2
# arm64 guests (docs/lab.md "arm64 guests"): 6.1 and 6.12 with 48-bit VA, and 6.12 with 52-bit VA
# (FEAT_LPA2, five levels). arm64 packages are downloaded and unpacked, never installed.
for args in "--kernel 6.1" "--kernel 6.12" "--kernel 6.12 --variant lpa2"; do
  say "lab arm64: $args"
  # shellcheck disable=SC2086
  bash tools/lab/lab.sh --arch arm64 $args >&2
done
# Debian unstable's kernel (7.x; split packages fetched from sid's pool, docs/lab.md).
say "lab: Debian unstable"
bash tools/lab/lab.sh --kernel unstable --timeout 1800 >&2

# Companions (docs/companions.md): trixie's pahole, the kernels' -dbg DWARF, kbuild stubs, then
# the lab booted under btf_companions=always with them loaded by kmod. Needs the CLI built
# (nx caches it: a no-op after .ci/run's build step).
say "build"
npx nx run-many -t build --output-style=static >&2
for series in 6.1 6.12; do
  say "companions + lab: $series-companions"
  bash tools/lab/lab-companions.sh "$series" >&2
done
# The same 6.1 guest with three companions left out: kbtf verify must name exactly those.
say "companions + lab: 6.1-companions-partial"
KBTF_COMPANIONS_WITHOUT="xfs e1000 overlay" bash tools/lab/lab-companions.sh 6.1 >&2
# arm64 companions cross-built on this amd64 host, booted in the arm64 guests (docs/companions.md).
for series in 6.1 6.12; do
  say "companions + lab: $series-arm64-companions"
  bash tools/lab/lab-companions.sh "$series" --arch arm64 >&2
done
# Debian unstable's kernel: its kbuild and pahole from a debootstrap'd sid tree.
say "companions + lab: unstable companions"
bash tools/lab/lab-companions.sh unstable --timeout 1800 >&2
# The real host (docs/deploy.md): a Debian 13 image with kbtf and its companion package installed by
# apt, crashed and captured by kdump-tools, verified at its next boot; then the same image with one
# companion removed. host.sh installs what it needs (debootstrap, e2fsprogs) and caches the image.
say "real host: host-trixie, host-trixie-partial"
bash tools/lab/host.sh >&2

# The disk the lab took (the dumps' zero pages are holes, tools/lab/lab.sh) and what is left.
say "disk: $(du -sh .lab 2>/dev/null | cut -f1) in .lab; $(df -h . | awk 'NR==2 {print $4}') free"
say "tests"
npx vitest run
