/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Between service.c and ruleset.c (not installed): the steps of a restore that
 * need service.c's id allocation and table building, on maps opened once.
 *
 * lb_services holds two generations of the rule set (struct lb_svc_key.gen): the
 * live one, lb_config.svc_gen & 1, which the datapath and every lb_service_* and
 * lb_endpoint_* function use, and the spare one, where a restore builds the next
 * rule set before switching lb_config.svc_gen with one map update.
 */
#ifndef LB_RULESET_H
#define LB_RULESET_H

#include "internal.h"

/* lb_config.svc_gen: the generation counter (live generation: & 1). */
int lb__svc_gen(struct lb_ctx *ctx, uint32_t *svc_gen);

/* service.c's maps, opened once for a whole restore. */
struct lb__svc_maps;
int lb__svc_maps_open(struct lb_ctx *ctx, struct lb__svc_maps **out);
void lb__svc_maps_close(struct lb__svc_maps *w);
/* Service ids and endpoint ids the tables can give out (id 0 means none), and
 * allowed source prefixes the allow table holds. */
void lb__svc_capacity(const struct lb__svc_maps *w, uint32_t *services, uint32_t *endpoints,
		      uint32_t *allow);
int lb__svc_fd(const struct lb__svc_maps *w);	/* lb_services, owned by w */

/*
 * Write one service with its endpoints under generation gen (the key's gen is
 * ignored): fresh ids, endpoint slots, the selection table, and last the
 * lb_services entry, which is what makes it exist.  On failure nothing of it is
 * left.  -EEXIST: that key is in gen already.
 */
int lb__svc_write(struct lb_ctx *ctx, struct lb__svc_maps *w, const struct lb_ruleset_svc *r,
		  uint8_t gen);
/* Remove the lb_services entry k (with its gen), then its table and endpoint slots;
 * its flows stay (they hold their addresses), and so do its allow entries, which
 * lb__svc_allow_forget removes for many services in one walk.  *id: the id it had. */
int lb__svc_remove(struct lb_ctx *ctx, struct lb__svc_maps *w, const struct lb_svc_key *k,
		   uint32_t *id);
/* Remove the allow entries of the service ids marked in ids[0..max). */
int lb__svc_allow_forget(struct lb__svc_maps *w, const uint8_t *ids, uint32_t max);
/* The order of allow lists (struct lb_prefix): address, then length. */
int lb__prefix_cmp(const void *a, const void *b);
/* Free what no lb_services entry owns: endpoint slots and list entries left by a
 * writer that died half way.  Only under the writer lock. */
int lb__svc_orphans(struct lb_ctx *ctx, struct lb__svc_maps *w);
/* After the switch: the new set's check settings, and no entry of the old names. */
int lb__svc_health_restore(struct lb_ctx *ctx, const struct lb_ruleset *rs);
/* One service's check settings (and its endpoints'), its health following. */
int lb__svc_health_set(struct lb_ctx *ctx, const struct lb_ruleset_svc *r);

/*
 * The difference between two rule sets as the changes that make from into to
 * (lb_ruleset_apply()), pure: removals first, so the tables never hold more than
 * the larger of the two: the services to is without, the endpoints and allowed
 * prefixes of the others it is without; then changed configurations (check
 * settings included), weights, states and endpoint checks; then what to adds, in
 * to's order (a new service, with its allow list, before its endpoints; the
 * prefixes a kept service gains after them); then the timeouts (0 in to: keep).
 * Services are matched by key, endpoints by address and port, prefixes by address
 * and length, in any order.  fn is called for each in that order (NULL: only
 * count); returns the number of changes, or the first non-zero of fn, or -ENOMEM.
 */
enum lb__change_kind {
	LB__SVC_DEL, LB__EP_DEL, LB__ALLOW_DEL, LB__SVC_SET, LB__EP_SET, LB__SVC_ADD,
	LB__EP_ADD, LB__ALLOW_ADD, LB__TIMEOUTS,
};

struct lb__change {
	enum lb__change_kind kind;
	const struct lb_service *svc;	/* all but TIMEOUTS */
	const struct lb_ruleset_svc *whole;	/* SVC_ADD: the service with its endpoints,
					 * whose EP_ADDs follow */
	const struct lb_endpoint *ep;	/* EP_* */
	const struct lb_prefix *pfx;	/* ALLOW_*: the prefixes to remove or add */
	size_t n_pfx;
	const uint32_t *timeout;	/* TIMEOUTS */
};

int lb__ruleset_diff(const struct lb_ruleset *from, const struct lb_ruleset *to,
		     int (*fn)(void *cookie, const struct lb__change *c), void *cookie);

/* A rule set change (lb_ruleset_apply()) a killed writer left half done: apply its
 * record again and remove it.  0 when there is none.  Under the writer lock
 * (lb_open() calls it). */
int lb__ruleset_finish(struct lb_ctx *ctx);
/* Remove such a record unapplied (lb_destroy()). */
int lb__ruleset_discard(struct lb_ctx *ctx);

#endif
