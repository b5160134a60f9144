// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Not a datapath: an object lbattach upgrade must refuse.  Its lb_ct carries the
 * conntrack value of lb_abi.h with ep_id widened to 64 bits, a change no
 * conversion can make without guessing, so the upgrade names lb_ct and changes
 * nothing (tests/e2e/upgrade.bats).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>

struct lb_ct_widened {
	struct lb_addr nat_src;
	struct lb_addr nat_dst;
	__be16 nat_sport;
	__be16 nat_dport;
	__u8 state;
	__u8 flags;
	__u16 pad;
	__u32 svc_id;
	__u64 ep_id;		/* __u32 in lb_abi.h */
	__u64 created_ns;
	__u64 last_seen_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_CT_MAX);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_widened);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ct SEC(".maps");

const volatile __u32 lb_abi_version = LB_ABI_VERSION;

SEC("tc")
int lb_tc_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_ct, &zero) ? 1 : 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
