/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Conntrack: one hash entry per direction (never evicted), keyed by the packet as
 * it arrives.  An entry is alive while now - last_seen is under the timeout of its
 * state (the rule of lb_abi.h, which liblb applies too); an expired entry reads as
 * a miss (the sweep removes it, or a new flow of the same tuple replaces it).  Keys
 * from packets, tracking of the state.
 */
#ifndef LB_CT_H
#define LB_CT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "ablate.h"
#include "maps.h"
#include "parse.h"

/*
 * The conntrack clock: CLOCK_MONOTONIC at the resolution of the kernel's tick.
 * bpf_jiffies64() is inlined by the verifier (a load); bpf_ktime_get_coarse_ns()
 * is a helper call, ~19 ns per packet where every kernel return is slowed.  So the
 * clock is jiffies times the tick plus an offset that the sweep (gc.h) takes from
 * the coarse clock at each run: jiffies advance by themselves, so a sweep that
 * stops leaves the offset, not the clock, behind, and jiffies follow the
 * monotonic clock to within a tick.  Until the sweep has run once (or when the
 * kernel's HZ is unknown) the coarse clock itself.  Timeouts are seconds, so a
 * tick (1-10 ms) does not matter; lb_ct_age() takes an entry a tick younger than
 * now as age 0.
 */
static __always_inline __u64 lb_now(void)
{
	__u32 zero = 0;
	struct lb_gc *gc;

	if (LB_WITHOUT(clock))	/* ahead of the sweep's clock: never aged */
		return 1ull << 62;
	gc = bpf_map_lookup_elem(&lb_gc, &zero);
	if (gc && gc->tick_ns)
		return bpf_jiffies64() * gc->tick_ns + gc->clock_off;
	return bpf_ktime_get_coarse_ns();
}

/* Expired by the rule of lb_abi.h, with the timeouts lb_config holds now. */
static __always_inline bool lb_ct_expired(const struct lb_ct *ct, __u8 proto, __u64 now)
{
	__u64 age = lb_ct_age(ct->last_seen_ns, now);
	__u32 zero = 0;
	struct lb_config *cfg;

	/* Seen within this tick of the coarse clock, the common case of a busy flow:
	 * no timeout can have passed, no lookup of the config. */
	if (!age)
		return false;
	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	return lb_ct_age_expired(age, lb_ct_timeout(cfg, proto, ct->state));
}

/* Addresses and family of an IP packet into k (ports and protocol untouched). */
static __always_inline int lb_l3_addrs(void *data, void *data_end, const struct lb_pkt *pkt,
				       struct lb_ct_key *k)
{
	__u32 l3 = pkt->l3_off;

	if (l3 > 64)
		return -1;
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return -1;
		k->src.a[0] = iph->saddr;
		k->dst.a[0] = iph->daddr;
		k->family = LB_AF_INET;
		return 0;
	}
	if (pkt->l3_ctr == LB_CTR_IPV6) {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		__builtin_memcpy(&k->src, &ip6h->saddr, 16);
		__builtin_memcpy(&k->dst, &ip6h->daddr, 16);
		k->family = LB_AF_INET6;
		return 0;
	}
	return -1;
}

/* The key of a TCP/UDP packet; -1 for anything else (no ports to track). */
static __always_inline int lb_ct_key_of(void *data, void *data_end, const struct lb_pkt *pkt,
					struct lb_ct_key *k)
{
	__u32 l4 = pkt->l4_off;
	__be16 *ports;

	__builtin_memset(k, 0, sizeof(*k));
	if (pkt->l4_ctr != LB_CTR_TCP && pkt->l4_ctr != LB_CTR_UDP)
		return -1;
	/* VLAN tags still in the frame: a rewrite and redirect would carry them to
	 * the wrong segment; leave such packets to the stack. */
	if (pkt->l3_off != sizeof(struct ethhdr))
		return -1;
	if (l4 > LB_MAX_L4_OFF || lb_l3_addrs(data, data_end, pkt, k))
		return -1;
	ports = data + l4;
	if ((void *)(ports + 2) > data_end)
		return -1;
	k->sport = ports[0];
	k->dport = ports[1];
	k->proto = pkt->l4_proto;
	return 0;
}

/* TCP flags byte of the packet, 0 for UDP. */
static __always_inline __u8 lb_tcp_flags(void *data, void *data_end, const struct lb_pkt *pkt)
{
	__u8 *fl;

	if (pkt->l4_proto != IPPROTO_TCP || pkt->l4_off > LB_MAX_L4_OFF)
		return 0;
	fl = data + pkt->l4_off + 13;
	if ((void *)(fl + 1) > data_end)
		return 0;
	return *fl;
}

#define LB_TCP_FIN	0x01
#define LB_TCP_SYN	0x02
#define LB_TCP_RST	0x04
#define LB_TCP_ACK	0x10

/*
 * A flow lives while either of its entries was seen within its timeout: the
 * reply direction of a one-way stream may stay quiet.  Only an entry that looks
 * expired pays for the peer lookup, and then takes the peer's time.
 */
static __always_inline bool lb_ct_alive(const struct lb_ct_key *k, struct lb_ct *ct, __u64 now)
{
	struct lb_ct_key pk;
	struct lb_ct *peer;

	if (LB_WITHOUT(expiry) || !lb_ct_expired(ct, k->proto, now))
		return true;
	lb_ct_peer_key(k, ct, &pk);
	peer = bpf_map_lookup_elem(&lb_ct, &pk);
	if (!peer || lb_ct_expired(peer, k->proto, now))
		return false;
	ct->last_seen_ns = peer->last_seen_ns;
	return true;
}

static __always_inline void lb_ep_active_add(__u32 ep_id, __s64 delta)
{
	struct lb_ep_state *st = bpf_map_lookup_elem(&lb_ep_state, &ep_id);

	if (st)
		__sync_fetch_and_add(&st->active, delta);
}

/*
 * End the flow's claim on its endpoint's active count, exactly once.  state,
 * flags and pad share one aligned 32-bit word: LB_CT_F_ACTIVE is cleared there
 * with one atomic and-fetch, so two CPUs ending the flow at once (a FIN from each
 * side, the sweep) cannot both decrement.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LB_CT_ACTIVE_BIT	((__u32)LB_CT_F_ACTIVE << 8)	/* flags: the word's 2nd byte */
#else
#define LB_CT_ACTIVE_BIT	((__u32)LB_CT_F_ACTIVE << 16)
#endif
_Static_assert(__builtin_offsetof(struct lb_ct, state) % 4 == 0 &&
	       __builtin_offsetof(struct lb_ct, flags) == __builtin_offsetof(struct lb_ct, state) + 1,
	       "lb_ct: state and flags open an aligned word");

/* Set a flag bit with an atomic or on the same word (see above). */
static __always_inline void lb_ct_flag_set(struct lb_ct *ct, __u8 flag)
{
	__sync_fetch_and_or((__u32 *)&ct->state, LB_CT_ACTIVE_BIT / LB_CT_F_ACTIVE * flag);
}

static __always_inline void lb_ct_release(struct lb_ct *fwd)
{
	if (__sync_fetch_and_and((__u32 *)&fwd->state, ~LB_CT_ACTIVE_BIT) & LB_CT_ACTIVE_BIT)
		lb_ep_active_add(fwd->ep_id, -1);
}

/* A new flow found no room: the sweep now removes unanswered flows early (gc.h). */
static __always_inline void lb_ct_full(__u64 now)
{
	__u32 zero = 0;
	struct lb_gc *gc = bpf_map_lookup_elem(&lb_gc, &zero);

	if (gc)
		gc->full_ns = now;
}

enum lb_claim { LB_CLAIM_WON, LB_CLAIM_LOST, LB_CLAIM_FAILED };

/*
 * Insert a new flow's forward entry unless another CPU inserted it first (the
 * first packet of a flow on two CPUs at once): WON, or LOST and the caller
 * follows the entry in the map.  A dead flow's entry under the same tuple is
 * ended (its active count released) and replaced.  FAILED: the table refused.
 */
static __always_inline enum lb_claim lb_ct_claim(const struct lb_ct_key *k, struct lb_ct *fwd,
						__u64 now)
{
	struct lb_ct *cur;
	long err;

	err = bpf_map_update_elem(&lb_ct, k, fwd, BPF_NOEXIST);
	if (err == -17) {			/* -EEXIST */
		cur = bpf_map_lookup_elem(&lb_ct, k);
		if (cur && lb_ct_alive(k, cur, now))
			return LB_CLAIM_LOST;
		if (cur)
			lb_ct_release(cur);
		err = bpf_map_update_elem(&lb_ct, k, fwd, BPF_ANY);
	}
	if (err == -7)				/* -E2BIG: the table is full */
		lb_ct_full(now);
	return err ? LB_CLAIM_FAILED : LB_CLAIM_WON;
}

/*
 * Move the flow's state on a packet of this entry.  Both entries of a flow follow:
 * the other one is found through the peer key, only when the state changes.
 */
static __always_inline void lb_ct_track(const struct lb_ct_key *k, struct lb_ct *ct, __u8 flags,
					__u64 now)
{
	__u8 next = ct->state;
	struct lb_ct_key pk;
	struct lb_ct *peer;
	bool answer = false;

	if (LB_WITHOUT(track))
		return;
	ct->last_seen_ns = now;
	if (k->proto == IPPROTO_TCP && (flags & (LB_TCP_FIN | LB_TCP_RST)))
		next = LB_CT_CLOSING;
	else if (ct->state != LB_CT_NEW)
		return;
	else if (!(ct->flags & LB_CT_F_REPLY))
		next = ct->flags & LB_CT_F_REPLIED ? LB_CT_EST : LB_CT_NEW;
	else
		answer = !(ct->flags & LB_CT_F_REPLIED);	/* the endpoint's first answer */
	if (next == ct->state && !answer)
		return;
	lb_ct_peer_key(k, ct, &pk);
	peer = bpf_map_lookup_elem(&lb_ct, &pk);
	if (answer) {
		lb_ct_flag_set(ct, LB_CT_F_REPLIED);
		if (peer)
			lb_ct_flag_set(peer, LB_CT_F_REPLIED);
		return;
	}
	ct->state = next;
	if (peer) {
		peer->state = next;
		peer->last_seen_ns = now;
	}
	if (next != LB_CT_CLOSING)
		return;
	if (!(ct->flags & LB_CT_F_REPLY))
		lb_ct_release(ct);
	else if (peer)
		lb_ct_release(peer);
}

#endif
