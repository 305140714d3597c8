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

# Dynamic kallsyms sources (issue 21, docs/lab.md "Dynamic symbols in the guest"): every step may
# fail without stopping the guest; what happened is printed in the sections bpf_load and kprobes.
# 1. BPF programs: /bin/bpf-load (tools/lab/bpf-load.c) loads kbtf_lab and kbtf_lab_sub (with a
#    subprogram) and leaves a process holding them. They show as `bpf_prog_<tag>_<name> [bpf]` only
#    with the JIT on, bpf_jit_kallsyms=1 and bpf_jit_harden=0 (Debian's defaults; set anyway).
echo 1 > /proc/sys/net/core/bpf_jit_enable 2>/dev/null
echo 1 > /proc/sys/net/core/bpf_jit_kallsyms 2>/dev/null
echo 0 > /proc/sys/net/core/bpf_jit_harden 2>/dev/null
{
  for s in bpf_jit_enable bpf_jit_kallsyms bpf_jit_harden; do
    echo "sysctl net.core.$s=$(cat /proc/sys/net/core/$s 2>&1)"
  done
} > /tmp/bpf_load.out 2>&1
if [ -x /bin/bpf-load ]; then
  /bin/bpf-load >> /tmp/bpf_load.out 2>&1
  BPF_RC=$?
else
  echo "no /bin/bpf-load" >> /tmp/bpf_load.out
  BPF_RC=127
fi
say "bpf-load: exit status $BPF_RC"

# 2. kprobes through tracefs: one at the entry of kernel_clone (KPROBES_ON_FTRACE: an ftrace_ops
#    with its own trampoline, `ftrace_trampoline [__builtin__ftrace]`) and one past the entry
#    (`call __fentry__`, after `endbr64` where the kernel has IBT: +9, else +5), which copies the
#    probed instruction into an instruction slot (`kprobe_insn_page [__builtin__kprobes]`, or
#    `kprobe_optinsn_page` once optimized). The first offset the kernel accepts is kept.
kprobe() { # NAME PLACE: define and enable a kprobe event, say ok or why not
  echo "p:$1 $2" >> $TRACING/kprobe_events 2>/dev/null || { echo "$1 $2 define-failed"; return 1; }
  echo 1 > "$TRACING/events/kprobes/$1/enable" 2>/dev/null || { echo "$1 $2 enable-failed"; echo "-:$1" >> $TRACING/kprobe_events; return 1; }
  echo "$1 $2 ok"
}
TRACING=/sys/kernel/tracing
{
  mount -t tracefs nodev $TRACING 2>&1 || echo "mount tracefs failed"
  mount -t debugfs nodev /sys/kernel/debug 2>&1 || echo "mount debugfs failed"
  kprobe kbtf_lab_entry kernel_clone
  kprobe kbtf_lab_slot kernel_clone+9 || kprobe kbtf_lab_slot kernel_clone+5
  echo "kprobe_events:"; cat $TRACING/kprobe_events 2>&1
  echo "kprobes/list:"; cat /sys/kernel/debug/kprobes/list 2>/dev/null
  true
} > /tmp/kprobes.out 2>&1
say "kprobes: $(grep -c ' ok$' /tmp/kprobes.out) enabled"

# Modules loaded asynchronously (request_module, softdeps) settle before the snapshot, and the
# kprobe optimizer (a delayed work) turns the slot probe into an optprobe before kallsyms is read.
sleep 2

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

replay() { # FILE STATUS: print what a step wrote, as its section, with its exit status
  cat "$1"
  return "$2"
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
  section bpf_load replay /tmp/bpf_load.out "$BPF_RC"
  section kprobes cat /tmp/kprobes.out
  # /proc/kallsyms is most of the ground truth (5-12 MB of text) and the serial port is slow under
  # TCG (~40 KB/s on arm64's PL011): sent gzipped and base64'd it is ~4x smaller (truth.mjs decodes).
  section kallsyms_gz sh -c 'set -o pipefail; gzip -c /proc/kallsyms | base64'
  echo "@@LAB READY"
} > $T 2>&1

say "ground truth written, waiting for the host to dump"
while true; do sleep 3600; done
