/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map of the datapath object, in one place; layouts and names come from
 * lb_abi.h.  Pinned by name.  lb_chain, the prog array that chain programs share,
 * is defined in <lb/lb_chain.h>, the header those programs include.
 */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include <lb/lb_chain.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, LB_IF_STATS_MAX);
	__type(key, struct lb_if_key);
	__type(value, struct lb_if_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_if_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_IF_CTR_IFINDEX_MAX * LB_HOOK_MAX);
	__type(key, __u32);
	__type(value, struct lb_if_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_if_ctr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_SERVICES_MAX);
	__type(key, struct lb_svc_key);
	__type(value, struct lb_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_SERVICES_MAX);
	__type(key, __u32);
	__type(value, struct lb_svc_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_SERVICES_MAX);
	__type(key, __u32);
	__type(value, struct lb_obj_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_stats SEC(".maps");

/* The selection tables of all services, slices of one array (lb_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_SEL_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sel SEC(".maps");

/* The services' endpoint lists, for user space (lb_abi.h); no program reads it.
 * Not preallocated: memory for the endpoints there are, not for the table's size. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_ENDPOINTS_MAX);
	__type(key, struct lb_svc_ep_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_svc_eps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct lb_ep);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct lb_ep_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct lb_obj_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_stats SEC(".maps");

/*
 * Conntrack: a plain hash, not an LRU: an entry leaves only when its flow ends
 * (FIN, RST, timeout), never to make room, so a flood of new flows cannot push
 * out an established one and every flow's active count stays exact.  A full
 * table refuses new flows (drop conntrack-full) and makes the sweep remove
 * unanswered ones early (gc.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_CT_MAX);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ct SEC(".maps");

/* The next hop toward each endpoint, per CPU (lb_abi.h, fwd.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_EP_NH_SLOTS);
	__type(key, __u32);
	__type(value, struct lb_ep_nh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ep_nh SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_DROP_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_AFFINITY_MAX);
	__type(key, struct lb_aff_key);
	__type(value, struct lb_aff);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_affinity SEC(".maps");

/* Allowed sources of every service (lb_abi.h); the kernel requires no prealloc. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LB_ALLOW_MAX);
	__type(key, struct lb_allow_key);
	__type(value, struct lb_allow);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_allow SEC(".maps");

/* Health checks (lbctl health): settings and hysteresis state by service and
 * endpoint name.  No program reads it; it lives here to be created, pinned, listed
 * and migrated with the others. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_SERVICES_MAX + LB_ENDPOINTS_MAX);
	__type(key, struct lb_health_key);
	__type(value, struct lb_health);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_health SEC(".maps");

/* The tail-call targets, programs of lb_datapath.bpf.c. */
int lb_tc_slow(struct __sk_buff *skb);
int lb_tc_icmp(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LB_JMP_MAX);
	__uint(key_size, sizeof(__u32));	/* sizes, not BTF types: the kernel takes none here */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, int (void *));
} lb_jmp SEC(".maps") = {
	.values = {
		[LB_JMP_TC_SLOW] = (void *)&lb_tc_slow,
		[LB_JMP_TC_ICMP] = (void *)&lb_tc_icmp,
	},
};

/* The conntrack sweep's timer and progress (gc.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_gc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_gc SEC(".maps");

/* lbctl monitor: the event ring and who listens (events.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LB_EVENTS_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_events SEC(".maps");

/* Mmapable: user space sets owner, until_ns and mask in place and never writes
 * lost, which the datapath counts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_monitor);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_monitor SEC(".maps");

/* XDP chains (chain.h): each interface's live layout, the packet in flight, counts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_CHAIN_IFS_MAX);
	__type(key, __u32);
	__type(value, struct lb_chain_cfg);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* an update replaces the element whole */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_chain_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_chain_pos);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_chain_pos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_chain_stats SEC(".maps");

#endif /* LB_MAPS_H */
