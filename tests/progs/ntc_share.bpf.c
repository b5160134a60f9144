// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc tests: a third-party object that shares maps by name: ntc_hits of
 * ntc_tail.bpf.o and lb_drops of the lbkit datapath (same shapes).  It counts its
 * runs in ntc_hits[3] and only reads lb_drops.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ntc_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_DROP_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_drops SEC(".maps");

SEC("tc")
int ntc_share(struct __sk_buff *skb)
{
	__u32 k = 3, d = 0;
	__u64 *v = bpf_map_lookup_elem(&ntc_hits, &k);
	struct lb_counter *c = bpf_map_lookup_elem(&lb_drops, &d);

	if (v && c)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
