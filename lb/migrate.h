/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Converting map entries between two BTF layouts (lb/migrate.c). liblb-private. */
#ifndef LB_MIGRATE_H
#define LB_MIGRATE_H
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct btf;

#define LB_MIGRATE_OPS_MAX	64

struct lb_copy {
	__u32 from, to, len;	/* bytes of the old entry -> bytes of the new */
};

struct lb_migrate_plan {
	__u32 old_size, new_size;
	size_t n;
	struct lb_copy op[LB_MIGRATE_OPS_MAX];
	char kernel_object[64];	/* a field holding a timer or a lock, "" none */
};

/*
 * Plan the conversion of a value of type old_id (in old_btf) to new_id (in
 * new_btf).  0, or -EOPNOTSUPP with why saying which field cannot be carried.
 */
int lb_migrate_plan(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
		    __u32 new_id, struct lb_migrate_plan *plan, char *why, size_t why_len);
/* The plan copies the entry unchanged: the map can be kept as it is. */
bool lb_migrate_identity(const struct lb_migrate_plan *plan);
/* to (new_size bytes) from from (old_size bytes). */
void lb_migrate_apply(const struct lb_migrate_plan *plan, const void *from, void *to);

#endif
