/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Forwarding through the kernel's own FIB and neighbour tables: a known
 * neighbour gets bpf_redirect with the MACs set here; a known route whose
 * neighbour is not resolved yet gets bpf_redirect_neigh, which resolves it.
 * Anything else (local address, no route, forwarding off, TTL running out) goes
 * up the stack, which delivers it or sends the ICMP error.  The FIB query and the
 * TTL decrement serve the XDP path (xdp_nat.h) too.
 *
 * A tracked flow caches what the FIB answered (egress device, MACs, MTU) in its
 * conntrack entry and trusts it for LB_NH_MAX_AGE: an established packet then
 * costs no bpf_fib_lookup (the dearest helper, ~110 ns here), and a route or
 * neighbour change reaches every flow within that bound.  Only a full answer is
 * cached: an unresolved neighbour asks the FIB every time.  Two CPUs refreshing
 * the same entry write the same answer; only while a route changes can a packet
 * read a half-written one, once, inside the bound that change takes anyway.
 */
#ifndef LB_FWD_H
#define LB_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_abi.h>
#include "parse.h"
#include "csum.h"
#include "nat.h"
#include "ablate.h"

/*
 * Cache the FIB's answer.  ok_len: the IP length the FIB checked against the
 * MTU (XDP asks with the packet's), 0 when it checked none (tc): nh_mtu is then
 * the longest packet known to fit, and a longer one asks the FIB again.
 */
static __always_inline void lb_nh_learn(struct lb_ct *ct, const struct bpf_fib_lookup *fib,
					__u32 ok_len, __u64 now)
{
	if (ok_len || ct->nh_ifindex != fib->ifindex)
		ct->nh_mtu = ok_len;
	__builtin_memcpy(ct->nh_dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(ct->nh_smac, fib->smac, ETH_ALEN);
	ct->nh_ifindex = fib->ifindex;
	ct->nh_stamp = lb_nh_stamp(now);
}

/*
 * The next hop toward an endpoint (lb_ep_nh): a new flow's first packet takes it
 * into its forward entry (e) when this CPU asked the FIB the same question
 * within LB_NH_MAX_AGE: the same rewritten source and destination, the same
 * ingress device.  A new flow then makes no FIB call, and its next packets find
 * the answer in their entry, with the age it has: one bound for every cached
 * next hop.  Not the reply direction's: replies go to clients, each its own.
 */
static __always_inline void lb_ep_nh_take(struct lb_ct *e, const struct lb_ep_nh *c,
					  __u32 ifindex_in, __u64 now)
{
	__u64 diff = c->ifindex_in ^ ifindex_in, hit;
	__u32 age = lb_nh_stamp(now) - c->nh_stamp;

#pragma unroll
	for (int i = 0; i < 4; i++)
		diff |= (c->dst.a[i] ^ e->nat_dst.a[i]) | (c->src.a[i] ^ e->nat_src.a[i]);
	/* All ones on a hit: the same question, a fresh answer, one there at all.
	 * A mask, not a branch: e's next-hop words are then unknown to the verifier
	 * on every path, and the paths through the rest of lb_tc_slow merge
	 * (a known 0 on one of them made it walk them all twice). */
	hit = ((diff - 1) & ((__u64)age - LB_NH_MAX_AGE) & -(__u64)c->nh_ifindex) >> 63;
	hit = -hit;
	asm volatile("" : "+r"(hit));
	e->nh_ifindex = c->nh_ifindex & hit;
	e->nh_stamp = c->nh_stamp;
	__builtin_memcpy(e->nh_dmac, c->nh_dmac, ETH_ALEN);
	__builtin_memcpy(e->nh_smac, c->nh_smac, ETH_ALEN);
	e->nh_mtu = 0;		/* tc learns no MTU: XDP asks once */
}

/* ... and what the FIB answered for e's first packet, for the next new flows. */
static __always_inline void lb_ep_nh_keep(struct lb_ep_nh *c, const struct lb_ct *e,
					  __u32 ifindex_in)
{
	c->src = e->nat_src;
	c->dst = e->nat_dst;
	c->ifindex_in = ifindex_in;
	c->nh_ifindex = e->nh_ifindex;
	c->nh_stamp = e->nh_stamp;
	__builtin_memcpy(c->nh_dmac, e->nh_dmac, ETH_ALEN);
	__builtin_memcpy(c->nh_smac, e->nh_smac, ETH_ALEN);
}

/* The device a packet came in on, as the FIB is asked from it. */
static __always_inline __u32 lb_skb_in_ifindex(const struct __sk_buff *skb)
{
	return skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
}

/* Put the next hop's MACs on the frame: -1 when it has no Ethernet header. */
static __always_inline int lb_set_macs(void *data, void *data_end, const __u8 *dmac,
				       const __u8 *smac)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	return 0;
}

#ifndef AF_INET
#define AF_INET		2
#endif
#ifndef AF_INET6
#define AF_INET6	10
#endif

/* Fill a FIB query for the packet's current addresses. -1 when unreadable. */
static __always_inline int lb_fib_params(void *data, void *data_end, const struct lb_pkt *pkt,
					 __u32 ifindex, struct bpf_fib_lookup *fib)
{
	__u32 l3 = pkt->l3_off;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	if (l3 > 64)
		return -1;
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return -1;
		fib->family = AF_INET;
		fib->tos = iph->tos;
		fib->l4_protocol = iph->protocol;
		fib->tot_len = bpf_ntohs(iph->tot_len);
		fib->ipv4_src = iph->saddr;
		fib->ipv4_dst = iph->daddr;
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		fib->family = AF_INET6;
		fib->l4_protocol = pkt->l4_proto;
		fib->tot_len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
		__builtin_memcpy(fib->ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, &ip6h->daddr, 16);
	}
	return 0;
}

/* The IP length the header states (what the FIB checks against the MTU);
 * 0x10000, above any MTU, when unreadable. */
static __always_inline __u32 lb_ip_len(void *data, void *data_end, const struct lb_pkt *pkt)
{
	__u32 l3 = pkt->l3_off;

	if (l3 > 64)
		return 0x10000;
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return 0x10000;
		return bpf_ntohs(iph->tot_len);
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return 0x10000;
		return bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
	}
}

/* True when the TTL (hop limit) would reach 0 here, or cannot be read: the stack
 * answers such a packet (time exceeded); XDP checks it before changing a byte. */
static __always_inline bool lb_ttl_out(void *data, void *data_end, const struct lb_pkt *pkt)
{
	__u32 l3 = pkt->l3_off;

	if (l3 > 64)
		return true;
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct iphdr *iph = data + l3;

		return (void *)(iph + 1) > data_end || iph->ttl <= 1;
	} else {
		struct ipv6hdr *ip6h = data + l3;

		return (void *)(ip6h + 1) > data_end || ip6h->hop_limit <= 1;
	}
}

/*
 * TTL / hop limit down by one, as a router does, on the tc and the XDP path alike,
 * once the caller has seen !lb_ttl_out() (checked once per packet); -1 only when
 * the header cannot be read.  The IPv4 checksum is fixed in place (csum_replace2
 * without a helper call): XDP has no such helper, and tc unclones the skb before a
 * program that writes packet data runs.
 */
static __always_inline int lb_dec_ttl(void *data, void *data_end, const struct lb_pkt *pkt)
{
	__u32 l3 = pkt->l3_off;

	if (l3 > 64)
		return -1;
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct iphdr *iph = data + l3;
		__be16 old, new;

		if ((void *)(iph + 1) > data_end)
			return -1;
		old = *(__be16 *)&iph->ttl;	/* ttl and protocol share a 16-bit word */
		iph->ttl--;
		new = *(__be16 *)&iph->ttl;
		iph->check = lb_csum_update(iph->check, lb_csum_diff4(0, old, new));
		return 0;
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		ip6h->hop_limit--;
		return 0;
	}
}

/* lb_dec_ttl() on an skb: IPv6 has no header checksum to absorb the hop limit's
 * change, so a CHECKSUM_COMPLETE skb's sum follows it (one's complement -1 in
 * the hop limit's byte of its 16-bit word). */
static __always_inline int lb_skb_dec_ttl(struct __sk_buff *skb, const struct lb_pkt *pkt)
{
	if (lb_dec_ttl((void *)(long)skb->data, (void *)(long)skb->data_end, pkt))
		return -1;
	if (pkt->l3_ctr == LB_CTR_IPV6)
		lb_skb_csum_follow(skb, lb_skb_summed(skb), bpf_htons(0xfffe));
	return 0;
}

/*
 * Send the (rewritten) packet to its next hop.  nh: the flow's conntrack entry,
 * whose cached next hop is used while fresh and refreshed otherwise (a new
 * flow's first packet passes its entry's copy, which may hold its endpoint's
 * next hop from lb_ep_nh); NULL asks the FIB (an ICMP error, a flow another CPU
 * started).
 */
static __always_inline int lb_forward(struct __sk_buff *skb, const struct lb_pkt *pkt,
				      struct lb_ct *nh, __u64 now)
{
	struct bpf_fib_lookup fib;
	int rc;

	/* A TTL that runs out here: the stack sends time exceeded (no FIB lookup). */
	if (!LB_WITHOUT(ttlmac) &&
	    lb_ttl_out((void *)(long)skb->data, (void *)(long)skb->data_end, pkt))
		return TC_ACT_OK;
	if (nh && !LB_WITHOUT(nhcache) && lb_nh_fresh(nh, now)) {
		if (!LB_WITHOUT(ttlmac) &&
		    (lb_skb_dec_ttl(skb, pkt) ||
		     lb_set_macs((void *)(long)skb->data, (void *)(long)skb->data_end,
				 nh->nh_dmac, nh->nh_smac)))
			return TC_ACT_OK;
		return bpf_redirect(nh->nh_ifindex, 0);
	}
	if (LB_WITHOUT(fib) && !nh)
		return bpf_redirect(skb->ifindex, 0);
	if (lb_fib_params((void *)(long)skb->data, (void *)(long)skb->data_end, pkt,
			  lb_skb_in_ifindex(skb), &fib))
		return TC_ACT_OK;
	/* No length: the kernel then checks the skb itself (is_skb_forwardable), which
	 * knows GSO; an aggregate's IP length is above the MTU and would read as
	 * "fragmentation needed". */
	fib.tot_len = 0;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* Route known, neighbour not yet: the kernel resolves it and sends. */
		struct bpf_redir_neigh nhp = { .nh_family = fib.family };

		if (fib.family == AF_INET)
			nhp.ipv4_nh = fib.ipv4_dst;
		else
			__builtin_memcpy(nhp.ipv6_nh, fib.ipv6_dst, 16);
		if (lb_skb_dec_ttl(skb, pkt))
			return TC_ACT_OK;
		return bpf_redirect_neigh(fib.ifindex, &nhp, sizeof(nhp), 0);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if (nh)
		lb_nh_learn(nh, &fib, 0, now);
	if (!LB_WITHOUT(ttlmac) &&
	    (lb_skb_dec_ttl(skb, pkt) ||
	     lb_set_macs((void *)(long)skb->data, (void *)(long)skb->data_end, fib.dmac,
			  fib.smac)))
		return TC_ACT_OK;
	return bpf_redirect(fib.ifindex, 0);
}

#endif
