#!/usr/bin/env bash
# bash tools/lab/arm64-sysroot.sh   -> prints the path of an unpacked arm64 Debian bookworm sysroot
#
# The arm64 lab guest (tools/lab/lab.sh --arch arm64) needs arm64 binaries the host does not have:
# busybox-static and kmod (with kmod's shared libraries) for the guest's initramfs, and makedumpfile
# (with its libraries) to write makedumpfile's formats from an arm64 vmcore, run on this x86_64 host
# under qemu-aarch64-static -L SYSROOT (an x86_64 makedumpfile cannot read an arm64 vmcore).
# The packages are fetched with `apt-get download PKG:arm64` (after `dpkg --add-architecture arm64`
# and `apt-get update`: that adds arm64 package lists, never installs an arm64 package) and unpacked
# with dpkg-deb -x; the host's installed set is untouched. Cached in $LAB_DIR/tools/arm64-sysroot.
set -euo pipefail
LAB_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_TOOLS/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
ROOT=$LAB_DIR/tools/arm64-sysroot
DEBS=$LAB_DIR/debs/arm64
# kmod needs libzstd, liblzma and libcrypto; makedumpfile needs liblzo2, libdw, libelf, zlib (and
# libdw's own libbz2, liblzma, libstdc++/libgcc_s through its dependencies).
PKGS="libc6 busybox-static kmod liblzma5 libzstd1 libssl3 makedumpfile libelf1 libdw1 libbz2-1.0
  zlib1g liblzo2-2 libstdc++6 libgcc-s1"

log() { echo "arm64-sysroot: $*" >&2; }

if [ -f "$ROOT/.complete" ] && [ "$(cat "$ROOT/.complete")" = "$(echo $PKGS)" ]; then
  echo "$ROOT"
  exit 0
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "dpkg --add-architecture arm64 (package lists only; nothing arm64 is installed)"
  dpkg --add-architecture arm64
  apt-get update >&2
fi
apt-cache show busybox-static:arm64 >/dev/null 2>&1 || apt-get update >&2

mkdir -p "$DEBS"
want=()
for p in $PKGS; do want+=("$p:arm64"); done
log "downloading ${PKGS//$'\n'/ }"
(cd "$DEBS" && apt-get download "${want[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) \
  || { log "apt-get download failed"; exit 1; }

rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
for p in $PKGS; do
  # The newest downloaded version of each package (apt-get download names files PKG_VER_arm64.deb).
  deb=$(ls -t "$DEBS/${p}_"*_arm64.deb | head -1)
  dpkg-deb -x "$deb" "$ROOT.tmp"
  basename "$deb" >> "$ROOT.tmp/.debs"
done
for b in bin/busybox bin/kmod usr/bin/makedumpfile; do
  [ -x "$ROOT.tmp/$b" ] || { log "$b missing from the unpacked packages"; exit 1; }
done
echo $PKGS > "$ROOT.tmp/.complete"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
log "unpacked in $ROOT"
echo "$ROOT"
