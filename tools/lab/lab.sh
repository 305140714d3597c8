#!/usr/bin/env bash
# kbtf lab: boot a real Debian kernel under QEMU (TCG), load real modules with kmod's modprobe,
# record the guest's own ground truth, pause it and write every vmcore format kbtf reads.
# Usage and outputs: docs/lab.md.   bash tools/lab/lab.sh --help
set -euo pipefail
# The whole script is one compound command: bash parses it completely before running it, so
# editing this file while a lab run is in progress cannot break that run.
{

LAB_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_TOOLS/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}

KERNEL=6.1
ARCH=x86_64
VARIANT=4level
MEM=512M
SMP=2
MODULES=""
EXTRA_MODULES=""
KOS=()
CONFS=()
APPEND=""
KEY=""
TIMEOUT=""
FORCE=0
INSTALL=1
ZSTD=1
# Bump when the set or format of the outputs changes: cached outputs are then rebuilt.
OUTPUT_VERSION=3
MODE=one

usage() {
  cat <<'EOF'
usage: bash tools/lab/lab.sh [options]
  --kernel SERIES|KVER   6.1 (bookworm, default), 6.12 (bookworm-backports), unstable (Debian
                         sid's kernel, 7.2 in December 2026: output key 7.2-VARIANT) or its
                         series (7.2), or a full kver such as 6.1.0-56-amd64
  --arch x86_64|arm64    guest architecture (default x86_64). arm64: Debian's arm64 kernel under
                         qemu-system-aarch64 -machine virt (TCG), output key SERIES-arm64
  --variant 4level|la57|lpa2
                         paging mode of the guest (default 4level). x86_64: 4level or la57.
                         arm64: 4level (-cpu max,lpa2=off: 48-bit kernel VA, 4 levels) or lpa2
                         (-cpu max with FEAT_LPA2: a 52-bit-VA kernel such as Debian's 6.12 uses
                         52 bits and 5 levels)
  --mem SIZE             guest memory (default 512M)
  --smp N                guest CPUs (default 2)
  --modules "A B ..."    module set to load (default: ext4 xfs btrfs nf_tables e1000 loop
                         bridge overlay; arm64: virtio_net instead of e1000);
                         qemu_fw_cfg is always loaded first
  --add-modules "A ..."  load these modules too
  --ko FILE.ko           add an extra module file to the image (lib/modules/KVER/extra) and load
                         it (repeatable)
  --modprobe-conf FILE   add FILE to the image's /etc/modprobe.d (repeatable)
  --append "ARGS"        extra kernel command line
  --key NAME             output directory name under .lab/ (default KERNEL-VARIANT; arm64:
                         KERNEL-arm64 or KERNEL-arm64-lpa2; -MEM appended when --mem is not 512M)
  --timeout SECONDS      guest boot + ground-truth time limit (default 600: TCG on a busy 2-core
                         machine; arm64: 1200, its ground truth crawls out of one PL011 UART)
  --force                rebuild even if .lab/KEY/manifest.json exists
  --no-install           do not apt-get install missing host packages
  --no-zstd              do not fetch trixie's makedumpfile for mkd-zstd.kdump
  --all | --ci           produce the three standard outputs: 6.1-4level, 6.1-la57, 6.12-4level
  --fixture              build the 128 MiB 6.1 4level dump and copy it to test/fixtures/6.1-128m
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    --variant) VARIANT=$2; shift 2 ;;
    --mem) MEM=$2; shift 2 ;;
    --smp) SMP=$2; shift 2 ;;
    --modules) MODULES=$2; shift 2 ;;
    --add-modules) EXTRA_MODULES="$EXTRA_MODULES $2"; shift 2 ;;
    --ko) KOS+=("$(realpath "$2")"); shift 2 ;;
    --modprobe-conf) CONFS+=("$(realpath "$2")"); shift 2 ;;
    --append) APPEND=$2; shift 2 ;;
    --key) KEY=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    --no-zstd) ZSTD=0; shift ;;
    --all|--ci) MODE=all; shift ;;
    --fixture) MODE=fixture; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "lab: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

log() { echo "lab: $*" >&2; }
die() { echo "lab: error: $*" >&2; exit 1; }
now() { date +%s; }
# A QEMU ELF dump holds every guest page, and most of a lab guest's RAM is zeros: punching holes for
# them (the bytes read back the same) keeps a key at ~0.5 GB on disk instead of ~1.3 GB. A file
# system without hole punching keeps the file whole.
sparsify() { fallocate --dig-holes "$1" 2>/dev/null || log "note: $1: cannot punch holes here (kept whole)"; }
# A key needs ~1.3 GB while it is built (two ELF dumps before their holes are punched, makedumpfile's
# input copy): refuse early, naming the space, rather than fail with ENOSPC half-way.
need_space() { # DIR MIB
  local avail; avail=$(df -Pm "$1" | awk 'NR==2 {print $4}')
  [ -z "$avail" ] || [ "$avail" -ge "$2" ] \
    || die "only $avail MiB free on $(df -P "$1" | awk 'NR==2 {print $6}') ($1); a lab key needs $2 MiB while it is built"
}

case "$VARIANT" in 4level|la57|lpa2) ;; *) die "--variant must be 4level, la57 (x86_64) or lpa2 (arm64)" ;; esac
# Debian's architecture name (package names, kver suffix) for each guest architecture.
case "$ARCH" in
  x86_64|amd64) ARCH=x86_64 DEBARCH=amd64
    [ "$VARIANT" != lpa2 ] || die "--variant lpa2 is for --arch arm64" ;;
  arm64|aarch64) ARCH=arm64 DEBARCH=arm64
    [ "$VARIANT" != la57 ] || die "--variant la57 is for x86_64 (arm64: 4level or lpa2)" ;;
  *) die "--arch must be x86_64 or arm64" ;;
esac
# arm64 guests print their ground truth through the one PL011 UART at ~40 KB/s under TCG (9 MB
# for 6.12): 441 s to READY on the 2-core machine at load average 24.
[ -n "$TIMEOUT" ] || { [ "$ARCH" = arm64 ] && TIMEOUT=1200 || TIMEOUT=600; }
if [ -z "$MODULES" ]; then
  MODULES="ext4 xfs btrfs nf_tables e1000 loop bridge overlay"
  # No e1000 on QEMU's virt machine: virtio_net is Debian arm64's modular network driver of it.
  [ "$ARCH" = arm64 ] && MODULES="ext4 xfs btrfs nf_tables virtio_net loop bridge overlay"
fi
[ "$(id -u)" = 0 ] || die "run as root (apt-get, depmod into the cache)"

# ---------------------------------------------------------------- batch modes
pass_opts() {
  local o=()
  [ "$FORCE" = 1 ] && o+=(--force)
  [ "$INSTALL" = 0 ] && o+=(--no-install)
  [ "$ZSTD" = 0 ] && o+=(--no-zstd)
  o+=(--timeout "$TIMEOUT")
  echo "${o[@]}"
}

if [ "$MODE" = all ]; then
  t0=$(now)
  # shellcheck disable=SC2046
  for kv in "6.1 4level" "6.1 la57" "6.12 4level"; do
    set -- $kv
    s=$(now)
    bash "$LAB_TOOLS/lab.sh" --kernel "$1" --variant "$2" $(pass_opts)
    log "$1-$2 done in $(( $(now) - s )) s"
  done
  log "all variants done in $(( $(now) - t0 )) s"
  exit 0
fi

if [ "$MODE" = fixture ]; then
  # shellcheck disable=SC2046
  # Fewer modules than the default set keep the filtered dump near 17 MB (docs/lab.md).
  bash "$LAB_TOOLS/lab.sh" --kernel 6.1 --variant 4level --mem 128M --smp 1 --key 6.1-128m \
    --modules "ext4 nf_tables e1000 loop" $(pass_opts)
  exec bash "$LAB_TOOLS/fixture.sh" "$LAB_DIR/6.1-128m" "$REPO/test/fixtures/6.1-128m"
fi

# ---------------------------------------------------------------- host packages
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$INSTALL" = 1 ] || die "missing host packages: ${missing[*]} (drop --no-install)"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

ensure_packages qemu-system-x86 makedumpfile busybox-static kmod cpio zstd gcc libc6-dev
# arm64: QEMU's aarch64 system and user emulators and the cross compiler for the BPF loader; the
# guest's busybox and kmod and the arm64 makedumpfile come from arm64 packages unpacked by
# tools/lab/arm64-sysroot.sh (nothing arm64 is installed).
[ "$ARCH" = arm64 ] && ensure_packages qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
command -v node >/dev/null || die "node is required (tools/lab/*.mjs)"

# ---------------------------------------------------------------- kernel package
BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.sources

ensure_backports() {
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "enabling bookworm-backports in $BACKPORTS_LIST (priority 100: nothing upgrades by itself)"
    cat > "$BACKPORTS_LIST" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update >&2
  fi
}

# arm64 packages need dpkg's foreign architecture arm64 and its package lists (no arm64 package is
# installed: apt-get download + dpkg-deb -x only).
ensure_arm64_lists() {
  [ "$DEBARCH" = arm64 ] || return 0
  # (a file test: apt-cache takes ~20 s on the loaded 2-core machine)
  dpkg --print-foreign-architectures | grep -qx arm64 && compgen -G '/var/lib/apt/lists/*_binary-arm64_Packages*' > /dev/null && return 0
  log "dpkg --add-architecture arm64 + apt-get update (package lists only)"
  dpkg --add-architecture arm64
  apt-get update >&2
}

# Full kver (e.g. 6.1.0-56-amd64) that linux-image-amd64 (linux-image-arm64) of series $1 depends on.
resolve_kver() {
  local series=$1 ver meta=linux-image-$DEBARCH:$DEBARCH
  case "$series" in *-"$DEBARCH") echo "$series"; return ;; esac
  [ "$series" = 6.1 ] || ensure_backports
  ensure_arm64_lists
  ver=$(apt-cache madison "$meta" | awk -v s="$series." 'index($3, s) == 1 {print $3; exit}')
  if [ -z "$ver" ]; then
    apt-get update >&2
    ver=$(apt-cache madison "$meta" | awk -v s="$series." 'index($3, s) == 1 {print $3; exit}')
  fi
  [ -n "$ver" ] || die "no linux-image-$DEBARCH of series $series in the apt sources"
  apt-cache show "$meta=$ver" | sed -n "s/^Depends: .*linux-image-\([^ ,]*-$DEBARCH\).*/\1/p" | head -1
}

# Debian unstable's kernel (x86_64): resolved and fetched from sid's pool by tools/lab/sid-kernel.sh,
# never through the host's apt (the host stays bookworm). `unstable` (or `sid`), a series from 7 on,
# or a +deb14-or-later kver.
SID=0
case "$KERNEL" in
  unstable|sid|*+deb1[4-9]-*|*+deb[2-9][0-9]-*) SID=1 ;;
  [7-9].*|[1-9][0-9].*) case "$KERNEL" in *-*) ;; *) SID=1 ;; esac ;;
esac
if [ "$SID" = 1 ]; then
  [ "$ARCH" = x86_64 ] || die "--kernel $KERNEL: Debian unstable's kernel is for x86_64 here"
  KVER=$(bash "$LAB_TOOLS/sid-kernel.sh" resolve "$KERNEL") || die "cannot resolve sid's kernel for --kernel $KERNEL"
  case "$KERNEL" in unstable|sid) KERNEL=$(echo "$KVER" | cut -d. -f1-2) ;; esac
else
KVER=$(resolve_kver "$KERNEL")
fi
[ -n "$KVER" ] || die "cannot resolve the kernel version for --kernel $KERNEL"
SERIES=$(echo "$KVER" | cut -d. -f1-2)
KROOT=$LAB_DIR/kernels/$KVER

# The kernel cache is shared: other tools read modules from it, and a tool that rewrites a .ko
# in place (e.g. objcopy with no output file) would silently change what the guest loads. Check
# every file against the package's md5sums and re-extract on any difference (about 2 s).
kernel_cache_intact() {
  [ -f "$KROOT/.complete" ] && [ -f "$KROOT/.md5sums" ] || return 1
  local bad
  bad=$(cd "$KROOT" && md5sum -c --quiet .md5sums 2>/dev/null | head -5 || true)
  [ -z "$bad" ] && return 0
  log "kernel cache $KROOT was modified, re-extracting: $(echo "$bad" | tr '\n' ' ')"
  return 1
}

fetch_kernel() {
  kernel_cache_intact && return 0
  [ "$SID" = 1 ] && { fetch_sid_kernel; return 0; }
  case "$KVER" in *+deb12*|6.1[0-9].*) ensure_backports ;; esac
  mkdir -p "$LAB_DIR/debs"
  local deb
  deb=$(ls "$LAB_DIR/debs/linux-image-${KVER}_"*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    log "downloading linux-image-$KVER"
    ensure_arm64_lists
    (cd "$LAB_DIR/debs" && apt-get download "linux-image-$KVER:$DEBARCH" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) \
      || die "apt-get download linux-image-$KVER failed"
    deb=$(ls "$LAB_DIR/debs/linux-image-${KVER}_"*.deb | head -1)
  fi
  log "extracting $(basename "$deb")"
  rm -rf "$KROOT.tmp"
  mkdir -p "$KROOT.tmp"
  dpkg-deb -x "$deb" "$KROOT.tmp"
  # Packages ship lib/modules (bookworm) or usr/lib/modules (merged /usr): give both a lib/modules.
  if [ ! -d "$KROOT.tmp/lib/modules/$KVER" ] && [ -d "$KROOT.tmp/usr/lib/modules/$KVER" ]; then
    mkdir -p "$KROOT.tmp/lib/modules"
    ln -s "../../usr/lib/modules/$KVER" "$KROOT.tmp/lib/modules/$KVER"
  fi
  dpkg-deb -I "$deb" md5sums > "$KROOT.tmp/.md5sums"
  depmod -b "$KROOT.tmp" "$KVER"
  basename "$deb" > "$KROOT.tmp/.deb"
  touch "$KROOT.tmp/.complete"
  rm -rf "$KROOT"
  mv "$KROOT.tmp" "$KROOT"
}

# sid's kernel: linux-image-KVER is a metapackage; vmlinuz is in linux-binary-KVER
# (usr/lib/modules/KVER/vmlinuz), the .ko.xz in linux-modules-KVER, config and modules.builtin* in
# linux-base-KVER. All are unpacked into one tree, which gets the classic boot/vmlinuz-KVER and
# boot/config-KVER names (symlinks) and a lib/modules/KVER.
fetch_sid_kernel() {
  local debs d
  mkdir -p "$LAB_DIR/debs"
  debs=$(bash "$LAB_TOOLS/sid-kernel.sh" debs "$KVER" "$LAB_DIR/debs") || die "cannot fetch sid's packages of $KVER"
  rm -rf "$KROOT.tmp"
  mkdir -p "$KROOT.tmp/boot" "$KROOT.tmp/lib/modules"
  : > "$KROOT.tmp/.md5sums"
  for d in $debs; do
    log "extracting $(basename "$d")"
    dpkg-deb -x "$d" "$KROOT.tmp"
    dpkg-deb -I "$d" md5sums >> "$KROOT.tmp/.md5sums" 2>/dev/null || true
  done
  [ -f "$KROOT.tmp/usr/lib/modules/$KVER/vmlinuz" ] || die "sid's packages of $KVER have no usr/lib/modules/$KVER/vmlinuz"
  ln -s "../usr/lib/modules/$KVER/vmlinuz" "$KROOT.tmp/boot/vmlinuz-$KVER"
  ln -s "../usr/lib/modules/$KVER/config" "$KROOT.tmp/boot/config-$KVER"
  ln -s "../../usr/lib/modules/$KVER" "$KROOT.tmp/lib/modules/$KVER"
  depmod -b "$KROOT.tmp" "$KVER"
  basename "$(echo "$debs" | head -1)" > "$KROOT.tmp/.deb"
  touch "$KROOT.tmp/.complete"
  rm -rf "$KROOT"
  mv "$KROOT.tmp" "$KROOT"
}

# ---------------------------------------------------------------- output directory
if [ -z "$KEY" ]; then
  KEY=$SERIES-$VARIANT
  [ "$KERNEL" = "$SERIES" ] || KEY=$KVER-$VARIANT
  # arm64: SERIES-arm64, or the full kver (it ends in -arm64); -lpa2 for that variant.
  if [ "$ARCH" = arm64 ]; then
    KEY=$SERIES-arm64; [ "$KERNEL" = "$SERIES" ] || KEY=$KVER
    [ "$VARIANT" = lpa2 ] && KEY=$KEY-lpa2
  fi
  [ "$MEM" = 512M ] || KEY=$KEY-$(echo "$MEM" | tr 'A-Z' 'a-z')
fi
OUT=$LAB_DIR/$KEY
WORK=$OUT.tmp

# Everything that changes the outputs; a re-run with the same config reuses them.
CONFIG="v$OUTPUT_VERSION zstd=$ZSTD kver=$KVER variant=$VARIANT mem=$MEM smp=$SMP modules=$MODULES extra=$EXTRA_MODULES append=$APPEND"
for f in "${KOS[@]}" "${CONFS[@]}"; do CONFIG="$CONFIG $(basename "$f"):$(sha256sum < "$f" | cut -c1-16)"; done
if [ "$ARCH" = arm64 ]; then
  CONFIG="$CONFIG arch=arm64 tools:$(cat "$LAB_TOOLS"/guest-init.sh "$LAB_TOOLS"/bpf-load.c "$LAB_TOOLS"/guest-init-arm64.sh "$LAB_TOOLS"/arm64-sysroot.sh | sha256sum | cut -c1-16)"
else
  CONFIG="$CONFIG tools:$(cat "$LAB_TOOLS"/guest-init.sh "$LAB_TOOLS"/bpf-load.c | sha256sum | cut -c1-16)"
fi

if [ "$FORCE" = 0 ] && [ -f "$OUT/manifest.json" ]; then
  if grep -qF "\"config\": \"$CONFIG\"" "$OUT/manifest.json"; then
    log "$OUT is up to date (use --force to rebuild)"
    exit 0
  fi
  log "$OUT was made with another configuration: rebuilding"
fi

T_START=$(now)
fetch_kernel
T_KERNEL=$(now)

rm -rf "$WORK"
mkdir -p "$WORK/build"
need_space "$WORK" 1600

# ---------------------------------------------------------------- initramfs
build_initramfs() {
  local b=$WORK/build root=$WORK/build/root modroot=$WORK/build/modroot m f lib
  mkdir -p "$root"/{bin,sbin,etc/modprobe.d,etc/lab,proc,sys,dev,tmp,run} "$b/modprobe.d"

  if [ "$ARCH" = arm64 ]; then
    build_initramfs_arm64 "$root"
  else
  cp /bin/busybox "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  cp /usr/bin/kmod "$root/sbin/kmod"
  for m in modprobe insmod rmmod lsmod modinfo depmod; do ln -s kmod "$root/sbin/$m"; done
  for lib in $(ldd /usr/bin/kmod | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  # kmod is linked against /lib64/ld-linux-x86-64.so.2 and /lib/x86_64-linux-gnu: both exist now.
  cp "$LAB_TOOLS/guest-init.sh" "$root/init"
  chmod 755 "$root/init"
  # The guest's BPF loader (dynamic kallsyms, docs/lab.md): static, so it needs no library.
  gcc -static -O2 -Wall -o "$root/bin/bpf-load" "$LAB_TOOLS/bpf-load.c" >&2 || die "cannot build tools/lab/bpf-load.c"
  fi

  for f in "${CONFS[@]}"; do cp "$f" "$root/etc/modprobe.d/"; cp "$f" "$b/modprobe.d/"; done

  # A private module tree (hard links into the kernel cache) with the extra .ko files, so that
  # host-side modprobe resolves their dependencies and softdeps exactly as the guest will.
  mkdir -p "$modroot/lib/modules"
  cp -al "$(realpath "$KROOT/lib/modules/$KVER")" "$modroot/lib/modules/$KVER"
  local names="qemu_fw_cfg $MODULES $EXTRA_MODULES"
  if [ ${#KOS[@]} -gt 0 ]; then
    mkdir -p "$modroot/lib/modules/$KVER/extra"
    for f in "${KOS[@]}"; do
      cp "$f" "$modroot/lib/modules/$KVER/extra/"
      m=$(basename "$f"); m=${m%%.ko*}
      names="$names $m"
    done
  fi
  depmod -b "$modroot" "$KVER"

  : > "$root/etc/lab/modules"
  local deps=$b/deps.txt
  : > "$deps"
  for m in $names; do
    echo "$m" >> "$root/etc/lab/modules"
    modprobe -d "$modroot" -S "$KVER" -C "$b/modprobe.d" --show-depends "$m" >> "$deps" \
      || die "module $m not found for $KVER"
  done
  local mdir=$root/lib/modules/$KVER
  mkdir -p "$mdir"
  cp "$modroot/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$mdir/" 2>/dev/null || true
  local count=0
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    rel=${path#"$modroot/lib/modules/$KVER/"}
    [ -f "$mdir/$rel" ] && continue
    mkdir -p "$mdir/$(dirname "$rel")"
    cp "$path" "$mdir/$rel"
    count=$((count + 1))
  done < "$deps"
  depmod -b "$root" "$KVER"
  log "initramfs: $count module files for: $names"

  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | zstd -q -3 > "$b/initrd.img"
  rm -rf "$modroot"
}

# arm64: busybox-static and kmod (+ the libraries its ELF NEEDs, recursively) from the unpacked
# arm64 packages; /init is tools/lab/guest-init-arm64.sh, which runs guest-init.sh as /lab-init.
build_initramfs_arm64() {
  local root=$1 lib need todo=() seen=" " f
  cp "$SYSROOT/bin/busybox" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  cp "$SYSROOT/bin/kmod" "$root/sbin/kmod"
  for m in modprobe insmod rmmod lsmod modinfo depmod; do ln -s kmod "$root/sbin/$m"; done
  mkdir -p "$root/lib/aarch64-linux-gnu"
  cp -L "$SYSROOT/lib/ld-linux-aarch64.so.1" "$root/lib/"
  todo=("$SYSROOT/bin/kmod")
  while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]}; todo=("${todo[@]:1}")
    for need in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$seen" in *" $need "*) continue ;; esac
      seen="$seen$need "
      [ "$need" = ld-linux-aarch64.so.1 ] && continue
      lib=""
      for d in lib usr/lib; do [ -e "$SYSROOT/$d/aarch64-linux-gnu/$need" ] && lib=$SYSROOT/$d/aarch64-linux-gnu/$need && break; done
      [ -n "$lib" ] || die "arm64 library $need (of $(basename "$f")) not in $SYSROOT"
      cp -L "$lib" "$root/lib/aarch64-linux-gnu/$need"
      todo+=("$lib")
    done
  done
  # The image's own kmod must run: check it on the host under qemu-aarch64-static with the image as root.
  qemu-aarch64-static -L "$root" "$root/sbin/kmod" --version > /dev/null \
    || die "the initramfs's arm64 kmod does not run (missing library?)"
  cp "$LAB_TOOLS/guest-init-arm64.sh" "$root/init"
  cp "$LAB_TOOLS/guest-init.sh" "$root/lab-init"
  chmod 755 "$root/init" "$root/lab-init"
  aarch64-linux-gnu-gcc -static -O2 -Wall -o "$root/bin/bpf-load" "$LAB_TOOLS/bpf-load.c" >&2 \
    || die "cannot build tools/lab/bpf-load.c for arm64"
}

SYSROOT=""
if [ "$ARCH" = arm64 ]; then
  SYSROOT=$(bash "$LAB_TOOLS/arm64-sysroot.sh") || die "cannot unpack the arm64 packages (tools/lab/arm64-sysroot.sh)"
fi

T0=$(now)
build_initramfs
T_INITRD=$(now)

# ---------------------------------------------------------------- QEMU
QEMU_PID=""
cleanup() {
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    sleep 1
    kill -9 "$QEMU_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail_guest() {
  echo "lab: error: $*" >&2
  echo "----- tail of $WORK/serial.log -----" >&2
  tail -n 40 "$WORK/serial.log" >&2 || true
  echo "-----" >&2
  exit 1
}

QMP=$WORK/qmp.sock
if [ "$ARCH" = arm64 ]; then
  # QEMU's virt machine (RAM from 0x40000000, fw_cfg for the vmcoreinfo device, one PL011 UART:
  # the ground truth shares the console, see tools/lab/guest-init-arm64.sh). -cpu max with QEMU's
  # own pointer-authentication algorithm (pauth-impdef): the architected QARMA is slow under TCG.
  # 4level: without FEAT_LPA2 (lpa2=off) a kernel built for 52-bit VA with 4 KiB pages (Debian's
  # 6.12) falls back to 48 bits and 4 levels; lpa2: it uses 52 bits and 5 levels.
  QEMU=qemu-system-aarch64
  CPU=${KBTF_LAB_ARM64_CPU:-max,pauth-impdef=on}
  [ "$VARIANT" = 4level ] && CPU="$CPU,lpa2=off"
  ACCEL=tcg
  CMDLINE="console=ttyAMA0 panic=-1${APPEND:+ $APPEND}"
  TRUTH=$WORK/serial.log
  ARCH_ARGS=(-machine virt -serial "file:$WORK/serial.log")
else
  QEMU=qemu-system-x86_64
  CPU=max
  ACCEL=tcg
  if [ "$SERIES" != 6.1 ]; then
    # 6.12 under QEMU 7.2 TCG oopses at random with the full -cpu max (docs/design.md §10, docs/lab.md).
    CPU="$CPU,avx=off,avx2=off"
    ACCEL="tcg,thread=single"
  fi
  [ "$VARIANT" = 4level ] && CPU="$CPU,la57=off"
  CMDLINE="console=ttyS0 panic=-1${APPEND:+ $APPEND}"
  TRUTH=$WORK/truth.raw
  ARCH_ARGS=(-serial "file:$WORK/serial.log" -serial "file:$WORK/truth.raw")
fi
case "$KVER" in *-rt-*) CMDLINE="$CMDLINE noirqdebug" ;; esac

QEMU_ARGS=(
  -nodefaults -display none -no-reboot
  -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP"
  -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$WORK/build/initrd.img" -append "$CMDLINE"
  "${ARCH_ARGS[@]}"
  -device vmcoreinfo
  -qmp "unix:$QMP,server=on,wait=off"
)
log "booting $KVER ($ARCH $VARIANT, $MEM, $SMP CPUs): $QEMU ${QEMU_ARGS[*]}"
echo "$QEMU ${QEMU_ARGS[*]}" > "$WORK/qemu.cmdline"
"$QEMU" "${QEMU_ARGS[@]}" > "$WORK/qemu.log" 2>&1 &
QEMU_PID=$!

deadline=$(( $(now) + TIMEOUT ))
while :; do
  # (arm64: the console follows READY with one "lab-init:" line, hence 256 bytes)
  if [ -f "$TRUTH" ] && tail -c 256 "$TRUTH" | grep -q '@@LAB READY'; then break; fi
  if ! kill -0 "$QEMU_PID" 2>/dev/null; then
    cat "$WORK/qemu.log" >&2 || true
    fail_guest "QEMU exited before the guest was ready (guest panic or reboot?)"
  fi
  if grep -qE 'Kernel panic|BUG: |general protection fault|double fault|Internal error: ' "$WORK/serial.log" 2>/dev/null; then
    sleep 2
    fail_guest "guest crashed before it was ready"
  fi
  [ "$(now)" -lt "$deadline" ] || fail_guest "guest not ready after $TIMEOUT s"
  sleep 1
done
T_READY=$(now)
log "guest ready after $(( T_READY - T_INITRD )) s"

qmp() { node "$LAB_TOOLS/qmp.mjs" "$QMP" "$@" > /dev/null; }
dump() { # FILE JSON-ARGS
  local s; s=$(now)
  qmp "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"protocol\":\"file:$WORK/$1\",$2}}" \
    || fail_guest "dump-guest-memory $1 failed"
  sparsify "$WORK/$1"
  log "  $1: $(du -h --apparent-size "$WORK/$1" | cut -f1) ($(du -h "$WORK/$1" | cut -f1) on disk), $(( $(now) - s )) s"
}

qmp '{"execute":"stop"}' || fail_guest "QMP stop failed"
dump qemu-elf.core '"paging":false'
dump qemu-elf-paging.core '"paging":true'
dump qemu-kdump.flat '"paging":false,"format":"kdump-zlib"'
qmp '{"execute":"quit"}' || true
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=""
T_DUMPS=$(now)
# arm64: the ground truth was printed on the console; truth.mjs reads its @@LAB sections.
[ "$ARCH" = arm64 ] && cp "$WORK/serial.log" "$WORK/truth.raw"

# ---------------------------------------------------------------- makedumpfile
cd "$WORK"
# An x86_64 makedumpfile cannot read an arm64 vmcore: for arm64, Debian's arm64 makedumpfile (same
# version, 1.7.2) runs under qemu-aarch64-static with the unpacked arm64 packages as its root.
MKD=(makedumpfile)
[ "$ARCH" = arm64 ] && MKD=(qemu-aarch64-static -L "$SYSROOT" "$SYSROOT/usr/bin/makedumpfile")
# Debian unstable's kernel (7.2) is far newer than bookworm's 1.7.2 knows: sid's makedumpfile (1.7.8,
# the newest real one, zstd enabled) makes every filtered dump of it (tools/lab/mkd-trixie.sh sid).
if [ "$SID" = 1 ]; then
  MKD_SID=$(bash "$LAB_TOOLS/mkd-trixie.sh" sid) || die "cannot fetch sid's makedumpfile"
  MKD=("$MKD_SID")
  export LAB_MKD_BIN=$MKD_SID # the manifest names the writer by this binary's version
fi
"${MKD[@]}" -R qemu-kdump.kdump < qemu-kdump.flat > mkd.log 2>&1 \
  || { cat mkd.log >&2; die "makedumpfile -R failed"; }

# makedumpfile 1.7.2 cannot read QEMU 7.2's ELF as written (section headers before the program
# headers): give it a copy with the program headers moved right after the ELF header.
node "$LAB_TOOLS/elf-fix.mjs" qemu-elf.core build/mkd-input.core

MKD_FORMATS="zlib:-c lzo:-l"
"${MKD[@]}" -v 2>/dev/null | grep -q '^snappy.*enabled' && MKD_FORMATS="$MKD_FORMATS snappy:-p"
"${MKD[@]}" -v 2>/dev/null | grep -q '^zstd.*enabled' && MKD_FORMATS="$MKD_FORMATS zstd:-z"
# makedumpfile (1.7.2, and 1.7.6/1.7.8 alike) refuses arm64 kernels built for 52-bit VA with 4 KiB
# pages (Debian's 6.12: "calculate_plat_config: PAGE SIZE 0x1000 and VA Bits 52 not supported"):
# such an output has no makedumpfile-filtered dumps; the manifest says why (makedumpfile_skipped).
MKD_SKIPPED=""
for fmt in $MKD_FORMATS; do
  name=${fmt%%:*} flag=${fmt#*:}
  echo "== makedumpfile $flag -d 31" >> mkd.log
  "${MKD[@]}" "$flag" -d 31 build/mkd-input.core "mkd-$name.kdump" >> mkd.log 2>&1 && continue
  if [ "$ARCH" = arm64 ] && MKD_SKIPPED=$(grep -m1 -o 'calculate_plat_config: .* not supported' mkd.log); then
    log "warning: makedumpfile cannot read this arm64 kernel ($MKD_SKIPPED): no mkd-*.kdump/mkd-elf.core"
    rm -f "mkd-$name.kdump"
    MKD_FORMATS=""
    break
  fi
  tail -20 mkd.log >&2; die "makedumpfile $flag -d 31 failed"
done
# zstd: bookworm's 1.7.2 lacks it; trixie's 1.7.6 has it (tools/lab/mkd-trixie.sh). Optional.
MKD_TRIXIE=""
MKD_TRIXIE_ROOT=""
if [ "$ARCH" = arm64 ] && [ "$ZSTD" = 1 ] && [ -z "$MKD_SKIPPED" ]; then
  # arm64: trixie's arm64 makedumpfile 1.7.6 under qemu-aarch64-static (tools/lab/arm64-sysroot.sh trixie).
  if MKD_TRIXIE_ROOT=$(bash "$LAB_TOOLS/arm64-sysroot.sh" trixie); then
    MKD_TRIXIE=$MKD_TRIXIE_ROOT/usr/bin/makedumpfile
    echo "== trixie makedumpfile -z -d 31" >> mkd.log
    qemu-aarch64-static -L "$MKD_TRIXIE_ROOT" "$MKD_TRIXIE" -z -d 31 build/mkd-input.core mkd-zstd.kdump >> mkd.log 2>&1 \
      || { tail -20 mkd.log >&2; die "trixie makedumpfile -z -d 31 failed"; }
  else
    log "warning: trixie's arm64 makedumpfile could not be fetched; mkd-zstd.kdump not written"
    MKD_TRIXIE_ROOT=""
  fi
elif [ "$ARCH" = arm64 ]; then
  :
elif [ "$ZSTD" = 1 ] && ! echo "$MKD_FORMATS" | grep -q zstd; then
  if MKD_TRIXIE=$(bash "$LAB_TOOLS/mkd-trixie.sh") && "$MKD_TRIXIE" -v | grep -q '^zstd.*enabled'; then
    echo "== trixie makedumpfile -z -d 31" >> mkd.log
    "$MKD_TRIXIE" -z -d 31 build/mkd-input.core mkd-zstd.kdump >> mkd.log 2>&1 \
      || { tail -20 mkd.log >&2; die "trixie makedumpfile -z -d 31 failed"; }
  else
    log "warning: no zstd-capable makedumpfile; mkd-zstd.kdump not written"
    MKD_TRIXIE=""
  fi
fi
if [ -z "$MKD_SKIPPED" ]; then
  echo "== makedumpfile -E -d 31" >> mkd.log
  "${MKD[@]}" -E -d 31 build/mkd-input.core mkd-elf.core >> mkd.log 2>&1 \
    || { tail -20 mkd.log >&2; die "makedumpfile -E -d 31 failed"; }
fi
[ -f mkd-elf.core ] && sparsify mkd-elf.core
T_MKD=$(now)

# ---------------------------------------------------------------- truth and manifest
LAB_ARCH=$ARCH node "$LAB_TOOLS/truth.mjs" "$WORK" >&2
if [ "$ARCH" = arm64 ]; then
  # Debian arm64 kernels have 4 KiB pages; CONFIG_ARM64_VA_BITS is 48 (6.1) or 52 (6.12). The
  # kernel VA size in use is 64 - TCR_EL1.T1SZ: 48 for the 4level variant, 52 for lpa2 (which
  # then needs a 52-bit kernel). Check the config and what the dumped kernel wrote in VMCOREINFO.
  grep -qx CONFIG_ARM64_4K_PAGES=y "$KROOT/boot/config-$KVER" || die "$KROOT/boot/config-$KVER: not 4 KiB pages"
  cfg_va=$(sed -n 's/^CONFIG_ARM64_VA_BITS=//p' "$KROOT/boot/config-$KVER")
  [ "$VARIANT" = lpa2 ] && want_va=52 || want_va=48
  got=$(node -e 'const v=require(process.argv[1]).vmcoreinfo; console.log(v ? `${v.page_size} ${v.va_bits} ${64 - v.tcr_el1_t1sz}` : "none")' "$WORK/truth.json")
  [ "$got" = "4096 $cfg_va $want_va" ] \
    || die "arm64 $VARIANT: VMCOREINFO PAGESIZE, NUMBER(VA_BITS), 64-TCR_EL1_T1SZ = $got (want 4096 $cfg_va $want_va)"
else
  [ "$VARIANT" = la57 ] && want=1 || want=0
  got=$(node -e 'const t=require(process.argv[1]); console.log(t.vmcoreinfo ? t.vmcoreinfo.pgtable_l5_enabled : "none")' "$WORK/truth.json")
  [ "$got" = "$want" ] || die "variant $VARIANT but VMCOREINFO NUMBER(pgtable_l5_enabled)=$got"
  [ "$(node -e 'console.log(require(process.argv[1]).la57 ? 1 : 0)' "$WORK/truth.json")" = "$want" ] \
    || die "variant $VARIANT but the guest's /proc/cpuinfo la57 flag disagrees"
fi

export LAB_ARCH=$ARCH LAB_QEMU=$QEMU LAB_MKD_EMULATED=${SYSROOT:+1} LAB_MKD_TRIXIE_ROOT=$MKD_TRIXIE_ROOT LAB_MKD_SKIPPED=$MKD_SKIPPED LAB_KVER=$KVER LAB_KEY=$KEY LAB_VARIANT=$VARIANT LAB_MEM=$MEM LAB_SMP=$SMP \
  LAB_KROOT=$KROOT LAB_CONFIG=$CONFIG LAB_DEB=$(cat "$KROOT/.deb") LAB_CMDLINE=$CMDLINE \
  LAB_QEMU_CPU=$CPU LAB_QEMU_ACCEL=$ACCEL LAB_MKD_FORMATS=$MKD_FORMATS LAB_MKD_TRIXIE=$MKD_TRIXIE \
  LAB_TIMINGS="kernel=$(( T_KERNEL - T_START )) initramfs=$(( T_INITRD - T0 )) boot=$(( T_READY - T_INITRD )) qemu_dumps=$(( T_DUMPS - T_READY )) makedumpfile=$(( T_MKD - T_DUMPS ))"
node "$LAB_TOOLS/manifest.mjs" "$WORK"

rm -rf build/root build/mkd-input.core qmp.sock
chmod 644 ./*.core ./*.kdump ./*.flat
cd "$LAB_DIR"
rm -rf "$OUT"
mv "$WORK" "$OUT"
log "done: $OUT in $(( $(now) - T_START )) s"
exit 0
}
