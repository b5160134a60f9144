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
#include "lb_abi.h"
#include "parse.h"

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

static __always_inline int lb_nat_port(struct __sk_buff *skb, __u32 off, __u32 l4_csum_off,
				       __u64 l4_flags, __be16 from, __be16 to)
{
	if (bpf_l4_csum_replace(skb, l4_csum_off, from, to, l4_flags | 2))
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, 2, 0);
}

/* Rewrite the packet whose key is k to ct's addresses and ports. 0 or -1. */
static __always_inline int lb_nat_rewrite(struct __sk_buff *skb, const struct lb_pkt *pkt,
					  const struct lb_ct_key *k, const struct lb_ct *ct)
{
	__u32 l3 = pkt->l3_off, l4 = pkt->l4_off;
	bool v4 = k->family == LB_AF_INET;
	__u32 csum_off = l4 + (k->proto == IPPROTO_TCP ? 16 : 6);
	/* UDP: a computed 0 goes out as 0xffff; over IPv4 a 0 (no checksum) stays 0. */
	__u64 l4_flags = k->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	int ip_csum = v4 ? (int)l3 + 10 : -1;

	if (!lb_addr_eq(&k->src, &ct->nat_src) &&
	    lb_nat_addr(skb, l3 + (v4 ? 12 : 8), ip_csum, csum_off, l4_flags, &k->src, &ct->nat_src))
		return -1;
	if (!lb_addr_eq(&k->dst, &ct->nat_dst) &&
	    lb_nat_addr(skb, l3 + (v4 ? 16 : 24), ip_csum, csum_off, l4_flags, &k->dst, &ct->nat_dst))
		return -1;
	if (k->sport != ct->nat_sport &&
	    lb_nat_port(skb, l4, csum_off, l4_flags, k->sport, ct->nat_sport))
		return -1;
	if (k->dport != ct->nat_dport &&
	    lb_nat_port(skb, l4 + 2, csum_off, l4_flags, k->dport, ct->nat_dport))
		return -1;
	return 0;
}

#endif
