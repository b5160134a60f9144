/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ablation, for the bench only (bench/README.md, "Per-packet cost by ablation"):
 * a build with -DLB_ABLATE=LB_PART_<name> leaves that part of the path out, and
 * bench/dp_bench measures each such build in the same run as the whole one, so
 * that what each part costs is a difference of two numbers taken side by side.
 * Such a build forwards wrongly (no checksum, no counters, ...): make puts it
 * under build/bench/ablate/<name>/ only and never installs it.  A real build has
 * LB_ABLATE 0, where every LB_WITHOUT() is a constant 0 the compiler removes.
 */
#ifndef LB_ABLATE_H
#define LB_ABLATE_H

/* Every packet (established flows and new ones). */
#define LB_PART_ifcount		(1u << 0)	/* interface counters (lb_count) */
#define LB_PART_clock		(1u << 1)	/* the conntrack clock (lb_now) */
#define LB_PART_objstats	(1u << 2)	/* service and endpoint counters */
#define LB_PART_l4csum		(1u << 3)	/* the L4 checksum update */
#define LB_PART_ttlmac		(1u << 4)	/* TTL check and decrement, MACs */
/* Established flows. */
#define LB_PART_expiry		(1u << 5)	/* the entry's timeout check */
#define LB_PART_track		(1u << 6)	/* state tracking (lb_ct_track) */
#define LB_PART_nhcache		(1u << 7)	/* the next-hop cache: FIB every packet */
/* New flows. */
#define LB_PART_select		(1u << 8)	/* the scheduler: first slot of the table */
#define LB_PART_ctinsert	(1u << 9)	/* both conntrack inserts */
#define LB_PART_fib		(1u << 10)	/* the next hop: back out of the ingress */
#define LB_PART_epnh		(1u << 11)	/* the next-hop cache per endpoint: FIB every flow */

#ifndef LB_ABLATE
#define LB_ABLATE 0
#endif
#define LB_WITHOUT(part)	(((LB_ABLATE) & LB_PART_##part) != 0)

#endif /* LB_ABLATE_H */
