// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sink - the backends of bench/fwd_bench.sh: an XDP program that counts every
 * frame it gets (packets and bytes, per CPU, no atomics) and drops it.  On a veth
 * it also makes the kernel's XDP path the receiver, so that XDP_REDIRECT into the
 * peer is delivered (a veth peer without an XDP program drops redirected frames).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sink_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sink_count);
} sink_counts SEC(".maps");

SEC("xdp")
int sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sink_count *c = bpf_map_lookup_elem(&sink_counts, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
