/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Conntrack sweep in the kernel: a bpf_timer in the pinned lb_gc map fires and
 * walks the whole of lb_ct once, deleting the entries of dead flows (both
 * directions past their timeout).  It lives as long as the map is pinned, with
 * no process running.
 *
 * One walk per tick, never a slice: bpf_for_each_map_elem cannot resume, so
 * slices would re-walk what came before (N^2/slice callbacks a pass) and miss
 * entries as inserts move the hash order.  The cost of a whole walk is bounded in
 * time instead: the next tick waits gc_interval_ms, and at least LB_GC_CPU_SHARE
 * times as long as this walk took, so the sweep never uses more than 1% of a
 * CPU, and an expired entry is gone within two periods.
 *
 * When a new flow found the table full within the last two periods, sweeps come
 * ten times as often (within the same CPU bound), and the walk
 * also removes flows whose client has been silent for LB_CT_EARLY_NS before they
 * were established (both entries, whatever the endpoint still sends), and
 * closing entries idle that long (counted as drop conntrack-early): a flood of
 * SYNs or of one-way UDP from spoofed sources churns among itself, established
 * flows stay.
 */
#ifndef LB_GC_H
#define LB_GC_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <lb/lb_abi.h>
#include "maps.h"
#include "ct.h"
#include "events.h"

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC	1
#endif

struct lb_gc_walk {
	__u64 seen;		/* entries walked */
	__u64 expired;
	__u64 early;
	__u64 now;
	__u64 ev;		/* a monitor wants flow events (lb_monitor) */
	__u64 pressure;		/* the table was full lately: early removal on */
};

static long lb_gc_one(void *map, struct lb_ct_key *k, struct lb_ct *ct,
		      struct lb_gc_walk *w)
{
	bool dead, idle;
	struct lb_ct_key pk;

	w->seen++;
	dead = !lb_ct_alive(k, ct, w->now);
	idle = w->now > ct->last_seen_ns && w->now - ct->last_seen_ns > LB_CT_EARLY_NS;
	if (!dead && w->pressure && idle && ct->state == LB_CT_NEW &&
	    !(ct->flags & LB_CT_F_REPLY)) {
		/* The client has been silent for a second: the endpoint's answers
		 * (SYN-ACKs retransmitted to a spoofed source) do not keep the
		 * flow, its reply entry goes with it. */
		lb_ct_peer_key(k, ct, &pk);
		if (bpf_map_delete_elem(map, &pk) == 0) {
			w->early++;
			w->expired++;
		}
		dead = true;
		w->early++;
	} else if (!dead && w->pressure && idle && ct->state == LB_CT_CLOSING) {
		dead = true;
		w->early++;
	}
	if (!dead)
		return 0;
	if (!(ct->flags & LB_CT_F_REPLY))
		lb_ct_release(ct);	/* the flow ends, unclosed or closed */
	if (w->ev && !(ct->flags & LB_CT_F_REPLY))
		lb_ev_flow_end(k, ct);
	bpf_map_delete_elem(map, k);
	w->expired++;
	return 0;
}

/* The kernel's HZ, from its config; 0 when libbpf cannot read it (then lb_now()
 * keeps the coarse clock). */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* Set the datapath's clock (ct.h) from the coarse monotonic clock. */
static __always_inline void lb_clock_set(struct lb_gc *gc)
{
	__u64 hz = CONFIG_HZ, tick;

	if (!hz)
		return;
	tick = 1000000000ull / hz;
	gc->clock_off = bpf_ktime_get_coarse_ns() - bpf_jiffies64() * tick;
	gc->tick_ns = tick;
}

static int lb_gc_tick(void *map, __u32 *key, struct lb_gc *gc)
{
	__u32 zero = 0, early_reason = LB_DROP_CT_EARLY;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);
	__u64 interval = LB_GC_INTERVAL_MS * 1000000ull, took;
	struct lb_counter *c;
	struct lb_gc_walk w;

	if (cfg && cfg->gc_interval_ms)
		interval = cfg->gc_interval_ms * 1000000ull;
	/*
	 * Counters start from a value read from the map (always 0) rather than a
	 * constant: with constants the verifier follows the walk entry by entry and
	 * gives up; unknown values let its states converge.
	 */
	w.seen = gc->zero;
	w.expired = gc->zero;
	w.early = gc->zero;
	w.now = bpf_ktime_get_ns();
	w.pressure = gc->full_ns && w.now > gc->full_ns && w.now - gc->full_ns < 2 * interval;
	/* A monitor's lease that ran out ends the event work (events.h). */
	w.ev = lb_mon_expire(w.now) & LB_MON_FLOWS;
	bpf_for_each_map_elem(&lb_ct, lb_gc_one, &w, 0);
	took = bpf_ktime_get_ns() - w.now;
	gc->entries = w.seen - w.expired;
	gc->runs++;
	gc->expired += w.expired;
	gc->early += w.early;
	gc->last_ns = w.now;
	gc->sweep_ns += took;
	lb_clock_set(gc);
	if (w.early) {
		c = bpf_map_lookup_elem(&lb_drops, &early_reason);
		if (c)
			c->packets += w.early;
	}
	/* Under pressure, ten times as often: room comes back sooner. */
	if (w.pressure)
		interval /= 10;
	if (interval < took * LB_GC_CPU_SHARE)
		interval = took * LB_GC_CPU_SHARE;
	bpf_timer_start(&gc->timer, interval, 0);
	return 0;
}

/* Run once by liblb with BPF_PROG_TEST_RUN after loading: starts the timer. */
SEC("tc")
int lb_gc_arm(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct lb_gc *gc = bpf_map_lookup_elem(&lb_gc, &zero);
	long err;

	if (!gc)
		return 1;
	lb_clock_set(gc);
	err = bpf_timer_init(&gc->timer, &lb_gc, CLOCK_MONOTONIC);
	if (err && err != -16)	/* -EBUSY: initialised before, keep it */
		return 2;
	if (bpf_timer_set_callback(&gc->timer, lb_gc_tick))
		return 3;
	if (bpf_timer_start(&gc->timer, 1000000ull, 0))
		return 4;
	return 0;
}

#endif
