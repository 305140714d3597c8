/*
 * bpf-load: load two BPF programs into the lab guest and keep them loaded (docs/lab.md).
 *
 * The lab guest's /proc/kallsyms must hold dynamic symbols (issue 21): a JIT-compiled BPF program
 * appears there as `bpf_prog_<tag>_<name> [bpf]` while a file descriptor holds it. This loader
 * calls bpf(BPF_PROG_LOAD) directly (no libbpf, no clang) with
 *   kbtf_lab      BPF_PROG_TYPE_SOCKET_FILTER, `r0 = 0; exit`
 *   kbtf_lab_sub  the same type, a main function that calls a subprogram (bpf-to-bpf call):
 *                 the JIT makes one image per function, each its own [bpf] symbol
 * prints one line per program on stdout:
 *   NAME ok id=ID tag=TAG jited=BYTES ksyms=N     or     NAME failed errno=E (message): verifier log
 * then forks: the child keeps the descriptors and sleeps forever (pause), the parent exits 0 when
 * every program loaded, 1 otherwise. Built static by tools/lab/lab.sh with the host's gcc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_bpf(int cmd, union bpf_attr *attr) {
  return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn insn(__u8 code, __u8 dst, __u8 src, __s16 off, __s32 imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

#define MOV64_R0_0 insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0)
#define EXIT insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* call the function `imm + 1` instructions further (BPF_PSEUDO_CALL: a bpf-to-bpf call) */
#define CALL_REL(imm) insn(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, (imm))

static char log_buf[65536];

static int load(const char *name, const struct bpf_insn *insns, unsigned count) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = (__u64)(unsigned long)insns;
  attr.insn_cnt = count;
  attr.license = (__u64)(unsigned long)"GPL";
  attr.log_buf = (__u64)(unsigned long)log_buf;
  attr.log_size = sizeof(log_buf);
  attr.log_level = 1;
  strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
  log_buf[0] = 0;
  int fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0) {
    int e = errno;
    printf("%s failed errno=%d (%s): %s\n", name, e, strerror(e), log_buf);
    return -1;
  }

  struct bpf_prog_info info;
  memset(&info, 0, sizeof(info));
  memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = fd;
  attr.info.info_len = sizeof(info);
  attr.info.info = (__u64)(unsigned long)&info;
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) {
    printf("%s ok fd=%d (BPF_OBJ_GET_INFO_BY_FD: %s)\n", name, fd, strerror(errno));
    return fd;
  }
  printf("%s ok id=%u tag=", name, info.id);
  for (unsigned i = 0; i < sizeof(info.tag); i++) printf("%02x", info.tag[i]);
  printf(" jited=%u ksyms=%u\n", info.jited_prog_len, info.nr_jited_ksyms);
  return fd;
}

int main(void) {
  const struct bpf_insn plain[] = {MOV64_R0_0, EXIT};
  const struct bpf_insn sub[] = {
      CALL_REL(1), /* 0: call the subprogram at 2 */
      EXIT,        /* 1: return its r0 */
      MOV64_R0_0,  /* 2: the subprogram */
      EXIT,        /* 3 */
  };
  int failed = 0;
  failed |= load("kbtf_lab", plain, sizeof(plain) / sizeof(plain[0])) < 0;
  failed |= load("kbtf_lab_sub", sub, sizeof(sub) / sizeof(sub[0])) < 0;
  fflush(stdout);

  pid_t pid = fork();
  if (pid < 0) {
    perror("bpf-load: fork");
    return 1;
  }
  if (pid == 0) {
    /* The holder: keeps every program's descriptor open until the guest is dumped. */
    setsid();
    close(0);
    close(1);
    close(2);
    for (;;) pause();
  }
  return failed ? 1 : 0;
}
