#!/bin/sh
# /init of the lab's initramfs (runs under busybox sh as PID 1).
#
# 1. mounts proc/sys/dev, lifts kptr_restrict so /proc/kallsyms and /proc/modules show addresses;
# 2. loads /etc/lab/modules (one name a line) with kmod's real modprobe (/sbin/modprobe), so that
#    modprobe.d configuration (softdep, options, blacklist) placed in /etc/modprobe.d applies;
# 3. prints the ground truth on the second serial port (/dev/ttyS1) as sections
#      @@LAB BEGIN <name>
#      ...verbatim lines...
#      @@LAB END <name> <exit status>
#    and finally "@@LAB READY"; the host (tools/lab/lab.sh) then stops the guest over QMP and dumps it.
# The console (ttyS0) gets progress messages only.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin

/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s /bin 2>/dev/null

echo 0 > /proc/sys/kernel/kptr_restrict
echo 0 > /proc/sys/kernel/dmesg_restrict
echo 1 > /proc/sys/kernel/panic_on_oops

say() { echo "lab-init: $*" > /dev/console; }

say "kernel $(uname -r), loading modules"
if [ -f /etc/lab/modules ]; then
  while read -r m; do
    case "$m" in ''|'#'*) continue ;; esac
    if /sbin/modprobe "$m" 2>/tmp/modprobe.err; then
      say "modprobe $m: ok"
    else
      say "modprobe $m: FAILED: $(cat /tmp/modprobe.err)"
      echo "$m" >> /tmp/modprobe.failed
      cat /tmp/modprobe.err >> /tmp/modprobe.failed
    fi
  done < /etc/lab/modules
fi

# Modules loaded asynchronously (request_module, softdeps) settle before the snapshot.
sleep 1

T=/dev/ttyS1
stty -F $T raw -echo 2>/dev/null

section() {
  name=$1; shift
  echo "@@LAB BEGIN $name"
  "$@"
  rc=$?
  echo "@@LAB END $name $rc"
}

btf_files() {
  for f in /sys/kernel/btf/*; do
    [ -e "$f" ] || continue
    size=$(wc -c < "$f")
    sum=$(sha256sum < "$f" | cut -d' ' -f1)
    echo "${f##*/} $size $sum"
  done
}

la57_flag() {
  if grep -q '^flags.* la57' /proc/cpuinfo; then echo 1; else echo 0; fi
}

{
  section uname uname -r
  section cmdline cat /proc/cmdline
  section modules cat /proc/modules
  section modprobe_failed sh -c 'cat /tmp/modprobe.failed 2>/dev/null; true'
  section btf btf_files
  section dmesg_btf sh -c 'dmesg | grep -i btf; true'
  section cpuinfo_la57 la57_flag
  section iomem cat /proc/iomem
  section kallsyms cat /proc/kallsyms
  echo "@@LAB READY"
} > $T 2>&1

say "ground truth written, waiting for the host to dump"
while true; do sleep 3600; done
