/* Source of elf64-x86_64.so and elf32-i386.so (make-elf.sh): a .modinfo as a kernel module has
 * one (include/linux/moduleparam.h __MODULE_INFO), data symbols, a GNU build-id. */
static const char __modinfo_a[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";
static const char __modinfo_b[] __attribute__((section(".modinfo"), used, aligned(1))) = "btf_companion_of=ext4";
static const char __modinfo_c[] __attribute__((section(".modinfo"), used, aligned(1))) = "depends=";
static const char __modinfo_d[] __attribute__((section(".modinfo"), used, aligned(1))) = "alias=fs-ext4";
static const char __modinfo_e[] __attribute__((section(".modinfo"), used, aligned(1))) = "alias=fs-ext3";
int counter = 7;
static long hidden_total;
long *total_ptr = &hidden_total;
