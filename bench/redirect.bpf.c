// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redirect - the forwarding floors of bench/fwd_bench.sh: every packet gets the
 * MACs of one backend and is redirected to it, with no lookup of any kind.
 * xdp-redirect-floor runs redirect_xdp on the LB's client-facing veth,
 * tc-redirect-floor redirect_tc on its tc ingress.  The script writes the target
 * (ifindex, destination and source MAC) into redirect_to[0] with bpftool.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct redirect_to {
	__u32 ifindex;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct redirect_to);
} redirect_to SEC(".maps");

/* The target with its MACs on the frame; NULL: pass the packet on. */
static __always_inline struct redirect_to *retarget(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct redirect_to *to;
	__u32 zero = 0;

	to = bpf_map_lookup_elem(&redirect_to, &zero);
	if (!to || !to->ifindex || (void *)(eth + 1) > data_end)
		return NULL;
	__builtin_memcpy(eth->h_dest, to->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, to->smac, ETH_ALEN);
	return to;
}

SEC("xdp")
int redirect_xdp(struct xdp_md *ctx)
{
	struct redirect_to *to = retarget((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	return to ? bpf_redirect(to->ifindex, 0) : XDP_PASS;
}

SEC("tc")
int redirect_tc(struct __sk_buff *skb)
{
	struct redirect_to *to = retarget((void *)(long)skb->data, (void *)(long)skb->data_end);

	return to ? bpf_redirect(to->ifindex, 0) : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
