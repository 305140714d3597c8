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
VARIANT=4level
MEM=512M
SMP=2
MODULES="ext4 xfs btrfs nf_tables e1000 loop bridge overlay"
EXTRA_MODULES=""
KOS=()
CONFS=()
APPEND=""
KEY=""
TIMEOUT=600
FORCE=0
INSTALL=1
ZSTD=1
# Bump when the set or format of the outputs changes: cached outputs are then rebuilt.
OUTPUT_VERSION=3
MODE=one

usage() {
  cat <<'EOF'
usage: bash tools/lab/lab.sh [options]
  --kernel SERIES|KVER   6.1 (bookworm, default), 6.12 (bookworm-backports) or a full kver
                         such as 6.1.0-56-amd64
  --variant 4level|la57  paging mode of the guest (default 4level)
  --mem SIZE             guest memory (default 512M)
  --smp N                guest CPUs (default 2)
  --modules "A B ..."    module set to load (default: ext4 xfs btrfs nf_tables e1000 loop
                         bridge overlay);
                         qemu_fw_cfg is always loaded first
  --add-modules "A ..."  load these modules too
  --ko FILE.ko           add an extra module file to the image (lib/modules/KVER/extra) and load
                         it (repeatable)
  --modprobe-conf FILE   add FILE to the image's /etc/modprobe.d (repeatable)
  --append "ARGS"        extra kernel command line
  --key NAME             output directory name under .lab/ (default KERNEL-VARIANT, with -MEM
                         appended when --mem is not 512M)
  --timeout SECONDS      guest boot + ground-truth time limit (default 600: TCG on a busy 2-core machine)
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

case "$VARIANT" in 4level|la57) ;; *) die "--variant must be 4level or la57" ;; esac
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

# Full kver (e.g. 6.1.0-56-amd64) that linux-image-amd64 of series $1 depends on.
resolve_kver() {
  local series=$1 ver
  case "$series" in *-amd64) echo "$series"; return ;; esac
  [ "$series" = 6.1 ] || ensure_backports
  ver=$(apt-cache madison linux-image-amd64 | awk -v s="$series." 'index($3, s) == 1 {print $3; exit}')
  if [ -z "$ver" ]; then
    apt-get update >&2
    ver=$(apt-cache madison linux-image-amd64 | awk -v s="$series." 'index($3, s) == 1 {print $3; exit}')
  fi
  [ -n "$ver" ] || die "no linux-image-amd64 of series $series in the apt sources"
  apt-cache show "linux-image-amd64=$ver" | sed -n 's/^Depends: .*linux-image-\([^ ,]*-amd64\).*/\1/p' | head -1
}

KVER=$(resolve_kver "$KERNEL")
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
  case "$KVER" in *+deb12*|6.1[0-9].*) ensure_backports ;; esac
  mkdir -p "$LAB_DIR/debs"
  local deb
  deb=$(ls "$LAB_DIR/debs/linux-image-${KVER}_"*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    log "downloading linux-image-$KVER"
    (cd "$LAB_DIR/debs" && apt-get download "linux-image-$KVER" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) \
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

# ---------------------------------------------------------------- output directory
if [ -z "$KEY" ]; then
  KEY=$SERIES-$VARIANT
  [ "$KERNEL" = "$SERIES" ] || KEY=$KVER-$VARIANT
  [ "$MEM" = 512M ] || KEY=$KEY-$(echo "$MEM" | tr 'A-Z' 'a-z')
fi
OUT=$LAB_DIR/$KEY
WORK=$OUT.tmp

# Everything that changes the outputs; a re-run with the same config reuses them.
CONFIG="v$OUTPUT_VERSION zstd=$ZSTD kver=$KVER variant=$VARIANT mem=$MEM smp=$SMP modules=$MODULES extra=$EXTRA_MODULES append=$APPEND"
for f in "${KOS[@]}" "${CONFS[@]}"; do CONFIG="$CONFIG $(basename "$f"):$(sha256sum < "$f" | cut -c1-16)"; done
CONFIG="$CONFIG tools:$(cat "$LAB_TOOLS"/guest-init.sh "$LAB_TOOLS"/bpf-load.c | sha256sum | cut -c1-16)"

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

# ---------------------------------------------------------------- initramfs
build_initramfs() {
  local b=$WORK/build root=$WORK/build/root modroot=$WORK/build/modroot m f lib
  mkdir -p "$root"/{bin,sbin,etc/modprobe.d,etc/lab,proc,sys,dev,tmp,run} "$b/modprobe.d"

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

CPU=max
ACCEL=tcg
if [ "$SERIES" != 6.1 ]; then
  # 6.12 under QEMU 7.2 TCG oopses at random with the full -cpu max (docs/design.md §10, docs/lab.md).
  CPU="$CPU,avx=off,avx2=off"
  ACCEL="tcg,thread=single"
fi
[ "$VARIANT" = 4level ] && CPU="$CPU,la57=off"
CMDLINE="console=ttyS0 panic=-1${APPEND:+ $APPEND}"
case "$KVER" in *-rt-*) CMDLINE="$CMDLINE noirqdebug" ;; esac

QMP=$WORK/qmp.sock
QEMU_ARGS=(
  -nodefaults -display none -no-reboot
  -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP"
  -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$WORK/build/initrd.img" -append "$CMDLINE"
  -serial "file:$WORK/serial.log" -serial "file:$WORK/truth.raw"
  -device vmcoreinfo
  -qmp "unix:$QMP,server=on,wait=off"
)
log "booting $KVER ($VARIANT, $MEM, $SMP CPUs): qemu-system-x86_64 ${QEMU_ARGS[*]}"
echo "qemu-system-x86_64 ${QEMU_ARGS[*]}" > "$WORK/qemu.cmdline"
qemu-system-x86_64 "${QEMU_ARGS[@]}" > "$WORK/qemu.log" 2>&1 &
QEMU_PID=$!

deadline=$(( $(now) + TIMEOUT ))
while :; do
  if [ -f "$WORK/truth.raw" ] && tail -c 64 "$WORK/truth.raw" | grep -q '@@LAB READY'; then break; fi
  if ! kill -0 "$QEMU_PID" 2>/dev/null; then
    cat "$WORK/qemu.log" >&2 || true
    fail_guest "QEMU exited before the guest was ready (guest panic or reboot?)"
  fi
  if grep -qE 'Kernel panic|BUG: |general protection fault|double fault' "$WORK/serial.log" 2>/dev/null; then
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
  log "  $1: $(du -h "$WORK/$1" | cut -f1), $(( $(now) - s )) s"
}

qmp '{"execute":"stop"}' || fail_guest "QMP stop failed"
dump qemu-elf.core '"paging":false'
dump qemu-elf-paging.core '"paging":true'
dump qemu-kdump.flat '"paging":false,"format":"kdump-zlib"'
qmp '{"execute":"quit"}' || true
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=""
T_DUMPS=$(now)

# ---------------------------------------------------------------- makedumpfile
cd "$WORK"
makedumpfile -R qemu-kdump.kdump < qemu-kdump.flat > mkd.log 2>&1 \
  || { cat mkd.log >&2; die "makedumpfile -R failed"; }

# makedumpfile 1.7.2 cannot read QEMU 7.2's ELF as written (section headers before the program
# headers): give it a copy with the program headers moved right after the ELF header.
node "$LAB_TOOLS/elf-fix.mjs" qemu-elf.core build/mkd-input.core

MKD_FORMATS="zlib:-c lzo:-l"
makedumpfile -v 2>/dev/null | grep -q '^snappy.*enabled' && MKD_FORMATS="$MKD_FORMATS snappy:-p"
makedumpfile -v 2>/dev/null | grep -q '^zstd.*enabled' && MKD_FORMATS="$MKD_FORMATS zstd:-z"
for fmt in $MKD_FORMATS; do
  name=${fmt%%:*} flag=${fmt#*:}
  echo "== makedumpfile $flag -d 31" >> mkd.log
  makedumpfile "$flag" -d 31 build/mkd-input.core "mkd-$name.kdump" >> mkd.log 2>&1 \
    || { tail -20 mkd.log >&2; die "makedumpfile $flag -d 31 failed"; }
done
# zstd: bookworm's 1.7.2 lacks it; trixie's 1.7.6 has it (tools/lab/mkd-trixie.sh). Optional.
MKD_TRIXIE=""
if [ "$ZSTD" = 1 ] && ! echo "$MKD_FORMATS" | grep -q zstd; then
  if MKD_TRIXIE=$(bash "$LAB_TOOLS/mkd-trixie.sh") && "$MKD_TRIXIE" -v | grep -q '^zstd.*enabled'; then
    echo "== trixie makedumpfile -z -d 31" >> mkd.log
    "$MKD_TRIXIE" -z -d 31 build/mkd-input.core mkd-zstd.kdump >> mkd.log 2>&1 \
      || { tail -20 mkd.log >&2; die "trixie makedumpfile -z -d 31 failed"; }
  else
    log "warning: no zstd-capable makedumpfile; mkd-zstd.kdump not written"
    MKD_TRIXIE=""
  fi
fi
echo "== makedumpfile -E -d 31" >> mkd.log
makedumpfile -E -d 31 build/mkd-input.core mkd-elf.core >> mkd.log 2>&1 \
  || { tail -20 mkd.log >&2; die "makedumpfile -E -d 31 failed"; }
T_MKD=$(now)

# ---------------------------------------------------------------- truth and manifest
node "$LAB_TOOLS/truth.mjs" "$WORK" >&2
[ "$VARIANT" = la57 ] && want=1 || want=0
got=$(node -e 'const t=require(process.argv[1]); console.log(t.vmcoreinfo ? t.vmcoreinfo.pgtable_l5_enabled : "none")' "$WORK/truth.json")
[ "$got" = "$want" ] || die "variant $VARIANT but VMCOREINFO NUMBER(pgtable_l5_enabled)=$got"
[ "$(node -e 'console.log(require(process.argv[1]).la57 ? 1 : 0)' "$WORK/truth.json")" = "$want" ] \
  || die "variant $VARIANT but the guest's /proc/cpuinfo la57 flag disagrees"

export LAB_KVER=$KVER LAB_KEY=$KEY LAB_VARIANT=$VARIANT LAB_MEM=$MEM LAB_SMP=$SMP \
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
