// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a BTF type id stands for in a map key or value (classify: addresses,
 * big-endian ports, enums and the named fields of lb_abi.h), enumerator names, and
 * the maps' types: lb_map_btf_open, lb_btf_type_name, lb_btf_special.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include "internal.h"
#include "btfval.h"

/* ------------------------------------------------------------ named fields */

/*
 * Fields of lb_abi.h that hold an enum in an integer too small for the enum type
 * (or, for hook, in the __u32 of pin roots made before it became enum lb_hook).
 */
static const struct field_names {
	const char *sname, *member;
	const struct lb_name *names;
	bool flags;
} field_tables[] = {
	{ "lb_svc_key", "proto",  lb_proto_names,       false },
	{ "lb_svc_key", "family", lb_family_names,      false },
	{ "lb_svc",     "sched",  lb_sched_names,       false },
	{ "lb_svc",     "mode",   lb_nat_names,         false },
	{ "lb_svc",     "family", lb_family_names,      false },
	{ "lb_svc",     "flags",  lb_svc_flag_names,    true },
	{ "lb_ep",      "family", lb_family_names,      false },
	{ "lb_ep",      "status", lb_ep_status_names,   false },
	{ "lb_ep",      "flags",  lb_ep_flag_names,     true },
	{ "lb_check",   "type",   lb_check_type_names,  false },
	{ "lb_health",  "state",  lb_health_state_names, false },
	{ "lb_health",  "last",   lb_probe_result_names, false },
	{ "lb_health_key", "proto",  lb_proto_names,    false },
	{ "lb_health_key", "family", lb_family_names,   false },
	{ "lb_ct_key",  "proto",  lb_proto_names,       false },
	{ "lb_ct_key",  "family", lb_family_names,      false },
	{ "lb_ct",      "state",  lb_ct_state_names,    false },
	{ "lb_ct",      "flags",  lb_ct_flag_names,     true },
	{ "lb_if_key",  "hook",   lb_hook_names,        false },
};

static const struct field_names *field_table(const char *sname, const char *member)
{
	if (!sname || !member)
		return NULL;
	for (size_t i = 0; i < sizeof(field_tables) / sizeof(field_tables[0]); i++)
		if (!strcmp(field_tables[i].sname, sname) && !strcmp(field_tables[i].member, member))
			return &field_tables[i];
	return NULL;
}

/* Structs the kernel manages inside a map value: a user-space write resets them. */
static const char *const special_structs[] = {
	"bpf_timer", "bpf_spin_lock", "bpf_wq", "bpf_list_head", "bpf_list_node",
	"bpf_rb_root", "bpf_rb_node", "bpf_refcount", "bpf_task_work", NULL,
};

const char *btfval_type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;

	return n ? n : "";
}

void btfval_classify(const struct btf *btf, uint32_t id, size_t raw_size, const char *sname,
		     const char *member, struct tinfo *ti)
{
	const struct field_names *fn;
	const struct btf_type *t;
	bool be = false;
	long long sz;

	memset(ti, 0, sizeof(*ti));
	if (!btf || !id) {
		ti->size = raw_size;
		ti->kind = raw_size == 1 || raw_size == 2 || raw_size == 4 || raw_size == 8 ?
			   LK_UINT : LK_HEX;
		return;
	}
	for (int guard = 0; guard < 32; guard++) {
		t = btf__type_by_id(btf, id);
		if (!t)
			break;
		if (btf_is_typedef(t)) {
			const char *n = btfval_type_name(btf, t);

			if (!strcmp(n, "__be16") || !strcmp(n, "__be32") || !strcmp(n, "__be64"))
				be = true;
		} else if (!btf_is_mod(t)) {
			break;
		}
		id = t->type;
	}
	ti->id = id;
	ti->t = t;
	sz = btf__resolve_size(btf, id);
	ti->size = sz > 0 ? sz : 0;
	ti->kind = LK_HEX;
	if (!t)
		return;
	if (btf_is_int(t)) {
		unsigned char enc = btf_int_encoding(t);

		fn = field_table(sname, member);
		if (ti->size > 8)
			ti->kind = LK_HEX;
		else if (fn) {
			ti->kind = fn->flags ? LK_FLAGS : LK_NAMES;
			ti->names = fn->names;
		} else if (enc & BTF_INT_BOOL)
			ti->kind = LK_BOOL;
		else if (be)
			ti->kind = LK_BE;
		else if (enc & BTF_INT_SIGNED) {
			ti->kind = LK_INT;
			ti->is_signed = true;
		} else
			ti->kind = LK_UINT;
	} else if (btf_is_any_enum(t)) {
		ti->kind = ti->size <= 8 ? LK_ENUM : LK_HEX;
		ti->is_signed = btf_kflag(t);
	} else if (btf_is_composite(t)) {
		const char *n = btfval_type_name(btf, t);

		if (!strcmp(n, "lb_addr") && ti->size == 16)
			ti->kind = LK_ADDR;
		else if (!strcmp(n, "in_addr") && ti->size == 4)
			ti->kind = LK_ADDR4;
		else if (!strcmp(n, "in6_addr") && ti->size == 16)
			ti->kind = LK_ADDR6;
		else
			ti->kind = LK_COMPOSITE;
	} else if (btf_is_array(t)) {
		const struct btf_type *e = btf__type_by_id(btf, btf_array(t)->type);

		while (e && (btf_is_typedef(e) || btf_is_mod(e)))
			e = btf__type_by_id(btf, e->type);
		ti->kind = e && btf_is_int(e) && !strcmp(btfval_type_name(btf, e), "char") ? LK_STRING :
			   LK_ARRAY;
	} else if (btf_is_ptr(t)) {
		ti->kind = ti->size == 8 || ti->size == 4 ? LK_UINT : LK_HEX;
	}
}

void btfval_enum_short(const struct btf *btf, const struct btf_type *t, int i, char *buf,
		       size_t len)
{
	int n = btf_vlen(t);
	size_t pre, k;
	const char *first, *name;

#define ENUM_NAME(j) btf__name_by_offset(btf, btf_is_enum(t) ? btf_enum(t)[j].name_off : \
							       btf_enum64(t)[j].name_off)
	first = ENUM_NAME(0);
	name = ENUM_NAME(i);
	if (!first || !name) {
		snprintf(buf, len, "?");
		return;
	}
	pre = strlen(first);
	for (int j = 1; j < n; j++) {
		const char *o = ENUM_NAME(j);

		for (k = 0; k < pre && o && o[k] == first[k]; k++)
			;
		pre = k;
	}
#undef ENUM_NAME
	/* Cut back to just after an underscore, and never take the whole name. */
	if (pre >= strlen(name))
		pre = strlen(name) ? strlen(name) - 1 : 0;
	while (pre > 0 && first[pre - 1] != '_')
		pre--;
	for (k = 0; name[pre + k] && k + 1 < len; k++)
		buf[k] = name[pre + k] == '_' ? '-' : tolower((unsigned char)name[pre + k]);
	buf[k] = '\0';
}

bool btfval_enum_sentinel(const struct btf *btf, const struct btf_type *t, int i)
{
	const char *n = btf__name_by_offset(btf, btf_is_enum(t) ? btf_enum(t)[i].name_off :
							      btf_enum64(t)[i].name_off);
	size_t len = n ? strlen(n) : 0;

	return len >= 4 && !strcmp(n + len - 4, "_MAX");
}

uint64_t btfval_enum_value(const struct btf_type *t, int i)
{
	if (btf_is_enum(t))
		return btf_kflag(t) ? (uint64_t)(int64_t)(int32_t)btf_enum(t)[i].val :
				      (uint32_t)btf_enum(t)[i].val;
	return btf_enum64_value(&btf_enum64(t)[i]);
}

/* ------------------------------------------------------------ maps and names */

int lb_map_btf_open(int fd, struct lb_map_btf *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	memset(m, 0, sizeof(*m));
	err = lb_map_describe(fd, &m->desc);
	if (err)
		return err;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (!info.btf_id)
		return 0;
	m->btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!m->btf)
		return -errno ? -errno : -ENOENT;
	m->key_type_id = info.btf_key_type_id;
	m->value_type_id = info.btf_value_type_id;
	/* A type whose size is not the map's is no guide: treat it as raw. */
	if (m->key_type_id && btf__resolve_size(m->btf, m->key_type_id) != info.key_size)
		m->key_type_id = 0;
	if (m->value_type_id && btf__resolve_size(m->btf, m->value_type_id) != info.value_size)
		m->value_type_id = 0;
	return 0;
}

void lb_map_btf_close(struct lb_map_btf *m)
{
	if (!m)
		return;
	btf__free(m->btf);
	m->btf = NULL;
}

const char *lb_btf_type_name(const struct btf *btf, uint32_t type_id, char *buf, size_t len)
{
	const struct btf_type *t;

	if (!btf || !type_id) {
		snprintf(buf, len, "raw");
		return buf;
	}
	t = btf__type_by_id(btf, type_id);
	while (t && btf_is_mod(t)) {
		type_id = t->type;
		t = btf__type_by_id(btf, type_id);
	}
	if (!t) {
		snprintf(buf, len, "?");
	} else if (btf_is_struct(t) || btf_is_union(t) || btf_is_any_enum(t)) {
		snprintf(buf, len, "%s %s",
			 btf_is_struct(t) ? "struct" : btf_is_union(t) ? "union" : "enum",
			 *btfval_type_name(btf, t) ? btfval_type_name(btf, t) : "(anon)");
	} else if (btf_is_array(t)) {
		char e[128];

		lb_btf_type_name(btf, btf_array(t)->type, e, sizeof(e));
		snprintf(buf, len, "%s[%u]", e, btf_array(t)->nelems);
	} else if (btf_is_ptr(t)) {
		snprintf(buf, len, "pointer");
	} else {
		snprintf(buf, len, "%s", *btfval_type_name(btf, t) ? btfval_type_name(btf, t) : "?");
	}
	return buf;
}

static const char *special_in(const struct btf *btf, uint32_t id, int depth)
{
	struct tinfo ti;

	if (depth > 32)
		return NULL;
	btfval_classify(btf, id, 0, NULL, NULL, &ti);
	if (ti.kind == LK_COMPOSITE) {
		const char *n = btfval_type_name(btf, ti.t);

		for (int i = 0; special_structs[i]; i++)
			if (!strcmp(n, special_structs[i]))
				return special_structs[i];
		for (int i = 0; i < btf_vlen(ti.t); i++) {
			const char *s = special_in(btf, btf_members(ti.t)[i].type, depth + 1);

			if (s)
				return s;
		}
	} else if (ti.kind == LK_ARRAY) {
		return special_in(btf, btf_array(ti.t)->type, depth + 1);
	}
	return NULL;
}

const char *lb_btf_special(const struct btf *btf, uint32_t type_id)
{
	if (!btf || !type_id)
		return NULL;
	return special_in(btf, type_id, 0);
}

