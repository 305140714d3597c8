#!/usr/bin/env bash
# bash tools/lab/arm64-sysroot.sh          -> prints the path of an unpacked arm64 Debian bookworm sysroot
# bash tools/lab/arm64-sysroot.sh trixie   -> the same for trixie's arm64 makedumpfile 1.7.6 (zstd)
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

# trixie: bookworm's makedumpfile has no zstd; trixie's arm64 1.7.6 has, with trixie's libraries
# (libc 2.41), fetched through a private apt configuration (arm64 only, trixie only: the host's
# apt sources and state are untouched) and unpacked into their own root (merged /usr: lib -> usr/lib).
if [ "${1:-}" = trixie ]; then
  T=$LAB_DIR/tools/arm64-trixie
  TPKGS="makedumpfile libc6 libdw1t64 libelf1t64 liblzo2-2 libzstd1 zlib1g libbz2-1.0 liblzma5 libgcc-s1 libstdc++6"
  if [ -f "$T/.complete" ] && [ "$(cat "$T/.complete")" = "$TPKGS" ]; then echo "$T"; exit 0; fi
  A=$LAB_DIR/tools/apt-trixie-arm64
  rm -rf "$A"
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"
  echo 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    > "$A/sources.list"
  O=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Dir::State::status=/dev/null
     -o APT::Architecture=arm64 -o APT::Architectures=arm64)
  apt-get "${O[@]}" update > "$A/update.log" 2>&1 || { cat "$A/update.log" >&2; exit 1; }
  # shellcheck disable=SC2086
  (cd "$A/deb" && apt-get "${O[@]}" download $TPKGS > ../download.log 2>&1) || { cat "$A/download.log" >&2; exit 1; }
  rm -rf "$T.tmp"
  mkdir -p "$T.tmp"
  for d in "$A"/deb/*.deb; do dpkg-deb -x "$d" "$T.tmp"; basename "$d" >> "$T.tmp/.debs"; done
  [ -e "$T.tmp/lib" ] || ln -s usr/lib "$T.tmp/lib"
  qemu-aarch64-static -L "$T.tmp" "$T.tmp/usr/bin/makedumpfile" -v > /dev/null 2>&1 \
    || { log "trixie's arm64 makedumpfile does not run under qemu-aarch64-static"; exit 1; }
  echo "$TPKGS" > "$T.tmp/.complete"
  rm -rf "$T" "$A/lists"
  mv "$T.tmp" "$T"
  echo "$T"
  exit 0
fi

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
