/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Packet parsing shared by the XDP and TC programs: both hand in [data, data_end).
 * Every header is bounds-checked before it is read; the result says which L3 and L4
 * class the packet is in and where its headers start, for the stages after parsing.
 */
#ifndef LB_PARSE_H
#define LB_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_abi.h>

#define LB_MAX_VLAN_TAGS	2
#define LB_MAX_IPV6_EXT_HDRS	6
/* The furthest L4 offset the stages after parsing accept: a bound for the verifier. */
#define LB_MAX_L4_OFF		512

#ifndef IP_MF
#define IP_MF		0x2000
#endif
#ifndef IP_OFFSET
#define IP_OFFSET	0x1FFF
#endif

/* Fixed part of ICMP and ICMPv6 headers (linux/icmp.h drags in libc headers). */
struct lb_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 un;		/* echo id+sequence, MTU, pointer, unused */
};

struct lb_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct lb_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | M */
	__be32 identification;
};

struct lb_pkt {
	__u16 l3_off;		/* from data */
	__u16 l4_off;
	__u16 eth_proto;	/* host order, after VLAN tags */
	__u8 l4_proto;		/* IPPROTO_*, after IPv6 extension headers */
	__u8 l3_ctr;		/* LB_CTR_IPV4 / IPV6 / NONIP */
	__u8 l4_ctr;		/* LB_CTR_TCP ... MALFORMED; 0 when not IP */
	__u8 truncated;		/* a header ran past data_end (TC may pull and retry) */
};

static __always_inline __u8 lb_l4_ctr(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return LB_CTR_TCP;
	case IPPROTO_UDP:
		return LB_CTR_UDP;
	case IPPROTO_ICMP:
		return LB_CTR_ICMP;
	case IPPROTO_ICMPV6:
		return LB_CTR_ICMPV6;
	default:
		return LB_CTR_L4_OTHER;
	}
}

static __always_inline int lb_malformed(struct lb_pkt *pkt, int truncated)
{
	pkt->l4_ctr = LB_CTR_MALFORMED;
	pkt->truncated = truncated;
	return -1;
}

/* Check the L4 header at pkt->l4_off and classify it.  Each protocol gets its
 * own constant-size bounds check: the verifier tracks those, not a computed size. */
static __always_inline int lb_parse_l4(void *data, void *data_end, struct lb_pkt *pkt)
{
	void *l4 = data + pkt->l4_off;

	switch (pkt->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return lb_malformed(pkt, 1);
		if (th->doff < 5)
			return lb_malformed(pkt, 0);
		break;
	}
	case IPPROTO_UDP:
		if (l4 + sizeof(struct udphdr) > data_end)
			return lb_malformed(pkt, 1);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (l4 + sizeof(struct lb_icmp_hdr) > data_end)
			return lb_malformed(pkt, 1);
		break;
	default:
		break;
	}
	pkt->l4_ctr = lb_l4_ctr(pkt->l4_proto);
	return 0;
}

static __always_inline int lb_parse_ipv4(void *data, void *data_end, struct lb_pkt *pkt)
{
	struct iphdr *iph = data + pkt->l3_off;
	__u32 ihl_len;

	pkt->l3_ctr = LB_CTR_IPV4;
	if ((void *)(iph + 1) > data_end)
		return lb_malformed(pkt, 1);
	ihl_len = iph->ihl * 4;
	if (iph->version != 4 || ihl_len < sizeof(*iph) ||
	    bpf_ntohs(iph->tot_len) < ihl_len)
		return lb_malformed(pkt, 0);
	if ((void *)iph + ihl_len > data_end)
		return lb_malformed(pkt, 1);
	pkt->l4_off = pkt->l3_off + ihl_len;
	pkt->l4_proto = iph->protocol;
	if (iph->frag_off & bpf_htons(IP_OFFSET)) {
		pkt->l4_ctr = LB_CTR_FRAG;	/* no L4 header in this fragment */
		return 0;
	}
	return lb_parse_l4(data, data_end, pkt);
}

static __always_inline int lb_parse_ipv6(void *data, void *data_end, struct lb_pkt *pkt)
{
	struct ipv6hdr *ip6h = data + pkt->l3_off;
	__u32 off = pkt->l3_off + sizeof(*ip6h);
	__u8 nexthdr;
	int i;

	pkt->l3_ctr = LB_CTR_IPV6;
	if ((void *)(ip6h + 1) > data_end)
		return lb_malformed(pkt, 1);
	if (ip6h->version != 6)
		return lb_malformed(pkt, 0);
	nexthdr = ip6h->nexthdr;

	/* Skip extension headers, a bounded number of them. */
	for (i = 0; i < LB_MAX_IPV6_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *oh;
		struct lb_ipv6_frag_hdr *fh;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			oh = data + (off & 0xffff);
			if ((void *)(oh + 1) > data_end)
				return lb_malformed(pkt, 1);
			nexthdr = oh->nexthdr;
			off += (oh->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			oh = data + (off & 0xffff);
			if ((void *)(oh + 1) > data_end)
				return lb_malformed(pkt, 1);
			nexthdr = oh->nexthdr;
			off += (oh->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			fh = data + (off & 0xffff);
			if ((void *)(fh + 1) > data_end)
				return lb_malformed(pkt, 1);
			nexthdr = fh->nexthdr;
			off += sizeof(*fh);
			if (fh->frag_off & bpf_htons(0xfff8)) {
				pkt->l4_proto = nexthdr;
				pkt->l4_off = off;
				pkt->l4_ctr = LB_CTR_FRAG;
				return 0;
			}
			break;
		default:
			goto done;
		}
	}
	/* More extension headers than we walk: do not guess at the L4 header. */
	pkt->l4_proto = nexthdr;
	pkt->l4_ctr = LB_CTR_L4_OTHER;
	return 0;
done:
	if (off > 0xffff)
		return lb_malformed(pkt, 1);
	pkt->l4_off = off;
	pkt->l4_proto = nexthdr;
	if (nexthdr == IPPROTO_NONE || nexthdr == IPPROTO_ESP) {
		pkt->l4_ctr = LB_CTR_L4_OTHER;
		return 0;
	}
	return lb_parse_l4(data, data_end, pkt);
}

/*
 * Parse Ethernet (with up to two VLAN tags), IPv4/IPv6 and the L4 header.
 * Returns 0 when the packet is well formed, -1 when it is not (pkt says why).
 */
static __always_inline int lb_parse(void *data, void *data_end, struct lb_pkt *pkt)
{
	struct ethhdr *eth = data;
	__u16 proto;
	int i;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	pkt->l3_ctr = LB_CTR_NONIP;
	if ((void *)(eth + 1) > data_end) {
		pkt->truncated = 1;
		return -1;
	}
	proto = bpf_ntohs(eth->h_proto);
	pkt->l3_off = sizeof(*eth);

	for (i = 0; i < LB_MAX_VLAN_TAGS; i++) {
		struct lb_vlan_hdr *vh = data + pkt->l3_off;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(vh + 1) > data_end) {
			pkt->truncated = 1;
			return -1;
		}
		proto = bpf_ntohs(vh->encap_proto);
		pkt->l3_off += sizeof(*vh);
	}
	pkt->eth_proto = proto;

	if (proto == ETH_P_IP)
		return lb_parse_ipv4(data, data_end, pkt);
	if (proto == ETH_P_IPV6)
		return lb_parse_ipv6(data, data_end, pkt);
	return 0;
}

#endif /* LB_PARSE_H */
