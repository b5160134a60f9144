// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lbkit datapath.  One pipeline over [data, data_end), compiled into one
 * program per hook: lb_xdp, lb_tc_ingress, lb_tc_egress.
 *
 * Stage 1 (foundation): parse and count, then hand every packet on unchanged:
 * XDP_PASS on XDP, TC_ACT_UNSPEC ("continue") on TC, so programs chained after
 * ours still run.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"

/* Headers we want linear before parsing on TC (Ethernet + 2 VLAN + IPv6 + ext + TCP). */
#define LB_TC_PULL_LEN	256

static __always_inline int lb_tc(struct __sk_buff *skb, __u32 hook)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct lb_pkt pkt;

	if (lb_parse(data, data_end, &pkt) < 0 && pkt.truncated &&
	    skb->len > data_end - data) {
		/* Headers not all in the linear area: pull once and parse again. */
		__u32 want = skb->len < LB_TC_PULL_LEN ? skb->len : LB_TC_PULL_LEN;

		if (bpf_skb_pull_data(skb, want) == 0) {
			data = (void *)(long)skb->data;
			data_end = (void *)(long)skb->data_end;
			lb_parse(data, data_end, &pkt);
		}
	}
	lb_count(&pkt, skb->ifindex, hook, skb->len);
	return TC_ACT_UNSPEC;
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

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct lb_pkt pkt;

	lb_parse(data, data_end, &pkt);
	lb_count(&pkt, ctx->ingress_ifindex, LB_HOOK_XDP, data_end - data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
