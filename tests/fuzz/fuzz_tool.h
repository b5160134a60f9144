/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tool's command line under libFuzzer, without the kernel: tests/fuzz/fuzz_<tool>.c
 * defines FUZZ_TOOL ("lbctl") and includes this.
 *
 * The input is the argument vector, one argument a line; an empty line ends it and
 * what follows is a file, whose path stands in for every argument "@" (so that -b
 * batch files and restore files are fuzzed too).  The tool's main() (compiled as
 * tool_main) runs through cli_main and the dispatch as from a shell.
 *
 * The seam: the target links lb_open() and lb_nl_open() wrapped (-Wl,--wrap), so
 * every command that reaches the pin root finds none (the real lb_open on a root
 * that does not exist, never creating it) and no command opens netlink.  Behind
 * that, a seccomp filter makes bpf(2), netlink sockets and changes to the file
 * system other than writes fail with EPERM: what a command might reach past the
 * seam fails cleanly instead of touching this machine.
 *
 * Checked for every input: the exit code is 0, 1 or 2; a failure says why in one
 * line on stderr (a batch with -force: one for each failed line); every line there
 * starts "TOOL: " (the usage text after a missing command aside).  ASan and UBSan check the rest.
 */
#ifndef LB_FUZZ_TOOL_H
#define LB_FUZZ_TOOL_H

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <lb/lb.h>

#define FUZZ_MAX_ARGS	64
#define FUZZ_NO_ROOT	"/nonexistent/lbkit-fuzz"

int tool_main(int argc, char **argv);

int __real_lb_open(struct lb_ctx **ctx, const struct lb_open_opts *opts);

/* No pin root, whatever the command line said: never create or lock one. */
int __wrap_lb_open(struct lb_ctx **ctx, const struct lb_open_opts *opts)
{
	struct lb_open_opts o = opts ? *opts : (struct lb_open_opts){};

	o.pin_root = FUZZ_NO_ROOT;
	o.flags &= ~(LB_OPEN_CREATE | LB_OPEN_WRITE);
	return __real_lb_open(ctx, &o);
}

int __wrap_lb_nl_open(struct lb_nl **nl)
{
	*nl = NULL;
	return -EPERM;
}

/* EPERM for bpf(2), netlink sockets, mounts and changes to names in the file system
 * (x86-64 system call numbers; any other architecture's calls fail). */
static void fuzz_seccomp(void)
{
#define DENY(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)
	struct sock_filter f[] = {
		/* Another architecture's system call numbers would mean other calls. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		DENY(__NR_bpf), DENY(__NR_mount), DENY(__NR_umount2), DENY(__NR_mkdir),
		DENY(__NR_mkdirat), DENY(__NR_rmdir), DENY(__NR_unlink), DENY(__NR_unlinkat),
		DENY(__NR_rename), DENY(__NR_renameat), DENY(__NR_renameat2),
		DENY(__NR_setns), DENY(__NR_unshare),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
#undef DENY

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("fuzz: seccomp");
		abort();
	}
	/* The filter holds, or nothing runs. */
	if (socket(AF_NETLINK, SOCK_RAW, 0) != -1 || errno != EPERM ||
	    syscall(__NR_bpf, 0, NULL, 0) != -1 || errno != EPERM) {
		fprintf(stderr, "fuzz: seccomp filter not in force\n");
		abort();
	}
}

static FILE *devnull;
static int file_fd = -1;	/* the file part of the input, for "@" */
static char file_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	file_fd = memfd_create("fuzz-file", 0);
	if (!devnull || file_fd < 0 || !freopen("/dev/null", "r", stdin)) {
		perror("fuzz: setup");
		abort();
	}
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	unsetenv("LB_LOCK_TIMEOUT");
	setenv("LB_PIN_ROOT", FUZZ_NO_ROOT, 1);
	fuzz_seccomp();
	return 0;
}

/* The lines of text (len bytes) that start with prefix, -1 when another does not. */
static int lines_starting(const char *text, size_t len, const char *prefix)
{
	const char *p = text, *end = text + len;
	size_t plen = strlen(prefix);
	int n = 0;

	for (; p < end; n++) {
		const char *nl = memchr(p, '\n', end - p);

		if ((size_t)(end - p) < plen || strncmp(p, prefix, plen))
			return -1;
		p = nl ? nl + 1 : end;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args, *argv[FUZZ_MAX_ARGS + 2], *err_text = NULL, *p, *end;
	size_t err_len = 0;
	FILE *saved_out = stdout, *saved_err = stderr;
	char batch_prefix[128];
	int argc = 0, rc;
	bool usage;

	args = malloc(size + 1);
	memcpy(args, data, size);
	args[size] = '\0';
	end = args + size;
	argv[argc++] = FUZZ_TOOL;
	for (p = args; p < end && argc <= FUZZ_MAX_ARGS; ) {
		char *nl = memchr(p, '\n', end - p);

		if (nl)
			*nl = '\0';
		if (!*p && nl) {	/* the empty line: the file follows */
			p = nl + 1;
			break;
		}
		/* Files the tools would read forever, or write: not the parser's fault. */
		if (strstr(p, "/dev/") || strstr(p, "/proc/") || strstr(p, "/sys/")) {
			free(args);
			return -1;
		}
		argv[argc++] = strcmp(p, "@") ? p : file_path;
		p = nl ? nl + 1 : end;
	}
	argv[argc] = NULL;
	if (ftruncate(file_fd, 0) ||
	    (p < end && pwrite(file_fd, p, end - p, 0) != end - p)) {
		perror("fuzz: file");
		abort();
	}

	optind = 0;	/* getopt from the start, as in a new process */
	stdout = devnull;
	stderr = open_memstream(&err_text, &err_len);
	rc = tool_main(argc, argv);
	fclose(stderr);
	stdout = saved_out;
	stderr = saved_err;

	if (rc < 0 || rc > 2) {
		fprintf(stderr, "fuzz: exit code %d\n", rc);
		abort();
	}
	/* A batch with -force goes on after a failed line: one line for each. */
	snprintf(batch_prefix, sizeof(batch_prefix), "%s: %s:", FUZZ_TOOL, file_path);
	usage = !strncmp(err_text, "Usage: ", 7);
	if (rc && !usage && (!err_len || memchr(err_text, '\n', err_len) != err_text + err_len - 1) &&
	    lines_starting(err_text, err_len, batch_prefix) <= 0) {
		fprintf(stderr, "fuzz: exit code %d, and not one line on stderr:\n%s", rc, err_text);
		abort();
	}
	if (!usage && lines_starting(err_text, err_len, FUZZ_TOOL ": ") < 0) {
		fprintf(stderr, "fuzz: stderr not all \"%s: \" lines:\n%s", FUZZ_TOOL, err_text);
		abort();
	}
	free(err_text);
	free(args);
	return 0;
}

#endif
