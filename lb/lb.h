/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * liblb - the library behind lbctl, lbmap, lbattach and ntc.
 *
 * Conventions (libbpf style): functions return 0 or a negative errno and never
 * print; there is no global state, everything hangs off a struct lb_ctx.  Where an
 * error needs more words than an errno, lb_ctx_errmsg() returns them.
 */
#ifndef LB_LB_H
#define LB_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "lb_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LB_DEFAULT_PIN_ROOT	"/sys/fs/bpf/lb"
#define LB_PIN_ROOT_ENV		"LB_PIN_ROOT"
#define LB_BPF_DIR_ENV		"LB_BPF_DIR"

struct lb_ctx;

/* lb_open() flags */
enum {
	LB_OPEN_WRITE	= 1 << 0,	/* take the writer lock (flock on the root dir) */
	LB_OPEN_CREATE	= 1 << 1,	/* create the root (and mount bpffs) if missing */
	LB_OPEN_NOWAIT	= 1 << 2,	/* with WRITE: fail at once if another writer holds the lock */
};

struct lb_open_opts {
	const char *pin_root;	/* NULL: $LB_PIN_ROOT, then LB_DEFAULT_PIN_ROOT */
	const char *bpf_dir;	/* NULL: $LB_BPF_DIR, build tree, installed dir */
	unsigned int flags;
	unsigned int lock_timeout_ms;	/* 0: 10000 */
};

/*
 * Open a pin root.  Checks the layout version when the root holds maps:
 * -EPROTO when it differs (lb_found_abi_version() tells which), -ENOENT when the
 * root does not exist and LB_OPEN_CREATE was not given, -EACCES/-EPERM without
 * privileges, -EWOULDBLOCK when another writer holds the lock past the timeout,
 * -ENOTDIR / -EINVAL when the path cannot hold pins.
 */
int lb_open(struct lb_ctx **ctx, const struct lb_open_opts *opts);
void lb_close(struct lb_ctx *ctx);

const char *lb_pin_root(const struct lb_ctx *ctx);
/* Last error detail in words (never NULL, may be ""). */
const char *lb_ctx_errmsg(const struct lb_ctx *ctx);
/* ABI version found in the pin root's config map, 0 when there is none. */
unsigned int lb_found_abi_version(const struct lb_ctx *ctx);

/* Resolve the pin root the way lb_open() does, without touching anything. */
const char *lb_pin_root_default(const char *override);

/* Datapath: load the BPF object and pin maps and programs, if not pinned yet. */
int lb_datapath_load(struct lb_ctx *ctx);
bool lb_datapath_loaded(struct lb_ctx *ctx);
/* Open a pinned map or program of this root by name: fd or negative errno. */
int lb_map_fd(struct lb_ctx *ctx, const char *name);
int lb_prog_fd(struct lb_ctx *ctx, const char *name);

/* Pinned maps of this root, sorted by name. */
struct lb_map_desc {
	char name[64];
	unsigned int id, type, key_size, value_size, max_entries, flags;
	uint64_t memlock;	/* bytes charged for the map, from the kernel */
	uint64_t entries;	/* keys present (arrays: max_entries) */
	bool per_cpu;
};
/* *out is malloc'd; free() it. */
int lb_maps(struct lb_ctx *ctx, struct lb_map_desc **out, size_t *n);
int lb_map_describe(int fd, struct lb_map_desc *d);

/* Hooks */
const char *lb_hook_name(enum lb_hook hook);	/* "xdp", "tc-ingress", "tc-egress" */
int lb_hook_parse(const char *s, enum lb_hook *hook);

enum lb_attach_mode {
	LB_MODE_AUTO	= 0,	/* xdp: native, generic if refused; tc: tcx, clsact if missing */
	LB_MODE_NATIVE,		/* xdp driver mode */
	LB_MODE_GENERIC,	/* xdp skb mode */
	LB_MODE_TCX,		/* tc via tcx bpf_link */
	LB_MODE_CLSACT,		/* tc via clsact qdisc + cls_bpf direct-action */
};
const char *lb_mode_name(enum lb_attach_mode mode);
int lb_mode_parse(const char *s, enum lb_attach_mode *mode);

struct lb_attach_opts {
	const char *ifname;
	enum lb_hook hook;
	enum lb_attach_mode mode;
};

/* What lb_attach() did, for the caller to report. */
struct lb_attach_result {
	enum lb_attach_mode mode;	/* the mode in effect */
	bool already;			/* it was attached before: nothing changed */
	bool fell_back;			/* AUTO mode fell back (generic xdp, clsact) */
	int fallback_err;		/* why: the negative errno the first try got */
};

int lb_attach(struct lb_ctx *ctx, const struct lb_attach_opts *opts,
	      struct lb_attach_result *res);
/* -ENOENT when nothing of ours is attached there. */
int lb_detach(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook);

struct lb_attachment {
	char ifname[IF_NAMESIZE];
	unsigned int ifindex;		/* 0: the interface is gone */
	enum lb_hook hook;
	enum lb_attach_mode mode;
	unsigned int prog_id;
	unsigned int link_id;		/* 0 for clsact */
	char prog_name[16];
};

/* All attachments recorded in the pin root; *out is malloc'd, free() it. */
int lb_attachments(struct lb_ctx *ctx, struct lb_attachment **out, size_t *n);

/* Detach everything and remove every pin of this root (maps included). */
int lb_destroy(struct lb_ctx *ctx);

/* Statistics */
struct lb_if_counters {
	unsigned int ifindex;
	enum lb_hook hook;
	struct lb_counter ctr[LB_CTR_MAX];	/* summed over CPUs */
};
const char *lb_ctr_name(enum lb_ctr ctr);	/* "rx", "ipv4", ... */
/* *out is malloc'd, sorted by ifindex then hook; free() it. */
int lb_if_counters(struct lb_ctx *ctx, struct lb_if_counters **out, size_t *n);
/* Zero the counters of one interface (ifindex), or of all (ifindex 0). */
int lb_if_counters_reset(struct lb_ctx *ctx, unsigned int ifindex);

/* Keyword matching shared by every tool: exact match, else unique prefix.
 * Returns the index in words[] (NULL-terminated), -ENOENT, or -EEXIST if ambiguous. */
int lb_match_keyword(const char *arg, const char *const *words);

#ifdef __cplusplus
}
#endif
#endif /* LB_LB_H */
