#!/usr/bin/env bash
# kbtf real-host lab: a Debian 13 (trixie) disk image built with debootstrap, kbtf and its companion
# package installed with apt inside it, btf_companions=always set on the kernel command line
# (GRUB_CMDLINE_LINUX in /etc/default/grub, and the same line on QEMU's -append), booted under
# QEMU (TCG) with systemd and kdump-tools, crashed, captured by kdump-tools' capture kernel,
# verified at the next boot by kbtf-verify-crashes.service, then read back from the disk.
# Usage and outputs: docs/lab.md ("The real host"), docs/deploy.md.   bash tools/lab/host.sh --help
set -euo pipefail
# One compound command: bash parses it all before running it (editing it mid-run is safe).
{

LAB_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_TOOLS/../.." && pwd)
LAB_DIR=${KBTF_LAB_DIR:-$REPO/.lab}
CACHE=${KBTF_CACHE:-/var/cache/kbtf}
MIRROR=${KBTF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
# The image's packages (docs/design.md §12, plus nodejs for kbtf).
INCLUDE="systemd-sysv,udev,kmod,linux-image-amd64,initramfs-tools,kdump-tools,kexec-tools,makedumpfile,procps,zstd,nodejs"
# Bump when the base image's content or configuration changes: the cached base is rebuilt.
BASE_VERSION=1
# Bump when the outputs' set or format changes.
OUTPUT_VERSION=2
MEM=2048
SMP=2
CRASHKERNEL=384M
CPU="max,avx=off,avx2=off,la57=off"   # docs/design.md §10: 6.12 under QEMU 7.2 TCG needs avx off
ACCEL="tcg,thread=single"
DISK_SIZE=6G
TIMEOUT=1800           # one boot (boot 1 includes the crash and the capture kernel's run; 15 min seen at load 11)
# The admin's setting (docs/deploy.md): the boot loader's command line. The dump carries the
# command line the crashed kernel ran with, so the report judges by the setting in force.
SETTING='GRUB_CMDLINE_LINUX="btf_companions=always"'
WHAT=all
FORCE=0
INSTALL=1

usage() {
  cat <<'EOF'
usage: bash tools/lab/host.sh [options]
  (no option)        both outputs: .lab/host-trixie/ and .lab/host-trixie-partial/
  --complete         only .lab/host-trixie/ (every loaded module has its companion)
  --partial          only .lab/host-trixie-partial/ (one loaded module's companion removed)
  --image            only build (or reuse) the cached base image and its discovery boot
  --force            redo the outputs even if their manifest.json records the same configuration
  --timeout SECONDS  limit for each boot (default 1800)
  --no-install       never apt-get install missing host packages
Environment: KBTF_CACHE (default /var/cache/kbtf; the image is cached under $KBTF_CACHE/host/),
KBTF_LAB_DIR (default .lab), KBTF_DEBIAN_MIRROR (default http://deb.debian.org/debian).
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --complete) WHAT=complete; shift ;;
    --partial) WHAT=partial; shift ;;
    --image) WHAT=image; shift ;;
    --force) FORCE=1; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "host: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

T_START=$(date +%s)
log() { echo "host: [$(( $(date +%s) - T_START ))s] $*" >&2; }
die() { echo "host: error: $*" >&2; exit 1; }
now() { date +%s; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, QEMU)"
# One run at a time: two runs would share .lab/host-trixie.tmp, the installed tree and the cache.
mkdir -p "$LAB_DIR" "$CACHE/host"
exec 9> "$LAB_DIR/.host.lock"
if ! flock -n 9; then
  log "another tools/lab/host.sh is running; waiting for it"
  flock 9
fi

# ---------------------------------------------------------------- host packages
# debootstrap (and the trixie keyring bookworm's debian-archive-keyring has), mke2fs -d and debugfs,
# QEMU. Installed only when missing.
HOST_PKGS="debootstrap debian-archive-keyring e2fsprogs qemu-system-x86"
missing=$(for p in $HOST_PKGS; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || echo "$p"
done | tr '\n' ' ')
if [ -n "${missing// /}" ]; then
  [ "$INSTALL" = 1 ] || die "missing host packages: $missing(drop --no-install)"
  log "apt-get install $missing"
  # shellcheck disable=SC2086
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >&2 \
    || die "could not install $missing"
fi
command -v node >/dev/null || die "node is required"

# ---------------------------------------------------------------- cleanup: QEMU, chroot mounts
QEMU_PID=""
MOUNTS=()
POLICY_RC=""
cleanup() {
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    sleep 1
    kill -9 "$QEMU_PID" 2>/dev/null || true
  fi
  QEMU_PID=""
  local i
  for (( i=${#MOUNTS[@]}-1; i>=0; i-- )); do
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
  done
  MOUNTS=()
  [ -z "$POLICY_RC" ] || rm -f "$POLICY_RC"
  POLICY_RC=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# chroot_in ROOT COMMAND...: run in the image with /proc, /sys, /dev bind-mounted and a
# policy-rc.d that forbids starting services; everything is undone afterwards (and on any exit).
chroot_in() {
  local root=$1; shift
  mount -t proc proc "$root/proc"; MOUNTS+=("$root/proc")
  mount --bind /sys "$root/sys"; MOUNTS+=("$root/sys")
  mount --bind /dev "$root/dev"; MOUNTS+=("$root/dev")
  mount --bind /dev/pts "$root/dev/pts"; MOUNTS+=("$root/dev/pts")
  POLICY_RC=$root/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC"; chmod 755 "$POLICY_RC"
  local rc=0
  # A clean environment: nothing of the host's (NODE_EXTRA_CA_CERTS, proxies, locale) leaks in.
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$root" "$@" || rc=$?
  cleanup
  return $rc
}

# ---------------------------------------------------------------- QEMU
# boot DISK KVER KERNEL INITRD WORKDIR NAME: boot until QEMU exits (poweroff, or the reboot that
# -no-reboot turns into an exit); fail with the serial log's tail on timeout.
boot() {
  local disk=$1 kernel=$2 initrd=$3 work=$4 name=$5 cmdline=$6
  local args=(
    -nodefaults -display none -no-reboot
    -accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP"
    -drive "file=$disk,format=raw,if=virtio"
    -device vmcoreinfo
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
    -serial "file:$work/$name.serial.log" -serial "file:$work/$name.lab.log"
  )
  echo "qemu-system-x86_64 ${args[*]}" > "$work/$name.qemu.cmdline"
  log "boot $name: qemu-system-x86_64 ${args[*]}"
  qemu-system-x86_64 "${args[@]}" > "$work/$name.qemu.log" 2>&1 &
  QEMU_PID=$!
  local deadline=$(( $(now) + TIMEOUT ))
  while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ "$(now)" -ge "$deadline" ]; then
      fail_boot "$work" "$name" "boot $name did not end within $TIMEOUT s"
    fi
    sleep 2
  done
  wait "$QEMU_PID" || true
  QEMU_PID=""
  BOOT_CMDLINE=$cmdline
}

fail_boot() {
  local work=$1 name=$2
  echo "host: error: $3" >&2
  echo "----- tail of $work/$name.serial.log -----" >&2
  tail -n 60 "$work/$name.serial.log" >&2 || true
  echo "----- $work/$name.lab.log -----" >&2
  tail -n 30 "$work/$name.lab.log" >&2 || true
  echo "-----" >&2
  exit 1
}

# The lab unit, after every other unit of the boot (and after kdump is loaded, and after
# kbtf-verify-crashes has verified the dumps of the boot before).
install_lab_unit() {
  local root=$1 mode=$2
  install -m 755 "$LAB_TOOLS/host-guest.sh" "$root/usr/local/sbin/kbtf-lab"
  mkdir -p "$root/etc/kbtf-lab"
  echo "$mode" > "$root/etc/kbtf-lab/mode"
  cat > "$root/etc/systemd/system/kbtf-lab.service" <<'EOF'
# Lab only (tools/lab/host.sh): records the host's state, crashes it once, records the report.
[Unit]
Description=kbtf lab recorder (not part of kbtf)
After=multi-user.target kdump-tools.service kbtf-verify-crashes.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kbtf-lab
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sf ../kbtf-lab.service "$root/etc/systemd/system/multi-user.target.wants/kbtf-lab.service"
}

# /etc/default/grub of the base image: the console, kdump's reservation. The installed image adds
# the setting to GRUB_CMDLINE_LINUX, as an admin would.
grub_default() {
  cat <<EOF
# Written by tools/lab/host.sh: the image has no boot loader, QEMU boots its kernel with the
# command line grub-mkconfig would make from this file (root=/dev/vda ro, then these two).
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0 panic=10"
GRUB_CMDLINE_LINUX=""
EOF
}

# The line grub-mkconfig's 10_linux would give the kernel: root=... ro GRUB_CMDLINE_LINUX
# GRUB_CMDLINE_LINUX_DEFAULT, after /etc/default/grub and /etc/default/grub.d/*.cfg.
grub_cmdline() { # ROOT
  ( set +eu
    GRUB_CMDLINE_LINUX="" GRUB_CMDLINE_LINUX_DEFAULT=""
    # shellcheck disable=SC1090,SC1091
    . "$1/etc/default/grub"
    # shellcheck disable=SC1090
    for f in "$1"/etc/default/grub.d/*.cfg; do [ -f "$f" ] && . "$f"; done
    echo root=/dev/vda ro $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT )
}

make_disk() { # ROOT DISK
  rm -f "$2"
  mke2fs -q -t ext4 -L kbtf-root -d "$1" "$2" "$DISK_SIZE" || die "mke2fs -d $1 failed"
}

# debugfs reads the ext4 image without mounting it (after a crash it needs journal recovery).
read_disk() { # DISK PATH-IN-IMAGE OUTDIR
  mkdir -p "$3"
  debugfs -R "rdump $2 $3" "$1" > /dev/null 2>"$3.debugfs.err" || { cat "$3.debugfs.err" >&2; die "debugfs rdump $2 failed"; }
  rm -f "$3.debugfs.err"
}

# ---------------------------------------------------------------- base image (cached)
BASE_KEY=$(echo "v$BASE_VERSION $SUITE $MIRROR $INCLUDE" | sha256sum | cut -c1-12)
BASE=$CACHE/host/$SUITE-$BASE_KEY
mkdir -p "$CACHE/host"

build_base() {
  [ -f "$BASE/base.tar" ] && [ -f "$BASE/kver" ] && return 0
  log "building the base image $BASE (debootstrap $SUITE)"
  local t=$BASE.tmp
  rm -rf "$t"; mkdir -p "$t"
  if [ -n "${KBTF_HOST_DEBOOTSTRAPPED:-}" ]; then
    # A tree made by exactly the debootstrap command below (a development shortcut).
    log "using the debootstrapped tree $KBTF_HOST_DEBOOTSTRAPPED"
    mv "$KBTF_HOST_DEBOOTSTRAPPED" "$t/root"
  else
    nice -n 10 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$t/root" "$MIRROR" > "$t/debootstrap.log" 2>&1 \
      || { tail -30 "$t/debootstrap.log" >&2; die "debootstrap failed (log: $t/debootstrap.log)"; }
  fi
  local r=$t/root kver
  kver=$(ls "$r/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
  [ -n "$kver" ] || die "no kernel in the debootstrapped image"
  # kdump-tools: enabled; crashkernel= comes from the kernel command line (QEMU -append).
  sed -i 's/^USE_KDUMP=.*/USE_KDUMP=1/' "$r/etc/default/kdump-tools"
  grep -q '^USE_KDUMP=1' "$r/etc/default/kdump-tools" || echo 'USE_KDUMP=1' >> "$r/etc/default/kdump-tools"
  echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' > "$r/etc/fstab"
  echo kbtf-host > "$r/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 kbtf-host\n' > "$r/etc/hosts"
  grub_default > "$r/etc/default/grub"
  # kdump-tools' own grub.d snippet sets the reservation (crashkernel=512M-:192M on trixie): the
  # admin's place to change it. 6.12's capture kernel with kdump-tools' initramfs gets 384M here.
  [ -f "$r/etc/default/grub.d/kdump-tools.cfg" ] || die "trixie's kdump-tools has no /etc/default/grub.d/kdump-tools.cfg"
  sed -i 's/crashkernel=[^" ]*/crashkernel='"$CRASHKERNEL"'/' "$r/etc/default/grub.d/kdump-tools.cfg"
  # apt lists for `apt-get install ./pkg.deb` dependency resolution inside the image.
  chroot_in "$r" apt-get update -qq >> "$t/debootstrap.log" 2>&1 || die "apt-get update in the image failed"
  chroot_in "$r" apt-get clean
  dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Package} ${Version}\n' > "$t/packages.txt"
  echo "$kver" > "$t/kver"
  (cd "$r" && tar --numeric-owner --xattrs --acls -cf "$t/base.tar" .)
  rm -rf "$r"
  rm -rf "$BASE"; mv "$t" "$BASE"
  log "base image: kernel $kver, $(wc -l < "$BASE/packages.txt") packages, $(du -h "$BASE/base.tar" | cut -f1)"
}

extract_base() { # DIR
  rm -rf "$1"; mkdir -p "$1"
  tar --numeric-owner --xattrs --acls -xf "$BASE/base.tar" -C "$1"
}

# The discovery boot: the plain image (no kbtf) boots as the host will, and records /proc/modules
# after everything has started. The companion package covers exactly that set.
# Bump when the discovery boot changes in a way its key below does not show.
DISC_VERSION=1
# (the guest script's discover branch only: its other records do not change what loads)
DISC_KEY=$( { echo "v$DISC_VERSION $CPU $ACCEL $MEM $SMP $CRASHKERNEL"; grub_default; sed -n '/^  discover)/,/;;/p' "$LAB_TOOLS/host-guest.sh"; } | sha256sum | cut -c1-12)
DISC=$BASE/discover-$DISC_KEY
discover() {
  [ -f "$DISC/modules.txt" ] && return 0
  local kver w=$BASE/discover.tmp
  kver=$(cat "$BASE/kver")
  log "discovery boot of the plain image ($kver)"
  rm -rf "$w"; mkdir -p "$w"
  extract_base "$w/root"
  install_lab_unit "$w/root" discover
  local cmdline; cmdline=$(grub_cmdline "$w/root")
  make_disk "$w/root" "$w/disk.ext4"
  cp "$w/root/boot/vmlinuz-$kver" "$w/root/boot/initrd.img-$kver" "$w/"
  rm -rf "$w/root"
  local t0; t0=$(now)
  boot "$w/disk.ext4" "$w/vmlinuz-$kver" "$w/initrd.img-$kver" "$w" discover "$cmdline"
  grep -q '@@LAB DONE' "$w/discover.lab.log" || fail_boot "$w" discover "the discovery boot did not finish"
  read_disk "$w/disk.ext4" /var/lib/kbtf-lab "$w/state"
  awk '{print $1}' "$w/state/kbtf-lab/discover/proc_modules" | grep -v '_btf$' | LC_ALL=C sort > "$w/modules.txt"
  [ -s "$w/modules.txt" ] || die "the discovery boot recorded no modules"
  echo "$(( $(now) - t0 ))" > "$w/boot_s"
  rm -f "$w/disk.ext4" "$w/vmlinuz-$kver" "$w/initrd.img-$kver"
  rm -rf "$DISC"; mv "$w" "$DISC"
  log "discovery: $(wc -l < "$DISC/modules.txt") modules loaded: $(tr '\n' ' ' < "$DISC/modules.txt")"
}

T0=$(now)
build_base
T_BASE=$(now)
discover
T_DISC=$(now)
KVER=$(cat "$BASE/kver")
[ "$WHAT" = image ] && { log "image ready: $BASE ($KVER), discovery $DISC"; exit 0; }

# ---------------------------------------------------------------- the two packages
KBTF=(node "$REPO/apps/kbtf/bin/kbtf.js")
PKG_VERSION=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")

build_packages() {
  log "npm run package (kbtf_${PKG_VERSION}_all.deb)"
  (cd "$REPO" && npm run package --silent >&2) || die "npm run package failed"
  KBTF_DEB=$REPO/build/deb/kbtf_${PKG_VERSION}_all.deb
  [ -f "$KBTF_DEB" ] || die "npm run package did not write $KBTF_DEB"

  # Companions of every module the discovery boot saw loaded, their dependencies and vmlinux.
  # Cached by kernel, module set and the companion builder's sources.
  local src key dir
  # (file contents, so that uncommitted edits count too)
  src=$(cd "$REPO" && git ls-files -z packages/companion/src apps/kbtf/src/commands/companion.ts packages/btf/src packages/policy/src \
    | xargs -0 sha256sum | sha256sum | cut -c1-12)
  key=$(echo "$KVER $(tr '\n' ' ' < "$DISC/modules.txt") $src $PKG_VERSION" | sha256sum | cut -c1-12)
  dir=$CACHE/host/companions-$key
  if [ ! -f "$dir/.complete" ]; then
    log "kbtf companion package --kernel $KVER --deps --vmlinux ($(wc -l < "$DISC/modules.txt") modules)"
    rm -rf "$dir"; mkdir -p "$dir"
    # shellcheck disable=SC2046
    nice -n 10 "${KBTF[@]}" companion package --kernel "$KVER" --deps --vmlinux --output "$dir" \
      $(cat "$DISC/modules.txt") >&2 || die "kbtf companion package failed"
    touch "$dir/.complete"
  fi
  COMP_DEB=$(ls "$dir"/kbtf-companions-"$KVER"_*.deb 2>/dev/null | head -1)
  [ -n "$COMP_DEB" ] || die "no kbtf-companions-${KVER}_*.deb in $dir"
}

# The installed image: the admin's steps (docs/deploy.md) in a chroot.
INSTALLED=""
install_image() {
  INSTALLED=$LAB_DIR/host-trixie.image
  local r=$INSTALLED/root
  log "installing kbtf and the companions with apt in a copy of the base image"
  rm -rf "$INSTALLED"; mkdir -p "$INSTALLED"
  extract_base "$r"
  # The setting (docs/deploy.md), before the install so that the initramfs the install triggers is
  # built under it. There is no boot loader in the image: boot() reads this file as
  # grub-mkconfig would and passes the line to QEMU's -append.
  sed -i 's/^GRUB_CMDLINE_LINUX=.*/'"$SETTING"'/' "$r/etc/default/grub"
  grep -qxF "$SETTING" "$r/etc/default/grub" || die "could not set $SETTING"
  cp "$KBTF_DEB" "$COMP_DEB" "$r/tmp/"
  chroot_in "$r" sh -c 'apt-get install -y /tmp/kbtf_*.deb /tmp/kbtf-companions-*.deb' > "$INSTALLED/apt.log" 2>&1 \
    || { tail -40 "$INSTALLED/apt.log" >&2; die "apt-get install in the image failed (log: $INSTALLED/apt.log)"; }
  rm -f "$r"/tmp/kbtf_*.deb "$r"/tmp/kbtf-companions-*.deb
  chroot_in "$r" apt-get clean
  dpkg-query --admindir="$r/var/lib/dpkg" -W -f='${Package} ${Version}\n' > "$INSTALLED/packages.txt"
  chroot_in "$r" lsinitramfs "/boot/initrd.img-$KVER" > "$INSTALLED/initramfs.txt" || die "lsinitramfs in the image failed"
  log "initramfs: $(grep -c -- '-btf\.ko' "$INSTALLED/initramfs.txt" || true) companions"
  log "installed: $(grep -E '^kbtf' "$INSTALLED/packages.txt" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- one crash cycle
# run_cycle KEY [REMOVED-MODULE]
run_cycle() {
  local key=$1 removed=${2:-} out=$LAB_DIR/$1 w=$LAB_DIR/$1.tmp r
  rm -rf "$w"; mkdir -p "$w"
  r=$w/root
  log "$key: preparing the disk"
  cp -a "$INSTALLED/root" "$r"
  if [ -n "$removed" ]; then
    # The negative: one loaded module's companion removed after the install, as an admin's rm.
    local ko
    ko=$(find "$r/lib/modules/$KVER/" "$r/usr/lib/modules/$KVER/" -name "${removed}-btf.ko*" -o -name "${removed//_/-}-btf.ko*" 2>/dev/null | head -1)
    [ -n "$ko" ] || die "no companion of $removed in the installed image"
    log "$key: removing ${ko#"$r"} and running depmod"
    rm -f "$ko"
    chroot "$r" depmod "$KVER"
  fi
  # kdump-tools builds its initramfs at the first boot that finds none (minutes under TCG). The
  # negative boots the image as it is after the complete run's first boot when there was one: the
  # same kdump initramfs, as on a host where the companion went missing later.
  KDUMP_STATE=built-at-boot1
  if [ -n "$removed" ] && [ -d "$INSTALLED/kdump-state/kdump" ]; then
    cp -a "$INSTALLED/kdump-state/kdump/." "$r/var/lib/kdump/"
    KDUMP_STATE=from-host-trixie
  fi
  install_lab_unit "$r" crash
  local cmdline; cmdline=$(grub_cmdline "$r")
  case " $cmdline " in *" btf_companions=always "*) ;; *) die "the configured command line lacks btf_companions=always: $cmdline" ;; esac
  cp "$r/boot/vmlinuz-$KVER" "$r/boot/initrd.img-$KVER" "$w/"
  make_disk "$r" "$w/disk.ext4"
  rm -rf "$r"
  local t0 t1 t2 t3
  t0=$(now)
  boot "$w/disk.ext4" "$w/vmlinuz-$KVER" "$w/initrd.img-$KVER" "$w" boot1 "$cmdline"
  t1=$(now)
  grep -q '@@LAB CRASH' "$w/boot1.lab.log" || fail_boot "$w" boot1 "boot 1 did not reach the crash"
  grep -q 'Kernel panic\|sysrq: Trigger a crash' "$w/boot1.serial.log" || fail_boot "$w" boot1 "no crash in boot 1's console"
  read_disk "$w/disk.ext4" /var/crash "$w/capture"
  ls "$w"/capture/crash/*/dump.* > /dev/null 2>&1 || fail_boot "$w" boot1 "kdump-tools saved no dump under /var/crash"
  rm -rf "$w/capture"
  t2=$(now)
  boot "$w/disk.ext4" "$w/vmlinuz-$KVER" "$w/initrd.img-$KVER" "$w" boot2 "$cmdline"
  t3=$(now)
  grep -q '@@LAB DONE' "$w/boot2.lab.log" || fail_boot "$w" boot2 "boot 2 did not finish"
  read_disk "$w/disk.ext4" /var/crash "$w"
  read_disk "$w/disk.ext4" /var/lib/kbtf-lab "$w"
  [ -n "$removed" ] || { rm -rf "$INSTALLED/kdump-state"; read_disk "$w/disk.ext4" /var/lib/kdump "$INSTALLED/kdump-state"; }
  local dump stamp
  dump=$(ls "$w"/crash/*/dump.* | head -1)
  stamp=$(basename "$(dirname "$dump")")
  [ -f "$w/crash/$stamp/kbtf-verify.json" ] || log "$key: warning: no kbtf-verify.json beside the dump"
  log "$key: host kbtf verify --json on crash/$stamp/$(basename "$dump")"
  local t4 rc=0
  t4=$(now)
  "${KBTF[@]}" verify --json -- "$dump" > "$w/host-verify.json" 2> "$w/host-verify.err" || rc=$?
  echo "$rc" > "$w/host-verify.rc"
  local t5; t5=$(now)
  rm -f "$w/disk.ext4" "$w/vmlinuz-$KVER" "$w/initrd.img-$KVER"

  export HOST_KEY=$key HOST_KVER=$KVER HOST_REMOVED=$removed HOST_KDUMP_STATE=$KDUMP_STATE HOST_DUMP=${dump#"$w/"} \
    HOST_BASE=$BASE HOST_DISC=$DISC HOST_CMDLINE=$BOOT_CMDLINE HOST_CPU=$CPU HOST_ACCEL=$ACCEL \
    HOST_MEM=$MEM HOST_SMP=$SMP HOST_SETTING="/etc/default/grub: $SETTING" HOST_CONFIG=$CONFIG \
    HOST_KBTF_DEB=${KBTF_DEB##*/} HOST_COMP_DEB=${COMP_DEB##*/} \
    HOST_TIMINGS="base_image=$(( T_BASE - T0 )) discovery=$(( T_DISC - T_BASE )) packages=$(( T_PKG - T_DISC )) install=$(( T_INST - T_PKG )) boot1_crash_capture=$(( t1 - t0 )) boot2_verify=$(( t3 - t2 )) host_verify=$(( t5 - t4 ))"
  cp "$DISC/modules.txt" "$w/discovered-modules.txt"
  cp "$INSTALLED/packages.txt" "$w/image-packages.txt"
  node "$LAB_TOOLS/host-manifest.mjs" "$w"
  rm -rf "$out"; mv "$w" "$out"
  log "$key: done, verdict $(node -p 'require(process.argv[1]).report.verdict' "$out/manifest.json")"
}

build_packages
T_PKG=$(now)

# A package's identity: its control files and the md5sums of its contents (not its timestamps).
deb_key() { dpkg-deb --ctrl-tarfile "$1" | tar -xO | sha256sum | cut -c1-12; }
# Everything that changes the outputs (the packages included); a re-run with the same reuses them.
CONFIG="v$OUTPUT_VERSION base=$BASE_KEY discover=$DISC_KEY kver=$KVER mem=$MEM smp=$SMP cpu=$CPU crashkernel=$CRASHKERNEL setting=${SETTING//\"/} guest=$(sha256sum < "$LAB_TOOLS/host-guest.sh" | cut -c1-12) kbtf=$(deb_key "$KBTF_DEB") companions=$(deb_key "$COMP_DEB")"
up_to_date() { # KEY
  [ "$FORCE" = 0 ] && [ -f "$LAB_DIR/$1/manifest.json" ] \
    && [ "$(node -p 'require(process.argv[1]).config' "$LAB_DIR/$1/manifest.json" 2>/dev/null)" = "$CONFIG" ]
}

need=()
case "$WHAT" in
  all) need=(host-trixie host-trixie-partial) ;;
  complete) need=(host-trixie) ;;
  partial) need=(host-trixie-partial) ;;
esac
todo=()
for k in "${need[@]}"; do
  if up_to_date "$k"; then log "$LAB_DIR/$k is up to date (--force to redo)"; else todo+=("$k"); fi
done
[ ${#todo[@]} -gt 0 ] || exit 0

install_image
T_INST=$(now)
# The removed companion of the negative: a module the host loads whose companion is not in the
# initramfs, so that removing it from the root filesystem removes it from everything the host can
# load (qemu_fw_cfg when it qualifies, else the first such module by name).
PARTIAL_MODULE=${KBTF_HOST_PARTIAL_MODULE:-}
if [ -z "$PARTIAL_MODULE" ]; then
  for m in qemu_fw_cfg $(cat "$DISC/modules.txt"); do
    grep -qx "$m" "$DISC/modules.txt" || continue
    grep -qE "/(${m}|${m//_/-})-btf\.ko" "$INSTALLED/initramfs.txt" && continue
    PARTIAL_MODULE=$m; break
  done
fi
[ -n "$PARTIAL_MODULE" ] || die "every loaded module's companion is in the initramfs: no module for the negative"
grep -qx "$PARTIAL_MODULE" "$DISC/modules.txt" || die "$PARTIAL_MODULE is not among the loaded modules"
for k in "${todo[@]}"; do
  case "$k" in
    host-trixie) run_cycle host-trixie ;;
    host-trixie-partial) run_cycle host-trixie-partial "$PARTIAL_MODULE" ;;
  esac
done
rm -rf "$INSTALLED"
log "done in $(( $(now) - T_START )) s"
exit 0
}
