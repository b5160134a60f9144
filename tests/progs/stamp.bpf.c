// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test programs that write down that they ran, so that a receiver (or a
 * BPF_PROG_TEST_RUN) can prove in which order the programs of a chain ran.
 *
 * A stamp packet is UDP to port 9999 over IPv4 (not a fragment) or IPv6 (UDP right
 * after the fixed header), right after an untagged Ethernet header, with at least
 * this payload (tests/e2e/udpseq.py sends it):
 *
 *	__be32 seq | __u8 n | __u8 ids[15]
 *
 * A program with id K appends K: ids[n] = K, n++ (nothing when n is 15 already).
 * IPv4: the UDP checksum becomes 0 (none).  IPv6: it is updated incrementally (on
 * tc with bpf_l4_csum_replace, which leaves a CHECKSUM_PARTIAL packet's alone).
 * On tc egress, IPv4 senders must not leave the checksum to offload (udpseq.py
 * sets SO_NO_CHECK).
 *
 *	stamp1_xdp .. stamp4_xdp	ids 1..4, chain-ready: end with lb_chain_next()
 *	stamp1_tc .. stamp4_tc		ids 1..4, TC_ACT_UNSPEC (lb_chain_next())
 *	drop_xdp, drop_tc		id 9: drop the stamp packets with seq % 50 == 7
 *					(counted in stamp_drops), stamp the others
 *
 * Maps, pinned by name:
 *	stamp_seen	ARRAY[16] of __u64: stamp packets seen by the program of each
 *			id (dropped ones and full ones too); shared by CPUs, atomic adds
 *	stamp_drops	PERCPU_ARRAY[1] of __u64: packets drop_* dropped
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_chain.h>
#include "stamp_wire.h"

#define STAMP_DROP_ID	9
#define STAMP_PULL_LEN	128	/* tc: linear bytes wanted for headers and payload */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stamp_drops SEC(".maps");

enum stamp_verdict {
	STAMP_GO,	/* not a stamp packet, or stamped: go on */
	STAMP_DROP,
	STAMP_SHORT,	/* headers or payload not all in [data, data_end) */
	STAMP_FIX,	/* tc, IPv6: stamped, the checksum still wants *delta at *csum_off */
};

/* One's complement 16-bit sum of x, folded. */
static __always_inline __u16 stamp_fold(__u32 x)
{
	x = (x & 0xffff) + (x >> 16);
	x = (x & 0xffff) + (x >> 16);
	return x;
}

/*
 * Parse, count, drop or stamp.  xdp: fix an IPv6 checksum here; else leave it to
 * the caller (STAMP_FIX) with the delta in network order.
 */
static __always_inline int stamp_packet(void *data, void *data_end, __u32 id, bool dropper,
					bool xdp, __u32 *csum_off, __u32 *delta)
{
	struct ethhdr *eth = data;
	struct stamp_payload *pl;
	struct udphdr *uh;
	__u32 off, d;
	__u8 n, old, *slot;
	__u64 *cnt;
	bool v6;

	if ((void *)(eth + 1) > data_end)
		return STAMP_GO;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return STAMP_SHORT;
		if (iph->protocol != IPPROTO_UDP || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(0x3fff)))	/* MF or an offset */
			return STAMP_GO;
		off = sizeof(*eth) + iph->ihl * 4;
		v6 = false;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return STAMP_SHORT;
		if (ip6h->nexthdr != IPPROTO_UDP)
			return STAMP_GO;
		off = sizeof(*eth) + sizeof(*ip6h);
		v6 = true;
	} else {
		return STAMP_GO;
	}
	uh = data + off;
	if ((void *)(uh + 1) > data_end)
		return STAMP_SHORT;
	if (uh->dest != bpf_htons(STAMP_PORT) ||
	    bpf_ntohs(uh->len) < sizeof(*uh) + sizeof(*pl))
		return STAMP_GO;
	pl = (void *)(uh + 1);
	if ((void *)(pl + 1) > data_end)
		return STAMP_SHORT;

	cnt = bpf_map_lookup_elem(&stamp_seen, &id);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	if (dropper && bpf_ntohl(pl->seq) % 50 == 7) {
		__u32 zero = 0;

		cnt = bpf_map_lookup_elem(&stamp_drops, &zero);
		if (cnt)
			(*cnt)++;
		return STAMP_DROP;
	}
	n = pl->n;
	if (n >= STAMP_IDS)
		return STAMP_GO;
	/* A second variable offset: the verifier wants its own bounds check. */
	slot = &pl->ids[n];
	if ((void *)(slot + 1) > data_end)
		return STAMP_GO;
	old = *slot;
	*slot = id;
	pl->n = n + 1;
	if (!v6) {
		uh->check = 0;
		return STAMP_GO;
	}

	/*
	 * The change to the one's complement sum, byte by byte: n sits at UDP offset
	 * 12 (the high byte of a 16-bit word), ids[n] at 13 + n (low byte when n is
	 * even).  The sum does not depend on byte order (RFC 1071), so it is made in
	 * host order and swapped once.
	 */
	d = (__u16)~((__u32)n << 8) + ((__u32)(n + 1) << 8);
	if (!(n & 1))
		d += (__u16)~(__u32)old + id;
	else
		d += (__u16)~((__u32)old << 8) + (id << 8);
	d = bpf_htons(stamp_fold(d));
	if (!xdp) {
		*csum_off = off + __builtin_offsetof(struct udphdr, check);
		*delta = d;
		return STAMP_FIX;
	}
	if (uh->check) {	/* 0 is no checksum, not valid on IPv6: leave it */
		__u16 c = ~stamp_fold((__u16)~uh->check + d);

		uh->check = c ? c : 0xffff;
	}
	return STAMP_GO;
}

static __always_inline int stamp_xdp(struct xdp_md *ctx, __u32 id, bool dropper)
{
	__u32 off = 0, delta = 0;
	int v = stamp_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end, id, dropper,
			     true, &off, &delta);

	if (v == STAMP_DROP)
		return XDP_DROP;
	return lb_chain_next(ctx);
}

static __always_inline int stamp_tc(struct __sk_buff *skb, __u32 id, bool dropper)
{
	__u32 off = 0, delta = 0;
	int v = stamp_packet((void *)(long)skb->data, (void *)(long)skb->data_end, id, dropper,
			     false, &off, &delta);

	/* Not all in the linear area: pull it in once and look again. */
	if (v == STAMP_SHORT && skb->data_end - skb->data < skb->len &&
	    !bpf_skb_pull_data(skb, skb->len < STAMP_PULL_LEN ? skb->len : STAMP_PULL_LEN))
		v = stamp_packet((void *)(long)skb->data, (void *)(long)skb->data_end, id,
				 dropper, false, &off, &delta);
	if (v == STAMP_FIX)
		bpf_l4_csum_replace(skb, off, 0, delta, BPF_F_MARK_MANGLED_0);
	if (v == STAMP_DROP)
		return TC_ACT_SHOT;
	return lb_chain_next(skb);
}

#define STAMP_PROGS(name, id, dropper)					\
	SEC("xdp")							\
	int name##_xdp(struct xdp_md *ctx)				\
	{								\
		return stamp_xdp(ctx, id, dropper);			\
	}								\
	SEC("tc")							\
	int name##_tc(struct __sk_buff *skb)				\
	{								\
		return stamp_tc(skb, id, dropper);			\
	}

STAMP_PROGS(stamp1, 1, false)
STAMP_PROGS(stamp2, 2, false)
STAMP_PROGS(stamp3, 3, false)
STAMP_PROGS(stamp4, 4, false)
STAMP_PROGS(drop, STAMP_DROP_ID, true)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
