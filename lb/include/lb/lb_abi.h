/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lb_abi.h - the one definition of everything the kernel side and user side share:
 * pinned map names, map keys and values, enums, and the rules both apply (static
 * inlines in plain C, no libc: timeouts, expiry, affinity).  Included by bpf/ and lb/.
 *
 * Rules: fixed-width types, explicit padding, no pointers.  Any change to a layout
 * below bumps LB_ABI_VERSION; tools refuse a pin root whose config map holds another
 * version.  struct lb_config.abi_version stays the first field forever, so any
 * version of the tools can read it.
 */
#ifndef LB_ABI_H
#define LB_ABI_H

#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_timer */

#define LB_ABI_BASE		5
#ifndef LB_CT_EXTRA
#define LB_ABI_VERSION		LB_ABI_BASE
#else
#define LB_ABI_VERSION		(0x10000 | LB_ABI_BASE)	/* make LB_CT_EXTRA=1: a test layout */
#endif

/* Pinned names, below <root>/maps and <root>/progs. */
#define LB_MAP_CONFIG		"lb_config"
#define LB_MAP_IF_STATS		"lb_if_stats"
#define LB_MAP_IF_CTR		"lb_if_ctr"
#define LB_MAP_SERVICES		"lb_services"
#define LB_MAP_SVC_STATE	"lb_svc_state"
#define LB_MAP_SEL		"lb_sel"	/* every service's selection table: slices of one array */
#define LB_MAP_SVC_EPS		"lb_svc_eps"
#define LB_MAP_ENDPOINTS	"lb_endpoints"
#define LB_MAP_EP_STATE		"lb_ep_state"
#define LB_MAP_SVC_STATS	"lb_svc_stats"
#define LB_MAP_EP_STATS		"lb_ep_stats"
#define LB_MAP_CT		"lb_ct"
#define LB_MAP_EP_NH		"lb_ep_nh"	/* per CPU: the next hop toward each endpoint */
#define LB_MAP_DROPS		"lb_drops"
#define LB_MAP_JMP		"lb_jmp"
#define LB_MAP_GC		"lb_gc"
#define LB_MAP_AFFINITY		"lb_affinity"
#define LB_MAP_ALLOW		"lb_allow"	/* LPM trie: (service id, source prefix) -> rule */
#define LB_MAP_HEALTH		"lb_health"	/* health checks: settings and state (user space only) */
#define LB_MAP_CHAIN		"lb_chain"	/* XDP chains: prog array (lb_chain.h) */
#define LB_MAP_CHAIN_CFG	"lb_chain_cfg"	/* ifindex -> live layout of its XDP chain */
#define LB_MAP_CHAIN_POS	"lb_chain_pos"	/* per CPU: where the current packet is */
#define LB_MAP_CHAIN_STATS	"lb_chain_stats"	/* per CPU: packets per lb_chain slot */

#define LB_PROG_XDP		"lb_xdp"
#define LB_PROG_TC_INGRESS	"lb_tc_ingress"
#define LB_PROG_TC_EGRESS	"lb_tc_egress"
#define LB_PROG_TC_SLOW		"lb_tc_slow"	/* tail-call target, lb_jmp slot 0 */
#define LB_PROG_TC_ICMP		"lb_tc_icmp"	/* tail-call target, lb_jmp slot 1 */
#define LB_PROG_GC_ARM		"lb_gc_arm"	/* run once by liblb: starts the sweep timer */
#define LB_PROG_XDP_CHAINED	"lb_xdp_chained"	/* lb_xdp as an element of an XDP chain */
#define LB_PROG_CHAIN_ENTRY	"lb_chain_entry"	/* attached to XDP: starts the chain */
#define LB_PROG_CHAIN_STEP	"lb_chain_step"		/* lb_chain slot 0: the next program */

/* The BPF object that holds the datapath, looked up in the BPF object directory. */
#define LB_DATAPATH_OBJ		"lb_datapath.bpf.o"

/* Map sizes (defaults; lb_datapath_load may be given others on first load). */
#define LB_IF_STATS_MAX		1024	/* (ifindex, hook) pairs */
#define LB_SERVICES_MAX		1024
#define LB_ENDPOINTS_MAX	8192	/* endpoint ids 1..max-1; 0 means none */
#define LB_CT_MAX		65536	/* conntrack entries, both directions count */
#define LB_AFFINITY_MAX		16384	/* (service, client) pairs remembered for persist */
#define LB_SVC_EPS_MAX		4096	/* endpoints one service can have */
#define LB_ALLOW_MAX		65536	/* allowed source prefixes, all services together */
#define LB_SEL_MAX		524287	/* largest selection table (Maglev M, prime) */
#define LB_SEL_SLOTS		1048576	/* lb_sel: slots for the tables of all services */
#define LB_WRR_MAX		65537	/* longest wrr and random sequence */
#define LB_MAGLEV_DEFAULT	16381	/* prime */
#define LB_MAGLEV_SLOTS_PER_EP	100	/* Maglev M grows to keep each share within 1% */

/*
 * XDP chains.  lb_chain (a prog array) holds the step program in slot
 * LB_CHAIN_STEP and then LB_CHAIN_REGIONS regions of LB_CHAIN_LEN_MAX slots; each
 * chain owns two regions, the live layout and the next one.  A change writes the
 * next region, then switches lb_chain_cfg[ifindex] to it with one map update
 * (a hash map without preallocation, so readers see the old value or the new one).
 */
#define LB_CHAIN_STEP		0	/* slot of the step program */
#define LB_CHAIN_LEN_MAX	16	/* programs in one XDP chain (tail-call limit 33) */
#define LB_CHAIN_REGIONS	64	/* two per chain: the live layout and the next one */
#define LB_CHAIN_SLOTS		(1 + LB_CHAIN_REGIONS * LB_CHAIN_LEN_MAX)
#define LB_CHAIN_IFS_MAX	(LB_CHAIN_REGIONS / 2)

/* lb_chain_cfg: BPF_MAP_TYPE_HASH (no prealloc), __u32 ifindex -> struct lb_chain_cfg */
struct lb_chain_cfg {
	__u32 base;		/* first lb_chain slot of the live layout */
	__u32 len;		/* programs in it */
	__u32 region[2];	/* the regions this chain owns; base is in one of them */
	__u64 revision;		/* bumped by every change of this chain */
};

/* lb_chain_pos: BPF_MAP_TYPE_PERCPU_ARRAY, one element: the packet in flight. */
struct lb_chain_pos {
	__u32 ifindex;		/* set by the entry program; the step checks it */
	__u32 base;
	__u32 len;
	__u32 idx;		/* position of the program running now */
};

/* Tail-call slots of LB_MAP_JMP. */
enum lb_jmp_slot {
	LB_JMP_TC_SLOW		= 0,	/* new flow: service lookup, scheduling, CT create */
	LB_JMP_TC_ICMP		= 1,	/* ICMP error about a flow: translate it */
	LB_JMP_MAX		= 4,
};

/* Where a program runs.  Also the names of link pins below <root>/links/<ifname>/. */
enum lb_hook {
	LB_HOOK_XDP		= 0,
	LB_HOOK_TC_INGRESS	= 1,
	LB_HOOK_TC_EGRESS	= 2,
	LB_HOOK_MAX,
};

/*
 * Per-interface counters.  Every packet counts once in LB_CTR_RX, once in one L3
 * class (IPV4, IPV6, NONIP) and, when it is IP, once in one L4 class (TCP, UDP,
 * ICMP, ICMPV6, FRAG for non-first fragments, L4_OTHER) or in MALFORMED when a
 * header is truncated or inconsistent.
 */
enum lb_ctr {
	LB_CTR_RX		= 0,
	LB_CTR_IPV4		= 1,
	LB_CTR_IPV6		= 2,
	LB_CTR_NONIP		= 3,
	LB_CTR_TCP		= 4,
	LB_CTR_UDP		= 5,
	LB_CTR_ICMP		= 6,
	LB_CTR_ICMPV6		= 7,
	LB_CTR_FRAG		= 8,
	LB_CTR_L4_OTHER		= 9,
	LB_CTR_MALFORMED	= 10,
	LB_CTR_MAX,
};

struct lb_counter {
	__u64 packets;
	__u64 bytes;
};

/*
 * Per-interface counters live in two maps.  lb_if_ctr, a BPF_MAP_TYPE_PERCPU_ARRAY
 * indexed by lb_if_ctr_index(), holds interfaces whose ifindex is below
 * LB_IF_CTR_IFINDEX_MAX: an array lookup is inlined by the verifier, where a hash
 * lookup is a helper call (~28 ns per packet here).  Higher ifindexes count in
 * lb_if_stats, a BPF_MAP_TYPE_PERCPU_HASH keyed by struct lb_if_key.  Readers sum
 * both (an upgrade from a datapath that counted only in lb_if_stats keeps its
 * totals that way).
 */
#define LB_IF_CTR_IFINDEX_MAX	256

static inline __attribute__((always_inline)) __u32 lb_if_ctr_index(__u32 ifindex, __u32 hook)
{
	return ifindex * LB_HOOK_MAX + hook;
}

/* lb_if_stats: BPF_MAP_TYPE_PERCPU_HASH, struct lb_if_key -> struct lb_if_stats */
struct lb_if_key {
	__u32 ifindex;
	enum lb_hook hook;	/* 4 bytes, as the __u32 it was: the layout is unchanged */
};

struct lb_if_stats {
	struct lb_counter ctr[LB_CTR_MAX];
};

/* An IPv4 or IPv6 address, network order; IPv4 lives in a[0], a[1..3] are 0. */
struct lb_addr {
	__u32 a[4];
};

enum lb_family {
	LB_AF_INET	= 4,
	LB_AF_INET6	= 6,
};

/* Conntrack timeouts, seconds, by protocol and state.  Only TCP and UDP are
 * tracked; slots 4 to 7 of lb_config.timeout are unused. */
enum lb_timeout {
	LB_TO_TCP_SYN	= 0,	/* handshake not finished */
	LB_TO_TCP_EST	= 1,
	LB_TO_TCP_FIN	= 2,	/* FIN or RST seen */
	LB_TO_UDP	= 3,
	LB_TO_MAX	= 8,
};

/* Built-in timeouts, seconds, where the config map holds 0.  Both sides use this. */
static inline __u32 lb_timeout_default(__u32 which)
{
	switch (which) {
	case LB_TO_TCP_SYN:	return 60;
	case LB_TO_TCP_EST:	return 7440;	/* beyond the 2 h TCP keepalive */
	case LB_TO_TCP_FIN:	return 10;
	case LB_TO_UDP:		return 60;
	default:		return 30;
	}
}

/* lb_config: BPF_MAP_TYPE_ARRAY, one element at key 0. */
struct lb_config {
	__u32 abi_version;	/* LB_ABI_VERSION of the tools that created the maps */
	__u32 flags;		/* reserved, 0 */
	__u64 created_ns;	/* CLOCK_REALTIME when the pin root was first loaded */
	__u32 timeout[LB_TO_MAX];	/* enum lb_timeout -> seconds; 0: built-in default */
	__u16 snat_port_min;	/* full NAT source ports, host order */
	__u16 snat_port_max;
	__u32 gc_interval_ms;	/* conntrack sweep period; 0: LB_GC_INTERVAL_MS */
	__u32 gc_reserved;	/* 0 (was gc_budget: every sweep now walks the whole table) */
	/*
	 * Rule-set generation: lb_services keys whose gen is svc_gen & 1 are live; the
	 * others are a restore being built (lbctl restore).  Bumped by one update that
	 * switches every service at once; read once per new flow.
	 */
	__u32 svc_gen;
	__u32 reserved[8];
};

#define LB_GC_INTERVAL_MS	1000
/* The next sweep waits at least this many times the last one's duration: under 1%
 * of one CPU, with room for walks that take longer than the one before. */
#define LB_GC_CPU_SHARE		120
/* The table was full within 2 sweep periods: a flow that has not been answered
 * (state NEW) or is closing, idle this long, is removed to make room, as the
 * kernel's conntrack drops unassured entries early. */
#define LB_CT_EARLY_NS		1000000000ull

/*
 * lb_gc: BPF_MAP_TYPE_ARRAY, one element: the conntrack sweep's timer and
 * progress.  User space reads it but must never write it (that cancels the timer).
 */
struct lb_gc {
	struct bpf_timer timer;
	__u64 entries;		/* entries the last sweep saw */
	__u64 runs;		/* sweeps done */
	__u64 expired;		/* entries removed */
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last sweep */
	__u64 zero;		/* always 0; see gc.h */
	__u64 sweep_ns;		/* time spent sweeping, all sweeps (softirq) */
	__u64 early;		/* unanswered entries removed early, the table full */
	__u64 full_ns;		/* bpf_ktime_get_ns() when a new flow last found no room */
	/* The datapath's clock (bpf/lib/ct.h): jiffies * tick_ns + clock_off, which the
	 * sweep sets each run to the coarse monotonic clock; tick_ns 0: not set. */
	__u64 clock_off;
	__u64 tick_ns;
};

/* Schedulers: how a service picks an endpoint for a new flow. */
enum lb_sched {
	LB_SCHED_RR	= 0,	/* round robin over up endpoints */
	LB_SCHED_WRR	= 1,	/* smooth weighted round robin */
	LB_SCHED_RANDOM	= 2,	/* weighted random */
	LB_SCHED_HASH	= 3,	/* source address hash over a Maglev table */
	LB_SCHED_MAGLEV	= 4,	/* 5-tuple hash over a Maglev table */
	LB_SCHED_LC	= 5,	/* least active flows per weight */
	LB_SCHED_MAX,
};

enum lb_nat_mode {
	LB_NAT_DNAT	= 0,	/* rewrite destination; replies must route back through us */
	LB_NAT_FULLNAT	= 1,	/* rewrite source too: snat address, port from the range */
};

enum lb_ep_status {
	LB_EP_UP	= 0,
	LB_EP_DRAIN	= 1,	/* no new flows; established ones continue */
	LB_EP_DOWN	= 2,	/* no new flows; established ones are flushed */
};

/* lb_services: BPF_MAP_TYPE_HASH, struct lb_svc_key -> struct lb_svc */
struct lb_svc_key {
	struct lb_addr vip;
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	__u8 family;		/* enum lb_family */
	__u8 gen;		/* rule-set generation: 0 or 1; live is lb_config.svc_gen & 1 */
	__u8 pad[3];		/* 0 */
};

#define LB_SVC_F_SNAT_IFADDR	(1U << 0)	/* full NAT from the egress address */

struct lb_svc {
	__u32 id;		/* 1..LB_SERVICES_MAX-1: index of per-service arrays */
	__u8 sched;		/* enum lb_sched */
	__u8 mode;		/* enum lb_nat_mode */
	__u8 family;
	__u8 flags;		/* LB_SVC_F_* */
	__u32 persist;		/* source affinity, seconds; 0 off */
	__u32 sel_len;		/* entries in this service's selection table */
	struct lb_addr snat;	/* full NAT source address */
	__u32 n_eps;		/* endpoints, listed in lb_svc_eps */
	__u32 n_allow;		/* its prefixes in lb_allow; 0: every source */
	__u32 maglev_size;	/* Maglev table size (prime) for hash and maglev */
	__u32 sel_off;		/* its table: lb_sel[sel_off .. sel_off + sel_len) */
};

/*
 * lb_sel: BPF_MAP_TYPE_ARRAY, slot -> endpoint id.  The selection tables of all
 * services are slices of this one array, each named by (sel_off, sel_len) in the
 * service's lb_services value, which an update replaces whole: a new flow reads
 * the old table or the new one, never a mix of lengths.  Slot 0 belongs to no
 * table; it holds where liblb looks for free space next (next fit, so that space
 * a table just left is the last to be taken again).  A table is written before the
 * value that names it.  Space is reused without waiting for readers, so the
 * datapath takes a slot's endpoint only when that endpoint belongs to the service
 * (bpf/lb_datapath.bpf.c).  No map-in-map: each update of one waits for an RCU
 * grace period (~12 ms), which a per-service write cannot afford.
 *
 * The slots a table holds follow from its scheduler and length: rr and lc tables
 * (the usable endpoints in list order) have room to grow in place, a power of two
 * from 16; the others are rebuilt whole on every change and hold exactly len.
 */
static inline __attribute__((always_inline))
__u32 lb_sel_room(__u8 sched, __u32 len)
{
	__u32 room = 16;

	if (sched != LB_SCHED_RR && sched != LB_SCHED_LC)
		return len;
	while (room < len)
		room *= 2;
	return room < LB_SVC_EPS_MAX ? room : LB_SVC_EPS_MAX;
}

/* A source prefix: the address's network bits, the rest 0. */
struct lb_prefix {
	struct lb_addr addr;
	__u32 prefix_len;
};

/*
 * lb_allow: BPF_MAP_TYPE_LPM_TRIE (no prealloc), struct lb_allow_key ->
 * struct lb_allow: the allowed sources of every service in one trie, keyed by
 * service id (always matched whole) and source prefix.  A service whose n_allow
 * is not 0 takes a new flow only when the longest match for (its id, source)
 * says LB_ALLOW_PASS; the lookup is made by new flows only.
 */
struct lb_allow_key {
	__u32 prefixlen;	/* 32 (svc_id) + the prefix's length */
	__u32 svc_id;
	struct lb_addr src;	/* network order; IPv4 in a[0] (the service's family) */
};

#define LB_ALLOW_KEY_BITS(plen)	(32 + (plen))

/* What a matching prefix says; a later ACL adds its actions here. */
enum lb_allow_action {
	LB_ALLOW_PASS	= 1,	/* the source may open flows */
};

struct lb_allow {
	__u8 action;		/* enum lb_allow_action */
	__u8 prefix_len;	/* the entry's own prefix length: which entry matched */
	__u16 pad;		/* 0 */
};

/*
 * lb_svc_eps: BPF_MAP_TYPE_HASH, (service id, index) -> endpoint id: the ids of a
 * service's endpoints (all states) at indexes 0..n_eps-1, in the order they were
 * added.  Sized like lb_endpoints (an entry per endpoint); read by user space
 * only: the datapath picks from the selection table (lb_sel).
 */
struct lb_svc_ep_key {
	__u32 svc_id;
	__u32 idx;
};

/*
 * lc's choice between the two endpoints it drew (bpf/lib/sched.h; the unit test's
 * simulation): b when it has fewer active flows per unit of weight than a, compared
 * without division.  A weight of 0 never wins; a tie keeps a, itself drawn at random.
 */
static inline __attribute__((always_inline))
int lb_lc_prefer_b(__s64 a_active, __u32 a_weight, __s64 b_active, __u32 b_weight)
{
	if (!b_weight)
		return 0;
	if (!a_weight)
		return 1;
	return b_active * a_weight < a_active * b_weight;
}

/* lb_svc_state: BPF_MAP_TYPE_ARRAY, service id -> scheduler state (shared by CPUs).
 * Element 0 (id 0 is never a service) holds liblb's id allocation hint in
 * rr_cursor: the id after the last one given out. */
struct lb_svc_state {
	__u64 rr_cursor;	/* atomically incremented per new flow */
};

/* lb_svc_stats, lb_ep_stats: BPF_MAP_TYPE_PERCPU_ARRAY, id -> counters */
struct lb_obj_stats {
	__u64 packets;		/* both directions */
	__u64 bytes;
	__u64 flows;		/* flows created */
	__u64 drops;
};

/* lb_endpoints: BPF_MAP_TYPE_ARRAY, endpoint id -> struct lb_ep */
struct lb_ep {
	struct lb_addr addr;
	__be16 port;
	__u8 family;
	__u8 status;		/* enum lb_ep_status */
	__u32 weight;
	__u32 flags;		/* LB_EP_F_* */
	__u32 svc_id;		/* 0: free slot */
};

/* Its health check failed (and the service is not failing open): no new flows,
 * as for drain.  Written by liblb from lb_health; the operator's status stays. */
#define LB_EP_F_SICK		(1U << 0)

/* An endpoint new flows may go to: up by the operator, healthy, weighted. */
static inline int lb_ep_usable(const struct lb_ep *ep)
{
	return ep->status == LB_EP_UP && !(ep->flags & LB_EP_F_SICK) && ep->weight;
}

/*
 * lb_health: BPF_MAP_TYPE_HASH, struct lb_health_key -> struct lb_health.  Health
 * check settings and state, read and written by user space only (lbctl health).
 * Keyed by names, not ids, so they survive a restore: a service's own entry has
 * ep_port 0 and addr 0; an endpoint's entry names its address and port too.
 */
enum lb_check_type {
	LB_CHECK_INHERIT = 0,	/* an endpoint: the service's check; a service: none */
	LB_CHECK_NONE	= 1,
	LB_CHECK_TCP	= 2,	/* connect */
	LB_CHECK_HTTP	= 3,	/* GET path, the status line */
	LB_CHECK_UDP	= 4,	/* a datagram, an answer */
	LB_CHECK_MAX,
};

#define LB_CHECK_PATH_MAX	96
#define LB_CHECK_HOST_MAX	64
#define LB_CHECK_DATA_MAX	32
#define LB_CHECK_REASON_MAX	64

/* Defaults, as HAProxy's. */
#define LB_CHECK_INTERVAL_MS	2000
#define LB_CHECK_TIMEOUT_MS	1000
#define LB_CHECK_RISE		2
#define LB_CHECK_FALL		3

/* Settings; 0 (or an empty string): the service's for an endpoint, the default
 * for a service. */
struct lb_check {
	__u8 type;		/* enum lb_check_type */
	__u8 rise;		/* consecutive successes that bring an endpoint up */
	__u8 fall;		/* consecutive failures that take it down */
	__u8 payload_len;	/* udp */
	__u8 expect_len;	/* udp: the answer starts with expect[]; 0: any answer */
	__u8 pad;
	__u16 expect_code;	/* http: this status; 0: any 2xx or 3xx */
	__u32 interval_ms;
	__u32 timeout_ms;
	char path[LB_CHECK_PATH_MAX];	/* http, NUL-terminated */
	char host[LB_CHECK_HOST_MAX];	/* http Host:; "": the endpoint's address */
	__u8 payload[LB_CHECK_DATA_MAX];
	__u8 expect[LB_CHECK_DATA_MAX];
};

struct lb_health_key {
	struct lb_addr vip;
	struct lb_addr addr;	/* the endpoint; 0 for the service's entry */
	__be16 port;		/* the service's */
	__be16 ep_port;		/* the endpoint's; 0 for the service's entry */
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

enum lb_health_state {
	LB_HEALTH_UNKNOWN = 0,	/* not decided yet: serves */
	LB_HEALTH_UP	= 1,
	LB_HEALTH_DOWN	= 2,
};

enum lb_probe_result {
	LB_HEALTH_NONE	= 0,	/* never probed */
	LB_HEALTH_OK	= 1,
	LB_HEALTH_FAIL	= 2,
};

struct lb_health {
	struct lb_check check;
	__u8 state;		/* enum lb_health_state (endpoints) */
	__u8 last;		/* enum lb_probe_result of the last probe */
	__u8 panic;		/* a service's entry: failing open now */
	__u8 pad;
	__u32 ok_run;		/* consecutive successes */
	__u32 fail_run;		/* consecutive failures */
	__u32 pad2;
	__u64 last_ns;		/* CLOCK_REALTIME at the end of the last probe */
	__u64 change_ns;	/* CLOCK_REALTIME of the last change of state (or panic) */
	__u64 panics;		/* a service's entry: times it began failing open */
	char reason[LB_CHECK_REASON_MAX];	/* why the last probe failed */
};

/* lb_ep_state: BPF_MAP_TYPE_ARRAY, endpoint id -> shared state.  Element 0 (id 0
 * is never an endpoint) holds liblb's id allocation hint in active. */
struct lb_ep_state {
	__s64 active;		/* flows open (lc scheduler); decremented when they end */
};

/*
 * lb_ct: BPF_MAP_TYPE_HASH (never evicts: see bpf/lib/ct.h).  Each flow has two
 * entries, one per direction, keyed by the packet as it arrives; each says how to
 * rewrite that direction.
 */
struct lb_ct_key {
	struct lb_addr src;
	struct lb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

enum lb_ct_state {
	LB_CT_NEW	= 0,	/* first packets: the endpoint has not answered, or the
				 * client has not spoken since it did */
	LB_CT_EST	= 1,	/* the client spoke after the endpoint's answer (for TCP
				 * the handshake's last ACK): a flow of two real peers */
	LB_CT_CLOSING	= 2,	/* FIN or RST seen */
};

#define LB_CT_F_REPLY		(1U << 0)	/* this entry is the reply direction */
#define LB_CT_F_SNAT		(1U << 1)	/* rewrite source too (full NAT) */
/* Forward entry: the flow counts in its endpoint's lb_ep_state.active.  Whoever
 * ends the flow (a FIN or RST, the sweep, a new flow taking a dead one's tuple)
 * clears it atomically, and only the one who cleared it decrements: once. */
#define LB_CT_F_ACTIVE		(1U << 2)
/* Both entries: the endpoint answered (set atomically, as LB_CT_F_ACTIVE is
 * cleared: they share a word).  The flow becomes EST when the client sends
 * again: a spoofed source, which never sees the answer, never gets there. */
#define LB_CT_F_REPLIED		(1U << 3)

struct lb_ct {
	struct lb_addr nat_src;	/* rewrite the packet to these */
	struct lb_addr nat_dst;
	__be16 nat_sport;
	__be16 nat_dport;
	__u8 state;		/* enum lb_ct_state */
	__u8 flags;		/* LB_CT_F_* */
	__u16 pad;
	__u32 svc_id;
	__u32 ep_id;
#ifdef LB_CT_EXTRA
	__u64 extra;		/* a field the upgrade test's second build adds */
#endif
	__u64 created_ns;	/* bpf_ktime_get_ns() */
	__u64 last_seen_ns;
	/* The next hop of the rewritten packets, learnt from bpf_fib_lookup and
	 * trusted for LB_NH_MAX_AGE (bpf/lib/fwd.h): the established path then makes
	 * no FIB call.  nh_ifindex 0: nothing learnt yet. */
	__u32 nh_ifindex;
	__u32 nh_stamp;		/* lb_nh_stamp() when learnt */
	__u8 nh_dmac[6];
	__u8 nh_smac[6];
	__u16 nh_mtu;		/* longest IP packet known to fit (XDP's check) */
	__u16 nh_pad;
};

/* The next-hop cache of an entry (bpf/lib/fwd.h): stamps count 2^20 ns (about
 * 1.05 ms) in 32 bits, so they wrap after 52 days and the unsigned difference
 * stays right across the wrap.  A cached next hop older than LB_NH_MAX_AGE is
 * asked of the FIB again: the bound on how long a route or neighbour change
 * takes to reach an established flow. */
#define LB_NH_SHIFT	20
#define LB_NH_MAX_AGE	954		/* stamps: 1.0 s */

static inline __attribute__((always_inline)) __u32 lb_nh_stamp(__u64 now_ns)
{
	return now_ns >> LB_NH_SHIFT;
}

static inline __attribute__((always_inline))
int lb_nh_fresh_at(__u32 nh_ifindex, __u32 nh_stamp, __u64 now_ns)
{
	return nh_ifindex && lb_nh_stamp(now_ns) - nh_stamp < LB_NH_MAX_AGE;
}

static inline __attribute__((always_inline))
int lb_nh_fresh(const struct lb_ct *ct, __u64 now_ns)
{
	return lb_nh_fresh_at(ct->nh_ifindex, ct->nh_stamp, now_ns);
}

/*
 * lb_ep_nh: BPF_MAP_TYPE_PERCPU_ARRAY, LB_EP_NH_SLOTS entries, slot
 * lb_ep_nh_slot(endpoint id) -> struct lb_ep_nh.  What the FIB answered for the
 * first packet of the last new flow toward an endpoint, so that the next new
 * flows toward it within LB_NH_MAX_AGE, asking the same question, make no FIB
 * call (bpf/lib/fwd.h).  The question is the whole tag (source, destination,
 * ingress device): an endpoint id given to another address, or a slot shared
 * by two endpoints, only misses.  Per CPU, so no reader sees a half-written
 * slot, and of a fixed size whatever the number of endpoints.
 */
#define LB_EP_NH_SLOTS	4096

static inline __attribute__((always_inline)) __u32 lb_ep_nh_slot(__u32 ep_id)
{
	return ep_id & (LB_EP_NH_SLOTS - 1);
}

struct lb_ep_nh {
	struct lb_addr src;	/* the question: rewritten source, */
	struct lb_addr dst;	/* destination (the endpoint's address), */
	__u32 ifindex_in;	/* ingress device */
	__u32 nh_ifindex;	/* the answer, as in struct lb_ct (0: none) */
	__u32 nh_stamp;
	__u8 nh_dmac[6];
	__u8 nh_smac[6];
};

/* The key of the other direction: what arrives after this entry's rewrite, reversed. */
static inline __attribute__((always_inline))
void lb_ct_peer_key(const struct lb_ct_key *k, const struct lb_ct *ct, struct lb_ct_key *peer)
{
	*peer = (struct lb_ct_key){ .pad = 0 };	/* pad too: the whole key is hashed */
	peer->src = ct->nat_dst;
	peer->dst = ct->nat_src;
	peer->sport = ct->nat_dport;
	peer->dport = ct->nat_sport;
	peer->proto = k->proto;
	peer->family = k->family;
}

/*
 * When an entry of lb_ct expires, the one rule of the datapath (bpf/lib/ct.h, the
 * sweep) and of liblb (conntrack listing and flushing, trace): the timeout of its
 * protocol and, for TCP, its state, from lb_config (0 there: the built-in one),
 * counted from last_seen_ns.  A flow is dead when both of its entries (the other
 * one under lb_ct_peer_key) have expired.
 */
static inline __attribute__((always_inline))
__u32 lb_ct_timeout_which(__u8 proto, __u8 state)
{
	if (proto == 6)		/* IPPROTO_TCP */
		return state == LB_CT_EST ? LB_TO_TCP_EST :
		       state == LB_CT_CLOSING ? LB_TO_TCP_FIN : LB_TO_TCP_SYN;
	return LB_TO_UDP;	/* the only other protocol tracked */
}

/* Seconds; cfg may be NULL (then the built-in timeouts). */
static inline __attribute__((always_inline))
__u32 lb_ct_timeout(const struct lb_config *cfg, __u8 proto, __u8 state)
{
	__u32 which = lb_ct_timeout_which(proto, state), t = 0;

	if (cfg && which < LB_TO_MAX)
		t = cfg->timeout[which];
	return t ? t : lb_timeout_default(which);
}

/*
 * How long ago, at now (CLOCK_MONOTONIC ns), the entry was last seen.  0 when it
 * was stamped after now was read (by another CPU): fresh, not 2^64 ns old.
 */
static inline __attribute__((always_inline))
__u64 lb_ct_age(__u64 last_seen_ns, __u64 now)
{
	return now > last_seen_ns ? now - last_seen_ns : 0;
}

/* An entry of that age has expired under a timeout of timeout_s seconds. */
static inline __attribute__((always_inline))
int lb_ct_age_expired(__u64 age_ns, __u32 timeout_s)
{
	return age_ns > (__u64)timeout_s * 1000000000ull;
}

/* lb_affinity: BPF_MAP_TYPE_LRU_HASH, which endpoint a client of a persistent
 * service had last; new flows within svc->persist seconds go there again. */
struct lb_aff_key {
	struct lb_addr client;
	__u32 svc_id;
	__u32 pad;
};

struct lb_aff {
	__u32 ep_id;
	__u32 pad;
	__u64 last_seen_ns;
};

/* The remembered endpoint still holds at now (ns): seen within persist seconds. */
static inline __attribute__((always_inline))
int lb_aff_fresh(__u64 last_seen_ns, __u64 now, __u32 persist_s)
{
	return last_seen_ns >= now || now - last_seen_ns < (__u64)persist_s * 1000000000ull;
}

/* Why a packet was dropped: lb_drops is a per-CPU array indexed by this. */
enum lb_drop {
	LB_DROP_NONE		= 0,
	LB_DROP_NO_ENDPOINT	= 1,	/* service without an up endpoint */
	LB_DROP_NOT_ALLOWED	= 2,	/* source outside the service's allow list */
	LB_DROP_CT_FULL		= 3,	/* flow could not be recorded */
	LB_DROP_NO_SNAT_PORT	= 4,	/* full NAT: no free source port */
	LB_DROP_NO_SNAT_ADDR	= 5,	/* full NAT: no source address for the egress */
	LB_DROP_REWRITE		= 6,	/* a checksum or store helper failed */
	LB_DROP_CT_EARLY	= 7,	/* an unanswered flow's entry removed to make room
					 * (counted per entry by the sweep, not per packet) */
	LB_DROP_MAX		= 16,
};

/*
 * Monitor (bpf/lib/events.h, lbctl monitor).  The datapath puts events into the
 * lb_events ring buffer only while lb_monitor.mask asks for them; a monitor renews
 * until_ns every second and the conntrack sweep clears the mask once until_ns has
 * passed, so a monitor that dies stops the event work within LB_MON_LEASE_NS.
 */
#define LB_MAP_EVENTS		"lb_events"	/* BPF_MAP_TYPE_RINGBUF of struct lb_event */
#define LB_MAP_MONITOR		"lb_monitor"	/* ARRAY (mmapable), one struct lb_monitor */
#define LB_EVENTS_SIZE		(256 * 1024)	/* bytes of the ring */
#define LB_EVENT_CAP		128		/* packet bytes an event carries */
#define LB_MON_LEASE_NS		3000000000ull	/* a monitor renews every second */

/* lb_monitor.mask bits: which events the datapath produces. */
#define LB_MON_DROPS		(1U << 0)	/* LB_EV_DROP */
#define LB_MON_FLOWS		(1U << 1)	/* LB_EV_FLOW_NEW, LB_EV_FLOW_END */

struct lb_monitor {
	__u32 mask;		/* LB_MON_*; 0: nobody listens, no event work */
	__u32 owner;		/* pid of the monitor that holds the ring */
	__u64 until_ns;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) end of the lease */
	__u64 lost;		/* events not recorded: the ring was full */
	__u64 reserved;
};

enum lb_event_type {
	LB_EV_DROP	= 1,	/* a packet dropped (lb_drops), with its first bytes */
	LB_EV_FLOW_NEW	= 2,	/* a flow recorded in lb_ct, with its first packet's bytes */
	LB_EV_FLOW_END	= 3,	/* the sweep removed an expired flow (no packet) */
};

/*
 * One event.  Flow-end events are offsetof(struct lb_event, data) bytes long.
 * family 0: the datapath had no tuple (a drop outside the flow code); the
 * addresses are then in the packet bytes.
 */
struct lb_event {
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u8 type;		/* enum lb_event_type */
	__u8 reason;		/* drops: enum lb_drop */
	__u8 hook;		/* enum lb_hook */
	__u8 family;		/* enum lb_family of the tuples; 0: none */
	__u8 proto;		/* IPPROTO_* */
	__u8 state;		/* flow end: enum lb_ct_state */
	__u16 cap_len;		/* packet bytes in data[] */
	__u32 ifindex;		/* where the packet came in (0 for flow end) */
	__u32 pkt_len;		/* the packet's length, Ethernet header included */
	__u32 svc_id;
	__u32 ep_id;
	struct lb_addr src;	/* the packet as it arrived (client -> VIP) */
	struct lb_addr dst;
	struct lb_addr nat_src;	/* flows: as it leaves (source, endpoint) */
	struct lb_addr nat_dst;
	__be16 sport;
	__be16 dport;
	__be16 nat_sport;
	__be16 nat_dport;
	__u64 created_ns;	/* flow end: when the flow began (bpf_ktime_get_ns) */
	__u64 last_ns;		/* flow end: its last packet */
	__u8 data[LB_EVENT_CAP];	/* the packet from its Ethernet header */
};

#endif /* LB_ABI_H */
