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

/* liblb is built with -fvisibility=hidden: what this header declares is its API,
 * and the only thing it exports (lb/liblb.map lists the same names). */
#pragma GCC visibility push(default)

#define LB_DEFAULT_PIN_ROOT	"/sys/fs/bpf/lb"
#define LB_PIN_ROOT_ENV		"LB_PIN_ROOT"
#define LB_BPF_DIR_ENV		"LB_BPF_DIR"

struct lb_ctx;

/* lb_open() flags */
enum {
	LB_OPEN_WRITE	= 1 << 0,	/* take the writer lock (flock on the root dir) */
	LB_OPEN_CREATE	= 1 << 1,	/* create the root (and mount bpffs) if missing */
	LB_OPEN_NOWAIT	= 1 << 2,	/* with WRITE: fail at once if another writer holds the lock */
	LB_OPEN_ANY_ABI	= 1 << 3,	/* accept another layout version (to remove it all) */
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
 * root does not exist or holds no datapath and LB_OPEN_CREATE was not given, -EACCES/-EPERM without
 * privileges, -EWOULDBLOCK when another writer holds the lock past the timeout,
 * -ENOTDIR / -EINVAL when the path cannot hold pins; with LB_OPEN_CREATE (a load
 * reuses every pin) -EUCLEAN when a map pinned under one of our names has another
 * type, key or value size (errmsg names it).
 */
int lb_open(struct lb_ctx **ctx, const struct lb_open_opts *opts);
void lb_close(struct lb_ctx *ctx);
/* After a failed first command on a root this lb_open created: remove what the
 * command loaded, the layout and the bpffs mount it made, so the failure leaves
 * nothing behind.  A no-op on a root that existed before. */
int lb_abandon(struct lb_ctx *ctx);

const char *lb_pin_root(const struct lb_ctx *ctx);
/* Last error detail in words (never NULL, may be ""). */
const char *lb_ctx_errmsg(const struct lb_ctx *ctx);
/* ABI version found in the pin root's config map, 0 when there is none. */
unsigned int lb_found_abi_version(const struct lb_ctx *ctx);

/* Resolve the pin root the way lb_open() does, without touching anything. */
const char *lb_pin_root_default(const char *override);

/* Datapath: load the BPF object and pin maps and programs, if not pinned yet. */
int lb_datapath_load(struct lb_ctx *ctx);

/* Table sizes, chosen when the maps are first created (0: the default). */
struct lb_sizes {
	uint32_t services;	/* LB_SERVICES_MAX */
	uint32_t endpoints;	/* LB_ENDPOINTS_MAX */
	uint32_t conntrack;	/* LB_CT_MAX, entries (two per flow) */
	uint32_t allow;		/* LB_ALLOW_MAX, allowed source prefixes of all services */
	uint32_t selection;	/* LB_SEL_SLOTS, selection table slots of all services */
};
/* As lb_datapath_load; sizes apply on first load.  On a loaded root, sizes that
 * differ from the tables' are refused with -EEXIST (the tables keep theirs). */
int lb_datapath_load_sized(struct lb_ctx *ctx, const struct lb_sizes *sizes);
/* The sizes of the loaded tables. */
int lb_datapath_sizes(struct lb_ctx *ctx, struct lb_sizes *out);
bool lb_datapath_loaded(struct lb_ctx *ctx);
/* Open a pinned map or program of this root by name: fd or negative errno.  A map
 * pinned under one of our names with another type, key or value size is never
 * returned: -EUCLEAN, errmsg names it (unless the root was opened with
 * LB_OPEN_ANY_ABI, where layouts differ by design, so destroy can remove it). */
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
	const struct lb_sizes *sizes;	/* NULL: defaults (first load only) */
	/* tcx placement (lb_chain_add fills these): BPF_F_BEFORE/AFTER|BPF_F_ID
	 * flags, the relative program id, the expected revision; 0: append. */
	uint32_t tcx_flags;
	uint32_t tcx_relative;
	uint64_t tcx_revision;
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

/*
 * Upgrade in place: replace the running datapath's programs by those of another
 * build of it, keeping every map (rules, conntrack, counters), every attachment
 * and chain position, and the sweep timer.  A map whose layout changed is
 * migrated (created beside the old one, entries converted field by field by
 * BTF, switched with the programs); one that cannot be is refused, naming it,
 * with nothing changed.  Open the root with LB_OPEN_ANY_ABI: this is also the
 * way from one ABI version to another.
 */
struct lb_upgrade_opts {
	const char *obj;		/* NULL: lb_datapath.bpf.o where lb_attach finds it */
};

struct lb_upgrade_result {
	unsigned int programs;		/* programs replaced */
	unsigned int attachments;	/* links, filters and chain slots switched */
	unsigned int maps_migrated;	/* maps whose layout changed */
	uint64_t entries;		/* entries converted before the switch */
	uint64_t entries_late;		/* made by the old programs during the switch */
};

int lb_upgrade(struct lb_ctx *ctx, const struct lb_upgrade_opts *opts,
	       struct lb_upgrade_result *res);

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

/*
 * Services and endpoints.  A service is named by its struct lb_svc_key (VIP,
 * port in network order, protocol, family).  Every change rebuilds the service's
 * selection table aside and swaps it in with one map update.
 */
struct lb_service {
	struct lb_svc_key key;
	enum lb_sched sched;
	enum lb_nat_mode mode;
	bool snat_ifaddr;		/* full NAT from the egress interface's address */
	struct lb_addr snat;		/* full NAT source when !snat_ifaddr */
	uint32_t persist;		/* seconds of source affinity, 0 off */
	uint32_t maglev_size;		/* prime; 0: LB_MAGLEV_DEFAULT, which grows (lb_maglev_size) */
	/*
	 * Allowed sources (see lb_service_allow_add): lb_service_add writes
	 * allow[0..n_allow); lb_service_set replaces the list with it, or keeps the
	 * list when allow is NULL.  lb_service_get and lb_service_list give the
	 * length only (allow NULL); lb_service_allow_list gives the prefixes.
	 */
	uint32_t n_allow;
	struct lb_prefix *allow;
	struct lb_check check;		/* its endpoints' health check (lb_abi.h); 0: none */
};

struct lb_endpoint {
	struct lb_addr addr;
	uint16_t port;			/* network order */
	uint8_t family;			/* enum lb_family */
	enum lb_ep_status status;
	uint32_t weight;
	struct lb_check check;		/* its own check settings; 0 fields: the service's */
};

/* An endpoint's health check state (lb_health); last NONE: never probed. */
struct lb_health_info {
	enum lb_health_state state;
	enum lb_probe_result last;
	uint32_t ok_run, fail_run;	/* consecutive successes, failures */
	uint64_t last_ns;		/* CLOCK_REALTIME of the last probe */
	uint64_t change_ns;		/* CLOCK_REALTIME of the last change of state */
	char reason[LB_CHECK_REASON_MAX];	/* of the last failure */
};

/* What show prints: configuration, ids, and counters summed over CPUs. */
struct lb_endpoint_info {
	struct lb_endpoint ep;
	uint32_t id;
	int64_t active;			/* flows open */
	struct lb_obj_stats stats;
	struct lb_health_info health;
	enum lb_check_type check;	/* what runs: its own, else the service's (NONE:
					 * unchecked) */
	bool sick;			/* out of the selection for its health */
};

struct lb_service_info {
	struct lb_service svc;
	uint32_t id;
	uint32_t sel_len;
	bool panic;			/* every checked endpoint is down: all serve */
	uint64_t panics;		/* times it began to fail open */
	uint64_t panic_ns;		/* CLOCK_REALTIME of the last start or end of it */
	struct lb_obj_stats stats;
	size_t n_eps;
	struct lb_endpoint_info *eps;	/* malloc'd: lb_service_info_free() */
};

const char *lb_sched_name(enum lb_sched s);
int lb_sched_parse(const char *s, enum lb_sched *out);
const char *lb_nat_mode_name(enum lb_nat_mode m);
int lb_nat_mode_parse(const char *s, enum lb_nat_mode *out);
const char *lb_ep_status_name(enum lb_ep_status s);
int lb_ep_status_parse(const char *s, enum lb_ep_status *out);
const char *lb_drop_name(enum lb_drop d);

/* Addresses: parse "198.18.0.1" or "2001:db8::1"; format into buf (>= 46 bytes). */
int lb_addr_parse(const char *s, struct lb_addr *addr, uint8_t *family);
int lb_prefix_parse(const char *s, struct lb_prefix *pfx, uint8_t *family);
const char *lb_addr_str(const struct lb_addr *addr, uint8_t family, char *buf, size_t len);
void lb_svc_key_init(struct lb_svc_key *k, const struct lb_addr *vip, uint8_t family,
		     uint16_t port_host, uint8_t proto);

/* -EEXIST, -ENOSPC (no free id), -EINVAL (bad combination, errmsg says which). */
int lb_service_add(struct lb_ctx *ctx, const struct lb_service *svc);
/* Replace the configuration of an existing service (-ENOENT). Endpoints stay. */
int lb_service_set(struct lb_ctx *ctx, const struct lb_service *svc);
/* Remove a service, its endpoints, its selection table and its flows. */
int lb_service_del(struct lb_ctx *ctx, const struct lb_svc_key *key);
int lb_service_flush(struct lb_ctx *ctx);
/* One service (-ENOENT), or all, sorted by family, VIP, port, protocol. */
int lb_service_get(struct lb_ctx *ctx, const struct lb_svc_key *key, struct lb_service_info *out);
int lb_service_list(struct lb_ctx *ctx, struct lb_service_info **out, size_t *n);
/* Free the endpoints of v[0..n) (lb_service_get: n 1; lb_service_list: then free(v)). */
void lb_service_info_free(struct lb_service_info *v, size_t n);

/* -ENOENT (no service), -EEXIST (same address and port), -EAFNOSUPPORT (family),
 * -ENOSPC (LB_SVC_EPS_MAX reached or no free id), -EINVAL (weight above 65535).
 * Weight 0 is allowed: the endpoint takes no new flows. */
int lb_endpoint_add(struct lb_ctx *ctx, const struct lb_svc_key *svc,
		    const struct lb_endpoint *ep);
/* Change weight and status of the endpoint with ep's address and port. Setting
 * status down also flushes its flows. */
int lb_endpoint_set(struct lb_ctx *ctx, const struct lb_svc_key *svc,
		    const struct lb_endpoint *ep);
int lb_endpoint_del(struct lb_ctx *ctx, const struct lb_svc_key *svc,
		    const struct lb_endpoint *ep);

/*
 * Allowed sources.  A service with an allow list takes new flows only from sources
 * inside one of its prefixes (the longest that holds the source decides); one
 * without a list takes them from every source.  The lists of all services share
 * one longest-prefix-match table, lb_allow, sized at first load (struct
 * lb_sizes.allow).  add and del change one service's list without rewriting the
 * service, all of pfx[0..n) or nothing: -ENOENT (no such service; del: a prefix
 * not in the list), -EINVAL (not a prefix of the service's family, bits set past
 * its length, or listed twice), -EEXIST (add: already in the list), -ENOSPC (the
 * table is full).
 */
int lb_service_allow_add(struct lb_ctx *ctx, const struct lb_svc_key *key,
			 const struct lb_prefix *pfx, size_t n);
int lb_service_allow_del(struct lb_ctx *ctx, const struct lb_svc_key *key,
			 const struct lb_prefix *pfx, size_t n);
struct lb_allow_entry {
	uint32_t svc_id;		/* struct lb_service_info.id */
	struct lb_prefix pfx;
};
/* The prefixes of one service (key), or of every service (key NULL), sorted by
 * service id, address and length; *out is malloc'd, free() it. */
int lb_service_allow_list(struct lb_ctx *ctx, const struct lb_svc_key *key,
			  struct lb_allow_entry **out, size_t *n);

/*
 * Health checks (lb/health.c).  Settings travel with services and endpoints (the
 * check field above); state lives in the pinned lb_health by name, so it survives
 * restore.  One round in two steps, so that probing holds no lock:
 * lb_health_probe() (any ctx) probes, in parallel (at most LB_HEALTH_PARALLEL at
 * once, each within its timeout), every checked endpoint that the operator has up
 * and whose interval has passed since its last probe (all of them with
 * LB_HEALTH_ALL) of the given services (n 0: all); lb_health_apply() (the writer
 * lock) counts the results into lb_health by rise and fall and rebuilds the
 * selection of each service where an endpoint changed, once.  A down endpoint
 * takes no new flows; its open flows continue.  An endpoint set to drain or down is
 * never probed or changed.  When every endpoint the operator has up is down by its
 * check, the service fails open: all of them serve (lb_service_info.panic).
 */
#define LB_HEALTH_PARALLEL	64
#define LB_HEALTH_ALL		(1u << 0)	/* probe whether due or not */

struct lb_health_result {
	struct lb_svc_key svc;
	struct lb_addr addr;
	uint16_t port;			/* network order */
	uint8_t family;
	bool ok;
	char reason[LB_CHECK_REASON_MAX];	/* why not ok */
	uint64_t time_ns;		/* CLOCK_REALTIME when it ended */
};

/* What a round changed, for the caller to tell. */
struct lb_health_change {
	struct lb_svc_key svc;
	struct lb_addr addr;
	uint16_t port;
	uint8_t family;
	enum lb_health_state state;	/* the new one */
	char reason[LB_CHECK_REASON_MAX];	/* of the last failure (down) */
};

/* *out is malloc'd (free()); *n may be 0. */
int lb_health_probe(struct lb_ctx *ctx, const struct lb_svc_key *svcs, size_t n_svcs,
		    unsigned int flags, struct lb_health_result **out, size_t *n);
/* changes, n_changes: NULL or where to put them (malloc'd). */
int lb_health_apply(struct lb_ctx *ctx, const struct lb_health_result *r, size_t n,
		    struct lb_health_change **changes, size_t *n_changes);
const char *lb_check_type_name(enum lb_check_type t);	/* "inherit", "none", "tcp", ... */
const char *lb_health_state_name(enum lb_health_state s);	/* "unknown", "up", "down" */
const char *lb_probe_result_name(enum lb_probe_result r);	/* "none", "ok", "fail" */

/* Maglev lookup table (pure function, exposed for tests): table[m] of indexes
 * into names[]/weights[]; names are what the permutation hashes. */
int lb_maglev_build(const uint8_t (*names)[20], const uint32_t *weights, size_t n,
		    uint32_t m, uint32_t *table);
/* Smooth weighted round robin sequence of indexes; returns its length. */
size_t lb_wrr_build(const uint32_t *weights, size_t n, uint32_t *seq, size_t max);
bool lb_is_prime(uint32_t n);
/* The Maglev table size of a service of n endpoints configured with size: size;
 * the default (0 or LB_MAGLEV_DEFAULT) grows through the primes 16381, 131071 and
 * 524287 (LB_SEL_MAX) until each endpoint has LB_MAGLEV_SLOTS_PER_EP slots. */
uint32_t lb_maglev_size(uint32_t size, size_t n);

/* Conntrack */
struct lb_ct_entry {
	struct lb_ct_key key;
	struct lb_ct ct;
	uint64_t age_ns;		/* since last seen */
	uint32_t timeout;		/* seconds, for its state */
};
struct lb_ct_filter {
	uint32_t svc_id;		/* 0: any */
	uint32_t ep_id;			/* 0: any */
	bool has_addr;			/* match src or dst or nat addresses */
	struct lb_addr addr;
	bool has_ep_addr;		/* match flows to an endpoint at this address */
	struct lb_addr ep_addr;
	bool expired;			/* only entries past their timeout (gc) */
};
/* Live entries matching f (NULL: all); *out malloc'd. */
int lb_ct_list(struct lb_ctx *ctx, const struct lb_ct_filter *f, struct lb_ct_entry **out,
	       size_t *n);
/* Delete matching entries (both directions of each flow); *deleted counts entries. */
int lb_ct_flush(struct lb_ctx *ctx, const struct lb_ct_filter *f, size_t *deleted);
const char *lb_ct_state_name(enum lb_ct_state s);
const char *lb_timeout_name(enum lb_timeout t);	/* "tcp-syn", ... NULL past the end */
/* Effective timeouts in seconds (built-in defaults where unset). */
int lb_timeouts_get(struct lb_ctx *ctx, uint32_t out[LB_TO_MAX]);
/* Set the timeouts whose value is non-zero. */
int lb_timeouts_set(struct lb_ctx *ctx, const uint32_t in[LB_TO_MAX]);

/* Drop counters by reason, summed over CPUs. */
int lb_drops(struct lb_ctx *ctx, struct lb_counter out[LB_DROP_MAX]);

/*
 * Program chains: several programs on one hook, run in a chosen order.  tc hooks
 * use the kernel's own ordering (tcx links, or cls_bpf filters by pref in mode
 * clsact); a program returning TC_ACT_UNSPEC lets the next one run.  XDP uses
 * the lb_chain prog array walked by lb_chain_entry (see <lb/lb_chain.h>); a
 * program that does not use lb_chain is wrapped at load time so that its XDP_PASS
 * goes on to the next one.  Elements are named by labels, pinned below
 * <root>/chains/<ifname>/<hook>/<label>; our datapath is the element "lb".
 */
#define LB_CHAIN_LABEL_MAX	32	/* bytes, with the NUL */
#define LB_CHAIN_SHOW_MAX	64	/* elements one chain shows (tc may hold more) */

enum lb_chain_where {
	LB_CHAIN_LAST	= 0,
	LB_CHAIN_FIRST,
	LB_CHAIN_BEFORE,	/* rel */
	LB_CHAIN_AFTER,		/* rel */
};

struct lb_chain_place {
	enum lb_chain_where where;
	const char *rel;		/* label, for BEFORE / AFTER */
	uint64_t expected_revision;	/* 0: any; else -ESTALE when the chain's differs */
};

struct lb_chain_add_opts {
	const char *ifname;
	enum lb_hook hook;
	const char *obj;		/* BPF object file; NULL: our datapath ("lb") */
	const char *sec;		/* program in it (section or name); NULL: the first */
	const char *label;		/* NULL: the program's name */
	enum lb_attach_mode mode;	/* AUTO: the chain's, else tcx / native first */
	struct lb_chain_place place;
};

struct lb_chain_elem {
	char label[LB_CHAIN_LABEL_MAX];	/* "" for a program someone else placed */
	uint32_t prog_id;
	char prog_name[16];
	char tag[17];			/* hex */
	uint32_t link_id;		/* tcx */
	uint16_t pref;			/* clsact */
	bool has_packets;		/* XDP: always; tc: with kernel.bpf_stats_enabled */
	uint64_t packets;
};

struct lb_chain_info {
	char ifname[IF_NAMESIZE];
	unsigned int ifindex;
	enum lb_hook hook;
	enum lb_attach_mode mode;	/* AUTO: nothing on the hook */
	uint64_t revision;		/* changes with every change of the chain */
	size_t n;
	struct lb_chain_elem elem[LB_CHAIN_SHOW_MAX];
};

/* -EEXIST label taken, -ENOENT rel unknown, -ESTALE revision changed, -E2BIG the
 * XDP chain is full, -ENOSPC no pref left between two cls_bpf filters. */
int lb_chain_add(struct lb_ctx *ctx, const struct lb_chain_add_opts *opts);
int lb_chain_del(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook,
		 const char *label, uint64_t expected_revision);
int lb_chain_move(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook,
		  const char *label, const struct lb_chain_place *place);
int lb_chain_get(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook,
		 struct lb_chain_info *out);
/* Every hook with a chain element or an attachment of ours; *out malloc'd. */
int lb_chain_list(struct lb_ctx *ctx, struct lb_chain_info **out, size_t *n);
const char *lb_chain_where_name(enum lb_chain_where w);

/* Keyword matching shared by every tool: exact match, else unique prefix.
 * Returns the index in words[] (NULL-terminated), -ENOENT, or -EEXIST if ambiguous. */
int lb_match_keyword(const char *arg, const char *const *words);

/*
 * Loading another BPF object into the pin root (ntc, lbattach chain).
 *
 * Programs in a section "tail/MAPNAME/KEY" are tail-call targets: after the load each
 * is stored in the object's prog-array map MAPNAME at index KEY (decimal or 0x hex).
 * They load with the others (a section that names no type gets prog_type, else the
 * selected program's type).  Programs that are neither selected nor tail programs are
 * not loaded.
 */
struct lb_obj;
struct bpf_insn;
struct lb_obj_opts {
	const char *path;	/* ELF object file */
	const char *sec;	/* the program: section name or program name; NULL: the first one */
	int prog_type;		/* enum bpf_prog_type for programs whose section names none; 0: leave */
	const char *pin_dir;	/* NULL: pin no programs; else pin each program by name below it (dir created 0700) */
};
/* Open and load; maps marked LIBBPF_PIN_BY_NAME reuse the pins under <root>/maps or are pinned
 * there.  Prog arrays are filled by the section naming convention.  On failure nothing stays
 * pinned that this call created.  -ENOENT no file, -ENOEXEC not a BPF object or the verifier
 * refused (errmsg says which; -d / libbpf debug shows the log), -ESRCH no such section/program,
 * -EINVAL a pinned map with the same name but another shape (errmsg names it), or a bad
 * "tail/" section (unknown map, not a prog array, bad key), -EEXIST a pin in pin_dir.
 * With pin_dir, a prog array that tail programs fill and that is not pinned by name is
 * pinned there by name too (the kernel empties a prog array nothing holds). */
int lb_obj_load(struct lb_ctx *ctx, const struct lb_obj_opts *opts, struct lb_obj **out);
int lb_obj_prog_fd(const struct lb_obj *o);		/* the selected program; owned by o */
const char *lb_obj_prog_name(const struct lb_obj *o);
const char *lb_obj_prog_sec(const struct lb_obj *o);
int lb_obj_prog_type(const struct lb_obj *o);
/* The selected program's instructions after relocation (map fds filled in), for a caller
 * that loads a variant of it; valid while o is open. */
int lb_obj_prog_insns(const struct lb_obj *o, const struct bpf_insn **insns, size_t *cnt);
bool lb_obj_has_map(const struct lb_obj *o, const char *name);
/* Remove the program pins this load made (pin_dir) — for undoing a later failure.  Also
 * removes the map pins it created below <root>/maps and puts back what the prog-array
 * slots it filled in maps pinned before held. */
int lb_obj_unpin(struct lb_obj *o);
void lb_obj_close(struct lb_obj *o);

/*
 * tc over rtnetlink (lb/tc_nl.c, libmnl): the clsact qdisc and cls_bpf filters on its
 * ingress and egress hooks, as ntc uses them (and lb_attach() and lb_chain_add() in
 * mode clsact).  All state hangs off a struct lb_nl, one rtnetlink socket; when the
 * kernel refuses a request, lb_nl_ext_ack() returns its extended ack message.
 */
struct lb_nl;

/* Open / close an rtnetlink socket (NETLINK_EXT_ACK and NETLINK_CAP_ACK set).
 * lb_nl_close(NULL) is fine. */
int lb_nl_open(struct lb_nl **nl);
void lb_nl_close(struct lb_nl *nl);
/* Extended ack message (NLMSGERR_ATTR_MSG) of the last failed request, or "".
 * Cleared at the start of every request.  Never NULL. */
const char *lb_nl_ext_ack(const struct lb_nl *nl);

/* Create the clsact qdisc.  excl: -EEXIST when one is present; without excl an
 * existing clsact qdisc is fine (another qdisc in its place is not: -EINVAL). */
int lb_tc_clsact_add(struct lb_nl *nl, unsigned int ifindex, bool excl);
/* Delete the clsact qdisc (and with it every filter on it).  -ENOENT: none. */
int lb_tc_clsact_del(struct lb_nl *nl, unsigned int ifindex);

struct lb_tc_qdisc {
	unsigned int ifindex;
	uint32_t handle, parent;	/* parent TC_H_ROOT for a root qdisc */
	char kind[32];
	uint32_t refcnt;		/* tcm_info, as tc prints it ("refcnt 2") */
};
/* Qdiscs of one interface (ifindex 0: of all), in the kernel's order.  *out is
 * malloc'd (free() it; NULL when *n is 0). */
int lb_tc_qdisc_list(struct lb_nl *nl, unsigned int ifindex, struct lb_tc_qdisc **out,
		     size_t *n);

struct lb_tc_filter {
	unsigned int ifindex;
	bool egress;			/* clsact egress, else ingress */
	uint16_t pref;			/* add: 0 lets the kernel choose */
	uint32_t handle;		/* add: 0 lets the kernel choose */
	uint16_t protocol;		/* host order ETH_P_*; add: 0 means ETH_P_ALL */
	int prog_fd;			/* add: the program; list: -1 */
	char name[256];			/* TCA_BPF_NAME, e.g. "lb_trivial.bpf.o:[tc]" */
	bool direct_action;		/* TCA_BPF_FLAG_ACT_DIRECT */
	/* filled by list: */
	uint32_t prog_id;		/* 0: no program (the hook's header entry) */
	uint8_t tag[8];
	bool jited;			/* from BPF_OBJ_GET_INFO_BY_FD, false if unknown */
	char kind[16];			/* "bpf" */
	uint32_t chain;
	uint32_t gen_flags;		/* TCA_BPF_FLAGS_GEN: TCA_CLS_FLAGS_* (not_in_hw ...) */
	char prog_name[16];		/* from BPF_OBJ_GET_INFO_BY_FD, "" if unknown */
};

/* Add a cls_bpf filter on clsact ingress/egress (the qdisc must exist).
 * replace false: NLM_F_CREATE|NLM_F_EXCL (-EEXIST when pref/handle is taken);
 * replace true: NLM_F_CREATE|NLM_F_REPLACE. */
int lb_tc_filter_add(struct lb_nl *nl, const struct lb_tc_filter *f, bool replace);
/* Delete filters.  pref 0: all filters of that direction (handle and protocol must
 * then be 0); handle 0: every filter with that pref; protocol 0: any protocol. */
int lb_tc_filter_del(struct lb_nl *nl, unsigned int ifindex, bool egress, uint16_t pref,
		     uint32_t handle, uint16_t protocol);
/* Filters of one direction, in the kernel's order: for each pref, an entry with
 * handle 0 (the classifier itself, no program) followed by its filters, as
 * `tc filter show` prints them.  No clsact qdisc / no such device: *n = 0.
 * -EPERM when a filter's program cannot be read without privileges.
 * *out is malloc'd (free() it; NULL when *n is 0). */
int lb_tc_filter_list(struct lb_nl *nl, unsigned int ifindex, bool egress,
		      struct lb_tc_filter **out, size_t *n);

/*
 * ntc's filter records (lb/ntc_pins.c): a cls_bpf filter holds its program without a
 * link, so the programs of a filter ntc added are pinned in the pin root, below
 * <root>/ntc/<ifname>/<ingress|egress>/<pref>/<handle>/ (handle as tc prints it,
 * "0x1").  A filter add loads its object with lb_obj_opts.pin_dir set to the hook's
 * staging directory (lb_ntc_stage()), and once the kernel has placed the filter,
 * lb_ntc_record() moves the pins to its pref and handle.  A record whose filter is
 * gone, or holds another program, is removed by lb_ntc_prune().  The functions that
 * write expect LB_OPEN_WRITE; ifname, the filter's device, names its directory.
 */
/* The hook's directory, <root>/ntc/<ifname>/<ingress|egress>, into buf. */
int lb_ntc_hook_dir(struct lb_ctx *ctx, const char *ifname, bool egress, char *buf,
		    size_t len);
/* Empty the hook's staging directory (what a crash left there) and put its path into
 * buf, for lb_obj_opts.pin_dir; on failure buf holds the path when it fits. */
int lb_ntc_stage(struct lb_ctx *ctx, const char *ifname, bool egress, char *buf,
		 size_t len);
/* Move the staged pins to <pref>/<handle>, in place of an older record there (kept
 * when the move fails). */
int lb_ntc_record(struct lb_ctx *ctx, const char *ifname, bool egress, uint16_t pref,
		  uint32_t handle);
/* Remove the hook's directory, then the interface's and <root>/ntc, while empty:
 * after a failed add has unpinned its programs (lb_obj_unpin()). */
void lb_ntc_rmdir_empty(struct lb_ctx *ctx, const char *ifname, bool egress);
/* Forget the hook's records that no filter holds any more: a <pref>/<handle> whose
 * filter is gone (deleted by a del, a qdisc del, by tc) or runs another program,
 * and what a crash left in staging (an interface that is gone holds no filter).  An
 * error listing the filters keeps every record. */
int lb_ntc_prune(struct lb_ctx *ctx, struct lb_nl *nl, const char *ifname, bool egress);

/*
 * Typed map keys and values (lb/btfval_*.c), from the BTF the kernel keeps with a
 * map: every field by name, struct lb_addr (and in_addr, in6_addr) as an address,
 * __be16/__be32/__be64 in host order, enums by name.  The lb_abi.h fields that hold
 * an enum in a __u8 (proto, family, sched, mode, status, state, flags) are named
 * from a table.  A type id of 0 (a map without BTF) stands for size raw bytes:
 * a number when size is 1, 2, 4 or 8, else hex bytes.  lbmap is built on this.
 */
struct btf;

/* A pinned map opened for typed access. */
struct lb_map_btf {
	struct lb_map_desc desc;
	struct btf *btf;		/* NULL: the map has no BTF */
	uint32_t key_type_id;		/* 0: none (raw) */
	uint32_t value_type_id;
};
int lb_map_btf_open(int fd, struct lb_map_btf *m);
void lb_map_btf_close(struct lb_map_btf *m);

/* One step of a walk over a value: composites open and close around their fields. */
enum lb_btf_kind {
	LB_BTF_UINT,		/* u */
	LB_BTF_INT,		/* i */
	LB_BTF_BOOL,		/* u: 0 or 1 */
	LB_BTF_STR,		/* s: an address, an enum or flag name, a char array, hex */
	LB_BTF_OBJ,		/* a struct or union begins */
	LB_BTF_OBJ_END,
	LB_BTF_ARR,		/* an array begins */
	LB_BTF_ARR_END,
};

struct lb_btf_item {
	enum lb_btf_kind kind;
	const char *name;	/* field name; NULL for array elements and the whole value */
	const char *path;	/* from the top, as lb_btf_parse takes it: "ctr[1].packets"
				 * ("" for the whole value) */
	int depth;		/* 0: the whole value */
	int index;		/* element index inside an array, else -1 */
	uint64_t u;
	int64_t i;
	const char *s;
	bool hex;		/* STR: raw bytes as "0a 0b ..." (no type known) */
	bool zero;		/* every bit of this item is 0 */
	uint32_t len;		/* ARR: elements */
	uint32_t used;		/* ARR: elements up to the last one that is not all zero */
	bool scalars;		/* ARR: the elements are single values */
};

/* Return 0 to go on; anything else stops the walk and is returned. */
typedef int (*lb_btf_fn)(const struct lb_btf_item *item, void *cookie);

/* Walk the value at data (size bytes) of type type_id. */
int lb_btf_walk(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
		lb_btf_fn fn, void *cookie);

/*
 * The text form, which lb_btf_parse reads back: "FIELD VALUE ..." with dotted paths
 * (ctr[0].packets 5), arrays of single values as one comma-separated list without
 * its trailing zeros (eps 3,4), arrays of structs up to their last non-zero element,
 * zero fields named pad* or reserved* left out; a lone value for a scalar type.
 * Returns the length of the whole text (as snprintf) or a negative errno.
 */
int lb_btf_format(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
		  char *buf, size_t len);

/*
 * Parse words into the value at data (size bytes), which holds the starting value
 * (zeros, or the current value to change some fields of it).  Words:
 *   FIELD WORD [FIELD WORD]...   a field by path (a.b, a[2].b); an address, a number
 *                                (0x hex too), an enum or flag name (a,b), a string,
 *                                a comma-separated list for an array of values;
 *   WORD                         the value of a scalar type (or a one-field struct);
 *   hex XX [XX]...               exactly size raw bytes.
 * A struct's enum field family, when not given, follows the address given.
 * Parsing stops before a word of stop (NULL-terminated, may be NULL) where a field
 * name would be; *used tells how many words were taken.  -EINVAL with the reason
 * in err ("field 'foo' unknown", a field given twice); data may then be partly
 * written.
 */
int lb_btf_parse(const struct btf *btf, uint32_t type_id, size_t size, int argc,
		 char **argv, const char *const *stop, void *data, int *used,
		 char *err, size_t errlen);

/*
 * Per-CPU values, ncpu of them at a stride of size rounded up to 8 bytes, as the
 * kernel returns them.  sum: counters (plain integers) added up; other fields
 * (enums, addresses, ports, flags) taken from the first CPU where they are not 0.
 * set: write the fields where new_sum differs from old_sum (old_sum as
 * lb_btf_percpu_sum gave it): a counter goes to CPU 0 and is 0 on the others,
 * so that the sum is the new value; any other field is written on every CPU.
 */
int lb_btf_percpu_sum(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *percpu, int ncpu, void *sum);
int lb_btf_percpu_set(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *old_sum, const void *new_sum, void *percpu, int ncpu);

/* "struct lb_svc_key", "__u32", "enum lb_hook", "raw" for type id 0. */
const char *lb_btf_type_name(const struct btf *btf, uint32_t type_id, char *buf, size_t len);
/* The name of a kernel-managed struct inside the type (bpf_timer, bpf_spin_lock,
 * ...) that a write from user space would reset, or NULL. */
const char *lb_btf_special(const struct btf *btf, uint32_t type_id);

/*
 * Monitor (lb/monitor.c): the datapath's events (drops, new flows, flows that
 * end) from the lb_events ring buffer.  A ring buffer has one reader, so one
 * monitor per pin root holds it: lb_mon_open() claims lb_monitor (owner pid,
 * lease, mask) and the datapath starts producing the events of mask (LB_MON_*);
 * lb_mon_poll() renews the lease every second; lb_mon_close() clears the mask.
 * A monitor that dies without closing stops the event work when its lease runs
 * out (LB_MON_LEASE_NS): the conntrack sweep clears the mask.
 */
struct lb_mon;

/* Called for every event; size: bytes of the record (shorter for flow end).
 * A non-zero return stops lb_mon_poll(), which returns it. */
typedef int (*lb_event_fn)(const struct lb_event *ev, size_t size, void *cookie);

/* -EBUSY when a live monitor holds the ring (errmsg names its pid), -ENOENT when
 * the pin root has no event maps (a datapath loaded before they existed). */
int lb_mon_open(struct lb_ctx *ctx, uint32_t mask, lb_event_fn fn, void *cookie,
		struct lb_mon **out);
/* Wait up to timeout_ms (-1: until the next renewal, at most a second) and hand
 * the events that arrived to fn; renews the lease when due.  Events from before
 * lb_mon_open() and of kinds not in mask are skipped.  0, fn's non-zero return,
 * -EINTR on a signal, -EBUSY when another monitor took the ring over. */
int lb_mon_poll(struct lb_mon *m, int timeout_ms);
/* Events the datapath could not record (ring full) since lb_mon_open(). */
uint64_t lb_mon_lost(const struct lb_mon *m);
/* CLOCK_REALTIME nanoseconds of an event's ts_ns. */
uint64_t lb_mon_realtime(const struct lb_mon *m, uint64_t ts_ns);
/* Release the ring: the mask is cleared if it is still ours. NULL is fine. */
void lb_mon_close(struct lb_mon *m);

const char *lb_event_type_name(unsigned int type);	/* "drop", "flow-new", "flow-end" */
/* An event with no tuple (family 0): fill family, proto, addresses and ports
 * from its packet bytes.  0, or -ENOENT when they hold no IPv4/IPv6 header. */
int lb_event_tuple(struct lb_event *ev);

/*
 * Save and restore (lb/ruleset.c): the whole rule set, that is every service with
 * its configuration and its endpoints (in the order of the service's list, which
 * rr tables and Maglev ties follow), and the conntrack timeouts.
 *
 * lb_ruleset_restore() checks the new set whole, then writes it aside under the
 * spare generation of lb_services (struct lb_svc_key.gen) with fresh ids, switches
 * lb_config.svc_gen (and the timeouts) with one map update, waits for an RCU
 * grace period and removes the old set.  A new flow sees the old rule set or the
 * new one, never a mix; tracked flows keep their endpoints.  The lb_service_* and
 * lb_endpoint_* functions act on the live generation only: they take keys with
 * gen 0 and return keys with gen 0.
 */
struct lb_ruleset_svc {
	struct lb_service svc;		/* svc.allow: malloc'd, lb_ruleset_free() frees it */
	size_t n_eps;
	struct lb_endpoint *eps;	/* malloc'd: lb_ruleset_ep_add(), lb_ruleset_free() */
};

struct lb_ruleset {
	size_t n;			/* services */
	struct lb_ruleset_svc *svcs;	/* malloc'd; lb_ruleset_free() */
	uint32_t timeout[LB_TO_MAX];	/* seconds, by enum lb_timeout; 0: built-in default */
};

/* The live rule set, services sorted as lb_service_list() sorts them. */
int lb_ruleset_get(struct lb_ctx *ctx, struct lb_ruleset *out);
void lb_ruleset_free(struct lb_ruleset *rs);
/* Room for one more service of rs (which starts zeroed): a zeroed element at the
 * end, or NULL (ENOMEM). */
struct lb_ruleset_svc *lb_ruleset_add(struct lb_ruleset *rs);
/* Room for one more endpoint of r: a zeroed element at the end, or NULL (ENOMEM). */
struct lb_endpoint *lb_ruleset_ep_add(struct lb_ruleset_svc *r);

/* Check a service or one of its endpoints as lb_service_add() and
 * lb_endpoint_add() do, changing nothing: -EINVAL, -EAFNOSUPPORT (errmsg says why). */
int lb_service_check(struct lb_ctx *ctx, const struct lb_service *svc);
int lb_endpoint_check(struct lb_ctx *ctx, const struct lb_service *svc,
		      const struct lb_endpoint *ep);
/*
 * Whether key and value (bytes of the map's layout) may be written raw into our map
 * of that name (lbmap update): an lb_services or lb_endpoints entry must be one
 * lb_service_add() or lb_endpoint_add() could have written (family, addresses,
 * ports, weight, ids of their own, an n_allow that counts the service's lb_allow
 * entries), an lb_allow entry a prefix of its service's family with the action
 * allow, lb_config keeps its abi_version.  Other maps
 * pass.  0, or -EINVAL / -EAFNOSUPPORT (errmsg says why); another errno when the
 * maps it reads fail.
 */
int lb_map_entry_check(struct lb_ctx *ctx, const char *map, const void *key, const void *value);

enum lb_restore_stage {
	LB_RESTORE_WRITE,	/* the new set, written aside: done of total services */
	LB_RESTORE_REMOVE,	/* after the switch: done of total old services removed */
};

struct lb_restore_opts {
	/* Called after each service; NULL: none. */
	void (*progress)(enum lb_restore_stage stage, size_t done, size_t total, void *cookie);
	void *cookie;
};

/*
 * Replace the live rule set with rs.  Everything is checked before anything is
 * written: -EINVAL / -EAFNOSUPPORT (a bad service or endpoint), -EEXIST (a service
 * or an endpoint of a service listed twice), -ENOSPC (the new set does not fit
 * beside the live one, which stays until the switch).  A failure before the
 * switch leaves the live set as it was.  Needs the writer lock (LB_OPEN_WRITE).
 */
int lb_ruleset_restore(struct lb_ctx *ctx, const struct lb_ruleset *rs,
		       const struct lb_restore_opts *opts);

/*
 * Make the live rule set rs by changing only what differs (services removed,
 * added or reconfigured, their check settings included, endpoints removed, added
 * or given another weight, state or check, allowed prefixes removed or added one
 * by one, timeouts): what rs keeps as it is keeps its ids, counters and
 * scheduler state; allow lists are compared as sets (allow NULL: empty).  Checked whole first, as lb_ruleset_restore() checks (-ENOSPC: rs does
 * not fit the tables alone); a refusal half way takes back what was done.  The
 * change is many map updates, so a new flow may see part of it; but it is made
 * whole: rs is pinned as <root>/ruleset-target before the first update and
 * removed after the last, and a writer killed between leaves it for the next
 * lb_open() with LB_OPEN_WRITE, which applies it again first.  Needs the writer
 * lock (LB_OPEN_WRITE); rs with nothing different changes nothing.
 */
int lb_ruleset_apply(struct lb_ctx *ctx, const struct lb_ruleset *rs);

/*
 * Trace (lb/trace.c): one packet, described here, run through a private instance of
 * the datapath with BPF_PROG_TEST_RUN, and what each stage decided.  The instance
 * shares the live rule maps (lb_config, lb_services, lb_svc_sel, lb_endpoints,
 * lb_allow, which the datapath only reads) and gets private copies of the state this packet can
 * touch (its conntrack entry and that entry's peer, its affinity entry, the
 * scheduler state of its service and endpoints); counters, drops and events are
 * private and start empty.  Nothing live is written: the instance is closed before
 * lb_trace() returns.  Needs what loading the datapath needs (CAP_BPF, CAP_NET_ADMIN).
 */
#define LB_TRACE_PKT_MAX	256	/* bytes of a traced packet */

struct lb_trace_pkt {
	const char *ifname;	/* NULL: the interface the source is routed through when our
				 * program is on its hook, else the first one with it there,
				 * else the routed one, else lo */
	enum lb_hook hook;	/* LB_HOOK_TC_INGRESS or LB_HOOK_XDP */
	uint8_t family;		/* enum lb_family */
	uint8_t proto;		/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP (IPv6: ICMPv6) */
	uint8_t tcp_flags;	/* TCP header flags: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
	struct lb_addr src, dst;
	uint16_t sport, dport;	/* host order; ICMP echo: sport is the identifier */
};

enum lb_trace_ct {
	LB_TRACE_CT_NONE	= 0,	/* no lookup: not TCP or UDP */
	LB_TRACE_CT_MISS,		/* no entry for the packet's tuple */
	LB_TRACE_CT_HIT,		/* an entry of a live flow */
	LB_TRACE_CT_EXPIRED,		/* an entry of a flow past its timeout: a miss */
};

struct lb_trace_result {
	/* The packet, as built and run. */
	char ifname[IF_NAMESIZE];	/* the device it came in on (ctx ifindex) */
	unsigned int ifindex;
	bool attached;			/* our program is on that device's hook */
	uint32_t len;			/* bytes, Ethernet header included */
	uint8_t data[LB_TRACE_PKT_MAX];
	/* What the parser counted: enum lb_ctr, -1 for none. */
	int l3_ctr, l4_ctr;
	/* Conntrack, as the live table had it. */
	enum lb_trace_ct ct;
	struct lb_ct_key ct_key;	/* the packet's tuple (TCP, UDP) */
	struct lb_ct ct_entry;		/* HIT, EXPIRED: the live entry */
	uint64_t ct_age_ns;		/* since it was last seen */
	/* The service: of the live flow on a hit, else the one the slow path looks up. */
	bool has_svc;
	struct lb_svc_key svc_key;	/* gen: the live generation */
	struct lb_svc svc;
	uint32_t svc_gen;
	bool aff_found;			/* persist: a live affinity entry within its time */
	uint32_t aff_ep_id;
	/* The flow after the run (its forward entry), and its endpoint. */
	bool new_flow;			/* the run created it */
	struct lb_ct flow;		/* valid when ep_id != 0 */
	uint32_t ep_id;			/* 0: no flow */
	struct lb_ep ep;
	enum lb_drop drop;		/* LB_DROP_NONE: not dropped */
	/* The verdict and the packet as the program left it. */
	int retval;			/* TC_ACT_* (tc-ingress) or XDP_* (xdp) */
	uint32_t out_len;
	uint8_t out[LB_TRACE_PKT_MAX];
	bool out_ok;			/* out_tuple holds the output's IP header and ports */
	struct lb_ct_key out_tuple;
	uint8_t out_ttl;		/* TTL or hop limit (the input's is 64) */
};

/* -EINVAL (a packet it cannot build), -ENODEV (ifname), -ENOENT (no datapath or no
 * object), -ENOEXEC (the kernel refused the object), -EPERM. */
int lb_trace(struct lb_ctx *ctx, const struct lb_trace_pkt *pkt, struct lb_trace_result *res);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* LB_LB_H */
