#!/bin/sh
# /init of the arm64 lab initramfs (tools/lab/lab.sh --arch arm64), run under busybox sh as PID 1.
# It adapts the guest to tools/lab/guest-init.sh (installed as /lab-init), which then does all the
# work exactly as on x86_64:
#  - QEMU's virt machine has a single UART (PL011, /dev/ttyAMA0) where x86 has two (ttyS0 console,
#    ttyS1 ground truth). The ground truth goes to the same UART: /dev/ttyS1 is made a symlink to
#    /dev/ttyAMA0 (devtmpfs is one shared instance, so the link survives guest-init's own mount),
#    and the console log level is lowered to 1 (KERN_ALERT) so that ordinary kernel messages cannot
#    interleave with the ground-truth sections. An oops still reaches the console: oops_enter()
#    calls console_verbose(). The host parses the @@LAB sections out of the console log.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
/bin/busybox mkdir -p /proc /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox ln -sf ttyAMA0 /dev/ttyS1
echo 1 > /proc/sys/kernel/printk
/bin/busybox umount /proc
exec /bin/busybox sh /lab-init
