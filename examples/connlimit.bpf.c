// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connlimit: a per-source limit on open TCP connections, for an lbkit chain
 * (examples/README.md).
 *
 * It watches the client side of TCP connections (put it on the ingress of the
 * interface clients come in on).  A SYN without ACK opens a connection: it is
 * dropped when its source already has `limit` open ones, else remembered in
 * cl_flows and counted in cl_count.  A retransmitted SYN of a remembered
 * connection passes and counts nothing.  A FIN or RST of a remembered connection
 * (so from its client) closes it: the entry goes and the count drops by one, once.
 * Every other packet, and everything that is not TCP over IPv4 or IPv6, goes on.
 * Two programs, one logic: connlimit_xdp (SEC "xdp", chain-ready) and connlimit_tc
 * (SEC "tc").
 *
 * Configure (maps pinned by name under ROOT/maps, ROOT being the pin root,
 * /sys/fs/bpf/lb by default); cl_config element 0 is { __u32 limit; }, little endian
 * on x86 and arm64.  At most 10 connections per source:
 *
 *	bpftool map update pinned ROOT/maps/cl_config key hex 00 00 00 00 \
 *		value hex 0a 00 00 00
 *
 * or, with lbmap's typed update (intended form):
 *
 *	lbmap update cl_config key 0 value limit 10
 *
 * limit 0 (the default) refuses nothing; connections are still counted, so a
 * limit set later applies to the ones already open.
 *
 * What it cannot see: a connection that ends without a FIN or RST from its client
 * (a SYN the server refused, a client that vanished), or whose cl_flows entry is
 * evicted (an LRU map), keeps its slot in cl_count.  Deleting the source's cl_count
 * entry (bpftool map delete) gives it a fresh start.  IPv6 packets with more than
 * four extension headers, and fragments after the first, are not looked at.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_chain.h>		/* lb_chain_next(); lb_abi.h: struct lb_addr, LB_AF_* */

#define CL_EXT_HDRS	4	/* IPv6 extension headers walked */
#define CL_CAS_TRIES	4
#define CL_PULL_LEN	256	/* tc: linear bytes wanted for the headers */

/* cl_config: ARRAY, one element. */
struct cl_config {
	__u32 limit;		/* open connections per source; 0: no limit */
};

/* cl_flows: LRU_HASH, struct cl_flow -> struct cl_flow_info: the open connections. */
struct cl_flow {
	struct lb_addr saddr;	/* the client; IPv4 in a[0], the rest 0 */
	struct lb_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 family;		/* LB_AF_INET (4) or LB_AF_INET6 (6) */
	__u8 pad[3];		/* 0 */
};

struct cl_flow_info {
	__u64 opened_ns;	/* bpf_ktime_get_ns() of the SYN that opened it */
};

/* cl_count: LRU_HASH, struct cl_src -> __u32 open connections of that source. */
struct cl_src {
	struct lb_addr addr;
	__u8 family;
	__u8 pad[3];
};

/* cl_stats: PERCPU_ARRAY, one element: connection attempts (SYN without ACK). */
struct cl_stats {
	__u64 passed;		/* new connections and retransmitted SYNs */
	__u64 dropped;		/* SYNs of a source at its limit */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cl_flow);
	__type(value, struct cl_flow_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cl_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);	/* idle sources make room for new ones */
	__uint(max_entries, 16384);
	__type(key, struct cl_src);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cl_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cl_stats SEC(".maps");

enum cl_verdict {
	CL_PASS,
	CL_DROP,
	CL_SHORT,	/* a header is not all in [data, data_end) */
};

struct cl_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/*
 * The TCP header of an IPv4 or IPv6 packet (after up to two VLAN tags) and its
 * addresses into *f.  NULL when there is none to look at; *short_ when a header
 * ran past data_end.
 */
static __always_inline struct tcphdr *cl_parse(void *data, void *data_end, struct cl_flow *f,
					       int *short_)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	struct tcphdr *th;
	__u16 proto;
	__u8 nexthdr;
	int i;

	if ((void *)(eth + 1) > data_end)
		return NULL;
	proto = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct cl_vlan_hdr *vh = data + off;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(vh + 1) > data_end)
			return NULL;
		proto = bpf_ntohs(vh->encap_proto);
		off += sizeof(*vh);
	}
	if (proto == ETH_P_IP) {
		struct iphdr *iph = data + off;

		if ((void *)(iph + 1) > data_end)
			goto short_hdr;
		if (iph->protocol != IPPROTO_TCP || iph->ihl < 5 ||
		    (iph->frag_off & bpf_htons(0x1fff)))
			return NULL;
		f->saddr.a[0] = iph->saddr;
		f->daddr.a[0] = iph->daddr;
		f->family = LB_AF_INET;
		off += iph->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = data + off;

		if ((void *)(ip6h + 1) > data_end)
			goto short_hdr;
		__builtin_memcpy(&f->saddr, &ip6h->saddr, sizeof(f->saddr));
		__builtin_memcpy(&f->daddr, &ip6h->daddr, sizeof(f->daddr));
		f->family = LB_AF_INET6;
		nexthdr = ip6h->nexthdr;
		off += sizeof(*ip6h);
#pragma unroll
		for (i = 0; i < CL_EXT_HDRS; i++) {
			struct ipv6_opt_hdr *oh = data + (off & 0xffff);

			if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
			    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_FRAGMENT)
				break;
			if ((void *)oh + 8 > data_end)	/* every one is 8 bytes or more */
				goto short_hdr;
			if (nexthdr == IPPROTO_FRAGMENT) {
				/* frag_off is bytes 2-3 of the 8-byte fragment header */
				if (((__be16 *)oh)[1] & bpf_htons(0xfff8))
					return NULL;	/* not the first fragment */
				nexthdr = oh->nexthdr;
				off += 8;
			} else {
				nexthdr = oh->nexthdr;
				off += (oh->hdrlen + 1) * 8;
			}
		}
		if (nexthdr != IPPROTO_TCP)
			return NULL;
	} else {
		return NULL;
	}
	th = data + (off & 0xffff);
	if ((void *)(th + 1) > data_end)
		goto short_hdr;
	f->sport = th->source;
	f->dport = th->dest;
	return th;
short_hdr:
	*short_ = 1;
	return NULL;
}

/* One more open connection for src, unless it has limit already (0: no limit). */
static __always_inline int cl_take(struct cl_src *src, __u32 limit)
{
	__u32 one = 1, *n, old;
	int i;

	n = bpf_map_lookup_elem(&cl_count, src);
	if (!n) {
		if (!bpf_map_update_elem(&cl_count, src, &one, BPF_NOEXIST))
			return 0;
		n = bpf_map_lookup_elem(&cl_count, src);	/* another CPU was first */
		if (!n)
			return 0;	/* cannot count: let it go */
	}
#pragma unroll
	for (i = 0; i < CL_CAS_TRIES; i++) {
		old = *(volatile __u32 *)n;
		if (limit && old >= limit)
			return -1;
		if (__sync_val_compare_and_swap(n, old, old + 1) == old)
			return 0;
	}
	return -1;	/* contended by other SYNs of this source: refuse, it will retry */
}

/* One open connection less for src, never below 0. */
static __always_inline void cl_put(struct cl_src *src)
{
	__u32 *n = bpf_map_lookup_elem(&cl_count, src), old;
	int i;

	if (!n)
		return;
#pragma unroll
	for (i = 0; i < CL_CAS_TRIES; i++) {
		old = *(volatile __u32 *)n;
		if (!old || __sync_val_compare_and_swap(n, old, old - 1) == old)
			return;
	}
}

/* The one logic of both programs, over [data, data_end). */
static __always_inline int cl_packet(void *data, void *data_end)
{
	struct cl_flow_info info;
	struct cl_flow f = {};
	struct cl_src src = {};
	struct cl_config *cfg;
	struct cl_stats *st;
	struct tcphdr *th;
	__u32 zero = 0;
	int short_ = 0, v = CL_PASS;

	th = cl_parse(data, data_end, &f, &short_);
	if (!th)
		return short_ ? CL_SHORT : CL_PASS;
	src.addr = f.saddr;
	src.family = f.family;

	if (th->rst || th->fin) {
		/* Only the packet whose delete succeeds closes the connection. */
		if (!bpf_map_delete_elem(&cl_flows, &f))
			cl_put(&src);
		return CL_PASS;
	}
	if (!th->syn || th->ack)
		return CL_PASS;

	/* A SYN: a retransmission of a known connection, or a new one. */
	if (!bpf_map_lookup_elem(&cl_flows, &f)) {
		cfg = bpf_map_lookup_elem(&cl_config, &zero);
		if (cl_take(&src, cfg ? cfg->limit : 0)) {
			v = CL_DROP;
		} else {
			info.opened_ns = bpf_ktime_get_ns();
			/* Lost a race with the same SYN on another CPU: count it once. */
			if (bpf_map_update_elem(&cl_flows, &f, &info, BPF_NOEXIST))
				cl_put(&src);
		}
	}
	st = bpf_map_lookup_elem(&cl_stats, &zero);
	if (st) {
		if (v == CL_DROP)
			st->dropped++;
		else
			st->passed++;
	}
	return v;
}

SEC("xdp")
int connlimit_xdp(struct xdp_md *ctx)
{
	int v = cl_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (v == CL_DROP)
		return XDP_DROP;
	return lb_chain_next(ctx);
}

SEC("tc")
int connlimit_tc(struct __sk_buff *skb)
{
	int v = cl_packet((void *)(long)skb->data, (void *)(long)skb->data_end);

	/* Headers outside the linear area: pull them in once and look again. */
	if (v == CL_SHORT && skb->data_end - skb->data < skb->len &&
	    !bpf_skb_pull_data(skb, skb->len < CL_PULL_LEN ? skb->len : CL_PULL_LEN))
		v = cl_packet((void *)(long)skb->data, (void *)(long)skb->data_end);
	if (v == CL_DROP)
		return TC_ACT_SHOT;
	return lb_chain_next(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
