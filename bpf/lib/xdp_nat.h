/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The XDP fast path: an established flow whose next hop the FIB knows is
 * rewritten in place and redirected before an skb exists.  Everything else
 * (new flows, ICMP, unresolved neighbours) passes to TC untouched.
 * The rewrite is TC's (nat.h), with the checksums in their fields: XDP has no
 * checksum helpers, and needs none.  Senders must produce full checksums (XDP on
 * veth loses CHECKSUM_PARTIAL).
 */
#ifndef LB_XDP_NAT_H
#define LB_XDP_NAT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "parse.h"
#include "maps.h"
#include "ct.h"
#include "fwd.h"
#include "stats.h"
#include "nat.h"
#include "ablate.h"

/*
 * An established flow on XDP: XDP_REDIRECT when rewritten and sent, -1 to pass
 * the packet to TC unchanged.  The next hop comes from the flow's cache while it
 * is fresh and the packet no longer than one the FIB let through (fwd.h).
 */
static __always_inline int lb_xdp_established(struct xdp_md *ctx, const struct lb_pkt *pkt)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	const __u8 *dmac, *smac;
	struct bpf_fib_lookup fib;
	struct lb_ct_key k;
	struct lb_ct *ct;
	__u32 len = data_end - data, ifindex, ip_len, delta;
	__u64 now;

	if (lb_ct_key_of(data, data_end, pkt, &k))
		return -1;
	ct = bpf_map_lookup_elem(&lb_ct, &k);
	now = lb_now();
	if (!ct || !lb_ct_alive(&k, ct, now))
		return -1;
	ip_len = lb_ip_len(data, data_end, pkt);
	if (!LB_WITHOUT(nhcache) && lb_nh_fresh(ct, now) && ip_len <= ct->nh_mtu) {
		ifindex = ct->nh_ifindex;
		dmac = ct->nh_dmac;
		smac = ct->nh_smac;
	} else {
		/* Ask the FIB about the rewritten destination before touching anything. */
		if (lb_fib_params(data, data_end, pkt, ctx->ingress_ifindex, &fib))
			return -1;
		if (k.family == LB_AF_INET) {
			fib.ipv4_src = ct->nat_src.a[0];
			fib.ipv4_dst = ct->nat_dst.a[0];
		} else {
			__builtin_memcpy(fib.ipv6_src, ct->nat_src.a, 16);
			__builtin_memcpy(fib.ipv6_dst, ct->nat_dst.a, 16);
		}
		ip_len = fib.tot_len;
		if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
			return -1;
		lb_nh_learn(ct, &fib, ip_len, now);
		ifindex = fib.ifindex;
		dmac = fib.dmac;
		smac = fib.smac;
	}
	/* Before any byte changes: a packet passed to TC is as it came. */
	if (!LB_WITHOUT(ttlmac) && lb_ttl_out(data, data_end, pkt))
		return -1;
	if (lb_rewrite(data, data_end, pkt, &k, ct, 0, &delta))
		return -1;
	if (!LB_WITHOUT(ttlmac) &&
	    (lb_dec_ttl(data, data_end, pkt) || lb_set_macs(data, data_end, dmac, smac)))
		return -1;
	lb_ct_track(&k, ct, lb_tcp_flags(data, data_end, pkt), now);
	lb_obj_count(&lb_svc_stats, ct->svc_id, len, false);
	lb_obj_count(&lb_ep_stats, ct->ep_id, len, false);
	return bpf_redirect(ifindex, 0);
}

#endif
