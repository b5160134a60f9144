// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ntc tests: ntc_hits pinned by name, as ntc_tail.bpf.o has it but with 4-byte
 * values: the loader must refuse to share it. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ntc_hits SEC(".maps");

SEC("tc")
int ntc_badshape(struct __sk_buff *skb)
{
	__u32 k = 0, *v = bpf_map_lookup_elem(&ntc_hits, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
