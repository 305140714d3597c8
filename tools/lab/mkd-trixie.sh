#!/usr/bin/env bash
# bash tools/lab/mkd-trixie.sh   ->  prints the path of trixie's makedumpfile (1.7.6, zstd enabled)
#
# bookworm's makedumpfile 1.7.2 is built without snappy and zstd. trixie's 1.7.6 has zstd (not
# snappy) and runs on bookworm's libraries (libc 2.36, libdw/libelf 0.188, libzstd 1.5.4, liblzo2).
# It is fetched with a private apt configuration under .lab/tools/apt-trixie: the host's apt
# sources and package state are not touched, nothing is installed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
DIR=$LAB_DIR/tools/makedumpfile-trixie
BIN=$DIR/usr/bin/makedumpfile

if [ ! -x "$BIN" ]; then
  A=$LAB_DIR/tools/apt-trixie
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    > "$A/sources.list"
  O=(-o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Dir::State::status=/dev/null)
  apt-get "${O[@]}" update > "$A/update.log" 2>&1 || { cat "$A/update.log" >&2; exit 1; }
  (cd "$A/deb" && apt-get "${O[@]}" download makedumpfile > ../download.log 2>&1) \
    || { cat "$A/download.log" >&2; exit 1; }
  rm -rf "$DIR.tmp"
  dpkg-deb -x "$(ls "$A"/deb/makedumpfile_*.deb | head -1)" "$DIR.tmp"
  rm -rf "$DIR" "$A/lists"
  mv "$DIR.tmp" "$DIR"
fi
"$BIN" -v > /dev/null 2>&1 || { echo "mkd-trixie: $BIN does not run on this host" >&2; exit 1; }
echo "$BIN"
