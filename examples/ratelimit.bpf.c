// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ratelimit: a per-source packet rate limiter for an lbkit chain (examples/README.md).
 *
 * Every IPv4 or IPv6 packet is charged to its source address; a source may send
 * rate_pps packets per second with bursts of up to `burst` packets, and what is
 * above that is dropped.  Non-IP packets go on uncounted.  Two programs, one logic:
 * ratelimit_xdp (SEC "xdp", chain-ready) and ratelimit_tc (SEC "tc").
 *
 * Configure (all maps are pinned by name under ROOT/maps, ROOT being the pin root,
 * /sys/fs/bpf/lb by default); rl_config element 0 is { __u64 rate_pps; __u64 burst; },
 * little endian on x86 and arm64.  100 packets/s, bursts of 20:
 *
 *	bpftool map update pinned ROOT/maps/rl_config key hex 00 00 00 00 \
 *		value hex 64 00 00 00 00 00 00 00 14 00 00 00 00 00 00 00
 *
 * or, with lbmap's typed update (intended form):
 *
 *	lbmap update rl_config key 0 value rate_pps 100 burst 20
 *
 * rate_pps 0 (the default) lets everything through; burst 0 means one second's worth
 * (rate_pps).  A change applies at once, to existing sources too.
 *
 * The bucket is kept as GCRA (the "virtual scheduling" form of a token bucket):
 * one timestamp per source, the theoretical arrival time `tat` of its next packet.
 * With T = 1 s / rate_pps, a packet at time now passes when tat - now <= (burst - 1) * T
 * (taking tat = now when it lies in the past) and then moves tat on by T.  One
 * 64-bit value lets CPUs update it with compare-and-swap instead of a lock, and
 * the arithmetic is integer only: bursts are limited to 2^32 packets.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_chain.h>		/* lb_chain_next(); lb_abi.h: struct lb_addr, LB_AF_* */

#define NSEC_PER_SEC	1000000000ULL
#define RL_BURST_MAX	(1ULL << 32)	/* keeps (burst - 1) * T within 64 bits */
#define RL_CAS_TRIES	4		/* then another CPU keeps winning: let it go */
#define RL_PULL_LEN	128		/* tc: linear bytes wanted for the IP header */

/* rl_config: ARRAY, one element. */
struct rl_config {
	__u64 rate_pps;		/* packets per second per source; 0: no limit */
	__u64 burst;		/* packets a source may send at once; 0: rate_pps */
};

/* rl_buckets: LRU_HASH, struct rl_key -> struct rl_bucket. */
struct rl_key {
	struct lb_addr addr;	/* IPv4: addr.a[0], the rest 0 */
	__u8 family;		/* LB_AF_INET (4) or LB_AF_INET6 (6) */
	__u8 pad[3];		/* 0 */
};

struct rl_bucket {
	__u64 tat;		/* ns, bpf_ktime_get_ns() clock: when the bucket is full
				 * again (now or earlier: full) */
};

/* rl_stats: PERCPU_ARRAY, one element: IP packets judged. */
struct rl_stats {
	__u64 passed;
	__u64 dropped;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);	/* a forgotten source starts with a full bucket */
	__type(key, struct rl_key);
	__type(value, struct rl_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_stats SEC(".maps");

enum rl_verdict {
	RL_PASS,
	RL_DROP,
	RL_SHORT,	/* the IP header is not all in [data, data_end) */
};

struct rl_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* The source of an IP packet (after up to two VLAN tags) into *key. */
static __always_inline int rl_source(void *data, void *data_end, struct rl_key *key)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u16 proto;
	int i;

	if (l3 > data_end)
		return -1;
	proto = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (i = 0; i < 2; i++) {
		struct rl_vlan_hdr *vh = l3;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(vh + 1) > data_end)
			return -1;
		proto = bpf_ntohs(vh->encap_proto);
		l3 = vh + 1;
	}
	if (proto == ETH_P_IP) {
		struct iphdr *iph = l3;

		if ((void *)(iph + 1) > data_end)
			return RL_SHORT;
		key->addr.a[0] = iph->saddr;
		key->family = LB_AF_INET;
		return 0;
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6h = l3;

		if ((void *)(ip6h + 1) > data_end)
			return RL_SHORT;
		__builtin_memcpy(&key->addr, &ip6h->saddr, sizeof(key->addr));
		key->family = LB_AF_INET6;
		return 0;
	}
	return -1;
}

/* Charge one packet to key's bucket: RL_PASS or RL_DROP. */
static __always_inline int rl_charge(const struct rl_config *cfg, struct rl_key *key)
{
	__u64 rate = cfg->rate_pps, burst = cfg->burst, t, tau, now, old, tat;
	struct rl_bucket *b, nb;
	int i;

	if (rate > NSEC_PER_SEC)
		rate = NSEC_PER_SEC;	/* T >= 1 ns */
	if (!burst)
		burst = cfg->rate_pps;
	if (burst > RL_BURST_MAX)
		burst = RL_BURST_MAX;
	t = NSEC_PER_SEC / rate;
	tau = (burst - 1) * t;
	now = bpf_ktime_get_ns();

	b = bpf_map_lookup_elem(&rl_buckets, key);
	if (!b) {
		/* A new source: a full bucket, less this packet. */
		nb.tat = now + t;
		if (!bpf_map_update_elem(&rl_buckets, key, &nb, BPF_NOEXIST))
			return RL_PASS;
		b = bpf_map_lookup_elem(&rl_buckets, key);	/* another CPU was first */
		if (!b)
			return RL_PASS;
	}
#pragma unroll
	for (i = 0; i < RL_CAS_TRIES; i++) {
		old = *(volatile __u64 *)&b->tat;
		tat = old > now ? old : now;
		if (tat - now > tau)
			return RL_DROP;
		if (__sync_val_compare_and_swap(&b->tat, old, tat + t) == old)
			return RL_PASS;
	}
	return RL_PASS;
}

/* The one logic of both programs, over [data, data_end). */
static __always_inline int rl_packet(void *data, void *data_end)
{
	struct rl_key key = {};
	struct rl_config *cfg;
	struct rl_stats *st;
	__u32 zero = 0;
	int v;

	v = rl_source(data, data_end, &key);
	if (v)
		return v == RL_SHORT ? RL_SHORT : RL_PASS;	/* not IP: not ours */
	cfg = bpf_map_lookup_elem(&rl_config, &zero);
	v = cfg && cfg->rate_pps ? rl_charge(cfg, &key) : RL_PASS;
	st = bpf_map_lookup_elem(&rl_stats, &zero);
	if (st) {
		if (v == RL_DROP)
			st->dropped++;
		else
			st->passed++;
	}
	return v;
}

SEC("xdp")
int ratelimit_xdp(struct xdp_md *ctx)
{
	int v = rl_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	if (v == RL_DROP)
		return XDP_DROP;
	return lb_chain_next(ctx);
}

SEC("tc")
int ratelimit_tc(struct __sk_buff *skb)
{
	int v = rl_packet((void *)(long)skb->data, (void *)(long)skb->data_end);

	/* The IP header outside the linear area: pull it in once and look again. */
	if (v == RL_SHORT && skb->data_end - skb->data < skb->len &&
	    !bpf_skb_pull_data(skb, skb->len < RL_PULL_LEN ? skb->len : RL_PULL_LEN))
		v = rl_packet((void *)(long)skb->data, (void *)(long)skb->data_end);
	if (v == RL_DROP)
		return TC_ACT_SHOT;
	return lb_chain_next(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
