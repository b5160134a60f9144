/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rewriting a packet to the addresses and ports a conntrack entry names, with
 * incremental checksum updates: inline, for XDP and TC alike, by the way the
 * packet keeps its checksum; the kernel's helpers only where skb->csum must follow
 * (CHECKSUM_COMPLETE) and for ICMP's inner headers.
 */
#ifndef LB_NAT_H
#define LB_NAT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "parse.h"
#include "csum.h"
#include "ablate.h"

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
 * Rewrite the packet in [data, data_end) whose key is k to ct's addresses and
 * ports, in place, with the IPv4 header checksum and the L4 checksum kept whole
 * in the field, or as CHECKSUM_PARTIAL keeps it when partial (all ones; 0
 * otherwise: lb_l4_csum_update()).  XDP and TC alike.
 * 0 or -1 (nothing changed).  *delta: how much the one's complement sum of the
 * packet from L3 on changed, which a CHECKSUM_COMPLETE skb's skb->csum must
 * follow: the ports' difference, the addresses' over IPv6 (over IPv4 the header
 * checksum cancels them) and the L4 checksum field's own change.
 *
 * Every word goes into the differences, changed or not: an unchanged one adds
 * ~w + w, one's complement zero, which leaves a sum as it is.  No branch per
 * field (the verifier walks each caller's paths through here).
 */
static __always_inline int lb_rewrite(void *data, void *data_end, const struct lb_pkt *pkt,
				      const struct lb_ct_key *k, const struct lb_ct *ct,
				      __u32 partial, __u32 *delta)
{
	__u32 l3 = pkt->l3_off, l4 = pkt->l4_off, da, dp;
	__sum16 old;
	bool v4 = k->family == LB_AF_INET, udp = k->proto == IPPROTO_UDP;
	__sum16 *check;
	__be16 *ports;

	if (l3 > 64 || l4 > LB_MAX_L4_OFF)
		return -1;
	ports = data + l4;
	check = data + l4 + (udp ? 6 : 16);
	if ((void *)(check + 1) > data_end)
		return -1;
	da = lb_csum_addr(lb_csum_addr(0, &k->src, &ct->nat_src, v4), &k->dst, &ct->nat_dst, v4);
	/* Both ports as one 32-bit word of the packet, in memory order. */
	dp = lb_csum_diff4(0, (__u32)ports[0] | (__u32)ports[1] << 16,
			   (__u32)ct->nat_sport | (__u32)ct->nat_dport << 16);
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
	ports[0] = ct->nat_sport;
	ports[1] = ct->nat_dport;
	old = *check;
	if (!LB_WITHOUT(l4csum))
		*check = lb_l4_csum_update(old, da, dp, partial, udp);
	*delta = lb_csum_add(lb_csum_add(dp, v4 ? 0 : da),
			     lb_csum_diff4(0, (__u16)old, (__u16)*check));
	return 0;
}

/*
 * Rewrite the skb whose key is k to ct's addresses and ports (lb_rewrite()), in
 * place (TC unclones the skb before a program that writes packet data runs).  0
 * or -1.  The checksums are computed inline whatever the skb's ip_summed, with
 * no helper call (bpf_l4_csum_replace() took two per packet, ~65 ns where every
 * kernel return is slowed); only a CHECKSUM_COMPLETE skb pays one, for skb->csum
 * (lb_skb_csum_follow(); over IPv6 the hop limit's costs a second,
 * lb_skb_dec_ttl()).  veths, GRO (PARTIAL) and NICs that report UNNECESSARY pay
 * none.
 */
static __always_inline int lb_nat_rewrite(struct __sk_buff *skb, const struct lb_pkt *pkt,
					  const struct lb_ct_key *k, const struct lb_ct *ct)
{
	__u8 summed = lb_skb_summed(skb);
	__u32 partial = -(__u32)(summed == LB_CHECKSUM_PARTIAL), delta;

	/* Keep the mask a mask: compiled back into a branch, it doubles the
	 * verifier's walk of what follows (lb_l4_csum_update()). */
	asm volatile("" : "+r"(partial));
	if (lb_rewrite((void *)(long)skb->data, (void *)(long)skb->data_end, pkt, k, ct, partial,
		       &delta))
		return -1;
	lb_skb_csum_follow(skb, summed, delta);
	return 0;
}

#endif
