// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A third party's program with global subprograms: plain libbpf, no lbkit header,
 * like foreign.bpf.c, but its work is done in global (non-static, __noinline)
 * functions, which the verifier checks on their own from their BTF (without
 * func_info it checks them inline at every call, as static ones), and it takes a
 * callback's address, which the kernel refuses without func_info.
 *
 *	globalfn_xdp	stamps id 8 (the stamp.bpf.c protocol: a UDP packet to port
 *			9999 carrying __be32 seq | __u8 n | __u8 ids[15] gets
 *			ids[n] = 8, n++; IPv4 only, its UDP checksum becomes 0) in
 *			gf_stamp_xdp(), which counts in gf_count() from a bpf_loop
 *			callback; XDP_PASS always
 *	globalfn_tc	counts the stamp packets (IPv4) in gf_count() from
 *			gf_check_tc(); TC_ACT_UNSPEC always
 *
 * gf_count(8) adds one to stamp_seen[8] (stamp_wire.h, pinned by name).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "stamp_wire.h"

#define GLOBALFN_ID	8

__noinline int gf_count(__u32 id)
{
	__u64 *cnt = bpf_map_lookup_elem(&stamp_seen, &id);

	if (!cnt)
		return 0;
	__sync_fetch_and_add(cnt, 1);
	return 1;
}

/* The payload of a stamp packet in [data, data_end), or NULL. */
static __always_inline struct stamp_payload *payload_of(void *data, void *data_end,
							struct udphdr **uhp)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct stamp_payload *pl;
	struct udphdr *uh;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->protocol != IPPROTO_UDP || iph->ihl != 5 || (iph->frag_off & bpf_htons(0x3fff)))
		return NULL;
	uh = (void *)(iph + 1);
	pl = (void *)(uh + 1);
	if ((void *)(pl + 1) > data_end || uh->dest != bpf_htons(STAMP_PORT) ||
	    bpf_ntohs(uh->len) < sizeof(*uh) + sizeof(*pl))
		return NULL;
	*uhp = uh;
	return pl;
}

/* A callback: its address is a BPF_PSEUDO_FUNC load, which the kernel takes
 * only with func_info. */
static int count_cb(__u32 i, void *id)
{
	gf_count(*(__u32 *)id);
	return 1;
}

__noinline int gf_stamp_xdp(struct xdp_md *ctx)
{
	__u32 id = GLOBALFN_ID;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct udphdr *uh = NULL;
	struct stamp_payload *pl = payload_of(data, data_end, &uh);
	__u8 n, *slot;

	if (!pl || !uh)
		return 0;
	bpf_loop(1, count_cb, &id, 0);
	n = pl->n;
	if (n >= sizeof(pl->ids))
		return 1;
	slot = &pl->ids[n];
	if ((void *)(slot + 1) > data_end)
		return 1;
	*slot = GLOBALFN_ID;
	pl->n = n + 1;
	uh->check = 0;
	return 1;
}

__noinline int gf_check_tc(struct __sk_buff *skb)
{
	struct udphdr *uh = NULL;

	if (!payload_of((void *)(long)skb->data, (void *)(long)skb->data_end, &uh))
		return 0;
	return gf_count(GLOBALFN_ID);
}

SEC("xdp")
int globalfn_xdp(struct xdp_md *ctx)
{
	gf_stamp_xdp(ctx);
	return XDP_PASS;
}

SEC("tc")
int globalfn_tc(struct __sk_buff *skb)
{
	gf_check_tc(skb);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
