/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* liblb internals shared between its .c files; not installed. */
#ifndef LB_INTERNAL_H
#define LB_INTERNAL_H

#include <limits.h>
#include <lb/lb.h>

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
	struct lb__svc_cache *svc_cache; /* a writer's open maps and free space (service.c) */
};

/* Close what a writer keeps of the service maps: when it ends, and whenever the
 * maps may be replaced (load, upgrade, destroy). */
void lb__svc_cache_drop(struct lb_ctx *ctx);

/* Record a detail message for the caller; returns err for chaining. */
int lb_set_err(struct lb_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lb_clear_err(struct lb_ctx *ctx);

/* "<root>/<a>[/<b>[/<c>]]" into buf; -ENAMETOOLONG when it does not fit. */
int lb_path(const struct lb_ctx *ctx, char *buf, size_t len, const char *a,
	    const char *b, const char *c);
int lb_mkdir_p(const char *path, unsigned int mode);
/* rm -r: the pins and directories below path, and path (a pin or a directory);
 * a path that is not there is fine. */
int lb_remove_tree(const char *path);

/* Find a BPF object file by name in the search path; 0 and path in buf. */
int lb_find_bpf_obj(const struct lb_ctx *ctx, const char *name, char *buf, size_t len);

/* Start the kernel-side conntrack sweep (idempotent). */
int lb_gc_arm(struct lb_ctx *ctx);

/* Room for one more element at index cnt of a malloc'd array: 0, or -ENOMEM with
 * the array left as it was. */
int lb_reserve(void **v, size_t cnt, size_t *cap, size_t elem);
#define LB_RESERVE(v, cnt, cap) lb_reserve((void **)&(v), (cnt), &(cap), sizeof(*(v)))

/*
 * A loaded program's BTF records for when its instructions (insns, cnt: libbpf's,
 * relocated) move shift instructions down behind a new main function that calls
 * them (prog_btf.c): the BTF with one more FUNC, func_info, and line_info from the
 * object file at path when it has them.  btf_fd is -1 for a program without
 * func_info, or whose subprograms do not match the kernel's list (it drops a dead
 * one): the wrapper goes without, as it did before it had them.
 */
struct lb_prog_btf {
	int btf_fd;
	struct bpf_func_info *func_info;
	__u32 func_info_cnt;
	struct bpf_line_info *line_info;
	__u32 line_info_cnt;
};
int lb_prog_btf_wrapped(const char *path, int prog_fd, const struct bpf_insn *insns, size_t cnt,
			__u32 shift, struct lb_prog_btf *b);
void lb_prog_btf_free(struct lb_prog_btf *b);

/* The program that serves a hook. */
const char *lb_hook_prog(enum lb_hook hook);

/*
 * Map pins a load may create (lb/obj.c): existed[i] says whether the i-th map of obj
 * (at most LB_OBJ_MAPS_MAX) had a pin before the load; lb_unpin_new_maps() removes the
 * pins (bpf_map__pin_path) of the others, to undo a failed load.
 */
#define LB_OBJ_MAPS_MAX	64
struct bpf_object;
void lb_maps_existing(struct bpf_object *obj, bool existed[LB_OBJ_MAPS_MAX]);
void lb_unpin_new_maps(struct bpf_object *obj, const bool existed[LB_OBJ_MAPS_MAX]);

#define LB_DIR_CHAINS	"chains"
#define LB_DIR_NTC	"ntc"		/* ntc(8): programs of the filters it added */

/* What a pin holds: a bpf_link (and its program) or a program. */
struct lb_pin_info {
	bool is_link;
	__u32 link_id, link_type, link_ifindex;
	__u32 prog_id;
	char prog_name[BPF_OBJ_NAME_LEN];
};
int lb_pin_info_fd(int fd, struct lb_pin_info *pi);
/* The id of the program behind fd, 0 if unknown. */
__u32 lb_prog_id(int fd);

/* An XDP link for prog_fd (mode AUTO: native, generic if refused): fd or -errno. */
int lb_xdp_link_new(struct lb_ctx *ctx, unsigned int ifindex, enum lb_attach_mode mode,
		    int prog_fd, struct lb_attach_result *res);

/* A cls_bpf direct-action filter (handle 1, all protocols) at pref, creating the
 * clsact qdisc if needed (and removing it again when the filter is refused). */
int lb_clsact_filter_new(struct lb_ctx *ctx, unsigned int ifindex, bool egress, int pref,
			 int prog_fd, const char *prog_name);

struct lb_nl;
/* Delete the clsact qdisc when no filter is left on either of its hooks. */
void lb_clsact_release(struct lb_nl *nl, unsigned int ifindex);

/* The XDP hook runs a chain (its link runs lb_chain_entry): lb_attach / lb_detach
 * of our datapath there add / remove the chain element "lb". */
bool lb_chain_runs(struct lb_ctx *ctx, __u32 prog_id);
/* Remove every chain element with a label on every hook (for lb_destroy). */
int lb_chain_flush_all(struct lb_ctx *ctx);
/* Writers: finish what a killed writer left half done on a tc hook's chain (a tcx
 * move, a label pinned for nothing). */
/* Per-interface counters of lb_if_stats (hash_fd) and lb_if_ctr (arr_fd), summed
 * over CPUs and over both maps; either fd may be -1.  lb_if_counters() and trace. */
int lb__if_counters_read(int hash_fd, int arr_fd, struct lb_if_counters **out, size_t *n);
int lb__chain_recover(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook);

/* Why addr cannot be a VIP or an endpoint (a short phrase), NULL when it can. */
/* The programs of the datapath object, pinned below <root>/progs (datapath.c). */
#define LB_DATAPATH_PROGS	9
extern const char *const lb_datapath_progs[LB_DATAPATH_PROGS];
/* Size the object's tables as sz says (0: the object's default). */
int lb_apply_sizes(struct bpf_object *obj, const struct lb_sizes *sz);
/*
 * Wait for an RCU grace period: every BPF program run that began before has
 * ended.  membarrier(MEMBARRIER_CMD_GLOBAL), or where that is refused (nohz_full
 * kernels), an update of a map-in-map element, which the kernel completes only
 * after synchronize_rcu().
 */
int lb_sync_rcu(void);

const char *lb_addr_not_unicast(const struct lb_addr *addr, uint8_t family);
/* addr can be of family: an IPv4 address lives in a[0], a[1..3] are 0.  Anything
 * there is an IPv6 address the datapath would read as a[0] alone. */
bool lb_addr_fits(const struct lb_addr *addr, uint8_t family);
/* Keep only the network bits of pfx (the rest 0), so equal prefixes compare equal. */
void lb_prefix_mask(struct lb_prefix *pfx);

/* What a pin under one of our map names must be: lb_map_shapes ends with a NULL name. */
struct lb_map_shape {
	const char *name;
	uint32_t type, key_size, value_size;
};
extern const struct lb_map_shape lb_map_shapes[];
struct bpf_map_info;
/* info, of the pin called name, has the shape of our map of that name (any value
 * size: its type and key size), or name is not ours: 0.  Else -EUCLEAN (the root
 * needs cleaning up), errmsg "map NAME: type X, expected Y". */
int lb_map_info_check(struct lb_ctx *ctx, const char *name, const struct bpf_map_info *info,
		      bool any_value_size);
/* lb_map_fd(): fd, just opened from the pin called name, when its shape is right
 * (or the ctx opened any layout); else fd is closed and the error returned. */
int lb_map_fd_checked(struct lb_ctx *ctx, const char *name, int fd);
/* Every one of our maps that is pinned has its shape. */
int lb_map_shapes_check(struct lb_ctx *ctx);
/* A failed lb_map_fd() keeps its own words when the pin has another shape. */
#define LB_MAP_ERR(ctx, err, ...) \
	((err) == -EUCLEAN ? (err) : lb_set_err((ctx), (err), __VA_ARGS__))

#endif
