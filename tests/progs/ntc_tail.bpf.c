// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc tests: a tc program that tail-calls through a prog array which the loader
 * fills from the section name "tail/ntc_jmp/2", counting in a map pinned by name.
 * ntc_hits: [0] entry runs, [1] tail runs, [2] tail calls that found no program.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ntc_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} ntc_jmp SEC(".maps");

static __always_inline void hit(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&ntc_hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int ntc_entry(struct __sk_buff *skb)
{
	hit(0);
	bpf_tail_call(skb, &ntc_jmp, 2);
	hit(2);
	return TC_ACT_UNSPEC;
}

SEC("tail/ntc_jmp/2")
int ntc_tail2(struct __sk_buff *skb)
{
	hit(1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
