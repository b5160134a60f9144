// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ref - the practical floor of a stateful balancer, for bench/dp_bench: parse
 * Ethernet, IPv4 or IPv6 and the ports, one lookup of a 40-byte key (the size of
 * struct lb_ct_key) in a hash map, and a redirect to the ifindex found there.
 * Nothing else: no counters, no rewrite, no FIB, no clock.  The established path
 * of lbkit is measured against it (the target is 1.3x).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct ref_key {			/* 40 bytes, as struct lb_ct_key */
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ref_key);
	__type(value, __u32);		/* ifindex to redirect to */
} ref_flows SEC(".maps");

static __always_inline int ref_key_of(void *data, void *data_end, struct ref_key *k)
{
	struct ethhdr *eth = data;
	__u16 *ports;

	__builtin_memset(k, 0, sizeof(*k));
	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return -1;
		k->src[0] = iph->saddr;
		k->dst[0] = iph->daddr;
		k->proto = iph->protocol;
		k->family = 2;
		ports = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		__builtin_memcpy(k->src, &ip6h->saddr, 16);
		__builtin_memcpy(k->dst, &ip6h->daddr, 16);
		k->proto = ip6h->nexthdr;
		k->family = 10;
		ports = (void *)(ip6h + 1);
	} else {
		return -1;
	}
	if ((void *)(ports + 2) > data_end)
		return -1;
	k->sport = ports[0];
	k->dport = ports[1];
	return 0;
}

SEC("tc")
int ref_tc(struct __sk_buff *skb)
{
	struct ref_key k;
	__u32 *ifindex;

	if (ref_key_of((void *)(long)skb->data, (void *)(long)skb->data_end, &k))
		return TC_ACT_UNSPEC;
	ifindex = bpf_map_lookup_elem(&ref_flows, &k);
	return ifindex ? bpf_redirect(*ifindex, 0) : TC_ACT_UNSPEC;
}

SEC("xdp")
int ref_xdp(struct xdp_md *ctx)
{
	struct ref_key k;
	__u32 *ifindex;

	if (ref_key_of((void *)(long)ctx->data, (void *)(long)ctx->data_end, &k))
		return XDP_PASS;
	ifindex = bpf_map_lookup_elem(&ref_flows, &k);
	return ifindex ? bpf_redirect(*ifindex, 0) : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
