// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Upgrade in place: the programs of a running datapath are replaced by those of
 * another object while every map, conntrack included, stays.
 *
 *  prepare  open the object; each of its maps either reuses the pinned map (same
 *           layout), or is created beside it under <name>__upgrade with the
 *           entries converted by BTF (lb/migrate.c), or is refused with a line
 *           naming the map.  lb_jmp, whose slots the object fills at load, is
 *           always created beside: the old programs keep calling the old ones.
 *           Load, copy the entries, pin the programs under <name>__upgrade.
 *           Until here the running datapath has not changed; a failure removes
 *           what was made.
 *  switch   the chain step slot, every attachment (XDP and tcx links by
 *           bpf_link_update, cls_bpf filters by replace at their pref), the lb
 *           element of XDP chains; a failure puts back what was switched.
 *  commit   rename the new pins over the old ones (atomic in bpffs), wait a
 *           grace period, copy the entries the old programs created meanwhile,
 *           re-arm the sweep timer with the new callback, record the ABI version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "migrate.h"

#define UPGRADE_SFX	"__upgrade"	/* bpffs refuses dots in names */
#define UNDO_MAX	(4 * LB_HOOK_MAX * 64)

struct up_map {
	struct bpf_map *m;
	int old_fd;			/* the pinned map, -1: none (a new map) */
	bool fresh;			/* made beside the pinned one */
	bool convert;			/* entries carried over by the plans */
	bool percpu;
	bool list;			/* lb_services with eps[]: carry_list() */
	__u32 id_off, n_off, list_off, list_len;	/* in the old value */
	bool tables;			/* lb_services of lb_svc_sel: carry_table() */
	__u32 sched_off, len_off, sel_off;		/* in the new value */
	struct lb_migrate_plan key, val;
	char pin[PATH_MAX], tmp[PATH_MAX];
};

struct undo {
	enum { UNDO_LINK, UNDO_FILTER, UNDO_SLOT } kind;
	int fd;				/* link, or prog array */
	__u32 slot;
	int old_prog_fd;
	struct lb_tc_filter f;
};

struct upgrade {
	struct lb_ctx *ctx;
	struct lb_upgrade_result *res;
	struct bpf_object *obj;
	struct up_map maps[LB_OBJ_MAPS_MAX];
	size_t n_maps;
	bool map_existed[LB_OBJ_MAPS_MAX];
	bool map_existed_read;		/* map_existed holds what was pinned */
	int new_fd[LB_DATAPATH_PROGS], old_fd[LB_DATAPATH_PROGS];
	__u32 old_id[LB_DATAPATH_PROGS];
	bool prog_pinned[LB_DATAPATH_PROGS];
	struct undo undo[UNDO_MAX];
	size_t n_undo;
	__u32 abi;
	int old_sel_fd;			/* lb_svc_sel of ABI 4, -1: none */
	__u32 sel_next;			/* carry_table(): the next free slot of lb_sel */
};

/* Maps of older layouts that no newer one has: unpinned once the upgrade is done. */
static const char *const retired_maps[] = { "lb_svc_sel" };

static int prog_index(const char *name)
{
	for (int i = 0; i < LB_DATAPATH_PROGS; i++)
		if (!strcmp(name, lb_datapath_progs[i]))
			return i;
	return -1;
}

/*
 * Which of our programs a program id is: one of the pinned ones, or (left on a
 * hook by an interrupted upgrade) one with the name of ours.  -1: not ours.
 */
static int prog_index_by_id(const struct upgrade *u, __u32 id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, i = -1;

	if (!id)
		return -1;
	for (int k = 0; k < LB_DATAPATH_PROGS; k++)
		if (u->old_id[k] == id)
			return k;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -1;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		i = prog_index(info.name);
	close(fd);
	return i;
}

/* The ABI version compiled into the object ("lb_abi_version" in .rodata). */
static __u32 object_abi(struct bpf_object *obj)
{
	struct bpf_map *ro = bpf_object__find_map_by_name(obj, ".rodata");
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	const char *data;
	size_t size = 0;
	int id;

	if (!ro || !btf || !(data = bpf_map__initial_value(ro, &size)))
		return 0;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return 0;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);
		const char *name = btf__name_by_offset(btf, var->name_off);
		__u32 v;

		if (name && !strcmp(name, "lb_abi_version") && vs->size == sizeof(v) &&
		    vs->offset + sizeof(v) <= size) {
			memcpy(&v, data + vs->offset, sizeof(v));
			return v;
		}
	}
	return 0;
}

/* --- prepare ------------------------------------------------------------------ */

static bool migratable(enum bpf_map_type t)
{
	switch (t) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return true;
	default:
		return false;
	}
}

/* An entry means the same in both: a hash becomes an LRU hash or the other way. */
static bool same_family(enum bpf_map_type a, enum bpf_map_type b)
{
	bool ha = a == BPF_MAP_TYPE_HASH || a == BPF_MAP_TYPE_LRU_HASH;
	bool hb = b == BPF_MAP_TYPE_HASH || b == BPF_MAP_TYPE_LRU_HASH;
	bool pa = a == BPF_MAP_TYPE_PERCPU_HASH || a == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	bool pb = b == BPF_MAP_TYPE_PERCPU_HASH || b == BPF_MAP_TYPE_LRU_PERCPU_HASH;

	return (ha && hb) || (pa && pb);
}

static bool is_percpu(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/*
 * A member of struct type id: its byte offset and, for an array, its length
 * (0 otherwise) and element size.  false: no such member, or not at a byte.
 */
static bool member_at(const struct btf *btf, __u32 id, const char *name, __u32 *off,
		      __u32 *nelems, __u32 *elem_size)
{
	const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, id));
	const struct btf_member *m;

	if (!t || !btf_is_struct(t))
		return false;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);
		const struct btf_type *mt;

		if (!n || strcmp(n, name) || btf_member_bit_offset(t, i) % 8 ||
		    btf_member_bitfield_size(t, i))
			continue;
		*off = btf_member_bit_offset(t, i) / 8;
		mt = btf__type_by_id(btf, btf__resolve_type(btf, m->type));
		*nelems = mt && btf_is_array(mt) ? btf_array(mt)->nelems : 0;
		*elem_size = mt && btf_is_array(mt) ? btf__resolve_size(btf, btf_array(mt)->type) :
						     btf__resolve_size(btf, m->type);
		return true;
	}
	return false;
}

/*
 * Services of the old lb_services with an allow list kept in the value (allow[],
 * n_allow of them: the layouts before lb_allow), which no field of the new layout
 * carries: such a map migrates only while no service has a list.
 */
static long old_allow_lists(const struct btf *ob, __u32 vid, int fd, size_t key_size,
			    size_t value_size)
{
	__u32 off, n, size;
	void *k, *next, *v, *prev = NULL;
	long found = 0;

	if (!member_at(ob, vid, "allow", &off, &n, &size) ||
	    !member_at(ob, vid, "n_allow", &off, &n, &size) || off + 4 > value_size)
		return 0;
	k = malloc(key_size);
	next = malloc(key_size);
	v = malloc(value_size);
	while (k && next && v && bpf_map_get_next_key(fd, prev, next) == 0) {
		__u32 n_allow;

		memcpy(k, next, key_size);
		prev = k;
		if (bpf_map_lookup_elem(fd, k, v))
			continue;
		memcpy(&n_allow, (char *)v + off, sizeof(n_allow));
		found += n_allow != 0;
	}
	free(k);
	free(next);
	free(v);
	return found;
}

/*
 * ABI 3 to 4: the endpoint ids of a service moved from lb_services' eps[] (n_eps
 * of them) to lb_svc_eps, (id, index) -> endpoint id.  Carried by name, eps[]
 * would be dropped with the lists; carry_list() writes them there instead.  An
 * old value without the fields this needs is refused, naming the map.
 */
static int plan_moved(struct upgrade *u, struct up_map *um, const struct btf *ob, __u32 ov,
		      const struct btf *nb, __u32 nv)
{
	const char *name = bpf_map__name(um->m);
	__u32 size, id_n, id_size, n_n, n_size, off, n;

	if (strcmp(name, LB_MAP_SERVICES) ||
	    !member_at(ob, ov, "eps", &um->list_off, &um->list_len, &size) ||
	    member_at(nb, nv, "eps", &off, &n, &n_size))
		return 0;
	if (!um->list_len || size != 4 || !member_at(ob, ov, "id", &um->id_off, &id_n, &id_size) ||
	    id_n || id_size != 4 || !member_at(ob, ov, "n_eps", &um->n_off, &n_n, &n_size) || n_n ||
	    n_size != 4)
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: field eps moved to map %s and its old layout is not the one known: cannot migrate",
				  name, LB_MAP_SVC_EPS);
	um->list = true;
	return 0;
}

/* The list of the old lb_services value ov, written to the new lb_svc_eps. */
static int carry_list(struct upgrade *u, const struct up_map *um, const void *ov)
{
	struct bpf_map *m = bpf_object__find_map_by_name(u->obj, LB_MAP_SVC_EPS);
	const char *v = ov;
	__u32 id, n;

	if (!m || bpf_map__fd(m) < 0)
		return lb_set_err(u->ctx, -ENOENT, "map %s: not in the new object", LB_MAP_SVC_EPS);
	memcpy(&id, v + um->id_off, 4);
	memcpy(&n, v + um->n_off, 4);
	n = n < um->list_len ? n : um->list_len;
	for (__u32 i = 0; i < n; i++) {
		struct lb_svc_ep_key k = { .svc_id = id, .idx = i };
		__u32 ep;

		memcpy(&ep, v + um->list_off + i * 4, 4);
		if (bpf_map_update_elem(bpf_map__fd(m), &k, &ep, BPF_ANY))
			return lb_set_err(u->ctx, -errno, "map %s: writing the list of service %u",
					  LB_MAP_SVC_EPS, id);
	}
	return 0;
}

/*
 * ABI 4 to 5: the selection tables moved from an inner array per service in
 * lb_svc_sel ([0] the length, [1..len] endpoint ids) to slices of lb_sel named by
 * sel_off in the service's value.  carry_table() copies each into the new lb_sel
 * and sets sel_off.  A new value without the fields this needs is refused.
 */
static int plan_tables(struct upgrade *u, struct up_map *um, const struct btf *ob, __u32 ov,
		       const struct btf *nb, __u32 nv)
{
	const char *name = bpf_map__name(um->m);
	__u32 off, n, size, n1, s1, n2, s2, n3, s3;
	char path[PATH_MAX];

	if (strcmp(name, LB_MAP_SERVICES) || member_at(ob, ov, "sel_off", &off, &n, &size) ||
	    lb_path(u->ctx, path, sizeof(path), LB_DIR_MAPS, "lb_svc_sel", NULL))
		return 0;
	u->old_sel_fd = bpf_obj_get(path);
	if (u->old_sel_fd < 0) {
		u->old_sel_fd = -1;
		return 0;
	}
	if (!member_at(nb, nv, "sel_off", &um->sel_off, &n1, &s1) || n1 || s1 != 4 ||
	    !member_at(nb, nv, "sel_len", &um->len_off, &n2, &s2) || n2 || s2 != 4 ||
	    !member_at(nb, nv, "sched", &um->sched_off, &n3, &s3) || n3 || s3 != 1 ||
	    !member_at(ob, ov, "id", &um->id_off, &n, &size) || n || size != 4)
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: the selection tables moved to map %s and a layout is not the one known: cannot migrate",
				  name, LB_MAP_SEL);
	um->tables = true;
	u->sel_next = 1;
	return 0;
}

/* The table of the service of old value ov, from lb_svc_sel into the new lb_sel;
 * its place into the new value nv. */
static int carry_table(struct upgrade *u, const struct up_map *um, const void *ov, void *nv)
{
	struct bpf_map *m = bpf_object__find_map_by_name(u->obj, LB_MAP_SEL);
	__u32 id, inner_id, len = 0, zero = 0, room, at;
	int inner, sel = m ? bpf_map__fd(m) : -1, err = 0;
	__u8 sched;

	if (sel < 0)
		return lb_set_err(u->ctx, -ENOENT, "map %s: not in the new object", LB_MAP_SEL);
	memcpy(&id, (const char *)ov + um->id_off, 4);
	memcpy(&sched, (char *)nv + um->sched_off, 1);
	memset((char *)nv + um->sel_off, 0, 4);
	memset((char *)nv + um->len_off, 0, 4);
	if (bpf_map_lookup_elem(u->old_sel_fd, &id, &inner_id))
		return 0;	/* no table: the service's next change builds one */
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner < 0)
		return lb_set_err(u->ctx, -errno, "map lb_svc_sel: the table of service %u", id);
	if (bpf_map_lookup_elem(inner, &zero, &len))
		len = 0;
	room = lb_sel_room(sched, len);
	if ((uint64_t)u->sel_next + room > bpf_map__max_entries(m)) {
		close(inner);
		return lb_set_err(u->ctx, -ENOSPC, "map %s: the tables need more than its %u slots",
				  LB_MAP_SEL, bpf_map__max_entries(m));
	}
	for (__u32 i = 0; !err && i < len; i++) {
		__u32 k = i + 1, ep = 0, slot = u->sel_next + i;

		if (bpf_map_lookup_elem(inner, &k, &ep) ||
		    bpf_map_update_elem(sel, &slot, &ep, BPF_ANY))
			err = lb_set_err(u->ctx, -errno, "map %s: copying the table of service %u",
					 LB_MAP_SEL, id);
	}
	close(inner);
	if (err)
		return err;
	at = room ? u->sel_next : 0;
	memcpy((char *)nv + um->sel_off, &at, 4);
	memcpy((char *)nv + um->len_off, &len, 4);
	u->sel_next += room;
	bpf_map_update_elem(sel, &zero, &u->sel_next, BPF_ANY);	/* where space.c looks next */
	return 0;
}

/* Plan key and value conversion from the pinned map's BTF to the object's. */
static int plan_map(struct upgrade *u, struct up_map *um, const struct bpf_map_info *old)
{
	const struct btf *nb = bpf_object__btf(u->obj);
	const char *name = bpf_map__name(um->m);
	__u32 nk = bpf_map__btf_key_type_id(um->m), nv = bpf_map__btf_value_type_id(um->m);
	struct btf *ob;
	char why[160];
	int err;

	if (!old->btf_id || !nb || !nk || !nv || !old->btf_key_type_id || !old->btf_value_type_id)
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: layout changed and it has no BTF to migrate by", name);
	ob = btf__load_from_kernel_by_id(old->btf_id);
	if (!ob)
		return lb_set_err(u->ctx, -errno, "map %s: cannot read its BTF", name);
	err = lb_migrate_plan(ob, old->btf_key_type_id, nb, nk, &um->key, why, sizeof(why));
	if (!err && um->key.old_size != old->key_size)
		err = -EINVAL, snprintf(why, sizeof(why), "key size differs from its BTF");
	if (err) {
		btf__free(ob);
		return lb_set_err(u->ctx, -EOPNOTSUPP, "map %s: key %s: cannot migrate", name, why);
	}
	err = plan_moved(u, um, ob, old->btf_value_type_id, nb, nv);
	if (!err)
		err = plan_tables(u, um, ob, old->btf_value_type_id, nb, nv);
	if (err) {
		btf__free(ob);
		return err;
	}
	err = lb_migrate_plan(ob, old->btf_value_type_id, nb, nv, &um->val, why, sizeof(why));
	if (err) {
		btf__free(ob);
		return lb_set_err(u->ctx, -EOPNOTSUPP, "map %s: value %s: cannot migrate", name, why);
	}
	if (!strcmp(name, LB_MAP_SERVICES)) {
		long n = old_allow_lists(ob, old->btf_value_type_id, um->old_fd, old->key_size,
					 old->value_size);

		if (n) {
			btf__free(ob);
			return lb_set_err(u->ctx, -EOPNOTSUPP,
					  "map %s: the old layout keeps allow lists in allow[] (services with one: %ld), which cannot be migrated: lbctl save, lbattach destroy, attach, lbctl restore",
					  name, n);
		}
	}
	btf__free(ob);
	return 0;
}

static int prepare_map(struct upgrade *u, struct up_map *um)
{
	struct bpf_map_info old = {};
	__u32 len = sizeof(old);
	const char *name = bpf_map__name(um->m);
	enum bpf_map_type type = bpf_map__type(um->m);
	bool same_shape;
	int err;

	um->old_fd = -1;
	if (!bpf_map__pin_path(um->m))
		return 0;			/* .rodata, .bss: the object's own */
	snprintf(um->pin, sizeof(um->pin), "%s", bpf_map__pin_path(um->m));
	um->old_fd = bpf_obj_get(um->pin);
	if (um->old_fd < 0) {
		um->old_fd = -1;
		return errno == ENOENT ? 0 : lb_set_err(u->ctx, -errno, "map %s", name);
	}
	if (bpf_obj_get_info_by_fd(um->old_fd, &old, &len))
		return lb_set_err(u->ctx, -errno, "map %s", name);
	if (old.type != type && !same_family(old.type, type))
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: its type changed (%u to %u): cannot migrate", name,
				  old.type, type);
	/* A table may grow (its entries are copied); a smaller one could not hold them. */
	if (old.max_entries > bpf_map__max_entries(um->m) ||
	    (!migratable(type) && (old.max_entries != bpf_map__max_entries(um->m) ||
				   old.map_flags != bpf_map__map_flags(um->m))))
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: its size or flags changed: cannot migrate", name);
	/* Anything but the layout differs: the entries are copied into a new map. */
	same_shape = old.type == type && old.max_entries == bpf_map__max_entries(um->m) &&
		     old.map_flags == bpf_map__map_flags(um->m) &&
		     old.key_size == bpf_map__key_size(um->m) &&
		     old.value_size == bpf_map__value_size(um->m);

	if (type == BPF_MAP_TYPE_PROG_ARRAY && strcmp(name, LB_MAP_CHAIN)) {
		/* Our tail-call table: the new programs get their own. */
		um->fresh = true;
	} else if (migratable(type) && old.btf_id && bpf_map__btf_value_type_id(um->m)) {
		err = plan_map(u, um, &old);
		if (err)
			return err;
		/* tables: the same bytes, but sel_off is filled in (carry_table) */
		um->convert = !same_shape || !lb_migrate_identity(&um->key) ||
			      !lb_migrate_identity(&um->val) || um->tables;
		if (um->convert && um->val.kernel_object[0])
			return lb_set_err(u->ctx, -EOPNOTSUPP,
					  "map %s: its layout changed and field %s holds a kernel object: cannot migrate",
					  name, um->val.kernel_object);
		um->fresh = um->convert;
		um->percpu = is_percpu(type);
	} else if (!same_shape) {
		return lb_set_err(u->ctx, -EOPNOTSUPP,
				  "map %s: its layout changed and this kind of map cannot be migrated",
				  name);
	}
	if (!um->fresh)
		return 0;
	if (strlen(um->pin) + sizeof(UPGRADE_SFX) > sizeof(um->tmp))
		return -ENAMETOOLONG;
	strcpy(um->tmp, um->pin);
	strcat(um->tmp, UPGRADE_SFX);
	unlink(um->tmp);		/* left by an interrupted upgrade */
	return bpf_map__set_pin_path(um->m, um->tmp) ? lb_set_err(u->ctx, -EINVAL, "map %s", name) : 0;
}

/*
 * Copy the entries of the pinned map into the new one, converted.  flags:
 * BPF_ANY the first time; BPF_NOEXIST after the switch, so that what the new
 * programs wrote meanwhile wins over what the old ones left.
 */
static int carry_entries(struct upgrade *u, struct up_map *um, __u64 flags, uint64_t *count)
{
	int ncpus = um->percpu ? libbpf_num_possible_cpus() : 1;
	size_t ostride = um->percpu ? (um->val.old_size + 7) & ~7u : um->val.old_size;
	size_t nstride = um->percpu ? (um->val.new_size + 7) & ~7u : um->val.new_size;
	int new_fd = bpf_map__fd(um->m), err = 0;
	void *ok = NULL, *nk = NULL, *ov = NULL, *nv = NULL, *prev = NULL;
	bool array = bpf_map__type(um->m) == BPF_MAP_TYPE_ARRAY ||
		     bpf_map__type(um->m) == BPF_MAP_TYPE_PERCPU_ARRAY;

	if (ncpus <= 0)
		return -EINVAL;
	ok = calloc(1, um->key.old_size);
	nk = calloc(1, um->key.new_size);
	ov = calloc(ncpus, ostride);
	nv = calloc(ncpus, nstride);
	if (!ok || !nk || !ov || !nv) {
		err = -ENOMEM;
		goto out;
	}
	while (bpf_map_get_next_key(um->old_fd, prev, ok) == 0) {
		prev = ok;
		if (bpf_map_lookup_elem(um->old_fd, ok, ov))
			continue;	/* gone meanwhile (expired, evicted) */
		lb_migrate_apply(&um->key, ok, nk);
		for (int c = 0; c < ncpus; c++)
			lb_migrate_apply(&um->val, (char *)ov + c * ostride, (char *)nv + c * nstride);
		/* Services are never made by the datapath: none come after the switch. */
		if (um->tables && flags == BPF_NOEXIST)
			continue;
		if (um->tables) {
			err = carry_table(u, um, ov, nv);
			if (err)
				goto out;
		}
		if (bpf_map_update_elem(new_fd, nk, nv, array ? BPF_ANY : flags)) {
			if (errno == EEXIST)
				continue;
			err = lb_set_err(u->ctx, -errno, "map %s: copying an entry",
					 bpf_map__name(um->m));
			goto out;
		}
		if (um->list) {
			err = carry_list(u, um, ov);
			if (err)
				goto out;
		}
		(*count)++;
	}
out:
	free(ok);
	free(nk);
	free(ov);
	free(nv);
	return err;
}

static int prog_tmp_path(struct upgrade *u, int i, char *buf, size_t len, bool tmp)
{
	int err = lb_path(u->ctx, buf, len, LB_DIR_PROGS, lb_datapath_progs[i], NULL);

	if (!err && tmp) {
		if (strlen(buf) + sizeof(UPGRADE_SFX) > len)
			return -ENAMETOOLONG;
		strcat(buf, UPGRADE_SFX);
	}
	return err;
}

static void unprepare(struct upgrade *u)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < u->n_maps; i++)
		if (u->maps[i].fresh && u->maps[i].tmp[0])
			unlink(u->maps[i].tmp);
	/* Only after map_existed was read: before, every pin would look new. */
	if (u->obj && u->map_existed_read)
		lb_unpin_new_maps(u->obj, u->map_existed);
	for (int i = 0; i < LB_DATAPATH_PROGS; i++)
		if (u->prog_pinned[i] && !prog_tmp_path(u, i, path, sizeof(path), true))
			unlink(path);
}

static int prepare(struct upgrade *u, const char *obj_path)
{
	char maps_dir[PATH_MAX], path[PATH_MAX];
	struct lb_sizes sizes;
	struct bpf_map *map;
	int err;

	err = lb_path(u->ctx, maps_dir, sizeof(maps_dir), LB_DIR_MAPS, NULL, NULL);
	if (err)
		return err;
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = maps_dir);
	u->obj = bpf_object__open_file(obj_path, &oopts);
	if (!u->obj)
		return lb_set_err(u->ctx, -errno, "cannot open %s", obj_path);
	u->abi = object_abi(u->obj);
	if (!u->abi)
		return lb_set_err(u->ctx, -EINVAL, "%s: no lb_abi_version: not an lbkit datapath",
				  obj_path);
	err = lb_datapath_sizes(u->ctx, &sizes);
	if (!err)
		err = lb_apply_sizes(u->obj, &sizes);
	if (err)
		return lb_set_err(u->ctx, err, "cannot size the tables as the running ones");
	bpf_object__for_each_map(map, u->obj) {
		struct up_map *um;

		if (u->n_maps == LB_OBJ_MAPS_MAX)
			return lb_set_err(u->ctx, -E2BIG, "%s: too many maps", obj_path);
		um = &u->maps[u->n_maps++];
		um->m = map;
		err = prepare_map(u, um);
		if (err)
			return err;
	}
	for (int i = 0; i < LB_DATAPATH_PROGS; i++)
		if (!bpf_object__find_program_by_name(u->obj, lb_datapath_progs[i]))
			return lb_set_err(u->ctx, -ENOENT, "%s has no program %s", obj_path,
					  lb_datapath_progs[i]);
	lb_maps_existing(u->obj, u->map_existed);
	u->map_existed_read = true;
	err = bpf_object__load(u->obj);
	if (err)
		return lb_set_err(u->ctx, err == -EPERM ? err : -ENOEXEC,
				  "the kernel refused %s (run with -d for the verifier log)", obj_path);
	for (size_t i = 0; i < u->n_maps; i++) {
		if (!u->maps[i].convert)
			continue;
		err = carry_entries(u, &u->maps[i], BPF_ANY, &u->res->entries);
		if (err)
			return err;
		u->res->maps_migrated++;
	}
	for (int i = 0; i < LB_DATAPATH_PROGS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(u->obj, lb_datapath_progs[i]);

		u->new_fd[i] = bpf_program__fd(p);
		err = prog_tmp_path(u, i, path, sizeof(path), true);
		if (err)
			return err;
		unlink(path);
		if (bpf_obj_pin(u->new_fd[i], path))
			return lb_set_err(u->ctx, -errno, "cannot pin %s", path);
		u->prog_pinned[i] = true;
	}
	return 0;
}

/* --- switch ------------------------------------------------------------------- */

static struct undo *undo_push(struct upgrade *u)
{
	struct undo *d;

	if (u->n_undo == UNDO_MAX)
		return NULL;
	d = &u->undo[u->n_undo++];
	memset(d, 0, sizeof(*d));
	d->fd = d->old_prog_fd = -1;
	return d;
}

static void undo_all(struct upgrade *u)
{
	struct lb_nl *nl = NULL;

	while (u->n_undo) {
		struct undo *d = &u->undo[--u->n_undo];

		switch (d->kind) {
		case UNDO_LINK:
			bpf_link_update(d->fd, d->old_prog_fd, NULL);
			break;
		case UNDO_SLOT:
			bpf_map_update_elem(d->fd, &d->slot, &d->old_prog_fd, 0);
			break;
		case UNDO_FILTER:
			d->f.prog_fd = d->old_prog_fd;
			if (nl || !lb_nl_open(&nl))
				lb_tc_filter_add(nl, &d->f, true);
			break;
		}
	}
	lb_nl_close(nl);
}

static void undo_free(struct upgrade *u)
{
	for (size_t i = 0; i < u->n_undo; i++) {
		if (u->undo[i].fd >= 0)
			close(u->undo[i].fd);
		if (u->undo[i].old_prog_fd >= 0)
			close(u->undo[i].old_prog_fd);
	}
	u->n_undo = 0;
}

/* Point a prog array slot holding one of our old programs at its new one. */
static int switch_slot(struct upgrade *u, int map_fd, __u32 slot, int i)
{
	struct undo *d = undo_push(u);

	if (!d)
		return -E2BIG;
	d->kind = UNDO_SLOT;
	d->slot = slot;
	d->fd = dup(map_fd);
	d->old_prog_fd = dup(u->old_fd[i]);
	if (d->fd < 0 || d->old_prog_fd < 0)
		return -errno;
	return bpf_map_update_elem(map_fd, &slot, &u->new_fd[i], 0) ? -errno : 0;
}

/* The XDP chains' slots that hold lb_xdp_chained, and the step slot. */
static int switch_chains(struct upgrade *u)
{
	int cfg_fd = lb_map_fd(u->ctx, LB_MAP_CHAIN_CFG);
	int arr_fd = lb_map_fd(u->ctx, LB_MAP_CHAIN);
	struct lb_chain_cfg cfg;
	__u32 key, *prev = NULL, slot, id;
	int err = 0, i;

	if (arr_fd < 0) {
		err = arr_fd == -ENOENT ? 0 : arr_fd;
		goto out;
	}
	slot = LB_CHAIN_STEP;
	err = switch_slot(u, arr_fd, slot, prog_index(LB_PROG_CHAIN_STEP));
	while (!err && cfg_fd >= 0 && bpf_map_get_next_key(cfg_fd, prev, &key) == 0) {
		prev = &key;
		if (bpf_map_lookup_elem(cfg_fd, &key, &cfg))
			continue;
		for (__u32 s = cfg.base; s < cfg.base + cfg.len && !err; s++) {
			if (bpf_map_lookup_elem(arr_fd, &s, &id))
				continue;
			i = prog_index_by_id(u, id);
			if (i >= 0) {
				err = switch_slot(u, arr_fd, s, i);
				u->res->attachments++;
			}
		}
	}
	if (err)
		lb_set_err(u->ctx, err, "%s: cannot switch a slot", LB_MAP_CHAIN);
out:
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (arr_fd >= 0)
		close(arr_fd);
	return err;
}

static int switch_link(struct upgrade *u, const char *pin, const char *prog_name)
{
	int i = prog_index(prog_name), fd, err;
	struct undo *d;

	if (i < 0)
		return 0;		/* not ours (cannot happen: records are ours) */
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	d = undo_push(u);
	if (!d) {
		close(fd);
		return -E2BIG;
	}
	d->kind = UNDO_LINK;
	d->fd = fd;
	d->old_prog_fd = dup(u->old_fd[i]);
	err = bpf_link_update(fd, u->new_fd[i], NULL) ? -errno : 0;
	if (!err)
		u->res->attachments++;
	return err;
}

/* A cls_bpf filter running one of our old programs, at whatever pref: replace it. */
static int switch_filter(struct upgrade *u, unsigned int ifindex, bool egress, __u32 prog_id)
{
	int i = prog_index_by_id(u, prog_id), err;
	struct lb_tc_filter *f = NULL;
	struct lb_nl *nl;
	size_t n = 0;

	if (i < 0 || !ifindex)
		return 0;	/* the interface went away */
	err = lb_nl_open(&nl);
	if (err)
		return err;
	err = lb_tc_filter_list(nl, ifindex, egress, &f, &n);
	for (size_t k = 0; !err && k < n; k++) {
		struct undo *d;

		if (f[k].prog_id != prog_id &&
		    !(f[k].pref == LB_CLSACT_PREF && f[k].handle == LB_CLSACT_HANDLE &&
		      prog_index_by_id(u, f[k].prog_id) == i))
			continue;
		d = undo_push(u);
		if (!d) {
			err = -E2BIG;
			break;
		}
		d->kind = UNDO_FILTER;
		d->f = f[k];
		d->f.ifindex = ifindex;
		d->f.egress = egress;
		d->f.direct_action = true;
		d->old_prog_fd = dup(u->old_fd[i]);
		d->f.prog_fd = u->new_fd[i];
		err = lb_tc_filter_add(nl, &d->f, true);
		if (err)
			lb_set_err(u->ctx, err, "cls_bpf filter pref %u: %s", f[k].pref,
				   lb_nl_ext_ack(nl));
		else
			u->res->attachments++;
	}
	free(f);
	lb_nl_close(nl);
	return err;
}

static int switch_attachments(struct upgrade *u, struct lb_attachment *a, size_t n)
{
	char pin[PATH_MAX];
	int err = 0;

	for (size_t k = 0; k < n && !err; k++) {
		err = lb_path(u->ctx, pin, sizeof(pin), LB_DIR_LINKS, a[k].ifname,
			      lb_hook_name(a[k].hook));
		if (err)
			break;
		if (a[k].link_id)
			err = switch_link(u, pin, a[k].prog_name);
		else
			/* the interface, even when the record looks stale: an
			 * interrupted upgrade leaves the filter on another program */
			err = switch_filter(u, if_nametoindex(a[k].ifname),
					    a[k].hook == LB_HOOK_TC_EGRESS, a[k].prog_id);
		if (err && !u->ctx->errmsg[0])
			lb_set_err(u->ctx, err, "%s %s: cannot switch", a[k].ifname,
				   lb_hook_name(a[k].hook));
	}
	return err;
}

/* --- commit ------------------------------------------------------------------- */

/* A cls_bpf record pins the program itself: pin the new one in its place. */
static void repin_filter_records(struct upgrade *u, struct lb_attachment *a, size_t n)
{
	char pin[PATH_MAX], tmp[PATH_MAX];

	for (size_t k = 0; k < n; k++) {
		int i = prog_index_by_id(u, a[k].prog_id);

		if (a[k].link_id || i < 0 ||
		    lb_path(u->ctx, pin, sizeof(pin), LB_DIR_LINKS, a[k].ifname,
			    lb_hook_name(a[k].hook)) ||
		    snprintf(tmp, sizeof(tmp), "%s%s", pin, UPGRADE_SFX) >= (int)sizeof(tmp))
			continue;
		unlink(tmp);
		if (!bpf_obj_pin(u->new_fd[i], tmp))
			rename(tmp, pin);
	}
}

static int commit(struct upgrade *u)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int err = 0;

	for (int i = 0; i < LB_DATAPATH_PROGS; i++) {
		if (prog_tmp_path(u, i, tmp, sizeof(tmp), true) ||
		    prog_tmp_path(u, i, path, sizeof(path), false) || rename(tmp, path))
			err = err ? err : lb_set_err(u->ctx, -errno, "cannot rename %s", tmp);
		u->prog_pinned[i] = false;
		u->res->programs++;
	}
	for (size_t i = 0; i < u->n_maps; i++) {
		struct up_map *um = &u->maps[i];

		if (um->fresh && rename(um->tmp, um->pin))
			err = err ? err : lb_set_err(u->ctx, -errno, "cannot rename %s", um->tmp);
	}
	return err;
}

/* After the switch no program uses a map of the old layout that the new one lacks. */
static void unpin_retired(struct upgrade *u)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(retired_maps) / sizeof(retired_maps[0]); i++)
		if (!bpf_object__find_map_by_name(u->obj, retired_maps[i]) &&
		    !lb_path(u->ctx, path, sizeof(path), LB_DIR_MAPS, retired_maps[i], NULL))
			unlink(path);
}

static int record_abi(struct upgrade *u)
{
	int fd = lb_map_fd(u->ctx, LB_MAP_CONFIG), err;
	struct lb_config cfg;
	__u32 key = 0;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &key, &cfg) ? -errno : 0;
	if (!err && cfg.abi_version != u->abi) {
		cfg.abi_version = u->abi;
		err = bpf_map_update_elem(fd, &key, &cfg, BPF_ANY) ? -errno : 0;
	}
	close(fd);
	if (!err)
		u->ctx->found_abi = u->abi;
	return err;
}

static void cleanup(struct upgrade *u)
{
	undo_free(u);
	for (int i = 0; i < LB_DATAPATH_PROGS; i++)
		if (u->old_fd[i] >= 0)
			close(u->old_fd[i]);
	for (size_t i = 0; i < u->n_maps; i++)
		if (u->maps[i].old_fd >= 0)
			close(u->maps[i].old_fd);
	if (u->old_sel_fd >= 0)
		close(u->old_sel_fd);
	bpf_object__close(u->obj);
	free(u);
}

int lb_upgrade(struct lb_ctx *ctx, const struct lb_upgrade_opts *opts,
	       struct lb_upgrade_result *res)
{
	struct lb_upgrade_result none;
	struct lb_attachment *a = NULL;
	char obj_path[PATH_MAX];
	struct upgrade *u;
	size_t n = 0;
	int err;

	lb_clear_err(ctx);
	lb__svc_cache_drop(ctx);	/* the maps may be replaced */
	if (!res)
		res = &none;
	memset(res, 0, sizeof(*res));
	if (!lb_datapath_loaded(ctx))
		return lb_set_err(ctx, -ENOENT, "no datapath loaded here: nothing to upgrade");
	if (opts && opts->obj) {
		if (access(opts->obj, R_OK))
			return lb_set_err(ctx, -errno, "%s", opts->obj);
		snprintf(obj_path, sizeof(obj_path), "%s", opts->obj);
	} else if (lb_find_bpf_obj(ctx, LB_DATAPATH_OBJ, obj_path, sizeof(obj_path))) {
		return lb_set_err(ctx, -ENOENT, "BPF object %s not found (set %s)",
				  LB_DATAPATH_OBJ, LB_BPF_DIR_ENV);
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ctx = ctx;
	u->res = res;
	u->old_sel_fd = -1;
	for (int i = 0; i < LB_DATAPATH_PROGS; i++) {
		u->new_fd[i] = -1;
		u->old_fd[i] = lb_prog_fd(ctx, lb_datapath_progs[i]);
		u->old_id[i] = u->old_fd[i] >= 0 ? lb_prog_id(u->old_fd[i]) : 0;
		if (u->old_fd[i] < 0) {
			err = lb_set_err(ctx, u->old_fd[i], "program %s", lb_datapath_progs[i]);
			goto out;
		}
	}
	err = lb_attachments(ctx, &a, &n);
	if (err) {
		lb_set_err(ctx, err, "cannot list the attachments");
		goto out;
	}
	err = prepare(u, obj_path);
	if (err)
		goto fail;
	err = switch_chains(u);
	if (!err)
		err = switch_attachments(u, a, n);
	if (err) {
		undo_all(u);
		goto fail;
	}
	repin_filter_records(u, a, n);
	err = commit(u);
	if (!err)
		unpin_retired(u);
	/* No old program runs after a grace period: take what they made meanwhile. */
	if (!err && u->res->maps_migrated && lb_sync_rcu() == 0)
		for (size_t i = 0; i < u->n_maps && !err; i++)
			if (u->maps[i].convert)
				err = carry_entries(u, &u->maps[i], BPF_NOEXIST, &res->entries_late);
	/*
	 * The sweep timer's callback becomes the new program's.  After the late
	 * copy, not before: lb_gc is an array, whose entry that copy writes again,
	 * and a write of an array value holding a bpf_timer cancels the timer (a
	 * layout change of lb_gc, as from layout 3, stopped the sweep for good).
	 */
	if (!err)
		err = lb_gc_arm(ctx);
	if (!err)
		err = record_abi(u);
	if (err && !ctx->errmsg[0])
		lb_set_err(ctx, err, "upgrade");
	goto out;
fail:
	unprepare(u);
out:
	free(a);
	cleanup(u);
	return err;
}
