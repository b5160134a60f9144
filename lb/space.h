/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Free service ids and lb_sel slots (space.c); liblb internal. */
#ifndef LB_SPACE_H
#define LB_SPACE_H

#include <stdbool.h>
#include <stdint.h>

struct lb__space;

/* What the services of svc_fd (lb_services) hold, read when first needed; lb_sel
 * (sel_fd) has slots slots, ids run 1..ids_max-1.  Both fds stay open meanwhile. */
int lb__space_new(int svc_fd, int sel_fd, uint32_t slots, uint32_t ids_max,
		  struct lb__space **out);
void lb__space_free(struct lb__space *s);
/* room free slots at *off (0 and no slot when room is 0); -ENOSPC when none. */
int lb__space_take(struct lb__space *s, uint32_t room, uint32_t *off);
/* Slots the services held at the scan, and what was taken since. */
uint32_t lb__space_in_use(struct lb__space *s);
/* A free id, looked for from hint on. */
int lb__space_id_take(struct lb__space *s, uint32_t hint, uint32_t *id);
/* Where to look next: after the last id taken; 0 before the first. */
uint32_t lb__space_id_next(const struct lb__space *s);
uint32_t lb__space_ep_next(const struct lb__space *s);
void lb__space_id_put(struct lb__space *s, uint32_t id);
/* A free endpoint id of lb_endpoints (ep_fd), looked for from hint on. */
int lb__space_ep_take(struct lb__space *s, int ep_fd, uint32_t hint, uint32_t *id);
void lb__space_ep_put(struct lb__space *s, uint32_t id);

/* fn for every slot of lb_endpoints (ep_fd), read in chunks of one batch lookup each
 * (one by one where the kernel has no batches). */
struct lb_ep;
int lb__ep_slots_walk(int ep_fd, void (*fn)(uint32_t id, const struct lb_ep *ep, void *arg),
		      void *arg);

#endif
