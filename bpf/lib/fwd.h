/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Forwarding through the kernel's own FIB and neighbour tables: a known
 * neighbour gets bpf_redirect with the MACs set here; a known route whose
 * neighbour is not resolved yet gets bpf_redirect_neigh, which resolves it.
 * Anything else (local address, no route, forwarding off, TTL running out) goes
 * up the stack, which delivers it or sends the ICMP error.  The FIB query and the
 * TTL decrement serve the XDP path (xdp_nat.h) too.
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

static __always_inline int lb_forward(struct __sk_buff *skb, const struct lb_pkt *pkt)
{
	struct bpf_fib_lookup fib;
	void *data, *data_end;
	struct ethhdr *eth;
	int rc;

	/* A TTL that runs out here: the stack sends time exceeded (no FIB lookup). */
	if (lb_ttl_out((void *)(long)skb->data, (void *)(long)skb->data_end, pkt))
		return TC_ACT_OK;
	if (lb_fib_params((void *)(long)skb->data, (void *)(long)skb->data_end, pkt,
			  skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex, &fib))
		return TC_ACT_OK;
	/* No length: the kernel then checks the skb itself (is_skb_forwardable), which
	 * knows GSO; an aggregate's IP length is above the MTU and would read as
	 * "fragmentation needed". */
	fib.tot_len = 0;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* Route known, neighbour not yet: the kernel resolves it and sends. */
		struct bpf_redir_neigh nh = { .nh_family = fib.family };

		if (fib.family == AF_INET)
			nh.ipv4_nh = fib.ipv4_dst;
		else
			__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
		if (lb_dec_ttl((void *)(long)skb->data, (void *)(long)skb->data_end, pkt))
			return TC_ACT_OK;
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if (lb_dec_ttl((void *)(long)skb->data, (void *)(long)skb->data_end, pkt))
		return TC_ACT_OK;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return bpf_redirect(fib.ifindex, 0);
}

#endif
