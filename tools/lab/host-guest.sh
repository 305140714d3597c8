#!/bin/sh
# The lab-only unit of the real-host lab (tools/lab/host.sh; not part of kbtf's packages).
# Installed in the guest image as /usr/local/sbin/kbtf-lab, run by kbtf-lab.service after
# kdump-tools.service and kbtf-verify-crashes.service. It records what the running host says into
# /var/lib/kbtf-lab/ and prints each record on the second serial port (/dev/ttyS1) as
#   @@LAB BEGIN <name>
#   ...verbatim output...
#   @@LAB END <name> <exit status>
#
# /etc/kbtf-lab/mode says what to do:
#   discover  record /proc/modules (the set the companion package must cover), power off
#   crash     boot 1: record the checks, then `echo c > /proc/sysrq-trigger` (kdump-tools captures);
#             boot 2 (marker /var/lib/kbtf-lab/crashed exists): record the report
#             kbtf-verify-crashes.service wrote beside the dump, power off
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export NO_COLOR=1
STATE=/var/lib/kbtf-lab
MODE=$(cat /etc/kbtf-lab/mode 2>/dev/null || echo none)
mkdir -p "$STATE"

tty=/dev/ttyS1
[ -w "$tty" ] || tty=/dev/null
say() { echo "kbtf-lab: $*" > /dev/console; }

# record NAME COMMAND...: run it, keep stdout+stderr in $STATE/<boot>/NAME and on ttyS1.
record() {
  name=$1; shift
  out="$DIR/$name"
  "$@" > "$out" 2>&1
  rc=$?
  echo "$rc" > "$out.rc"
  { echo "@@LAB BEGIN $name"; cat "$out"; echo "@@LAB END $name $rc"; } > "$tty"
  return 0
}

# kdump-tools.service has finished (this unit is ordered after it); the capture kernel must be
# loaded before anything may crash.
kdump_loaded() { [ "$(cat /sys/kernel/kexec_crash_loaded 2>/dev/null)" = 1 ]; }

common() {
  record uname uname -r
  record cmdline cat /proc/cmdline
  record kexec_crash_loaded cat /sys/kernel/kexec_crash_loaded
  record kexec_crash_size cat /sys/kernel/kexec_crash_size
  record failed_units systemctl --failed --no-legend --plain
  record startup systemd-analyze
}

case "$MODE" in
  discover)
    DIR=$STATE/discover; mkdir -p "$DIR"
    say "discovery boot: recording /proc/modules"
    udevadm settle --timeout=60
    common
    record proc_modules cat /proc/modules
    record sys_kernel_btf ls -1 /sys/kernel/btf
    record kdump_status kdump-config status
    sync
    echo "@@LAB DONE" > "$tty"
    systemctl --no-block poweroff
    ;;
  crash)
    if [ ! -e "$STATE/crashed" ]; then
      DIR=$STATE/boot1; mkdir -p "$DIR"
      say "boot 1: checks, then crash"
      udevadm settle --timeout=60
      common
      record kdump_status kdump-config status
      record kbtf_version kbtf --version
      record kbtf_check kbtf check --root / --json
      # --man=no: a minbase image has no man-db, so Documentation=man:kbtf(1) cannot be looked up.
      record systemd_analyze_verify sh -c 'cd / && systemd-analyze verify --man=no /usr/lib/systemd/system/kbtf-*.service'
      record unit_status sh -c 'systemctl status --no-pager --full kbtf-modprobe-config.service kbtf-verify-crashes.service; systemctl is-enabled kbtf-modprobe-config.service kbtf-verify-crashes.service'
      record unit_journal journalctl -b --no-pager -o short-monotonic -u kbtf-modprobe-config.service -u systemd-modules-load.service -u systemd-sysctl.service
      record rendered_conf sh -c 'for f in /run/modprobe.d/kbtf.conf /run/modules-load.d/kbtf.conf /etc/default/grub; do echo "== $f"; cat "$f"; done'
      record sys_kernel_btf ls -1 /sys/kernel/btf
      record kbtf_sync_dry_run kbtf sync --dry-run --json
      record kdump_initramfs sh -c 'for f in /var/lib/kdump/initrd.img-*; do echo "== $f"; lsinitramfs -l "$f"; done'
      record main_initramfs sh -c 'lsinitramfs /boot/initrd.img-$(uname -r)'
      record dmesg_btf sh -c 'dmesg | grep -i -e btf -e taint -e "module verification" || true'
      # Last, right before the crash: the modules of the kernel that crashes, and its symbols as
      # /proc/kallsyms shows them (BPF programs included; ~190k lines: kept on disk, gzipped, not
      # sent over the serial port).
      record proc_modules cat /proc/modules
      gzip -c /proc/kallsyms > "$DIR/proc_kallsyms.gz"; echo $? > "$DIR/proc_kallsyms.gz.rc"
      if ! kdump_loaded; then
        say "kdump is not loaded: not crashing"
        echo "@@LAB ERROR kdump not loaded" > "$tty"
        sync
        systemctl --no-block poweroff
        exit 1
      fi
      touch "$STATE/crashed"
      sync
      echo "@@LAB CRASH" > "$tty"
      say "crashing now"
      echo 1 > /proc/sys/kernel/sysrq
      echo c > /proc/sysrq-trigger
    else
      DIR=$STATE/boot2; mkdir -p "$DIR"
      say "boot 2: recording the report kbtf-verify-crashes wrote"
      common
      record crash_dir ls -lR /var/crash
      record verify_unit sh -c 'systemctl status --no-pager --full kbtf-verify-crashes.service; journalctl -b --no-pager -o short-monotonic -u kbtf-verify-crashes.service'
      record verify_report sh -c 'cat /var/crash/*/kbtf-verify.json'
      record verify_text sh -c 'cat /var/crash/*/kbtf-verify.txt'
      sync
      echo "@@LAB DONE" > "$tty"
      systemctl --no-block poweroff
    fi
    ;;
  *)
    say "no mode in /etc/kbtf-lab/mode: nothing to do"
    ;;
esac
exit 0
