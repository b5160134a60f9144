/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the stamp test programs (stamp.bpf.c, foreign.bpf.c, globalfn.bpf.c) share:
 * the stamp packet's payload (UDP to STAMP_PORT, see stamp.bpf.c) and the
 * stamp_seen map, one definition, so that their loads share one pin.
 */
#ifndef STAMP_WIRE_H
#define STAMP_WIRE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define STAMP_PORT	9999
#define STAMP_IDS	15
#define STAMP_ID_MAX	16	/* stamp_seen entries: ids 0..15 */

struct stamp_payload {
	__be32 seq;
	__u8 n;
	__u8 ids[STAMP_IDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAMP_ID_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stamp_seen SEC(".maps");

#endif
