/*
 * btf-load: hand each BTF file named on the command line (or, with no arguments, on each line of
 * standard input) to the running kernel's BTF verifier
 * (bpf(BPF_BTF_LOAD) with a level-1 log) and print one JSON object per file, in order:
 *   {"file":"…","accepted":true|false,"errno":N,"log":"last non-empty log line","head":"…"}
 * where head is the last line starting with "[" up to the last line: the "[id] KIND name details"
 * line a member or DATASEC entry line ("\tname type_id=… reason") belongs to.
 * Exit 0 when every file was handed to the kernel (accepted or rejected), 3 when the bpf syscall
 * itself is unavailable (EPERM, ENOSYS: not root, no CONFIG_BPF_SYSCALL, seccomp), 2 on a file
 * that cannot be read. Used by test/btf/kernel-oracle.test.ts, which compiles it with gcc.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_BLOB (32u << 20)
#define LOG_SIZE (1u << 20)

static char blob[MAX_BLOB];
static char logbuf[LOG_SIZE];

static void json_str(const char *s) {
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
		else putchar(c);
	}
	putchar('"');
}

/* The last non-empty line of the log (the log is cut there). */
static const char *last_line(char *log) {
	size_t n = strnlen(log, LOG_SIZE - 1);
	while (n && (log[n - 1] == '\n' || log[n - 1] == ' ')) log[--n] = 0;
	char *p = strrchr(log, '\n');
	return p ? p + 1 : log;
}

/* The last line, up to `last`, that starts with '[': copied out. */
static const char *head_line(const char *log, const char *last) {
	static char out[4096];
	const char *best = NULL;
	for (const char *p = log; p && p <= last; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (*p == '[') best = p;
	out[0] = 0;
	if (best) {
		size_t n = strcspn(best, "\n");
		if (n >= sizeof out) n = sizeof out - 1;
		memcpy(out, best, n);
		out[n] = 0;
	}
	return out;
}

/* The next file name: argv[*i], or a line of stdin when there are no arguments; NULL at the end. */
static const char *next_name(int argc, char **argv, int *i) {
	static char line[4096];
	if (argc > 1) return *i < argc ? argv[(*i)++] : NULL;
	if (!fgets(line, sizeof line, stdin)) return NULL;
	line[strcspn(line, "\n")] = 0;
	return line;
}

int main(int argc, char **argv) {
	int arg = 1;
	for (const char *name; (name = next_name(argc, argv, &arg));) {
		FILE *f = fopen(name, "rb");
		if (!f) {
			fprintf(stderr, "btf-load: %s: %s\n", name, strerror(errno));
			return 2;
		}
		size_t n = fread(blob, 1, MAX_BLOB, f);
		fclose(f);
		union bpf_attr a;
		memset(&a, 0, sizeof a);
		memset(logbuf, 0, sizeof logbuf);
		a.btf = (unsigned long)blob;
		a.btf_size = (unsigned)n;
		a.btf_log_buf = (unsigned long)logbuf;
		a.btf_log_size = LOG_SIZE;
		a.btf_log_level = 1;
		int fd = (int)syscall(__NR_bpf, BPF_BTF_LOAD, &a, sizeof a);
		int err = fd < 0 ? errno : 0;
		if (fd < 0 && (err == EPERM || err == ENOSYS)) {
			fprintf(stderr, "btf-load: bpf(BPF_BTF_LOAD): %s\n", strerror(err));
			return 3;
		}
		if (fd >= 0) close(fd);
		printf("{\"file\":");
		json_str(name);
		printf(",\"accepted\":%s,\"errno\":%d,\"log\":", fd >= 0 ? "true" : "false", err);
		const char *last = fd >= 0 ? "" : last_line(logbuf);
		json_str(last);
		printf(",\"head\":");
		json_str(fd >= 0 ? "" : head_line(logbuf, last));
		printf("}\n");
	}
	return 0;
}
