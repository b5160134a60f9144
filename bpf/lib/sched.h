/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Endpoint selection for a new flow.  rr, wrr and random index a weighted
 * sequence, hash and maglev a Maglev table, lc draws two of its usable endpoints,
 * all from the service's selection table built by liblb.  Also session
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

/* Endpoint id in slot off + idx of lb_sel: 0 when there is none. */
static __always_inline __u32 lb_sel_at(__u32 off, __u32 idx)
{
	__u32 slot = off + idx, *p = bpf_map_lookup_elem(&lb_sel, &slot);

	return p ? *p : 0;
}

/* Entry idx of an lc table: its endpoint, weight (0 unless usable) and flows. */
static __always_inline __u32 lb_lc_entry(__u32 off, __u32 idx, __u32 *weight, __s64 *active)
{
	__u32 id = lb_sel_at(off, idx);
	struct lb_ep_state *st;
	struct lb_ep *ep;

	*weight = 0;
	*active = 0;
	if (!id)
		return 0;
	ep = bpf_map_lookup_elem(&lb_endpoints, &id);
	if (ep && lb_ep_usable(ep))
		*weight = ep->weight;
	st = bpf_map_lookup_elem(&lb_ep_state, &id);
	if (st && st->active > 0)
		*active = st->active;
	return id;
}

/*
 * lc, least active flows per unit of weight, by the power of two choices (as
 * Envoy and NGINX do it): two distinct entries of the table (the usable endpoints)
 * drawn at random, the one with fewer flows per weight wins.  The same few
 * lookups at any number of endpoints; doc/ARCHITECTURE.md says how close it
 * stays to the exact minimum.  With two endpoints it is the exact minimum.
 */
static __always_inline __u32 lb_select_lc(__u32 off, __u32 len)
{
	__u32 a_idx = bpf_get_prandom_u32() % len, b_idx, a, b, a_w, b_w;
	__s64 a_act, b_act;

	b_idx = len > 1 ? (a_idx + 1 + bpf_get_prandom_u32() % (len - 1)) % len : a_idx;
	a = lb_lc_entry(off, a_idx, &a_w, &a_act);
	b = lb_lc_entry(off, b_idx, &b_w, &b_act);
	if (lb_lc_prefer_b(a_act, a_w, b_act, b_w))
		return b;
	return a_w ? a : 0;
}

/*
 * Endpoint id for a new flow of svc, 0 when there is none.  The table is the
 * slice svc names in lb_sel; the caller checks that the endpoint is svc's, since
 * a slice a change just left may already hold another table.
 */
static __always_inline __u32 lb_select(const struct lb_svc *svc, const struct lb_ct_key *k)
{
	__u32 idx, len = svc->sel_len, off = svc->sel_off, id = svc->id;
	struct lb_svc_state *st;

	if (!len)
		return 0;
	switch (svc->sched) {
	case LB_SCHED_LC:
		return lb_select_lc(off, len);
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
	return lb_sel_at(off, idx);
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
