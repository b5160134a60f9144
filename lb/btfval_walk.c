// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The walk of a typed map key or value (lb_btf_walk): one item per field, named by
 * its path, with addresses, big-endian ports, enums and named fields as text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include "internal.h"
#include "btfval.h"

#define PATH_MAX_LEN	256

/* The value of an integer-like leaf (UINT, INT, BOOL, ENUM, BE, NAMES, FLAGS). */
static uint64_t leaf_uint(const struct tinfo *ti, const uint8_t *p)
{
	uint64_t v = load_uint(p, ti->size);

	if (ti->kind == LK_BE)
		v = swap_be(v, ti->size);
	return v;
}

/* Text of a named integer: the enum's or table's name, the flags' names joined by
 * ',', else NULL (print the number). */
static const char *named_text(const struct btf *btf, const struct tinfo *ti, uint64_t v,
			      char *buf, size_t len)
{
	if (ti->kind == LK_ENUM) {
		for (int i = 0; i < btf_vlen(ti->t); i++) {
			if (btfval_enum_sentinel(btf, ti->t, i))
				continue;
			if (btfval_enum_value(ti->t, i) == v ||
			    (ti->size < 8 && (btfval_enum_value(ti->t, i) & ((1ULL << (8 * ti->size)) - 1)) == v)) {
				btfval_enum_short(btf, ti->t, i, buf, len);
				return buf;
			}
		}
		return NULL;
	}
	if (ti->kind == LK_NAMES)
		return lb_name_of(ti->names, v);
	if (ti->kind == LK_FLAGS) {
		size_t off = 0;

		if (!v)
			return NULL;
		buf[0] = '\0';
		for (int i = 0; ti->names[i].name; i++) {
			if (!(v & ti->names[i].v))
				continue;
			off += snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? "," : "",
					ti->names[i].name);
			v &= ~ti->names[i].v;
		}
		if (v)
			off += snprintf(buf + off, off < len ? len - off : 0, "%s0x%llx", off ? "," : "",
					(unsigned long long)v);
		return buf;
	}
	return NULL;
}

/* 4 or 6 from a struct's "family" field (LB_AF_* or AF_*), 0 when there is none. */
static int struct_family(const struct btf *btf, const struct btf_type *t, const uint8_t *p,
			 size_t avail)
{
	const struct btf_member *m = btf_members(t);

	for (int i = 0; i < btf_vlen(t); i++) {
		struct tinfo ti;
		uint32_t off = btf_member_bit_offset(t, i) / 8;
		uint64_t v;

		if (strcmp(btf__name_by_offset(btf, m[i].name_off) ?: "", "family") ||
		    btf_member_bitfield_size(t, i))
			continue;
		btfval_classify(btf, m[i].type, 0, NULL, NULL, &ti);
		if (ti.kind != LK_UINT && ti.kind != LK_ENUM && ti.kind != LK_INT)
			continue;
		if (off + ti.size > avail)
			return 0;
		v = load_uint(p + off, ti.size);
		if (v == LB_AF_INET || v == AF_INET)
			return 4;
		if (v == LB_AF_INET6 || v == AF_INET6)
			return 6;
	}
	return 0;
}

/* struct lb_addr as text: IPv4 when the struct's family says so, or, without a
 * family, when a[1..3] are 0. */
static void addr_text(const uint8_t *p, enum leaf kind, int family, char *buf, size_t len)
{
	bool v4;

	if (kind == LK_ADDR4)
		v4 = true;
	else if (kind == LK_ADDR6)
		v4 = false;
	else if (family)
		v4 = family == 4;
	else
		v4 = all_zero(p + 4, 12);
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, p, buf, len))
		snprintf(buf, len, "?");
}

/* ------------------------------------------------------------ walk */

struct walker {
	const struct btf *btf;
	const uint8_t *data;
	size_t size;
	lb_btf_fn fn;
	void *cookie;
	char path[PATH_MAX_LEN];
};

static int path_push(struct walker *w, const char *name, int index)
{
	size_t n = strlen(w->path);

	if (index >= 0)
		snprintf(w->path + n, sizeof(w->path) - n, "[%d]", index);
	else if (name)
		snprintf(w->path + n, sizeof(w->path) - n, "%s%s", n ? "." : "", name);
	return n;
}

static int walk_type(struct walker *w, uint32_t id, size_t raw_size, size_t off,
		     const char *sname, const char *member, const char *name, int index,
		     int depth, int family);

/* Scalar leaf at p (or bitfield value bv when bits). */
static int walk_leaf(struct walker *w, const struct tinfo *ti, const uint8_t *p, bool bitfield,
		     uint64_t bv, unsigned int bits, struct lb_btf_item *it, int family)
{
	char buf[512];
	const char *s;
	uint64_t v;
	int err;

	switch (ti->kind) {
	case LK_UINT:
	case LK_BE:
	case LK_BOOL:
	case LK_INT:
	case LK_ENUM:
	case LK_NAMES:
	case LK_FLAGS:
		v = bitfield ? bv : leaf_uint(ti, p);
		it->zero = v == 0;
		s = named_text(w->btf, ti, v, buf, sizeof(buf));
		if (s) {
			it->kind = LB_BTF_STR;
			it->s = s;
		} else if (ti->kind == LK_BOOL) {
			it->kind = LB_BTF_BOOL;
			it->u = v != 0;
		} else if (ti->is_signed) {
			it->kind = LB_BTF_INT;
			it->i = sign_extend(v, bitfield ? bits : 8 * ti->size);
		} else {
			it->kind = LB_BTF_UINT;
			it->u = v;
		}
		return w->fn(it, w->cookie);
	case LK_ADDR:
	case LK_ADDR4:
	case LK_ADDR6:
		addr_text(p, ti->kind, family, buf, sizeof(buf));
		it->kind = LB_BTF_STR;
		it->s = buf;
		it->zero = all_zero(p, ti->size);
		return w->fn(it, w->cookie);
	case LK_STRING: {
		char *str = calloc(1, ti->size + 1);

		if (!str)
			return -ENOMEM;
		memcpy(str, p, ti->size);
		it->kind = LB_BTF_STR;
		it->s = str;
		it->zero = all_zero(p, ti->size);
		err = w->fn(it, w->cookie);
		free(str);
		return err;
	}
	default: {
		char *hex = calloc(3, ti->size + 1);

		if (!hex)
			return -ENOMEM;
		for (uint32_t i = 0; i < ti->size; i++)
			sprintf(hex + 3 * i, "%02x%s", p[i], i + 1 < ti->size ? " " : "");
		it->kind = LB_BTF_STR;
		it->s = hex;
		it->hex = true;
		it->zero = all_zero(p, ti->size);
		err = w->fn(it, w->cookie);
		free(hex);
		return err;
	}
	}
}

static int walk_members(struct walker *w, const struct btf_type *t, size_t off,
			const char *sname, int depth, int family)
{
	const struct btf_member *m = btf_members(t);
	int err;

	for (int i = 0; i < btf_vlen(t); i++) {
		const char *name = btf__name_by_offset(w->btf, m[i].name_off);
		uint32_t boff = btf_member_bit_offset(t, i), bsz = btf_member_bitfield_size(t, i);
		struct tinfo ti;

		if (!name || !*name) {
			/* Anonymous struct or union: its fields are the parent's. */
			if (bsz)
				continue;
			btfval_classify(w->btf, m[i].type, 0, NULL, NULL, &ti);
			if (ti.kind != LK_COMPOSITE || off + boff / 8 + ti.size > w->size)
				continue;
			err = walk_members(w, ti.t, off + boff / 8, sname, depth, family);
			if (err)
				return err;
			continue;
		}
		if (bsz) {
			struct lb_btf_item it = { .name = name, .depth = depth, .index = -1 };
			size_t n;
			uint64_t v;

			if ((boff + bsz + 7) / 8 + off > w->size)
				continue;
			btfval_classify(w->btf, m[i].type, 0, sname, name, &ti);
			v = load_bits(w->data + off, boff, bsz);
			if (ti.kind == LK_BE)
				ti.kind = LK_UINT;
			n = path_push(w, name, -1);
			it.path = w->path;
			err = walk_leaf(w, &ti, NULL, true, v, bsz, &it, family);
			w->path[n] = '\0';
			if (err)
				return err;
			continue;
		}
		err = walk_type(w, m[i].type, 0, off + boff / 8, sname, name, name, -1, depth, family);
		if (err)
			return err;
	}
	return 0;
}

static int walk_type(struct walker *w, uint32_t id, size_t raw_size, size_t off,
		     const char *sname, const char *member, const char *name, int index,
		     int depth, int family)
{
	struct lb_btf_item it = { .name = name, .depth = depth, .index = index };
	struct tinfo ti;
	size_t n;
	int err = 0;

	btfval_classify(w->btf, id, raw_size, sname, member, &ti);
	if (off + ti.size > w->size)
		return -EINVAL;
	n = path_push(w, name, index);
	it.path = w->path;
	if (ti.kind == LK_COMPOSITE) {
		const char *sn = btfval_type_name(w->btf, ti.t);
		int fam = struct_family(w->btf, ti.t, w->data + off, w->size - off);

		it.kind = LB_BTF_OBJ;
		it.zero = all_zero(w->data + off, ti.size);
		err = w->fn(&it, w->cookie);
		if (!err)
			err = walk_members(w, ti.t, off, *sn ? sn : sname, depth + 1,
					   fam ? fam : family);
		if (!err) {
			it.kind = LB_BTF_OBJ_END;
			err = w->fn(&it, w->cookie);
		}
	} else if (ti.kind == LK_ARRAY) {
		const struct btf_array *a = btf_array(ti.t);
		long long esz = btf__resolve_size(w->btf, a->type);
		struct tinfo et;

		if (esz <= 0 || esz * a->nelems > ti.size)
			return -EINVAL;
		btfval_classify(w->btf, a->type, 0, sname, member, &et);
		it.kind = LB_BTF_ARR;
		it.zero = all_zero(w->data + off, ti.size);
		it.len = a->nelems;
		it.scalars = is_scalar(et.kind);
		for (uint32_t i = 0; i < a->nelems; i++)
			if (!all_zero(w->data + off + i * esz, esz))
				it.used = i + 1;
		err = w->fn(&it, w->cookie);
		for (uint32_t i = 0; !err && i < a->nelems; i++)
			err = walk_type(w, a->type, 0, off + i * esz, sname, member, NULL, i,
					depth + 1, family);
		if (!err) {
			it.kind = LB_BTF_ARR_END;
			err = w->fn(&it, w->cookie);
		}
	} else {
		err = walk_leaf(w, &ti, w->data + off, false, 0, 0, &it, family);
	}
	w->path[n] = '\0';
	return err;
}

int lb_btf_walk(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
		lb_btf_fn fn, void *cookie)
{
	struct walker w = { .btf = btf, .data = data, .size = size, .fn = fn, .cookie = cookie };
	struct tinfo ti;

	if (!data || !fn)
		return -EINVAL;
	btfval_classify(btf, type_id, size, NULL, NULL, &ti);
	if (ti.size != size)
		return -EINVAL;
	return walk_type(&w, btf ? type_id : 0, size, 0, NULL, NULL, NULL, -1, 0, 0);
}
