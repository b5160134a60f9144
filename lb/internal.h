/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* liblb internals shared between its .c files; not installed. */
#ifndef LB_INTERNAL_H
#define LB_INTERNAL_H

#include <limits.h>
#include "lb.h"

#define LB_DIR_MAPS	"maps"
#define LB_DIR_PROGS	"progs"
#define LB_DIR_LINKS	"links"

/* cls_bpf filter used by the clsact fallback. */
#define LB_CLSACT_PREF		50000
#define LB_CLSACT_HANDLE	1

struct lb_ctx {
	char root[PATH_MAX];
	int root_fd;			/* the root directory; flock'ed by writers */
	unsigned int flags;
	unsigned int found_abi;
	char bpf_dir[PATH_MAX];		/* from the open options, may be "" */
	char errmsg[512];
	bool created_root;		/* lb_open made the root (and maybe its mount) */
	char mounted[PATH_MAX];		/* where lb_open mounted a bpffs, "" if nowhere */
};

/* Record a detail message for the caller; returns err for chaining. */
int lb_set_err(struct lb_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lb_clear_err(struct lb_ctx *ctx);

/* "<root>/<a>[/<b>[/<c>]]" into buf; -ENAMETOOLONG when it does not fit. */
int lb_path(const struct lb_ctx *ctx, char *buf, size_t len, const char *a,
	    const char *b, const char *c);
int lb_mkdir_p(const char *path, unsigned int mode);

/* Find a BPF object file by name in the search path; 0 and path in buf. */
int lb_find_bpf_obj(const struct lb_ctx *ctx, const char *name, char *buf, size_t len);

/* Start the kernel-side conntrack sweep (idempotent). */
int lb_gc_arm(struct lb_ctx *ctx);

/* Room for one more element at index cnt of a malloc'd array: 0, or -ENOMEM with
 * the array left as it was. */
int lb_reserve(void **v, size_t cnt, size_t *cap, size_t elem);
#define LB_RESERVE(v, cnt, cap) lb_reserve((void **)&(v), (cnt), &(cap), sizeof(*(v)))

/* The program that serves a hook. */
const char *lb_hook_prog(enum lb_hook hook);

#endif
