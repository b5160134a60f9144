/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Endpoint selection for a new flow.  rr, wrr and random index a weighted
 * sequence, hash and maglev a Maglev table, both built by liblb into the
 * service's selection table; lc scans the service's endpoints.  Also session
 * persistence (lb_affinity) and the service's source allow list.
 */
#ifndef LB_SCHED_H
#define LB_SCHED_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_abi.h>
#include "maps.h"
#include "hash.h"

/* Least active flows per unit of weight among the up endpoints. */
static __always_inline __u32 lb_select_lc(const struct lb_svc *svc)
{
	__u32 best = 0, best_w = 1, i;
	__s64 best_active = 0;

	for (i = 0; i < LB_SVC_EPS_MAX; i++) {
		struct lb_ep_state *st;
		struct lb_ep *ep;
		__u32 id;
		__s64 active;

		if (i >= svc->n_eps)
			break;
		id = svc->eps[i];
		ep = bpf_map_lookup_elem(&lb_endpoints, &id);
		if (!ep || !lb_ep_usable(ep))
			continue;
		st = bpf_map_lookup_elem(&lb_ep_state, &id);
		active = st && st->active > 0 ? st->active : 0;
		/* active/weight < best_active/best_w, without division */
		if (!best || active * best_w < best_active * ep->weight) {
			best = id;
			best_w = ep->weight;
			best_active = active;
		}
	}
	return best;
}

/* Endpoint id for a new flow of svc, 0 when there is none. */
static __always_inline __u32 lb_select(const struct lb_svc *svc, const struct lb_ct_key *k)
{
	__u32 zero = 0, idx, len, id = svc->id, *p;
	struct lb_svc_state *st;
	void *tbl;

	if (svc->sched == LB_SCHED_LC)
		return lb_select_lc(svc);
	tbl = bpf_map_lookup_elem(&lb_svc_sel, &id);
	if (!tbl)
		return 0;
	p = bpf_map_lookup_elem(tbl, &zero);
	if (!p || !*p)
		return 0;
	len = *p;
	switch (svc->sched) {
	case LB_SCHED_RR:
	case LB_SCHED_WRR:
		st = bpf_map_lookup_elem(&lb_svc_state, &id);
		if (!st)
			return 0;
		idx = __sync_fetch_and_add(&st->rr_cursor, 1) % len;
		break;
	case LB_SCHED_RANDOM:
		idx = bpf_get_prandom_u32() % len;
		break;
	case LB_SCHED_HASH:
		idx = lb_hash_addr(&k->src) % len;
		break;
	default:
		idx = lb_hash_tuple(k) % len;
		break;
	}
	idx += 1;
	p = bpf_map_lookup_elem(tbl, &idx);
	return p ? *p : 0;
}

/*
 * Session persistence: a client that had an endpoint of this service within
 * svc->persist seconds gets it again while it is up; otherwise the scheduler
 * picks and the choice is remembered.
 */
static __always_inline __u32 lb_select_persist(const struct lb_svc *svc,
						const struct lb_ct_key *k, __u64 now)
{
	struct lb_aff_key ak = { .client = k->src, .svc_id = svc->id };
	struct lb_aff *aff, fresh = {};
	struct lb_ep *ep;
	__u32 id;

	if (!svc->persist)
		return lb_select(svc, k);
	aff = bpf_map_lookup_elem(&lb_affinity, &ak);
	if (aff && lb_aff_fresh(aff->last_seen_ns, now, svc->persist)) {
		id = aff->ep_id;
		ep = bpf_map_lookup_elem(&lb_endpoints, &id);
		if (ep && ep->svc_id == svc->id && lb_ep_usable(ep)) {
			aff->last_seen_ns = now;
			return id;
		}
	}
	id = lb_select(svc, k);
	if (id) {
		fresh.ep_id = id;
		fresh.last_seen_ns = now;
		bpf_map_update_elem(&lb_affinity, &ak, &fresh, BPF_ANY);
	}
	return id;
}

/* The service takes new flows from src: it has no allow list, or the longest
 * prefix of its list that holds src allows it. */
static __always_inline bool lb_allowed(const struct lb_svc *svc, const struct lb_addr *src)
{
	struct lb_allow_key k;
	struct lb_allow *r;

	if (!svc->n_allow)
		return true;
	k.prefixlen = LB_ALLOW_KEY_BITS(128);	/* IPv4: a[1..3] are 0, as in the keys */
	k.svc_id = svc->id;
	k.src = *src;
	r = bpf_map_lookup_elem(&lb_allow, &k);
	return r && r->action == LB_ALLOW_PASS;
}

#endif
