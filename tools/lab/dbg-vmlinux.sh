#!/usr/bin/env bash
# bash tools/lab/dbg-vmlinux.sh KVER   ->  prints the path of .lab/kernels/KVER-dbg/vmlinux-KVER
# Fetches linux-image-KVER-dbg (858 MB for 6.1) and keeps only the DWARF vmlinux (~480 MB);
# the .deb is deleted afterwards. Not part of CI: used to check dumps with crash (docs/lab.md).
set -euo pipefail
KVER=${1:?usage: dbg-vmlinux.sh KVER (e.g. 6.1.0-56-amd64)}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
DIR=$LAB_DIR/kernels/$KVER-dbg
OUT=$DIR/vmlinux-$KVER
if [ ! -f "$OUT" ]; then
  mkdir -p "$DIR"
  (cd "$DIR" && apt-get download "linux-image-$KVER-dbg" >&2)
  deb=$(ls "$DIR"/linux-image-"$KVER"-dbg_*.deb | head -1)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$DIR" "./usr/lib/debug/boot/vmlinux-$KVER"
  mv "$DIR/usr/lib/debug/boot/vmlinux-$KVER" "$OUT.tmp"
  rm -rf "$DIR/usr" "$deb"
  mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
