/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lb_chain.h - for BPF programs that run in an lbkit chain (lbattach(8), "chain").
 * Installed as <lb/lb_chain.h>.
 *
 * A chain-ready program ends with
 *
 *	return lb_chain_next(ctx);
 *
 * wherever it would let the packet go on (XDP_PASS on XDP, TC_ACT_UNSPEC on tc).
 *
 * On tc (tcx links or cls_bpf filters) the kernel itself runs the next program when
 * one returns TC_ACT_UNSPEC, so lb_chain_next() is just that.  On XDP an interface
 * has one program, so lbattach attaches an entry program that runs the chain by
 * tail calls through the prog array lb_chain: lb_chain_next() tail-calls the step
 * program in slot LB_CHAIN_STEP, which moves on to the next program of the chain
 * (or returns XDP_PASS after the last one).  The map is pinned by name, so an object
 * loaded by "lbattach chain add" shares the one of its pin root.
 *
 * A program that knows nothing of chains (it returns XDP_PASS) need not include
 * this: lbattach wraps it at load time so that XDP_PASS goes on to the next program.
 */
#ifndef LB_CHAIN_H
#define LB_CHAIN_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"	/* LB_CHAIN_SLOTS, LB_CHAIN_STEP */

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LB_CHAIN_SLOTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_chain SEC(".maps");

static __always_inline int lb_chain_next_xdp(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &lb_chain, LB_CHAIN_STEP);
	return XDP_PASS;	/* not in a chain (or its step is missing): go on */
}

static __always_inline int lb_chain_next_tc(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_UNSPEC;
}

#define lb_chain_next(ctx) _Generic((ctx),			\
	struct xdp_md *: lb_chain_next_xdp,			\
	struct __sk_buff *: lb_chain_next_tc)(ctx)

#endif /* LB_CHAIN_H */
