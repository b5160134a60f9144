/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Conntrack sweep in the kernel: a bpf_timer in the pinned lb_gc map fires every
 * gc_interval_ms and examines at most gc_budget entries of lb_ct, continuing
 * where the last sweep stopped, deleting the expired ones.  It lives as long as
 * the map is pinned, with no process running.
 *
 * bpf_for_each_map_elem has no resume cursor, so a sweep skips the entries before
 * its cursor (a counter check per entry) and stops after its budget.  An entry
 * goes when its flow is dead: both directions past their timeout.
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
	__u64 pos;		/* entries seen in this walk */
	__u64 start;		/* cursor: entries before it are skipped */
	__u64 budget;
	__u64 expired;
	__u64 now;
	__u64 ev;		/* a monitor wants flow events (lb_monitor) */
};

static long lb_gc_one(void *map, struct lb_ct_key *k, struct lb_ct *ct,
		      struct lb_gc_walk *w)
{
	if (w->pos++ < w->start)
		return 0;
	if (w->pos > w->start + w->budget)
		return 1;	/* budget spent: stop, resume here next tick */
	if (!lb_ct_alive(k, ct, w->now)) {
		if (!(ct->flags & LB_CT_F_REPLY))
			lb_ct_release(ct);	/* the flow ends, unclosed or closed */
		if (w->ev && !(ct->flags & LB_CT_F_REPLY))
			lb_ev_flow_end(k, ct);
		bpf_map_delete_elem(map, k);
		w->expired++;
	}
	return 0;
}

static int lb_gc_tick(void *map, __u32 *key, struct lb_gc *gc)
{
	__u32 zero = 0, interval = LB_GC_INTERVAL_MS, budget = LB_GC_BUDGET;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);
	struct lb_gc_walk w;

	if (cfg && cfg->gc_interval_ms)
		interval = cfg->gc_interval_ms;
	if (cfg && cfg->gc_budget)
		budget = cfg->gc_budget;
	/*
	 * Counters start from a value read from the map (always 0) rather than a
	 * constant: with constants the verifier follows the walk entry by entry and
	 * gives up; unknown values let its states converge.
	 */
	w.pos = gc->zero;
	w.expired = gc->zero;
	w.start = gc->cursor;
	w.budget = budget;
	w.now = bpf_ktime_get_ns();
	/* A monitor's lease that ran out ends the event work (events.h). */
	w.ev = lb_mon_expire(w.now) & LB_MON_FLOWS;
	bpf_for_each_map_elem(&lb_ct, lb_gc_one, &w, 0);
	/* The walk ended before the budget: the table is done, start over. */
	gc->cursor = w.pos > w.start + w.budget ? w.start + w.budget - w.expired : 0;
	gc->runs++;
	gc->expired += w.expired;
	gc->last_ns = w.now;
	bpf_timer_start(&gc->timer, (__u64)interval * 1000000ull, 0);
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
