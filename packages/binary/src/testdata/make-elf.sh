#!/bin/sh
# Makes the ELF test files of elf.test.ts, each with readelf's view of it (FILE.readelf: the
# ground truth the test compares the reader with). Needs gcc (with -m32: gcc-multilib not needed,
# nothing is linked against libc), binutils, curl, dpkg-deb. Run from this directory.
set -eu
cd "$(dirname "$0")"
gcc -O2 -fPIC -shared -nostdlib -Wl,--build-id=sha1 -o elf64-x86_64.so module-like.c
gcc -m32 -O2 -fPIC -shared -nostdlib -Wl,--build-id=sha1 -o elf32-i386.so module-like.c
# Big-endian ELF64: Debian bookworm's libacl1 for s390x (a small real file; stripped: .dynsym only).
tmp=$(mktemp -d)
curl -sfo "$tmp/acl.deb" http://deb.debian.org/debian/pool/main/a/acl/libacl1_2.3.1-3_s390x.deb
dpkg-deb -x "$tmp/acl.deb" "$tmp/x"
cp "$tmp/x/usr/lib/s390x-linux-gnu/libacl.so.1.1.2301" elf64-s390x-libacl.so
rm -rf "$tmp"
for f in elf64-x86_64.so elf32-i386.so; do
  LC_ALL=C readelf -W -S -s -n -p .modinfo "$f" > "$f.readelf"
done
LC_ALL=C readelf -W -S -s -n elf64-s390x-libacl.so > elf64-s390x-libacl.so.readelf
# hexdump.test.ts: the first 1000 bytes of the x86_64 file as `hexdump -C -v` prints them (bsdextrautils).
head -c 1000 elf64-x86_64.so | hexdump -C -v > elf64-x86_64.so.hexdump
