/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lb_abi.h - the one definition of everything the kernel side and user side share:
 * pinned map names, map keys and values, enums.  Included by bpf/ and lb/.
 *
 * Rules: fixed-width types, explicit padding, no pointers.  Any change to a layout
 * below bumps LB_ABI_VERSION; tools refuse a pin root whose config map holds another
 * version.  struct lb_config.abi_version stays the first field forever, so any
 * version of the tools can read it.
 */
#ifndef LB_ABI_H
#define LB_ABI_H

#include <linux/types.h>

#define LB_ABI_VERSION		1

/* Pinned names, below <root>/maps and <root>/progs. */
#define LB_MAP_CONFIG		"lb_config"
#define LB_MAP_IF_STATS		"lb_if_stats"

#define LB_PROG_XDP		"lb_xdp"
#define LB_PROG_TC_INGRESS	"lb_tc_ingress"
#define LB_PROG_TC_EGRESS	"lb_tc_egress"

/* The BPF object that holds the datapath, looked up in the BPF object directory. */
#define LB_DATAPATH_OBJ		"lb_datapath.bpf.o"

/* Map sizes. */
#define LB_IF_STATS_MAX		1024	/* (ifindex, hook) pairs */

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

/* lb_if_stats: BPF_MAP_TYPE_PERCPU_HASH, struct lb_if_key -> struct lb_if_stats */
struct lb_if_key {
	__u32 ifindex;
	__u32 hook;		/* enum lb_hook */
};

struct lb_if_stats {
	struct lb_counter ctr[LB_CTR_MAX];
};

/* lb_config: BPF_MAP_TYPE_ARRAY, one element at key 0. */
struct lb_config {
	__u32 abi_version;	/* LB_ABI_VERSION of the tools that created the maps */
	__u32 flags;		/* reserved, 0 */
	__u64 created_ns;	/* CLOCK_REALTIME when the pin root was first loaded */
	__u64 reserved[6];
};

#endif /* LB_ABI_H */
