#!/usr/bin/env bash
# bash tools/lab/mkd-trixie.sh        ->  prints the path of trixie's makedumpfile (1.7.6, zstd enabled)
# bash tools/lab/mkd-trixie.sh sid    ->  prints the path of a wrapper running sid's makedumpfile
#                                         (1.7.8 in December 2026: the newest real one, for kernels
#                                         newer than trixie's knows, e.g. unstable's 7.2)
#
# bookworm's makedumpfile 1.7.2 is built without snappy and zstd. trixie's 1.7.6 has zstd (not
# snappy) and runs on bookworm's libraries (libc 2.36, libdw/libelf 0.188, libzstd 1.5.4, liblzo2).
# sid's needs a newer libc (>= 2.38) and the t64 libdw/libelf: its .deb and those of the libraries
# it links (libc6, libgcc-s1, libdw1t64, libelf1t64, liblzo2-2, libzstd1, zlib1g, libbz2-1.0,
# liblzma5) are unpacked side by side, and the wrapper starts it through that libc's loader with
# that library path (as the companion builder runs a tree's pahole), so it runs on the bookworm host.
# Fetched with a private apt configuration under .lab/tools/apt-SUITE: the host's apt sources and
# package state are not touched, nothing is installed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
SUITE=${1:-trixie}
case "$SUITE" in trixie|sid) ;; *) echo "usage: mkd-trixie.sh [trixie|sid]" >&2; exit 2 ;; esac
DIR=$LAB_DIR/tools/makedumpfile-$SUITE
BIN=$DIR/usr/bin/makedumpfile
PKGS=(makedumpfile)
if [ "$SUITE" = sid ]; then
  BIN=$DIR/makedumpfile
  PKGS=(makedumpfile libc6 libgcc-s1 libdw1t64 libelf1t64 liblzo2-2 libzstd1 zlib1g libbz2-1.0 liblzma5)
fi

if [ ! -x "$BIN" ]; then
  A=$LAB_DIR/tools/apt-$SUITE
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"
  rm -f "$A"/deb/*.deb
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
    > "$A/sources.list"
  O=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Dir::State::status=/dev/null)
  apt-get "${O[@]}" update > "$A/update.log" 2>&1 || { cat "$A/update.log" >&2; exit 1; }
  (cd "$A/deb" && apt-get "${O[@]}" download "${PKGS[@]}" > ../download.log 2>&1) \
    || { cat "$A/download.log" >&2; exit 1; }
  rm -rf "$DIR.tmp"
  for d in "$A"/deb/*.deb; do dpkg-deb -x "$d" "$DIR.tmp"; done
  if [ "$SUITE" = sid ]; then
    cat > "$DIR.tmp/makedumpfile" <<'WRAP'
#!/bin/sh
# sid's makedumpfile through sid's loader and libraries (tools/lab/mkd-trixie.sh).
D=$(dirname "$(readlink -f "$0")")
exec "$D/usr/lib64/ld-linux-x86-64.so.2" --library-path "$D/usr/lib/x86_64-linux-gnu" "$D/usr/bin/makedumpfile" "$@"
WRAP
    chmod 755 "$DIR.tmp/makedumpfile"
  fi
  rm -rf "$DIR" "$A/lists"
  mv "$DIR.tmp" "$DIR"
fi
"$BIN" -v > /dev/null 2>&1 || { echo "mkd-trixie: $BIN does not run on this host" >&2; exit 1; }
echo "$BIN"
