/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Health checks inside liblb: the lb_health map's entries, the rules (effective
 * settings, hysteresis, HTTP status line) and what service.c calls. */
#ifndef LB_HEALTH_H
#define LB_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <lb/lb.h>

/* The key of a service's entry (addr and ep_port NULL / 0) or of an endpoint's. */
void lb__health_key(struct lb_health_key *hk, const struct lb_svc_key *k,
		    const struct lb_addr *addr, uint16_t ep_port);
/* c's fields where set, else svc's, else the defaults: what an endpoint runs. */
void lb__check_effective(const struct lb_check *own, const struct lb_check *svc,
			 struct lb_check *out);
/* Settings lb_service_add / lb_endpoint_add accept: 0, or -EINVAL (errmsg says why). */
int lb__check_valid(struct lb_ctx *ctx, const struct lb_check *c);
/* Write the settings of one entry, keeping its state; an entry left with neither is
 * removed.  fd < 0: nothing (no lb_health in this pin root). */
int lb__health_put(int fd, const struct lb_health_key *hk, const struct lb_check *c);
/* The entry (zeroed when there is none). */
void lb__health_get(int fd, const struct lb_health_key *hk, struct lb_health *h);
/* lb__health_put(fd, hk, c) would write something. */
bool lb__health_differs(int fd, const struct lb_health_key *hk, const struct lb_check *c);
/* fd holds no entry: every get would be zeroed (one call instead of one per key). */
bool lb__health_empty(int fd);
/* Remove a service's entry and its endpoints' (ep NULL), or one endpoint's. */
void lb__health_forget(int fd, const struct lb_svc_key *k, const struct lb_addr *addr,
		       uint16_t ep_port, bool whole_service);
/* Entries of no live service or endpoint (after a restore or flush). */
void lb__health_sweep(struct lb_ctx *ctx, int fd);
/* One probe's result into h by rise/fall: true when whether it serves changed
 * (up and down; unknown serves, so unknown to up is no change). */
bool lb__health_step(struct lb_health *h, bool ok, const char *reason,
		     const struct lb_check *eff, uint64_t now_ns);
/* "HTTP/1.x CODE ..." at the start of buf: 1 and *code when the line is complete,
 * 0 when more bytes may complete it, -1 when it is no status line. */
int lb__http_status(const char *buf, size_t len, int *code);
/* Under the writer lock: set the endpoints' LB_EP_F_SICK from lb_health and
 * rebuild the service's selection table when one changed (service.c). */
int lb__svc_health_refresh(struct lb_ctx *ctx, const struct lb_svc_key *k);

#endif
