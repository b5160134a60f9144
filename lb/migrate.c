// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Converting map entries between two layouts described by BTF, for
 * lb_upgrade(): a field is carried by name (recursively into structs), a field
 * the new layout adds starts at zero, a field it drops is dropped.  What cannot
 * be carried without guessing (a field that changed size or kind, a bitfield, a
 * kernel object such as a bpf_timer) is refused with a reason naming the field.
 *
 * The BTF walk happens once per map and yields a plan: byte ranges to copy.
 * Converting an entry is then a memset and a few memcpy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "internal.h"
#include "migrate.h"

/* Kernel objects living in a map value: their bytes mean nothing elsewhere. */
static const char *const kernel_objects[] = {
	"bpf_timer", "bpf_spin_lock", "bpf_wq", "bpf_list_head", "bpf_rb_root",
	"bpf_refcount", "bpf_list_node", "bpf_rb_node",
};
/* ... of which these start afresh in a new map without loss: a lock is free when
 * no program runs on the new map yet, and the datapath arms its timer again. */
static const char *const restartable[] = { "bpf_timer", "bpf_spin_lock" };

static int plan_add(struct lb_migrate_plan *p, __u32 from, __u32 to, __u32 len)
{
	struct lb_copy *last = p->n ? &p->op[p->n - 1] : NULL;

	if (!len)
		return 0;
	if (last && last->from + last->len == from && last->to + last->len == to) {
		last->len += len;	/* adjacent: one memcpy */
		return 0;
	}
	if (p->n == LB_MIGRATE_OPS_MAX)
		return -E2BIG;
	p->op[p->n++] = (struct lb_copy){ .from = from, .to = to, .len = len };
	return 0;
}

static const struct btf_type *resolve(const struct btf *btf, __u32 *id)
{
	int r = btf__resolve_type(btf, *id);

	if (r < 0)
		return NULL;
	*id = r;
	return btf__type_by_id(btf, r);
}

static bool name_in(const struct btf *btf, const struct btf_type *t, const char *const *v,
		    size_t n)
{
	const char *name = btf__name_by_offset(btf, t->name_off);

	if (!btf_is_struct(t) || !name)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, v[i]))
			return true;
	return false;
}

static bool is_kernel_object(const struct btf *btf, const struct btf_type *t)
{
	return name_in(btf, t, kernel_objects, sizeof(kernel_objects) / sizeof(kernel_objects[0]));
}

static bool is_restartable(const struct btf *btf, const struct btf_type *t)
{
	return name_in(btf, t, restartable, sizeof(restartable) / sizeof(restartable[0]));
}

struct walk {
	const struct btf *ob, *nb;
	struct lb_migrate_plan *plan;
	char *why;
	size_t why_len;
};

static int refuse(struct walk *w, const char *field, const char *what)
{
	snprintf(w->why, w->why_len, "%s%s%s", field[0] ? "field " : "", field, what);
	return -EOPNOTSUPP;
}

static int walk_type(struct walk *w, __u32 oid, __u32 nid, __u32 ooff, __u32 noff,
		     const char *field, int depth);

/* A member of the new struct: the old one of that name, or (anonymous) the old
 * anonymous member at the same offset. */
static const struct btf_member *old_member(const struct btf *ob, const struct btf_type *ot,
					   const char *name, __u32 bit_off)
{
	const struct btf_member *m = btf_members(ot);

	for (int i = 0; i < btf_vlen(ot); i++, m++) {
		const char *n = btf__name_by_offset(ob, m->name_off);

		if (name[0] ? n && !strcmp(n, name) :
			      (!n || !n[0]) && btf_member_bit_offset(ot, i) == bit_off)
			return m;
	}
	return NULL;
}

static int walk_struct(struct walk *w, const struct btf_type *ot, const struct btf_type *nt,
		       __u32 ooff, __u32 noff, const char *field, int depth)
{
	const struct btf_member *nm = btf_members(nt);
	char path[128];

	for (int i = 0; i < btf_vlen(nt); i++, nm++) {
		const char *name = btf__name_by_offset(w->nb, nm->name_off);
		__u32 nbit = btf_member_bit_offset(nt, i);
		const struct btf_member *om;
		int oi, err;

		name = name ? name : "";
		snprintf(path, sizeof(path), "%s%s%s", field, field[0] && name[0] ? "." : "", name);
		om = old_member(w->ob, ot, name, nbit);
		if (!om)
			continue;	/* new field: starts at zero */
		oi = om - btf_members(ot);
		if (btf_member_bitfield_size(nt, i) || btf_member_bitfield_size(ot, oi) ||
		    nbit % 8 || btf_member_bit_offset(ot, oi) % 8)
			return refuse(w, path, " is a bitfield");
		err = walk_type(w, om->type, nm->type, ooff + btf_member_bit_offset(ot, oi) / 8,
				noff + nbit / 8, path, depth + 1);
		if (err)
			return err;
	}
	return 0;
}

static int walk_type(struct walk *w, __u32 oid, __u32 nid, __u32 ooff, __u32 noff,
		     const char *field, int depth)
{
	const struct btf_type *ot = resolve(w->ob, &oid), *nt = resolve(w->nb, &nid);
	__s64 osz, nsz;

	if (!ot || !nt)
		return refuse(w, field, " has no type information");
	if (depth > 16)
		return refuse(w, field, " nests too deep");
	if (is_kernel_object(w->ob, ot) || is_kernel_object(w->nb, nt)) {
		/*
		 * Never copied.  A timer or a lock starts afresh in a new map; other
		 * kernel objects (lists, trees) would be lost: refused if the map
		 * must be copied (the caller checks kernel_object).
		 */
		bool fresh_ok = is_restartable(w->nb, nt) && is_restartable(w->ob, ot);

		if (!w->plan->kernel_object[0] && !fresh_ok)
			snprintf(w->plan->kernel_object, sizeof(w->plan->kernel_object), "%s",
				 field);
		/* in place, it marks the plan as keeping the bytes where they are */
		return ooff == noff && btf__resolve_size(w->ob, oid) == btf__resolve_size(w->nb, nid) ?
		       plan_add(w->plan, ooff, noff, 0) : 0;
	}
	osz = btf__resolve_size(w->ob, oid);
	nsz = btf__resolve_size(w->nb, nid);
	if (osz < 0 || nsz < 0)
		return refuse(w, field, " has no size");
	if (btf_is_struct(ot) && btf_is_struct(nt))
		return walk_struct(w, ot, nt, ooff, noff, field, depth);
	if (btf_kind(ot) != btf_kind(nt))
		return refuse(w, field, " changed kind");
	if (osz != nsz)
		return refuse(w, field, " changed size");
	if (btf_is_struct(nt) || btf_is_union(nt)) {
		/* a union (or a struct inside one) is copied whole only if its
		 * members did not move */
		if (btf_vlen(ot) != btf_vlen(nt))
			return refuse(w, field, " (a union) changed");
	}
	return plan_add(w->plan, ooff, noff, nsz) ? refuse(w, field, ": layout too fragmented") : 0;
}

int lb_migrate_plan(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
		    __u32 new_id, struct lb_migrate_plan *plan, char *why, size_t why_len)
{
	struct walk w = { .ob = old_btf, .nb = new_btf, .plan = plan, .why = why,
			  .why_len = why_len };
	__s64 osz = btf__resolve_size(old_btf, old_id), nsz = btf__resolve_size(new_btf, new_id);

	memset(plan, 0, sizeof(*plan));
	why[0] = '\0';
	if (osz <= 0 || nsz <= 0)
		return refuse(&w, "", "no type information");
	plan->old_size = osz;
	plan->new_size = nsz;
	return walk_type(&w, old_id, new_id, 0, 0, "", 0);
}

/* Every field the new layout carries sits where it was: the bytes can stay. */
bool lb_migrate_identity(const struct lb_migrate_plan *p)
{
	if (p->old_size != p->new_size)
		return false;
	for (size_t i = 0; i < p->n; i++)
		if (p->op[i].from != p->op[i].to)
			return false;
	return true;
}

void lb_migrate_apply(const struct lb_migrate_plan *p, const void *from, void *to)
{
	memset(to, 0, p->new_size);
	for (size_t i = 0; i < p->n; i++)
		memcpy((char *)to + p->op[i].to, (const char *)from + p->op[i].from, p->op[i].len);
}
