/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ICMP errors about a balanced flow (fragmentation needed, port unreachable,
 * time exceeded...).  The error quotes a packet T as it was on the wire; the
 * conntrack entry of reverse(T) is the other direction of T's flow, so:
 *   quoted packet  := reverse of that entry's rewrite target (what the other
 *                     side sent, or will recognise),
 *   outer dst      := the entry's nat_dst (who must hear about it),
 *   outer src      := the entry's nat_src when the error came from T's
 *                     destination itself (so it is seen coming from the VIP or
 *                     the snat address), else unchanged (a router).
 * Checksums: the quoted IP header is recomputed, a quoted UDP checksum updated,
 * and the ICMP checksum corrected by the difference over the quoted bytes.
 */
#ifndef LB_ICMP_H
#define LB_ICMP_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "maps.h"
#include "parse.h"
#include "ct.h"
#include "nat.h"
#include "csum.h"

/* The quoted headers: IP (no options) and the first 8 bytes of TCP/UDP. */
struct lb_quote4 {
	struct iphdr ip;
	__be16 sport, dport;
	__be16 w2, w3;		/* UDP: length, checksum; TCP: sequence number */
};

struct lb_quote6 {
	struct ipv6hdr ip;
	__be16 sport, dport;
	__be16 w2, w3;
};

static __always_inline bool lb_icmp_is_error(const struct lb_pkt *pkt, __u8 type)
{
	if (pkt->l4_ctr == LB_CTR_ICMP)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;	/* ICMPv6 errors */
}

/* Rewrite the outer addresses of the ICMP packet (ICMPv6 sums them, ICMPv4 not). */
static __always_inline int lb_icmp_outer(struct __sk_buff *skb, const struct lb_pkt *pkt,
					 __u32 csum_off, const struct lb_ct_key *outer,
					 const struct lb_addr *src, const struct lb_addr *dst)
{
	bool v4 = outer->family == LB_AF_INET;
	__u32 l3 = pkt->l3_off;

	if (v4) {
		if (!lb_addr_eq(&outer->src, src) &&
		    (bpf_l3_csum_replace(skb, l3 + 10, outer->src.a[0], src->a[0], 4) ||
		     bpf_skb_store_bytes(skb, l3 + 12, &src->a[0], 4, 0)))
			return -1;
		if (!lb_addr_eq(&outer->dst, dst) &&
		    (bpf_l3_csum_replace(skb, l3 + 10, outer->dst.a[0], dst->a[0], 4) ||
		     bpf_skb_store_bytes(skb, l3 + 16, &dst->a[0], 4, 0)))
			return -1;
		return 0;
	}
	if (!lb_addr_eq(&outer->src, src) &&
	    lb_nat_addr(skb, l3 + 8, -1, csum_off, 0, &outer->src, src))
		return -1;
	if (!lb_addr_eq(&outer->dst, dst) &&
	    lb_nat_addr(skb, l3 + 24, -1, csum_off, 0, &outer->dst, dst))
		return -1;
	return 0;
}

/*
 * Translate an ICMP error about one of our flows.  Returns a TC verdict, or
 * LB_ICMP_NOT_OURS when the error is about no flow we know.
 */
#define LB_ICMP_NOT_OURS	(-100)

static __always_inline int lb_icmp_error(struct __sk_buff *skb, const struct lb_pkt *pkt,
					 struct lb_ct_key *outer, struct lb_ct_key *k,
					 struct lb_ct **entry)
{
	__u32 quote = pkt->l4_off + 8, csum_off = pkt->l4_off + 2;
	__u64 now = bpf_ktime_get_ns();
	struct lb_addr src, dst;
	struct lb_ct *ct;
	__s64 diff;

	__builtin_memset(k, 0, sizeof(*k));
	if (pkt->l3_ctr == LB_CTR_IPV4) {
		struct lb_quote4 old, new;

		if (bpf_skb_load_bytes(skb, quote, &old, sizeof(old)) || old.ip.ihl != 5 ||
		    (old.ip.protocol != IPPROTO_TCP && old.ip.protocol != IPPROTO_UDP))
			return LB_ICMP_NOT_OURS;
		k->src.a[0] = old.ip.daddr;
		k->dst.a[0] = old.ip.saddr;
		k->sport = old.dport;
		k->dport = old.sport;
		k->proto = old.ip.protocol;
		k->family = LB_AF_INET;
		ct = bpf_map_lookup_elem(&lb_ct, k);
		if (!ct || !lb_ct_alive(k, ct, now))
			return LB_ICMP_NOT_OURS;
		new = old;
		new.ip.saddr = ct->nat_dst.a[0];
		new.ip.daddr = ct->nat_src.a[0];
		new.sport = ct->nat_dport;
		new.dport = ct->nat_sport;
		new.ip.check = 0;
		new.ip.check = lb_csum_fold(bpf_csum_diff(0, 0, (__be32 *)&new.ip, 20, 0));
		if (old.ip.protocol == IPPROTO_UDP && old.w3) {
			__be32 o[3] = { old.ip.saddr, old.ip.daddr, ((__u32)old.sport << 16) | old.dport };
			__be32 n[3] = { new.ip.saddr, new.ip.daddr, ((__u32)new.sport << 16) | new.dport };

			new.w3 = lb_csum_update(old.w3, bpf_csum_diff(o, 12, n, 12, 0)) ?: 0xffff;
		}
		diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)&new, sizeof(new), 0);
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, 0) ||
		    bpf_skb_store_bytes(skb, quote, &new, sizeof(new), 0))
			return TC_ACT_SHOT;
	} else {
		struct lb_quote6 old, new;

		if (bpf_skb_load_bytes(skb, quote, &old, sizeof(old)) ||
		    (old.ip.nexthdr != IPPROTO_TCP && old.ip.nexthdr != IPPROTO_UDP))
			return LB_ICMP_NOT_OURS;
		__builtin_memcpy(&k->src, &old.ip.daddr, 16);
		__builtin_memcpy(&k->dst, &old.ip.saddr, 16);
		k->sport = old.dport;
		k->dport = old.sport;
		k->proto = old.ip.nexthdr;
		k->family = LB_AF_INET6;
		ct = bpf_map_lookup_elem(&lb_ct, k);
		if (!ct || !lb_ct_alive(k, ct, now))
			return LB_ICMP_NOT_OURS;
		new = old;
		__builtin_memcpy(&new.ip.saddr, &ct->nat_dst, 16);
		__builtin_memcpy(&new.ip.daddr, &ct->nat_src, 16);
		new.sport = ct->nat_dport;
		new.dport = ct->nat_sport;
		if (old.ip.nexthdr == IPPROTO_UDP) {
			/* addresses and ports, 36 bytes from saddr on, are all the change */
			new.w3 = lb_csum_update(old.w3, bpf_csum_diff((__be32 *)&old.ip.saddr, 36,
								     (__be32 *)&new.ip.saddr, 36, 0)) ?: 0xffff;
		}
		diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)&new, sizeof(new), 0);
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, 0) ||
		    bpf_skb_store_bytes(skb, quote, &new, sizeof(new), 0))
			return TC_ACT_SHOT;
	}
	/* From the quoted packet's destination itself: make it come from our side. */
	src = lb_addr_eq(&outer->src, &k->src) ? ct->nat_src : outer->src;
	dst = ct->nat_dst;
	if (lb_icmp_outer(skb, pkt, csum_off, outer, &src, &dst))
		return TC_ACT_SHOT;
	*entry = ct;
	return TC_ACT_OK;
}

#endif
