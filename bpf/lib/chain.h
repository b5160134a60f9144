/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * XDP chains, the kernel side (lb_abi.h describes the maps, maps.h defines them,
 * lbattach(8) tells the use).
 * lb_chain_entry, attached to the interface, reads the chain's live layout once
 * per packet into the per-CPU lb_chain_pos and tail-calls its first program; a
 * chain-ready program's lb_chain_next() (or the wrapper lbattach puts around a
 * foreign program) tail-calls lb_chain_step, which runs the next one.  A packet
 * keeps the layout it started with, so a switch of lb_chain_cfg never shows it a
 * half-built chain.
 */
#ifndef LB_BPF_CHAIN_H
#define LB_BPF_CHAIN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include <lb/lb_chain.h>
#include "maps.h"

/* Run the program at pos->idx, counting it; XDP_PASS past the end (or on a hole). */
static __always_inline int lb_chain_run(struct xdp_md *ctx, struct lb_chain_pos *pos)
{
	__u32 slot;
	__u64 *n;

	if (pos->idx >= pos->len || pos->idx >= LB_CHAIN_LEN_MAX)
		return XDP_PASS;
	slot = pos->base + pos->idx;
	n = bpf_map_lookup_elem(&lb_chain_stats, &slot);
	if (n)
		(*n)++;
	bpf_tail_call(ctx, &lb_chain, slot);
	return XDP_PASS;
}

static __always_inline int lb_chain_start(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex, zero = 0;
	struct lb_chain_cfg *cfg = bpf_map_lookup_elem(&lb_chain_cfg, &ifindex);
	struct lb_chain_pos *pos = bpf_map_lookup_elem(&lb_chain_pos, &zero);

	if (!cfg || !pos)
		return XDP_PASS;
	pos->ifindex = ifindex;
	pos->base = cfg->base;
	pos->len = cfg->len;
	pos->idx = 0;
	return lb_chain_run(ctx, pos);
}

static __always_inline int lb_chain_step_next(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct lb_chain_pos *pos = bpf_map_lookup_elem(&lb_chain_pos, &zero);

	/* Only packets that came in through the entry program on this interface. */
	if (!pos || pos->ifindex != ctx->ingress_ifindex)
		return XDP_PASS;
	pos->idx++;
	return lb_chain_run(ctx, pos);
}

#endif /* LB_BPF_CHAIN_H */
