#!/usr/bin/env bash
# Debian unstable's kernel for the lab, without touching the host's apt (the host stays bookworm):
# the .debs are downloaded from the pool, found in dists/sid/main/binary-amd64/Packages.xz.
#
#   bash tools/lab/sid-kernel.sh resolve unstable|SERIES   -> the kver (e.g. 7.2.13+deb14-amd64) that
#        sid's linux-image-amd64 depends on; SERIES (7.2) must be that kernel's series
#   bash tools/lab/sid-kernel.sh debs KVER DIR             -> downloads (once) the packages of KVER
#        into DIR and prints their paths, one a line: linux-image-KVER (a metapackage in 7.2's packaging),
#        and what it depends on of the same kernel: linux-binary-KVER (usr/lib/modules/KVER/vmlinuz),
#        linux-modules-KVER (the .ko.xz), linux-base-KVER (config, modules.builtin*, modules.order)
#
# Packages.xz is cached in $KBTF_LAB_DIR/debs/sid-Packages (refreshed when older than 12 hours or
# when it does not name what is asked). Every download is checked against the index's SHA256.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
MIRROR=${KBTF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
INDEX=$LAB_DIR/debs/sid-Packages

die() { echo "sid-kernel: error: $*" >&2; exit 1; }

refresh_index() {
  mkdir -p "$LAB_DIR/debs"
  echo "sid-kernel: fetching $MIRROR/dists/sid/main/binary-amd64/Packages.xz" >&2
  curl -sSf --retry 3 "$MIRROR/dists/sid/main/binary-amd64/Packages.xz" | xz -dc > "$INDEX.tmp" \
    || die "cannot fetch sid's Packages.xz"
  mv "$INDEX.tmp" "$INDEX"
}

ensure_index() {
  if [ ! -s "$INDEX" ] || [ -n "$(find "$INDEX" -mmin +720)" ]; then refresh_index; fi
}

# The stanza of package $1 (exact name), empty when absent.
stanza() {
  awk -v p="Package: $1" 'BEGIN { RS = ""; FS = "\n" } $1 == p { print; exit }' "$INDEX"
}

field() { # STANZA FIELD
  printf '%s\n' "$1" | sed -n "s/^$2: //p" | head -1
}

resolve() {
  local want=$1 st kver
  ensure_index
  st=$(stanza linux-image-amd64)
  kver=$(field "$st" Depends | grep -o 'linux-image-[^ ,]*-amd64' | head -1 | sed 's/^linux-image-//')
  if [ -z "$kver" ]; then refresh_index; st=$(stanza linux-image-amd64)
    kver=$(field "$st" Depends | grep -o 'linux-image-[^ ,]*-amd64' | head -1 | sed 's/^linux-image-//'); fi
  [ -n "$kver" ] || die "sid's linux-image-amd64 names no kernel"
  case "$want" in
    unstable|sid) ;;
    *) case "$kver" in "$want".*) ;; *) die "sid's kernel is $kver, not of series $want" ;; esac ;;
  esac
  echo "$kver"
}

fetch_one() { # PKG DIR -> path
  local pkg=$1 dir=$2 st file sha size out
  st=$(stanza "$pkg")
  [ -n "$st" ] || { refresh_index; st=$(stanza "$pkg"); }
  [ -n "$st" ] || die "$pkg is not in sid"
  file=$(field "$st" Filename) sha=$(field "$st" SHA256) size=$(field "$st" Size)
  out=$dir/$(basename "$file")
  if [ ! -f "$out" ] || [ "$(stat -c %s "$out")" != "$size" ]; then
    echo "sid-kernel: downloading $(basename "$file") ($(( size / 1048576 )) MB)" >&2
    curl -sSf --retry 3 -o "$out.tmp" "$MIRROR/$file" || die "download of $MIRROR/$file failed"
    echo "$sha  $out.tmp" | sha256sum -c --quiet - >&2 || { rm -f "$out.tmp"; die "$file: SHA256 differs from sid's index"; }
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

debs() {
  local kver=$1 dir=$2 st p
  ensure_index
  mkdir -p "$dir"
  fetch_one "linux-image-$kver" "$dir"
  st=$(stanza "linux-image-$kver")
  for p in $(field "$st" Depends | tr ',|' '\n\n' | sed 's/(.*//; s/ //g'); do
    case "$p" in "linux-binary-$kver"|"linux-modules-$kver"|"linux-base-$kver") fetch_one "$p" "$dir" ;; esac
  done
}

case "${1:-}" in
  resolve) resolve "${2:?usage: sid-kernel.sh resolve unstable|SERIES}" ;;
  debs) debs "${2:?usage: sid-kernel.sh debs KVER DIR}" "${3:?usage: sid-kernel.sh debs KVER DIR}" ;;
  *) echo "usage: sid-kernel.sh resolve unstable|SERIES | debs KVER DIR" >&2; exit 2 ;;
esac
