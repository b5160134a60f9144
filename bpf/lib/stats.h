/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-CPU counters per interface and per service or endpoint: no atomics needed,
 * user space sums the CPUs. */
#ifndef LB_STATS_H
#define LB_STATS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "ablate.h"
#include "maps.h"
#include "parse.h"

/* The (interface, hook) entry of lb_if_stats, created on its first packet. */
static __always_inline struct lb_if_stats *lb_if_stats_get(__u32 ifindex, __u32 hook)
{
	struct lb_if_key key = { .ifindex = ifindex, .hook = hook };
	struct lb_if_stats *st;

	st = bpf_map_lookup_elem(&lb_if_stats, &key);
	if (st)
		return st;
	/* First packet on this (interface, hook): create the entry. A per-CPU value
	 * is zeroed on every CPU by the update. When the map is full, do not count. */
	{
		static const struct lb_if_stats zero;

		bpf_map_update_elem(&lb_if_stats, &key, &zero, BPF_NOEXIST);
	}
	return bpf_map_lookup_elem(&lb_if_stats, &key);
}

static __always_inline void lb_ctr_add(struct lb_if_stats *st, __u32 idx, __u64 bytes)
{
	/* The compiler knows the classes the parser sets and would drop this check;
	 * the verifier may not (a class spilled to the stack loses its range). */
	asm volatile("" : "+r"(idx));
	if (idx < LB_CTR_MAX) {
		st->ctr[idx].packets++;
		st->ctr[idx].bytes += bytes;
	}
}

static __always_inline void lb_count_into(struct lb_if_stats *st, const struct lb_pkt *pkt,
					  __u64 bytes)
{
	lb_ctr_add(st, LB_CTR_RX, bytes);
	lb_ctr_add(st, pkt->l3_ctr, bytes);
	if (pkt->l4_ctr)
		lb_ctr_add(st, pkt->l4_ctr, bytes);
	else if (pkt->truncated)
		lb_ctr_add(st, LB_CTR_MALFORMED, bytes);	/* cut inside L2 */
}

/*
 * Count a packet on its interface and hook: lb_if_ctr (an inlined array lookup)
 * for the usual small ifindex, lb_if_stats (a hash) beyond (lb_abi.h).  Each
 * branch counts on its own and keeps no pointer, so that the verifier walks the
 * rest of the program once, not once per map.
 */
static __always_inline void lb_count(const struct lb_pkt *pkt, __u32 ifindex, __u32 hook,
				     __u64 bytes)
{
	struct lb_if_stats *st;

	if (ifindex < LB_IF_CTR_IFINDEX_MAX) {
		__u32 idx = lb_if_ctr_index(ifindex, hook);

		st = bpf_map_lookup_elem(&lb_if_ctr, &idx);
		if (st)
			lb_count_into(st, pkt, bytes);
		return;
	}
	st = lb_if_stats_get(ifindex, hook);
	if (st)
		lb_count_into(st, pkt, bytes);
}

/* Count a packet of a service or endpoint (map: lb_svc_stats or lb_ep_stats). */
static __always_inline void lb_obj_count(void *map, __u32 id, __u64 bytes, bool new_flow)
{
	struct lb_obj_stats *st;

	if (LB_WITHOUT(objstats))
		return;
	st = bpf_map_lookup_elem(map, &id);
	if (st) {
		st->packets++;
		st->bytes += bytes;
		if (new_flow)
			st->flows++;
	}
}

#endif /* LB_STATS_H */
