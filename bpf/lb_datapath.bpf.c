// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lbkit datapath.  One pipeline over [data, data_end), compiled into one
 * program per hook (lb_xdp, lb_tc_ingress, lb_tc_egress) and the programs they
 * reach.  The stages are the headers of lib/, the maps are in lib/maps.h.
 *
 * lb_tc_ingress: parse, count, and for TCP/UDP one conntrack lookup; a live
 * entry is rewritten (NAT) and forwarded right here.  A miss tail-calls
 * lb_tc_slow through lb_jmp: service lookup, scheduling, conntrack creation;
 * ICMP and ICMPv6 go to lb_tc_icmp, which translates errors about our flows.
 * Packets that are not ours go on with TC_ACT_UNSPEC ("continue"), so programs
 * chained after ours still run.  lb_tc_egress counts and hands every packet on.
 *
 * lb_xdp: parse, count, and an established flow whose next hop the FIB knows is
 * rewritten and redirected before an skb exists (lib/xdp_nat.h); everything else
 * passes to tc unchanged.  lb_xdp_chained is lb_xdp as an element of an XDP
 * chain; lb_chain_entry and lb_chain_step run such chains (lib/chain.h).
 * lb_gc_arm (lib/gc.h) starts the conntrack sweep.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <lb/lb_abi.h>
#include "lib/ablate.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/ct.h"
#include "lib/nat.h"
#include "lib/fwd.h"
#include "lib/sched.h"
#include "lib/gc.h"
#include "lib/events.h"
#include "lib/icmp.h"
#include "lib/xdp_nat.h"
#include "lib/chain.h"

/* Headers we want linear before parsing on TC (Ethernet + 2 VLAN + IPv6 + ext + TCP). */
#define LB_TC_PULL_LEN	256
#define LB_SNAT_TRIES	32

/* Parse the skb, pulling non-linear headers once if needed. */
static __always_inline void lb_tc_parse(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (lb_parse(data, data_end, pkt) < 0 && pkt->truncated &&
	    skb->len > data_end - data) {
		__u32 want = skb->len < LB_TC_PULL_LEN ? skb->len : LB_TC_PULL_LEN;

		if (bpf_skb_pull_data(skb, want) == 0)
			lb_parse((void *)(long)skb->data, (void *)(long)skb->data_end, pkt);
	}
}

/*
 * The parse result handed to the programs lb_tc tail-calls, in skb->cb (kept
 * across a tail call), so that they do not parse again.  Only lb_tc enters them
 * (through lb_jmp), right after storing it; a tag word marks it as ours all the
 * same, and without it the packet is not ours.  The offsets are checked against
 * the packet on every use, as after a parse.
 */
#define LB_CB_TAG	0x4c42	/* "LB" */

static __always_inline void lb_pkt_stash(struct __sk_buff *skb, const struct lb_pkt *pkt)
{
	skb->cb[0] = pkt->l3_off | (__u32)pkt->l4_off << 16;
	skb->cb[1] = pkt->eth_proto | (__u32)pkt->l4_proto << 16 | (__u32)pkt->l3_ctr << 24;
	skb->cb[2] = pkt->l4_ctr | (__u32)pkt->truncated << 8 | (__u32)LB_CB_TAG << 16;
}

static __always_inline int lb_pkt_unstash(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	__u32 c0 = skb->cb[0], c1 = skb->cb[1], c2 = skb->cb[2];

	__u32 l3 = c0 & 0xffff, l4 = c0 >> 16;

	/* The bounds a parse gives, for the verifier (and any reader of the offsets). */
	if (c2 >> 16 != LB_CB_TAG || l3 > 64 || l4 > LB_MAX_L4_OFF)
		return -1;
	pkt->l3_off = l3;
	pkt->l4_off = l4;
	pkt->eth_proto = c1 & 0xffff;
	pkt->l4_proto = (c1 >> 16) & 0xff;
	pkt->l3_ctr = c1 >> 24;
	pkt->l4_ctr = c2 & 0xff;
	pkt->truncated = (c2 >> 8) & 0xff;
	return 0;
}

/* Count a drop (and report it to a monitor: k is the tuple, or NULL). */
static __always_inline int lb_drop(struct __sk_buff *skb, const struct lb_ct_key *k,
				   __u32 reason, __u32 svc_id, __u64 bytes)
{
	struct lb_counter *c = bpf_map_lookup_elem(&lb_drops, &reason);
	struct lb_obj_stats *st;

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	if (svc_id) {
		st = bpf_map_lookup_elem(&lb_svc_stats, &svc_id);
		if (st)
			st->drops++;
	}
	if (lb_mon_wants(LB_MON_DROPS))
		lb_ev_drop(skb, k, LB_EV_WHY(reason, svc_id));
	return TC_ACT_SHOT;
}

/*
 * Rewrite to the entry's tuple, count, forward.  nh: the entry in lb_ct, whose
 * next-hop cache forwarding uses and refreshes; NULL for the slow path, whose ct
 * is a copy on the stack.  counts_flow: this packet starts a flow in the counters
 * (not when another CPU started it first).
 */
static __always_inline int lb_nat_forward(struct __sk_buff *skb, const struct lb_pkt *pkt,
					  const struct lb_ct_key *k, const struct lb_ct *ct,
					  struct lb_ct *nh, bool counts_flow, __u64 now)
{
	__u64 len = skb->len;

	if (lb_nat_rewrite(skb, pkt, k, ct))
		return lb_drop(skb, k, LB_DROP_REWRITE, ct->svc_id, len);
	lb_obj_count(&lb_svc_stats, ct->svc_id, len, counts_flow);
	lb_obj_count(&lb_ep_stats, ct->ep_id, len, counts_flow);
	return lb_forward(skb, pkt, nh, now);
}

static __always_inline int lb_tc(struct __sk_buff *skb, __u32 hook)
{
	struct lb_ct_key k;
	struct lb_pkt pkt;
	struct lb_ct *ct;
	__u64 now;

	lb_tc_parse(skb, &pkt);
	if (!LB_WITHOUT(ifcount))
		lb_count(&pkt, skb->ifindex, hook, skb->len);
	if (hook != LB_HOOK_TC_INGRESS)
		return TC_ACT_UNSPEC;
	if (pkt.l4_ctr == LB_CTR_ICMP || pkt.l4_ctr == LB_CTR_ICMPV6) {
		lb_pkt_stash(skb, &pkt);
		bpf_tail_call(skb, &lb_jmp, LB_JMP_TC_ICMP);
		return TC_ACT_UNSPEC;
	}
	if (lb_ct_key_of((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt, &k))
		return TC_ACT_UNSPEC;

	ct = bpf_map_lookup_elem(&lb_ct, &k);
	now = lb_now();
	if (ct && lb_ct_alive(&k, ct, now)) {
		lb_ct_track(&k, ct, lb_tcp_flags((void *)(long)skb->data,
						 (void *)(long)skb->data_end, &pkt), now);
		return lb_nat_forward(skb, &pkt, &k, ct, ct, false, now);
	}
	lb_pkt_stash(skb, &pkt);
	bpf_tail_call(skb, &lb_jmp, LB_JMP_TC_SLOW);
	return TC_ACT_UNSPEC;	/* no slow path loaded: not ours */
}

SEC("tc")
int lb_tc_ingress(struct __sk_buff *skb)
{
	return lb_tc(skb, LB_HOOK_TC_INGRESS);
}

SEC("tc")
int lb_tc_egress(struct __sk_buff *skb)
{
	return lb_tc(skb, LB_HOOK_TC_EGRESS);
}

/* Full NAT source address: the service's, or the one the FIB picks toward ep. */
static __always_inline int lb_snat_addr(struct __sk_buff *skb, const struct lb_svc *svc,
					const struct lb_ep *ep, struct lb_addr *out)
{
	struct bpf_fib_lookup fib = {};

	if (!(svc->flags & LB_SVC_F_SNAT_IFADDR)) {
		*out = svc->snat;
		return 0;
	}
	__builtin_memset(out, 0, sizeof(*out));
	fib.ifindex = lb_skb_in_ifindex(skb);
	if (ep->family == LB_AF_INET) {
		fib.family = AF_INET;
		fib.ipv4_dst = ep->addr.a[0];
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, ep->addr.a, 16);
	}
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SRC |
			   BPF_FIB_LOOKUP_SKIP_NEIGH) != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	if (ep->family == LB_AF_INET)
		out->a[0] = fib.ipv4_src;
	else
		__builtin_memcpy(out->a, fib.ipv6_src, 16);
	return 0;
}

/*
 * Record the reply entry of a full NAT flow on a free source port: 0, or the
 * drop reason (no free port; no room in the table).
 */
static __always_inline int lb_snat_port(struct lb_ct_key *rkey, const struct lb_ct *rval,
					__u64 now)
{
	__u32 zero = 0, min = 32768, max = 60999, range, start, i;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);

	if (cfg && cfg->snat_port_min && cfg->snat_port_max >= cfg->snat_port_min) {
		min = cfg->snat_port_min;
		max = cfg->snat_port_max;
	}
	range = max - min + 1;
	start = bpf_get_prandom_u32() % range;
	for (i = 0; i < LB_SNAT_TRIES && i < range; i++) {
		long err;

		rkey->dport = bpf_htons(min + (start + i) % range);
		err = bpf_map_update_elem(&lb_ct, rkey, rval, BPF_NOEXIST);
		if (!err)
			return 0;
		if (err == -7) {		/* -E2BIG: no room, whatever the port */
			lb_ct_full(now);
			return LB_DROP_CT_FULL;
		}
	}
	return LB_DROP_NO_SNAT_PORT;
}

/*
 * The live rule-set generation of lb_services (lb_config.svc_gen & 1), read once
 * per new flow: a restore switches every service at once with one update of
 * lb_config.  A subprogram, so that the verifier sees a plain 0 or 1 in the key.
 */
static __noinline __u32 lb_live_gen(void)
{
	struct lb_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&lb_config, &zero);
	return cfg ? cfg->svc_gen & 1 : 0;
}

/* The one conntrack entry of lb_tc_slow as the reply direction: endpoint ->
 * client, rewritten to come from the VIP (flags keep SNAT). */
static __always_inline void lb_ct_as_reply(struct lb_ct *e, const struct lb_ct_key *k)
{
	e->flags = (e->flags & LB_CT_F_SNAT) | LB_CT_F_REPLY;
	e->nh_ifindex = 0;	/* its next hop is the client's, not learnt yet */
	e->nat_src = k->dst;
	e->nat_sport = k->dport;
	e->nat_dst = k->src;
	e->nat_dport = k->sport;
}

/* ... and as the forward direction: client -> endpoint, from the SNAT address
 * and port (the reply key's destination) in full NAT.  It counts in active. */
static __always_inline void lb_ct_as_forward(struct lb_ct *e, const struct lb_ct_key *k,
					     const struct lb_ct_key *rkey, const struct lb_ep *ep)
{
	bool snat = e->flags & LB_CT_F_SNAT;

	e->flags = (e->flags & LB_CT_F_SNAT) | LB_CT_F_ACTIVE;
	e->nat_src = snat ? rkey->dst : k->src;
	e->nat_sport = snat ? rkey->dport : k->sport;
	e->nat_dst = ep->addr;
	e->nat_dport = ep->port;
}

/* A new flow: find the service, pick an endpoint, record both directions. */
SEC("tc")
int lb_tc_slow(struct __sk_buff *skb)
{
	/* One entry on the stack, written as the reply direction and then turned
	 * into the forward one: the program is close to the 512-byte stack limit. */
	struct lb_ct e = {};
	struct lb_ct_key k, rkey;
	struct lb_ct *ct;
	struct lb_svc_key sk = {};
	struct lb_pkt pkt;
	struct lb_svc *svc;
	struct lb_ep *ep;
	struct lb_ep_nh *nhc;
	__u64 now = lb_now(), len = skb->len;
	__u32 ep_id, slot, in_ifindex = lb_skb_in_ifindex(skb);
	int rc;

	if (lb_pkt_unstash(skb, &pkt) ||
	    lb_ct_key_of((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt, &k))
		return TC_ACT_UNSPEC;
	sk.vip = k.dst;
	sk.port = k.dport;
	sk.proto = k.proto;
	sk.family = k.family;
	sk.gen = lb_live_gen();
	svc = bpf_map_lookup_elem(&lb_services, &sk);
	if (!svc)
		return TC_ACT_UNSPEC;	/* not a service: the stack's */
	if (!lb_allowed(svc, &k.src))
		return lb_drop(skb, &k, LB_DROP_NOT_ALLOWED, svc->id, len);
	ep_id = LB_WITHOUT(select) ? lb_sel_at(svc->sel_off, 0) : lb_select_persist(svc, &k, now);
	ep = ep_id ? bpf_map_lookup_elem(&lb_endpoints, &ep_id) : NULL;
	if (!ep || ep->svc_id != svc->id)
		return lb_drop(skb, &k, LB_DROP_NO_ENDPOINT, svc->id, len);

	e.svc_id = svc->id;
	e.ep_id = ep_id;
	e.created_ns = e.last_seen_ns = now;
	__builtin_memset(&rkey, 0, sizeof(rkey));
	rkey.src = ep->addr;
	rkey.sport = ep->port;
	rkey.proto = k.proto;
	rkey.family = k.family;
	rkey.dst = k.src;
	rkey.dport = k.sport;

	if (svc->mode == LB_NAT_FULLNAT) {
		/* The reply entry first: inserting it claims a free source port. */
		if (lb_snat_addr(skb, svc, ep, &rkey.dst))
			return lb_drop(skb, &k, LB_DROP_NO_SNAT_ADDR, svc->id, len);
		e.flags = LB_CT_F_SNAT;
		lb_ct_as_reply(&e, &k);
		int why = lb_snat_port(&rkey, &e, now);

		if (why)
			return lb_drop(skb, &k, why, svc->id, len);
	}
	lb_ct_as_forward(&e, &k, &rkey, ep);
	/* The forward entry goes in with the next hop when this CPU knows it. */
	slot = lb_ep_nh_slot(ep_id);
	nhc = LB_WITHOUT(epnh) ? NULL : bpf_map_lookup_elem(&lb_ep_nh, &slot);
	if (!LB_WITHOUT(epnh)) {
		if (!nhc)	/* never: the slot is in range (one path for the verifier) */
			return TC_ACT_UNSPEC;
		lb_ep_nh_take(&e, nhc, in_ifindex, now);
	}
	switch (LB_WITHOUT(ctinsert) ? LB_CLAIM_WON : lb_ct_claim(&k, &e, now)) {
	case LB_CLAIM_LOST:
		/* Another CPU started this flow first: follow its entry, leave no
		 * entry of ours behind, count nothing twice. */
		if (e.flags & LB_CT_F_SNAT)
			bpf_map_delete_elem(&lb_ct, &rkey);
		ct = bpf_map_lookup_elem(&lb_ct, &k);
		if (!ct)
			return lb_drop(skb, &k, LB_DROP_CT_FULL, svc->id, len);
		e = *ct;
		return lb_nat_forward(skb, &pkt, &k, &e, NULL, false, 0);
	case LB_CLAIM_FAILED:
		if (e.flags & LB_CT_F_SNAT)
			bpf_map_delete_elem(&lb_ct, &rkey);
		return lb_drop(skb, &k, LB_DROP_CT_FULL, svc->id, len);
	case LB_CLAIM_WON:
		break;
	}
	if (!(e.flags & LB_CT_F_SNAT)) {
		/* DNAT: the reply entry after the claim (its key cannot collide with
		 * another CPU's for this flow: the claim is ours). */
		lb_ct_as_reply(&e, &k);
		if (!LB_WITHOUT(ctinsert) && bpf_map_update_elem(&lb_ct, &rkey, &e, BPF_ANY)) {
			bpf_map_delete_elem(&lb_ct, &k);
			return lb_drop(skb, &k, LB_DROP_CT_FULL, svc->id, len);
		}
		lb_ct_as_forward(&e, &k, &rkey, ep);
		if (nhc)
			lb_ep_nh_take(&e, nhc, in_ifindex, now);
	}
	lb_ep_active_add(ep_id, 1);
	if (lb_mon_wants(LB_MON_FLOWS))
		lb_ev_flow_new(skb, &k, &e);
	/* e, a copy, takes what the FIB answers: kept for the endpoint's next flows
	 * (after a hit, the same question and answer again). */
	rc = lb_nat_forward(skb, &pkt, &k, &e, LB_WITHOUT(fib) ? NULL : &e, true, now);
	if (nhc && e.nh_ifindex)
		lb_ep_nh_keep(nhc, &e, in_ifindex);
	return rc;
}

/* ICMP: errors about our flows are translated and forwarded; the rest goes on. */
SEC("tc")
int lb_tc_icmp(struct __sk_buff *skb)
{
	struct lb_ct_key outer = {}, k;
	struct lb_ct *ct = NULL;
	struct lb_pkt pkt;
	__u8 type;
	int rc;

	if (lb_pkt_unstash(skb, &pkt) ||
	    (pkt.l4_ctr != LB_CTR_ICMP && pkt.l4_ctr != LB_CTR_ICMPV6) ||
	    bpf_skb_load_bytes(skb, pkt.l4_off, &type, 1) || !lb_icmp_is_error(&pkt, type) ||
	    lb_l3_addrs((void *)(long)skb->data, (void *)(long)skb->data_end, &pkt, &outer))
		return TC_ACT_UNSPEC;
	rc = lb_icmp_error(skb, &pkt, &outer, &k, &ct);
	if (rc == LB_ICMP_NOT_OURS)
		return TC_ACT_UNSPEC;
	if (rc != TC_ACT_OK || !ct)
		return lb_drop(skb, NULL, LB_DROP_REWRITE, 0, skb->len);
	lb_obj_count(&lb_svc_stats, ct->svc_id, skb->len, false);
	return lb_forward(skb, &pkt, NULL, 0);
}

static __always_inline int lb_xdp_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb_pkt pkt;
	int rc;

	lb_parse(data, data_end, &pkt);
	if (!LB_WITHOUT(ifcount))
		lb_count(&pkt, ctx->ingress_ifindex, LB_HOOK_XDP, data_end - data);
	rc = lb_xdp_established(ctx, &pkt);
	return rc < 0 ? XDP_PASS : rc;
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	return lb_xdp_main(ctx);
}

/* The same as an element of an XDP chain: what lb_xdp passes goes on down the chain. */
SEC("xdp")
int lb_xdp_chained(struct xdp_md *ctx)
{
	int rc = lb_xdp_main(ctx);

	return rc == XDP_PASS ? lb_chain_next(ctx) : rc;
}

SEC("xdp")
int lb_chain_entry(struct xdp_md *ctx)
{
	return lb_chain_start(ctx);
}

SEC("xdp")
int lb_chain_step(struct xdp_md *ctx)
{
	return lb_chain_step_next(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The layout these programs expect: lb_upgrade() records it in lb_config. */
const volatile __u32 lb_abi_version = LB_ABI_VERSION;
