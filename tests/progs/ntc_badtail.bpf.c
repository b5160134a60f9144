// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ntc tests: a tail section whose key is past the end of its prog array (4
 * entries): the loader must refuse the object and pin nothing, not even ntc_hits. */
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

SEC("tc")
int ntc_entry(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&ntc_hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_tail_call(skb, &ntc_jmp, 0);
	return TC_ACT_UNSPEC;
}

SEC("tail/ntc_jmp/4")
int ntc_tail4(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
