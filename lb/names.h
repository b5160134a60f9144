/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The names of enum and flag values (lb/names.c): one table per set of values, used
 * by the lb_*_name() functions and by the typed map values (lb/btfval_*.c). */
#ifndef LB_NAMES_H
#define LB_NAMES_H

#include <stdint.h>

/* A value and its name; a table ends with a NULL name. */
struct lb_name {
	uint64_t v;
	const char *name;
};

extern const struct lb_name lb_family_names[], lb_proto_names[], lb_sched_names[],
	lb_nat_names[], lb_ep_status_names[], lb_ct_state_names[], lb_hook_names[],
	lb_check_type_names[], lb_health_state_names[], lb_probe_result_names[];
/* Flags: one bit each. */
extern const struct lb_name lb_svc_flag_names[], lb_ct_flag_names[], lb_ep_flag_names[];

/* The name of v in t, NULL when t has none. */
const char *lb_name_of(const struct lb_name *t, uint64_t v);
/* The value named exactly s in t: 0, or -EINVAL. */
int lb_name_parse(const struct lb_name *t, const char *s, uint64_t *v);

#endif
