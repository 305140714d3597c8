#!/usr/bin/env bash
# Build the issue-8 test set of companions for a Debian kernel and boot the lab with them, loaded by
# kmod through `kbtf modprobe-config` under btf_companions=always. Produces what
# test/companion/companions.test.ts checks:
#   $KBTF_CACHE/companions/lib/modules/KVER/updates/kbtf/*-btf.ko, $KBTF_CACHE/companions/kbtf-companions-KVER.json
#   .lab/SERIES-companions/ (truth.json, dumps; see docs/lab.md)
# Usage: bash tools/lab/lab-companions.sh 6.1|6.12|7.2|unstable [extra lab.sh options]
#        (7.2 or unstable: Debian sid's kernel, x86_64; its packages come from sid's pool and its
#        companions are built through the sid tree, docs/companions.md; key .lab/7.2-companions/)
#        bash tools/lab/lab-companions.sh 6.1 --arch arm64   (Debian's arm64 kernel, companions cross-built
#          here, the arm64 lab guest: .lab/6.1-arm64-companions/, checked by test/companion/arm64.test.ts)
#        KBTF_FIXTURE=1 bash tools/lab/lab-companions.sh 6.1 --force   (regenerates the fixture)
# Needs the CLI built (npm run build) and root (apt-get download, debootstrap, depmod, QEMU).
set -euo pipefail

SERIES=${1:?usage: lab-companions.sh 6.1|6.12|7.2|unstable}
shift
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KBTF=(node "$REPO/apps/kbtf/bin/kbtf.js")
CACHE=${KBTF_CACHE:-/var/cache/kbtf}
# Every module the lab guest loads (tools/lab/lab.sh's default set, qemu_fw_cfg, and the crc32c and
# blake2b modules that softdeps pull in), so that a dump of this guest can be complete.
MODULES="ext4 xfs btrfs nf_tables e1000 loop bridge overlay qemu_fw_cfg crc32c_generic crc32c_intel blake2b_generic"

# --arch arm64 (passed on to lab.sh too): the arm64 lab guest's set (virtio_net for e1000, no crc32c_intel).
DEBARCH=amd64
prev=""
for a in "$@"; do [ "$prev" = --arch ] && case "$a" in arm64|aarch64) DEBARCH=arm64 ;; esac; prev=$a; done
[ "$DEBARCH" = arm64 ] && MODULES="ext4 xfs btrfs nf_tables virtio_net loop bridge overlay qemu_fw_cfg crc32c_generic blake2b_generic"
# arm64 packages come through the host's apt: arm64 as a dpkg foreign architecture (lists only, as lab.sh does).
if [ "$DEBARCH" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64 && apt-get update -qq >&2
fi

# Debian unstable's kernel (7.2; the host stays bookworm): resolved from sid's index, as lab.sh does.
SID=0
case "$SERIES" in unstable|sid|[7-9].*|[1-9][0-9].*) SID=1 ;; esac
if [ "$SID" = 1 ]; then
  KVER=$(bash "$REPO/tools/lab/sid-kernel.sh" resolve "$SERIES")
  SERIES=$(echo "$KVER" | cut -d. -f1-2)
  # 7.2's crc32c is a library (crc32c-cryptoapi is the crypto API's "crc32c", jbd2's softdep); blake2b
  # is a library (libblake2b, a btrfs dependency): no crc32c_generic/_intel, no blake2b_generic.
  MODULES="ext4 xfs btrfs nf_tables e1000 loop bridge overlay qemu_fw_cfg crc32c_cryptoapi"
fi
# The kver linux-image-DEBARCH of that series depends on (as tools/lab/lab.sh resolves it).
if [ "$SID" = 0 ]; then
ver=$(apt-cache madison "linux-image-$DEBARCH:$DEBARCH" | awk -v s="$SERIES." 'index($3, s) == 1 {print $3; exit}')
[ -n "$ver" ] || { echo "lab-companions: no linux-image-$DEBARCH of series $SERIES in the apt sources" >&2; exit 1; }
KVER=$(apt-cache show "linux-image-$DEBARCH:$DEBARCH=$ver" | sed -n "s/^Depends: .*linux-image-\([^ ,]*-$DEBARCH\).*/\1/p" | head -1)
fi
echo "lab-companions: kernel $KVER" >&2

# An arm64 kernel's headers are unpacked into the cache by the builder (cross build, docs/companions.md).
# A sid kernel's headers are installed into the sid tree by the builder (suite.ts), never on the host.
[ "$DEBARCH" = arm64 ] || [ "$SID" = 1 ] || dpkg-query -W -f='${Status}' "linux-headers-$KVER" 2>/dev/null | grep -q 'install ok installed' \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "linux-headers-$KVER" >&2

# shellcheck disable=SC2086
if [ "$DEBARCH" = arm64 ]; then
  # Cross-built (minutes of stubs): `companion package` reuses the cached companions that still match
  # the kernel's build-ids and pass the check, builds the rest, and writes the arm64 .deb the test reads.
  "${KBTF[@]}" companion package --kernel "$KVER" --deps --vmlinux --output "$CACHE/companions/deb" $MODULES >&2
else
"${KBTF[@]}" companion build --kernel "$KVER" --deps --vmlinux $MODULES >&2
fi

# A root whose module tree has the companions, for kbtf modprobe-config to select from.
WORK=$(mktemp -d /tmp/kbtf-lab-companions.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
MODDIR=$WORK/root/lib/modules/$KVER
mkdir -p "$MODDIR/updates" "$WORK/conf"
cp -al "$CACHE/kernels/$KVER/image/lib/modules/$KVER/kernel" "$MODDIR/kernel"
cp "$CACHE/kernels/$KVER/image/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$MODDIR/"
cp -r "$CACHE/companions/lib/modules/$KVER/updates/kbtf" "$MODDIR/updates/"
depmod -b "$WORK/root" "$KVER"
# KBTF_COMPANIONS_WITHOUT="a b": leave these modules' companions out of the guest (and out of the
# softdeps), to make a dump that must verify as incomplete, naming exactly them.
WITHOUT=${KBTF_COMPANIONS_WITHOUT:-}
EXCLUDE=""
[ -z "$WITHOUT" ] || EXCLUDE=" btf_companions.exclude=${WITHOUT// /,}"
"${KBTF[@]}" modprobe-config --root "$WORK/root" --kernel "$KVER" --cmdline "btf_companions=always$EXCLUDE" \
  --output "$WORK/conf/kbtf.conf" >&2

KOS=()
if [ "${KBTF_FIXTURE:-0}" = 1 ]; then
  # The committed fixture (test/fixtures/6.1-128m, docs/lab.md): a 128 MiB guest with a small module
  # set, booted under btf_companions=always with the companions of exactly what it loads.
  [ "$SERIES" = 6.1 ] || { echo "lab-companions: the fixture is a 6.1 guest" >&2; exit 2; }
  FIXTURE_MODULES="ext4 nf_tables e1000 loop"
  for m in vmlinux ext4 jbd2 mbcache crc16 crc32c_generic crc32c_intel nf_tables nfnetlink libcrc32c e1000 loop qemu_fw_cfg; do
    for f in "$CACHE/companions/lib/modules/$KVER/updates/kbtf"/*-btf.ko; do
      b=$(basename "$f" -btf.ko)
      [ "${b//-/_}" = "$m" ] && KOS+=(--ko "$f")
    done
  done
  bash "$REPO/tools/lab/lab.sh" --kernel 6.1 --variant 4level --mem 128M --smp 1 --key 6.1-128m \
    --modules "$FIXTURE_MODULES" "${KOS[@]}" --modprobe-conf "$WORK/conf/kbtf.conf" --append btf_companions=always "$@"
  bash "$REPO/tools/lab/fixture.sh" "${KBTF_LAB_DIR:-$REPO/.lab}/6.1-128m" "$REPO/test/fixtures/6.1-128m"
  exit 0
fi
for f in "$CACHE/companions/lib/modules/$KVER/updates/kbtf"/*-btf.ko; do
  b=$(basename "$f" -btf.ko)
  case " ${WITHOUT//-/_} " in *" ${b//-/_} "*) continue ;; esac
  KOS+=(--ko "$f")
done
KEY=$SERIES-companions
[ "$DEBARCH" = amd64 ] || KEY=$SERIES-$DEBARCH-companions
[ -z "$WITHOUT" ] || KEY=$KEY-partial
bash "$REPO/tools/lab/lab.sh" --kernel "$SERIES" --key "$KEY" "${KOS[@]}" \
  --modprobe-conf "$WORK/conf/kbtf.conf" --append btf_companions=always "$@"
