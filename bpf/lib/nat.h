/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rewriting a packet to the addresses and ports a conntrack entry names, with
 * incremental checksum updates (the kernel helpers also keep CHECKSUM_PARTIAL and
 * CHECKSUM_COMPLETE packets right).
 */
#ifndef LB_NAT_H
#define LB_NAT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "parse.h"
#include "csum.h"

static __always_inline bool lb_addr_eq(const struct lb_addr *a, const struct lb_addr *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] &&
	       a->a[3] == b->a[3];
}

/* Replace one address at off (4 or 16 bytes); ip_csum_off < 0 for IPv6. */
static __always_inline int lb_nat_addr(struct __sk_buff *skb, __u32 off, int ip_csum_off,
				       __u32 l4_csum_off, __u64 l4_flags,
				       const struct lb_addr *from, const struct lb_addr *to)
{
	if (ip_csum_off >= 0) {
		if (bpf_l4_csum_replace(skb, l4_csum_off, from->a[0], to->a[0],
					l4_flags | BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, ip_csum_off, from->a[0], to->a[0], 4))
			return -1;
		return bpf_skb_store_bytes(skb, off, &to->a[0], 4, 0);
	} else {
		__s64 diff = bpf_csum_diff((__be32 *)from->a, 16, (__be32 *)to->a, 16, 0);

		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, l4_csum_off, 0, diff, l4_flags | BPF_F_PSEUDO_HDR))
			return -1;
		return bpf_skb_store_bytes(skb, off, to->a, 16, 0);
	}
}

/*
 * Rewrite the packet whose key is k to ct's addresses and ports.  0 or -1.
 *
 * The fields are written in place (TC unclones the skb before a program that
 * writes packet data runs), the IPv4 header checksum is updated here, and the
 * L4 checksum through bpf_l4_csum_replace, which alone knows how the skb carries
 * its checksum (CHECKSUM_PARTIAL: only the pseudo header part; COMPLETE:
 * skb->csum follows): once with the addresses' difference (pseudo header), once
 * with the ports'.  Two helper calls instead of one per field and checksum (six
 * for a DNAT of address and port) plus a store per field.  New flows and
 * established ones alike (the slow path took the helper per field while the
 * verifier's walk of lb_tc_slow was near its limit: ~40 ns a new flow).
 */
static __always_inline int lb_nat_rewrite(struct __sk_buff *skb, const struct lb_pkt *pkt,
					  const struct lb_ct_key *k, const struct lb_ct *ct)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 l3 = pkt->l3_off, l4 = pkt->l4_off;
	bool v4 = k->family == LB_AF_INET;
	__u32 csum_off = l4 + (k->proto == IPPROTO_TCP ? 16 : 6);
	/* UDP: a computed 0 goes out as 0xffff; over IPv4 a 0 (no checksum) stays 0. */
	__u64 l4_flags = k->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 da, dp;
	__be16 *ports;

	if (l3 > 64 || l4 > LB_MAX_L4_OFF)
		return -1;
	ports = data + l4;
	if ((void *)(ports + 2) > data_end)
		return -1;
	/*
	 * Every word goes into the differences, changed or not: an unchanged one adds
	 * ~w + w, one's complement zero, which leaves a sum as it is.  No branch per
	 * field (the verifier walks each caller's paths through here).  A difference
	 * that is all zero (~0) changes nothing and skips its helper call.
	 */
	da = lb_csum_addr(lb_csum_addr(0, &k->src, &ct->nat_src, v4), &k->dst, &ct->nat_dst, v4);
	if (v4) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return -1;
		iph->check = lb_csum_update(iph->check, da);
		iph->saddr = ct->nat_src.a[0];
		iph->daddr = ct->nat_dst.a[0];
	} else {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		__builtin_memcpy(&ip6h->saddr, ct->nat_src.a, 16);
		__builtin_memcpy(&ip6h->daddr, ct->nat_dst.a, 16);
	}
	/* Both ports as one 32-bit word of the packet, in memory order. */
	dp = lb_csum_diff4(0, (__u32)ports[0] | (__u32)ports[1] << 16,
			   (__u32)ct->nat_sport | (__u32)ct->nat_dport << 16);
	ports[0] = ct->nat_sport;
	ports[1] = ct->nat_dport;
	/* The helpers may move the packet: nothing above is read after them. */
	if (da != ~0u && bpf_l4_csum_replace(skb, csum_off, 0, da, l4_flags | BPF_F_PSEUDO_HDR))
		return -1;
	if (dp != ~0u && bpf_l4_csum_replace(skb, csum_off, 0, dp, l4_flags))
		return -1;
	return 0;
}

#endif
