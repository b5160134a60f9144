/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every map of the datapath object; layouts come from lb_abi.h. Pinned by name. */
#ifndef LB_MAPS_H
#define LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_abi.h"

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

#endif /* LB_MAPS_H */
