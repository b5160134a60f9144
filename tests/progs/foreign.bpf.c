// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A third party's XDP program that knows nothing of lbkit or its chains: plain
 * libbpf, no lbkit header, and XDP_PASS where it lets a packet go on.  lbattach
 * must wrap it to make XDP_PASS continue a chain; the tests use it to prove that.
 *
 * It does what tests/progs/stamp.bpf.c does, with id 7: a UDP packet to port 9999
 * (IPv4, or IPv6 with UDP right after the fixed header) carrying
 * __be32 seq | __u8 n | __u8 ids[15] gets ids[n] = 7, n++ (when n < 15); the UDP
 * checksum becomes 0 on IPv4 and is updated incrementally on IPv6.  It counts in
 * stamp_seen[7], the map of stamp_wire.h (stamp.bpf.c's too), so that both share
 * one when loaded with the same pin path.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "stamp_wire.h"

#define FOREIGN_ID	7

static __always_inline __u16 fold(__u32 x)
{
	x = (x & 0xffff) + (x >> 16);
	x = (x & 0xffff) + (x >> 16);
	return x;
}

SEC("xdp")
int foreign_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct stamp_payload *pl;
	struct udphdr *uh;
	__u32 key = FOREIGN_ID, d;
	__u8 n, old, *slot;
	__u64 *cnt;
	int v6;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->protocol != IPPROTO_UDP ||
		    iph->ihl < 5 || (iph->frag_off & bpf_htons(0x3fff)))
			return XDP_PASS;
		uh = (void *)iph + iph->ihl * 4;
		v6 = 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end || ip6h->nexthdr != IPPROTO_UDP)
			return XDP_PASS;
		uh = (void *)(ip6h + 1);
		v6 = 1;
	} else {
		return XDP_PASS;
	}
	pl = (void *)(uh + 1);
	if ((void *)(pl + 1) > data_end || uh->dest != bpf_htons(STAMP_PORT) ||
	    bpf_ntohs(uh->len) < sizeof(*uh) + sizeof(*pl))
		return XDP_PASS;

	cnt = bpf_map_lookup_elem(&stamp_seen, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	n = pl->n;
	if (n >= sizeof(pl->ids))
		return XDP_PASS;
	slot = &pl->ids[n];
	if ((void *)(slot + 1) > data_end)	/* the verifier's own check of the slot */
		return XDP_PASS;
	old = *slot;
	*slot = FOREIGN_ID;
	pl->n = n + 1;
	if (!v6) {
		uh->check = 0;
		return XDP_PASS;
	}
	/* n is the high byte of a 16-bit word, ids[n] the low one when n is even. */
	d = (__u16)~((__u32)n << 8) + ((__u32)(n + 1) << 8);
	if (!(n & 1))
		d += (__u16)~(__u32)old + FOREIGN_ID;
	else
		d += (__u16)~((__u32)old << 8) + (FOREIGN_ID << 8);
	d = bpf_htons(fold(d));
	if (uh->check) {
		__u16 c = ~fold((__u16)~uh->check + d);

		uh->check = c ? c : 0xffff;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
