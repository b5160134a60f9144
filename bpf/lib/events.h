/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events for lbctl monitor: drops, new flows, flows that end, into the lb_events
 * ring buffer.
 *
 * Nobody listening is the normal case and costs one check per event site:
 * lb_mon_wants() loads lb_monitor.mask (an array lookup the verifier inlines) and
 * finds it 0.  Only with the bit set is the event built, in a subprogram
 * (__noinline) so that the sites stay small.  The subprograms use no stack:
 * lb_tc_slow's frame is close to the 512 bytes a call chain may use in all.  A full ring loses the event and
 * counts it in lb_monitor.lost; the packet is never affected.
 *
 * The mask is a lease: the monitor renews lb_monitor.until_ns every second, and
 * the conntrack sweep (gc.h) clears the mask when until_ns has passed, so a
 * monitor killed with SIGKILL stops the work within LB_MON_LEASE_NS.
 */
#ifndef LB_EVENTS_H
#define LB_EVENTS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "maps.h"

#ifndef offsetof
#define offsetof(type, member)	__builtin_offsetof(type, member)
#endif

/* The key of lb_monitor's one element, in .rodata: no stack slot for it (the
 * callers' frames are near the 512-byte limit and a subprogram's adds to them). */
static const __u32 lb_mon_key;

/* The one check the datapath makes: does a monitor want these events? */
static __always_inline bool lb_mon_wants(__u32 bits)
{
	struct lb_monitor *m = bpf_map_lookup_elem(&lb_monitor, &lb_mon_key);

	return m && (m->mask & bits);
}

static __always_inline void lb_ev_lost(void)
{
	struct lb_monitor *m = bpf_map_lookup_elem(&lb_monitor, &lb_mon_key);

	if (m)
		__sync_fetch_and_add(&m->lost, 1);
}

/*
 * Header fields and, when k is given, the tuple as the packet arrived.  The
 * subprograms fill every field from their arguments before the first helper
 * call (lb_ev_stamp): then no more than four values live across a call, none
 * is spilled, and their stack frame stays empty.
 */
static __always_inline void lb_ev_init(struct lb_event *ev, __u8 type,
				       const struct lb_ct_key *k)
{
	__u64 *w = (__u64 *)ev, z;

	/* A zero made here, after the reservation: clang would otherwise keep the
	 * constant in a register across the helper call, spilling an argument. */
	asm volatile("%0 = 0" : "=r"(z));
#pragma unroll
	for (unsigned int i = 0; i < offsetof(struct lb_event, data) / 8; i++)
		w[i] = z;
	ev->type = type;
	if (k) {
		ev->family = k->family;
		ev->proto = k->proto;
		ev->src = k->src;
		ev->dst = k->dst;
		ev->sport = k->sport;
		ev->dport = k->dport;
	}
}

static __always_inline void lb_ev_stamp(struct lb_event *ev)
{
	ev->ts_ns = bpf_ktime_get_ns();
}

/* Where the packet came in, and its first LB_EVENT_CAP bytes. */
static __always_inline void lb_ev_packet(struct lb_event *ev, struct __sk_buff *skb)
{
	__u32 n = skb->len;

	ev->hook = LB_HOOK_TC_INGRESS;
	ev->ifindex = skb->ifindex;
	ev->pkt_len = n;
	if (n > LB_EVENT_CAP)
		n = LB_EVENT_CAP;
	if (n >= 1 && bpf_skb_load_bytes(skb, 0, ev->data, n) == 0)
		ev->cap_len = n;
}

/*
 * A drop on tc ingress; k: the tuple if the caller has one, else NULL; why:
 * LB_EV_WHY(reason, service id), one argument, so that no more values live
 * across the reservation than callee-saved registers hold.
 */
#define LB_EV_WHY(reason, svc_id)	((__u64)(svc_id) << 8 | (reason))

/* (unused: a program that includes this header for some of the subprograms, as the
 * sweep does, is not warned about the others.) */
static __noinline __attribute__((unused))
int lb_ev_drop(struct __sk_buff *skb, const struct lb_ct_key *k, __u64 why)
{
	struct lb_event *ev = bpf_ringbuf_reserve(&lb_events, sizeof(*ev), 0);

	if (!ev) {
		lb_ev_lost();
		return 0;
	}
	lb_ev_init(ev, LB_EV_DROP, k);
	ev->reason = why & 0xff;
	ev->svc_id = why >> 8;
	lb_ev_stamp(ev);
	lb_ev_packet(ev, skb);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

static __always_inline void lb_ev_flow(struct lb_event *ev, const struct lb_ct *ct)
{
	ev->nat_src = ct->nat_src;
	ev->nat_dst = ct->nat_dst;
	ev->nat_sport = ct->nat_sport;
	ev->nat_dport = ct->nat_dport;
	ev->svc_id = ct->svc_id;
	ev->ep_id = ct->ep_id;
	ev->state = ct->state;
	ev->created_ns = ct->created_ns;
	ev->last_ns = ct->last_seen_ns;
}

/* A new flow: k its forward key, ct its forward entry, skb its first packet. */
static __noinline __attribute__((unused))
int lb_ev_flow_new(struct __sk_buff *skb, const struct lb_ct_key *k, const struct lb_ct *ct)
{
	struct lb_event *ev = bpf_ringbuf_reserve(&lb_events, sizeof(*ev), 0);

	if (!ev) {
		lb_ev_lost();
		return 0;
	}
	lb_ev_init(ev, LB_EV_FLOW_NEW, k);
	lb_ev_flow(ev, ct);
	lb_ev_stamp(ev);
	lb_ev_packet(ev, skb);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* The sweep removes a flow's forward entry: no packet, a shorter record. */
static __noinline __attribute__((unused))
int lb_ev_flow_end(const struct lb_ct_key *k, const struct lb_ct *ct)
{
	struct lb_event *ev = bpf_ringbuf_reserve(&lb_events,
						  offsetof(struct lb_event, data), 0);

	if (!ev) {
		lb_ev_lost();
		return 0;
	}
	lb_ev_init(ev, LB_EV_FLOW_END, k);
	lb_ev_flow(ev, ct);
	lb_ev_stamp(ev);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/*
 * Run by the sweep every tick: a lease that ran out (the monitor died or hangs)
 * ends the event work.  Returns the mask in force.
 */
static __always_inline __u32 lb_mon_expire(__u64 now)
{
	struct lb_monitor *m = bpf_map_lookup_elem(&lb_monitor, &lb_mon_key);

	if (!m)
		return 0;
	if (m->mask && m->until_ns < now)
		m->mask = 0;
	return m->mask;
}

#endif /* LB_EVENTS_H */
