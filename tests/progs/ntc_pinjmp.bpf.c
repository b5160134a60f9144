// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc tests: a prog array pinned by name (shared by every object that declares
 * it), filled from the section "tail/ntc_pjmp/1".  A later load overwrites the
 * slot; a load that fails puts the slot's program back.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ntc_pjmp SEC(".maps");

SEC("tc")
int ntc_pentry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &ntc_pjmp, 1);
	return TC_ACT_UNSPEC;
}

SEC("tail/ntc_pjmp/1")
int ntc_ptail(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
