// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Typed map keys and values from BTF: one walk that names every field (and knows
 * addresses, big-endian ports and enums), the text form built on it, the parser of
 * that text form, and the per-CPU sum.  See the section "Typed map keys and values"
 * of lb.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <endian.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include "internal.h"
#include "names.h"

#define PATH_MAX_LEN	256

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

/* ------------------------------------------------------------ types */

enum leaf {
	LK_COMPOSITE,	/* struct or union */
	LK_ARRAY,	/* array of anything but char */
	LK_UINT,
	LK_INT,
	LK_BOOL,
	LK_ENUM,	/* a BTF enum */
	LK_BE,		/* __be16, __be32, __be64: unsigned, network order */
	LK_ADDR,	/* struct lb_addr */
	LK_ADDR4,	/* struct in_addr */
	LK_ADDR6,	/* struct in6_addr */
	LK_NAMES,	/* an integer named by a field table */
	LK_FLAGS,	/* an integer of flags named by a field table */
	LK_STRING,	/* char array */
	LK_HEX,		/* anything else: raw bytes */
};

struct tinfo {
	enum leaf kind;
	uint32_t id;			/* resolved type id; 0: raw */
	const struct btf_type *t;	/* resolved type, NULL when raw */
	uint32_t size;
	bool is_signed;
	const struct lb_name *names;	/* LK_NAMES, LK_FLAGS */
};

static const char *tname(const struct btf *btf, const struct btf_type *t)
{
	const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;

	return n ? n : "";
}

static bool is_scalar(enum leaf k)
{
	return k != LK_COMPOSITE && k != LK_ARRAY;
}

/* What the type id stands for; sname/member name the field for the tables. */
static void classify(const struct btf *btf, uint32_t id, size_t raw_size, const char *sname,
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
			const char *n = tname(btf, t);

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
		const char *n = tname(btf, t);

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
		ti->kind = e && btf_is_int(e) && !strcmp(tname(btf, e), "char") ? LK_STRING :
			   LK_ARRAY;
	} else if (btf_is_ptr(t)) {
		ti->kind = ti->size == 8 || ti->size == 4 ? LK_UINT : LK_HEX;
	}
}

static uint64_t load_uint(const uint8_t *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	case 8: memcpy(&u64, p, 8); return u64;
	}
	return 0;
}

static void store_uint(uint8_t *p, size_t size, uint64_t v)
{
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;

	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	case 8: memcpy(p, &v, 8); break;
	}
}

static uint64_t swap_be(uint64_t v, size_t size)
{
	switch (size) {
	case 2: return ntohs((uint16_t)v);
	case 4: return ntohl((uint32_t)v);
	case 8: return be64toh(v);
	}
	return v;
}

static int64_t sign_extend(uint64_t v, unsigned int bits)
{
	if (bits >= 64)
		return (int64_t)v;
	if (v & (1ULL << (bits - 1)))
		v |= ~0ULL << bits;
	return (int64_t)v;
}

/* Bitfield of bits bits at bit offset boff from p (little-endian bit numbering). */
static uint64_t load_bits(const uint8_t *p, unsigned int boff, unsigned int bits)
{
	uint64_t v = 0;

	for (unsigned int b = 0; b < bits; b++) {
		unsigned int at = boff + b;

		if (p[at / 8] & (1u << (at % 8)))
			v |= 1ULL << b;
	}
	return v;
}

static void store_bits(uint8_t *p, unsigned int boff, unsigned int bits, uint64_t v)
{
	for (unsigned int b = 0; b < bits; b++) {
		unsigned int at = boff + b;

		if (v & (1ULL << b))
			p[at / 8] |= 1u << (at % 8);
		else
			p[at / 8] &= ~(1u << (at % 8));
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The name of enumerator i of an enum: without the prefix all its names share, in
 * lower case with '-' for '_' (LB_HOOK_TC_INGRESS -> tc-ingress). */
static void enum_short(const struct btf *btf, const struct btf_type *t, int i, char *buf,
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

/* An enumerator that counts the others (LB_HOOK_MAX) rather than naming a value. */
static bool enum_sentinel(const struct btf *btf, const struct btf_type *t, int i)
{
	const char *n = btf__name_by_offset(btf, btf_is_enum(t) ? btf_enum(t)[i].name_off :
							      btf_enum64(t)[i].name_off);
	size_t len = n ? strlen(n) : 0;

	return len >= 4 && !strcmp(n + len - 4, "_MAX");
}

static uint64_t enum_val(const struct btf_type *t, int i)
{
	if (btf_is_enum(t))
		return btf_kflag(t) ? (uint64_t)(int64_t)(int32_t)btf_enum(t)[i].val :
				      (uint32_t)btf_enum(t)[i].val;
	return btf_enum64_value(&btf_enum64(t)[i]);
}

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
			if (enum_sentinel(btf, ti->t, i))
				continue;
			if (enum_val(ti->t, i) == v ||
			    (ti->size < 8 && (enum_val(ti->t, i) & ((1ULL << (8 * ti->size)) - 1)) == v)) {
				enum_short(btf, ti->t, i, buf, len);
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
		classify(btf, m[i].type, 0, NULL, NULL, &ti);
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
			sprintf(hex + 3 * i, "%s%02x", i ? " " : "", p[i]);
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
			classify(w->btf, m[i].type, 0, NULL, NULL, &ti);
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
			classify(w->btf, m[i].type, 0, sname, name, &ti);
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

	classify(w->btf, id, raw_size, sname, member, &ti);
	if (off + ti.size > w->size)
		return -EINVAL;
	n = path_push(w, name, index);
	it.path = w->path;
	if (ti.kind == LK_COMPOSITE) {
		const char *sn = tname(w->btf, ti.t);
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
		classify(w->btf, a->type, 0, sname, member, &et);
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
	classify(btf, type_id, size, NULL, NULL, &ti);
	if (ti.size != size)
		return -EINVAL;
	return walk_type(&w, btf ? type_id : 0, size, 0, NULL, NULL, NULL, -1, 0, 0);
}

/* ------------------------------------------------------------ text form */

#define FMT_DEPTH 32

struct fmt {
	char *buf;
	size_t len, off;
	int depth;		/* of the next item */
	int skip;		/* > 0: inside a subtree left out */
	struct {
		bool scalars;
		uint32_t limit;		/* elements printed */
		uint32_t printed;
		size_t plen;		/* length of the array's path */
	} st[FMT_DEPTH];
	bool is_arr[FMT_DEPTH];
};

static void fmt_put(struct fmt *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fmt_put(struct fmt *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f->off < f->len ? f->buf + f->off : NULL,
		      f->off < f->len ? f->len - f->off : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		f->off += n;
}

/* A value as one word: quoted when empty or when it holds blanks or quotes. */
static void fmt_word(struct fmt *f, const struct lb_btf_item *it)
{
	const char *s = it->s;

	switch (it->kind) {
	case LB_BTF_UINT:
		fmt_put(f, "%llu", (unsigned long long)it->u);
		return;
	case LB_BTF_INT:
		fmt_put(f, "%lld", (long long)it->i);
		return;
	case LB_BTF_BOOL:
		fmt_put(f, "%s", it->u ? "true" : "false");
		return;
	default:
		break;
	}
	if (it->hex) {
		fmt_put(f, "hex %s", s);
		return;
	}
	if (*s && !strpbrk(s, " \t\n\"'\\#")) {
		fmt_put(f, "%s", s);
		return;
	}
	fmt_put(f, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fmt_put(f, "\\");
		fmt_put(f, "%c", *s);
	}
	fmt_put(f, "\"");
}

static bool hidden_field(const char *name)
{
	return name && (!strncmp(name, "pad", 3) || !strncmp(name, "reserved", 8) ||
			!strncmp(name, "__", 2));
}

static int fmt_item(const struct lb_btf_item *it, void *cookie)
{
	struct fmt *f = cookie;
	bool begin = it->kind == LB_BTF_OBJ || it->kind == LB_BTF_ARR;
	bool end = it->kind == LB_BTF_OBJ_END || it->kind == LB_BTF_ARR_END;
	int parent = f->depth - 1;

	if (f->skip) {
		if (begin)
			f->skip++;
		else if (end)
			f->skip--;
		return 0;
	}
	if (end) {
		f->depth--;
		return 0;
	}
	/* Elements past an array's limit are left out. */
	if (parent >= 0 && f->is_arr[parent] && it->index >= 0 &&
	    (uint32_t)it->index >= f->st[parent].limit) {
		if (begin)
			f->skip = 1;
		return 0;
	}
	if (begin && it->zero && hidden_field(it->name)) {
		f->skip = 1;
		return 0;
	}
	if (begin) {
		if (f->depth >= FMT_DEPTH)
			return -E2BIG;
		f->is_arr[f->depth] = it->kind == LB_BTF_ARR;
		f->st[f->depth].scalars = it->kind == LB_BTF_ARR && it->scalars;
		f->st[f->depth].limit = it->kind == LB_BTF_ARR ?
					(it->scalars && !it->used ? 1 : it->used) : 0;
		f->st[f->depth].printed = 0;
		f->st[f->depth].plen = strlen(it->path);
		f->depth++;
		return 0;
	}
	if (parent >= 0 && f->is_arr[parent] && f->st[parent].scalars) {
		/* One list for an array of values: "eps 3,4". */
		if (f->st[parent].printed++)
			fmt_put(f, ",");
		else
			fmt_put(f, "%s%.*s ", f->off ? " " : "", (int)f->st[parent].plen, it->path);
		fmt_word(f, it);
		return 0;
	}
	if (it->zero && hidden_field(it->name))
		return 0;
	if (*it->path)
		fmt_put(f, "%s%s ", f->off ? " " : "", it->path);
	fmt_word(f, it);
	return 0;
}

int lb_btf_format(const struct btf *btf, uint32_t type_id, const void *data, size_t size,
		  char *buf, size_t len)
{
	struct fmt f = { .buf = buf, .len = len };
	int err;

	if (len)
		buf[0] = '\0';
	err = lb_btf_walk(btf, type_id, data, size, fmt_item, &f);
	if (err)
		return err;
	if (len && f.off >= len)
		buf[len - 1] = '\0';
	return f.off > 0x7fffffff ? -E2BIG : (int)f.off;
}

/* ------------------------------------------------------------ parse */

struct parser {
	const struct btf *btf;
	uint8_t *data;
	size_t size;
	char *err;
	size_t errlen;
	const char *field;	/* for messages: the path being set, "" for a lone value */
	int addr_family;	/* of the last address parsed: 4, 6, 0 */
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errlen) {
		if (p->field && *p->field)
			snprintf(p->err, p->errlen, "field '%s': %s", p->field, msg);
		else
			snprintf(p->err, p->errlen, "%s", msg);
	}
	return -EINVAL;
}

/* Where a path leads. */
struct target {
	uint32_t type_id;	/* 0: raw */
	size_t raw_size;
	size_t off;		/* bytes from the start */
	unsigned int boff;	/* bitfield: bit offset from off, and its size */
	unsigned int bits;
	const char *sname;	/* struct holding the field, for the tables */
	const char *member;
};

/* Member name of struct t (anonymous members searched too): 0, or -ENOENT. */
static int find_member(const struct btf *btf, const struct btf_type *t, const char *name,
		       size_t nlen, struct target *tg, size_t off)
{
	const struct btf_member *m = btf_members(t);

	for (int i = 0; i < btf_vlen(t); i++) {
		const char *mn = btf__name_by_offset(btf, m[i].name_off);
		uint32_t boff = btf_member_bit_offset(t, i), bsz = btf_member_bitfield_size(t, i);

		if (!mn || !*mn) {
			struct tinfo ti;

			if (bsz)
				continue;
			classify(btf, m[i].type, 0, NULL, NULL, &ti);
			if (ti.kind == LK_COMPOSITE &&
			    !find_member(btf, ti.t, name, nlen, tg, off + boff / 8))
				return 0;
			continue;
		}
		if (strlen(mn) != nlen || strncmp(mn, name, nlen))
			continue;
		tg->type_id = m[i].type;
		tg->member = mn;
		if (bsz) {
			tg->off = off;
			tg->boff = boff;
			tg->bits = bsz;
		} else {
			tg->off = off + boff / 8;
			tg->boff = tg->bits = 0;
		}
		return 0;
	}
	return -ENOENT;
}

/* Resolve "a.b[2].c" from the root type; -ENOENT unknown, -ERANGE index. */
static int resolve_path(struct parser *p, uint32_t root, const char *path, struct target *tg,
			uint32_t *bad_index, uint32_t *nelems)
{
	const char *s = path;
	struct tinfo ti;

	memset(tg, 0, sizeof(*tg));
	tg->type_id = root;
	while (*s) {
		size_t nlen = strcspn(s, ".[");

		if (!nlen)
			return -ENOENT;
		classify(p->btf, tg->type_id, 0, NULL, NULL, &ti);
		if (ti.kind != LK_COMPOSITE || tg->bits)
			return -ENOENT;
		tg->sname = tname(p->btf, ti.t);
		if (find_member(p->btf, ti.t, s, nlen, tg, tg->off))
			return -ENOENT;
		s += nlen;
		while (*s == '[') {
			char *end;
			unsigned long idx;
			const struct btf_array *a;
			long long esz;

			classify(p->btf, tg->type_id, 0, NULL, NULL, &ti);
			if ((ti.kind != LK_ARRAY && ti.kind != LK_STRING) || tg->bits)
				return -ENOENT;
			if (!isdigit((unsigned char)s[1]))
				return -ENOENT;
			errno = 0;
			idx = strtoul(s + 1, &end, 10);
			if (*end != ']' || errno)
				return -ENOENT;
			a = btf_array(ti.t);
			if (idx >= a->nelems) {
				*bad_index = idx > UINT32_MAX ? UINT32_MAX : idx;
				*nelems = a->nelems;
				return -ERANGE;
			}
			esz = btf__resolve_size(p->btf, a->type);
			if (esz <= 0)
				return -ENOENT;
			tg->off += idx * esz;
			tg->type_id = a->type;
			s = end + 1;
		}
		if (*s == '.')
			s++;
		else if (*s)
			return -ENOENT;
	}
	return 0;
}

static int parse_num(struct parser *p, const char *w, bool is_signed, unsigned int bits,
		     uint64_t *out)
{
	char *end;

	errno = 0;
	if (!*w)
		return perr(p, "empty value");
	if (is_signed) {
		long long v = strtoll(w, &end, 0);
		long long max = bits >= 64 ? INT64_MAX : (1LL << (bits - 1)) - 1;
		long long min = -max - 1;

		if (*end || end == w)
			return perr(p, "'%s' is not a number", w);
		if (errno || v < min || v > max)
			return perr(p, "'%s' out of range %lld..%lld", w, min, max);
		*out = (uint64_t)v;
	} else {
		unsigned long long v, max = bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1;

		if (*w == '-' || *w == '+') {
			strtoll(w, &end, 0);
			if (*end || end == w)
				return perr(p, "'%s' is not a number", w);
			return perr(p, "'%s' out of range 0..%llu", w, max);
		}
		v = strtoull(w, &end, 0);
		if (*end || end == w)
			return perr(p, "'%s' is not a number", w);
		if (errno || v > max)
			return perr(p, "'%s' out of range 0..%llu", w, max);
		*out = v;
	}
	return 0;
}

/* "expected a, b or c": the names a word may take. */
static void names_list(const struct btf *btf, const struct tinfo *ti, char *buf, size_t len)
{
	size_t off = 0;
	char one[128];

	buf[0] = '\0';
	if (ti->kind == LK_ENUM) {
		for (int i = 0; i < btf_vlen(ti->t) && off < len; i++) {
			if (enum_sentinel(btf, ti->t, i))
				continue;
			enum_short(btf, ti->t, i, one, sizeof(one));
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", one);
		}
	} else {
		for (int i = 0; ti->names[i].name && off < len; i++)
			off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", ti->names[i].name);
	}
}

/* A name of an enum or a table (case-insensitive; an enum's full C name works too). */
static bool name_value(const struct btf *btf, const struct tinfo *ti, const char *w, size_t wlen,
		       uint64_t *out)
{
	char one[128];

	if (ti->kind == LK_ENUM) {
		for (int i = 0; i < btf_vlen(ti->t); i++) {
			const char *full = btf__name_by_offset(btf, btf_is_enum(ti->t) ?
							       btf_enum(ti->t)[i].name_off :
							       btf_enum64(ti->t)[i].name_off);

			if (enum_sentinel(btf, ti->t, i))
				continue;
			enum_short(btf, ti->t, i, one, sizeof(one));
			if ((strlen(one) == wlen && !strncasecmp(one, w, wlen)) ||
			    (full && strlen(full) == wlen && !strncmp(full, w, wlen))) {
				*out = enum_val(ti->t, i);
				if (ti->size < 8)
					*out &= (1ULL << (8 * ti->size)) - 1;
				return true;
			}
		}
		return false;
	}
	for (int i = 0; ti->names[i].name; i++) {
		if (strlen(ti->names[i].name) == wlen && !strncasecmp(ti->names[i].name, w, wlen)) {
			*out = ti->names[i].v;
			return true;
		}
	}
	return false;
}

static int parse_named(struct parser *p, const struct tinfo *ti, const char *w,
		       unsigned int bits, uint64_t *out)
{
	char list[512];

	if (ti->kind == LK_FLAGS) {
		uint64_t v = 0, one;
		const char *s = w;

		if (isdigit((unsigned char)*w))
			return parse_num(p, w, false, bits, out);
		while (*s) {
			size_t n = strcspn(s, ",|+");

			if (!name_value(p->btf, ti, s, n, &one)) {
				names_list(p->btf, ti, list, sizeof(list));
				return perr(p, "'%.*s' unknown, expected a number or flags from %s",
					    (int)n, s, list);
			}
			v |= one;
			s += n;
			if (*s)
				s++;
		}
		*out = v;
		return 0;
	}
	if (name_value(p->btf, ti, w, strlen(w), out)) {
		if (bits < 64 && *out >> bits)
			return perr(p, "'%s' does not fit in %u bits", w, bits);
		return 0;
	}
	if (isdigit((unsigned char)*w) || *w == '-')
		return parse_num(p, w, ti->is_signed, bits, out);
	names_list(p->btf, ti, list, sizeof(list));
	return perr(p, "'%s' unknown, expected one of %s or a number", w, list);
}

static int set_value(struct parser *p, const struct target *tg, const char *w);

/* "a,b,c" into an array of values; elements not given are 0. */
static int set_list(struct parser *p, const struct target *tg, const struct tinfo *ti,
		    const char *w)
{
	const struct btf_array *a = btf_array(ti->t);
	long long esz = btf__resolve_size(p->btf, a->type);
	char *copy, *s, *tok, *save = NULL;
	uint32_t i = 0;
	int err = 0;

	if (esz <= 0)
		return perr(p, "cannot be set");
	copy = strdup(w);
	if (!copy)
		return -ENOMEM;
	memset(p->data + tg->off, 0, ti->size);
	for (s = copy; !err && (tok = strtok_r(s, ",", &save)); s = NULL, i++) {
		struct target et = *tg;

		if (i >= a->nelems) {
			err = perr(p, "more than %u values", a->nelems);
			break;
		}
		et.type_id = a->type;
		et.off = tg->off + i * esz;
		err = set_value(p, &et, tok);
	}
	free(copy);
	return err;
}

/* Set the field tg leads to from one word. */
static int set_value(struct parser *p, const struct target *tg, const char *w)
{
	unsigned int bits;
	struct tinfo ti;
	uint64_t v;
	int err;

	classify(p->btf, tg->type_id, tg->raw_size, tg->sname, tg->member, &ti);
	if (!tg->bits && tg->off + ti.size > p->size)
		return perr(p, "outside the value");
	bits = tg->bits ? tg->bits : 8 * ti.size;
	switch (ti.kind) {
	case LK_UINT:
	case LK_BE:
	case LK_INT:
		err = parse_num(p, w, ti.is_signed, bits, &v);
		break;
	case LK_BOOL:
		if (!strcmp(w, "true") || !strcmp(w, "1"))
			v = 1;
		else if (!strcmp(w, "false") || !strcmp(w, "0"))
			v = 0;
		else
			return perr(p, "'%s': expected true or false", w);
		err = 0;
		break;
	case LK_ENUM:
	case LK_NAMES:
	case LK_FLAGS:
		err = parse_named(p, &ti, w, bits, &v);
		break;
	case LK_ADDR: {
		struct lb_addr a;
		uint8_t fam;

		if (lb_addr_parse(w, &a, &fam))
			return perr(p, "'%s' is not an IPv4 or IPv6 address", w);
		memcpy(p->data + tg->off, &a, sizeof(a));
		p->addr_family = fam == LB_AF_INET ? 4 : 6;
		return 0;
	}
	case LK_ADDR4:
	case LK_ADDR6: {
		uint8_t a[16];

		if (inet_pton(ti.kind == LK_ADDR4 ? AF_INET : AF_INET6, w, a) != 1)
			return perr(p, "'%s' is not an %s address", w,
				    ti.kind == LK_ADDR4 ? "IPv4" : "IPv6");
		memcpy(p->data + tg->off, a, ti.size);
		return 0;
	}
	case LK_STRING:
		if (strlen(w) >= ti.size)
			return perr(p, "'%s' longer than %u characters", w, ti.size - 1);
		memset(p->data + tg->off, 0, ti.size);
		memcpy(p->data + tg->off, w, strlen(w));
		return 0;
	case LK_ARRAY: {
		struct tinfo et;

		classify(p->btf, btf_array(ti.t)->type, 0, NULL, NULL, &et);
		if (!is_scalar(et.kind) || et.kind == LK_STRING)
			return perr(p, "has fields of its own: name them (see 'lbmap show')");
		return set_list(p, tg, &ti, w);
	}
	case LK_COMPOSITE:
		return perr(p, "has fields of its own: name them (see 'lbmap show')");
	default:
		return perr(p, "cannot be set by value: use hex for the whole value");
	}
	if (err)
		return err;
	if (tg->bits) {
		store_bits(p->data + tg->off, tg->boff, tg->bits, v);
		return 0;
	}
	if (ti.kind == LK_BE)
		v = swap_be(v, ti.size);
	store_uint(p->data + tg->off, ti.size, v);
	return 0;
}

static bool is_stop(const char *w, const char *const *stop)
{
	for (int i = 0; stop && stop[i]; i++)
		if (!strcmp(w, stop[i]))
			return true;
	return false;
}

/* "hex 0a 0b ..." (or "0a0b..." in one word): exactly size bytes. */
static int parse_hex(struct parser *p, int argc, char **argv, const char *const *stop, int *used)
{
	size_t n = 0;
	int i;

	for (i = 1; i < argc && !is_stop(argv[i], stop); i++) {
		const char *s = argv[i];

		if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
			s += 2;
		if (!*s || strspn(s, "0123456789abcdefABCDEF") != strlen(s))
			return perr(p, "hex: '%s' is not hexadecimal bytes", argv[i]);
		if (strlen(s) % 2 && strlen(s) != 1)
			return perr(p, "hex: '%s' is not whole bytes", argv[i]);
		for (size_t k = 0; k < strlen(s); k += 2) {
			char b[3] = { s[k], strlen(s) == 1 ? 0 : s[k + 1], 0 };

			if (n < p->size)
				p->data[n] = strtoul(b, NULL, 16);
			n++;
		}
	}
	if (n != p->size)
		return perr(p, "hex: %zu byte%s, expected %zu", n, n == 1 ? "" : "s", p->size);
	*used = i;
	return 0;
}

/* The one field a struct's lone value goes to (a struct of one field), else NULL. */
static bool lone_target(struct parser *p, uint32_t id, size_t raw_size, struct target *tg)
{
	struct tinfo ti;

	memset(tg, 0, sizeof(*tg));
	tg->type_id = id;
	tg->raw_size = raw_size;
	for (int guard = 0; guard < 8; guard++) {
		classify(p->btf, tg->type_id, tg->raw_size, tg->sname, tg->member, &ti);
		if (ti.kind == LK_ARRAY) {
			struct tinfo et;

			classify(p->btf, btf_array(ti.t)->type, 0, NULL, NULL, &et);
			return is_scalar(et.kind) && et.kind != LK_STRING;
		}
		if (ti.kind != LK_COMPOSITE)
			return is_scalar(ti.kind);
		if (btf_vlen(ti.t) != 1 || btf_member_bitfield_size(ti.t, 0))
			return false;
		tg->sname = tname(p->btf, ti.t);
		tg->member = btf__name_by_offset(p->btf, btf_members(ti.t)[0].name_off);
		tg->type_id = btf_members(ti.t)[0].type;
		tg->off += btf_member_bit_offset(ti.t, 0) / 8;
	}
	return false;
}

int lb_btf_parse(const struct btf *btf, uint32_t type_id, size_t size, int argc,
		 char **argv, const char *const *stop, void *data, int *used,
		 char *err, size_t errlen)
{
	struct parser p = { .btf = btf, .data = data, .size = size, .err = err,
			    .errlen = errlen, .field = "" };
	struct target tg;
	struct tinfo root;
	bool family_named = false;
	int i, rc;

	if (errlen)
		err[0] = '\0';
	*used = 0;
	if (!btf)
		type_id = 0;
	classify(btf, type_id, size, NULL, NULL, &root);
	if (root.size != size)
		return perr(&p, "type of %u bytes for %zu bytes", root.size, size);
	if (argc < 1 || is_stop(argv[0], stop))
		return perr(&p, "missing");
	if (!strcmp(argv[0], "hex"))
		return parse_hex(&p, argc, argv, stop, used);
	if (root.kind != LK_COMPOSITE) {
		p.field = "";
		tg = (struct target){ .type_id = type_id, .raw_size = size };
		rc = set_value(&p, &tg, argv[0]);
		if (rc)
			return rc;
		if (argc > 1 && !is_stop(argv[1], stop))
			return perr(&p, "unexpected '%s' after the value", argv[1]);
		*used = 1;
		return 0;
	}
	for (i = 0; i < argc && !is_stop(argv[i], stop);) {
		uint32_t bad = 0, nel = 0;

		p.field = argv[i];
		rc = resolve_path(&p, type_id, argv[i], &tg, &bad, &nel);
		if (rc == -ERANGE)
			return perr(&p, "index %u out of range 0..%u", bad, nel - 1);
		if (rc) {
			/* A struct of one field takes a lone value. */
			if (i == 0 && lone_target(&p, type_id, size, &tg)) {
				p.field = "";
				rc = set_value(&p, &tg, argv[0]);
				if (rc)
					return rc;
				if (argc > 1 && !is_stop(argv[1], stop))
					return perr(&p, "unexpected '%s' after the value", argv[1]);
				*used = 1;
				return 0;
			}
			snprintf(err, errlen, "field '%s' unknown", argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc || is_stop(argv[i + 1], stop))
			return perr(&p, "missing value");
		if (!strcmp(argv[i], "family"))
			family_named = true;
		rc = set_value(&p, &tg, argv[i + 1]);
		if (rc)
			return rc;
		i += 2;
	}
	if (i == 0)
		return perr(&p, "missing");
	/* The family of a struct follows its address when not given. */
	if (!family_named && p.addr_family) {
		uint32_t bad, nel;

		if (!resolve_path(&p, type_id, "family", &tg, &bad, &nel) && !tg.bits) {
			struct tinfo ti;

			classify(btf, tg.type_id, 0, tg.sname, tg.member, &ti);
			if (ti.kind == LK_NAMES && ti.names == lb_family_names)
				store_uint(p.data + tg.off, ti.size,
					   p.addr_family == 4 ? LB_AF_INET : LB_AF_INET6);
		}
	}
	*used = i;
	return 0;
}

/* ------------------------------------------------------------ per-CPU values */

/* Every leaf of a type with whether it is a counter: fn(off, size, boff, bits, sum). */
typedef void (*leaf_fn)(void *cookie, size_t off, size_t size, unsigned int boff,
			unsigned int bits, bool counter);

static void leaves(const struct btf *btf, uint32_t id, size_t raw_size, size_t off,
		   const char *sname, const char *member, int depth, leaf_fn fn, void *cookie)
{
	struct tinfo ti;

	if (depth > 32)
		return;
	classify(btf, id, raw_size, sname, member, &ti);
	if (ti.kind == LK_COMPOSITE) {
		const struct btf_member *m = btf_members(ti.t);
		const char *sn = tname(btf, ti.t);

		for (int i = 0; i < btf_vlen(ti.t); i++) {
			uint32_t boff = btf_member_bit_offset(ti.t, i);
			uint32_t bsz = btf_member_bitfield_size(ti.t, i);
			const char *mn = btf__name_by_offset(btf, m[i].name_off);

			if (bsz) {
				if (mn && *mn)
					fn(cookie, off, 0, boff, bsz, false);
				continue;
			}
			leaves(btf, m[i].type, 0, off + boff / 8, *sn ? sn : sname, mn, depth + 1,
			       fn, cookie);
		}
	} else if (ti.kind == LK_ARRAY) {
		const struct btf_array *a = btf_array(ti.t);
		long long esz = btf__resolve_size(btf, a->type);

		for (uint32_t i = 0; esz > 0 && i < a->nelems; i++)
			leaves(btf, a->type, 0, off + i * esz, sname, member, depth + 1, fn, cookie);
	} else {
		fn(cookie, off, ti.size, 0, 0, ti.kind == LK_UINT || ti.kind == LK_INT);
	}
}

struct percpu {
	const uint8_t *in;	/* per-CPU values */
	uint8_t *out;
	const uint8_t *old_sum, *new_sum;
	int ncpu;
	size_t stride, size;
};

static void sum_leaf(void *cookie, size_t off, size_t size, unsigned int boff, unsigned int bits,
		     bool counter)
{
	struct percpu *pc = cookie;

	if (bits) {
		for (int c = 0; c < pc->ncpu; c++) {
			uint64_t v = load_bits(pc->in + c * pc->stride + off, boff, bits);

			if (v) {
				store_bits(pc->out + off, boff, bits, v);
				break;
			}
		}
		return;
	}
	if (off + size > pc->size)
		return;
	if (counter) {
		uint64_t s = 0;

		for (int c = 0; c < pc->ncpu; c++)
			s += load_uint(pc->in + c * pc->stride + off, size);
		store_uint(pc->out + off, size, s);
		return;
	}
	for (int c = 0; c < pc->ncpu; c++) {
		const uint8_t *p = pc->in + c * pc->stride + off;

		if (!all_zero(p, size)) {
			memcpy(pc->out + off, p, size);
			break;
		}
	}
}

int lb_btf_percpu_sum(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *percpu, int ncpu, void *sum)
{
	struct percpu pc = { .in = percpu, .out = sum, .ncpu = ncpu,
			     .stride = (size + 7) & ~(size_t)7, .size = size };

	if (ncpu < 1 || !percpu || !sum)
		return -EINVAL;
	if (!btf)
		type_id = 0;
	memset(sum, 0, size);
	leaves(btf, type_id, size, 0, NULL, NULL, 0, sum_leaf, &pc);
	return 0;
}

static void set_leaf(void *cookie, size_t off, size_t size, unsigned int boff, unsigned int bits,
		     bool counter)
{
	struct percpu *pc = cookie;

	if (bits) {
		uint64_t nv = load_bits(pc->new_sum + off, boff, bits);

		if (nv == load_bits(pc->old_sum + off, boff, bits))
			return;
		for (int c = 0; c < pc->ncpu; c++)
			store_bits(pc->out + c * pc->stride + off, boff, bits, nv);
		return;
	}
	if (off + size > pc->size || !memcmp(pc->old_sum + off, pc->new_sum + off, size))
		return;
	for (int c = 0; c < pc->ncpu; c++) {
		uint8_t *p = pc->out + c * pc->stride + off;

		if (counter && c > 0)
			memset(p, 0, size);
		else
			memcpy(p, pc->new_sum + off, size);
	}
}

int lb_btf_percpu_set(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *old_sum, const void *new_sum, void *percpu, int ncpu)
{
	struct percpu pc = { .out = percpu, .old_sum = old_sum, .new_sum = new_sum,
			     .ncpu = ncpu, .stride = (size + 7) & ~(size_t)7, .size = size };

	if (ncpu < 1 || !percpu || !old_sum || !new_sum)
		return -EINVAL;
	if (!btf)
		type_id = 0;
	leaves(btf, type_id, size, 0, NULL, NULL, 0, set_leaf, &pc);
	return 0;
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
			 *tname(btf, t) ? tname(btf, t) : "(anon)");
	} else if (btf_is_array(t)) {
		char e[128];

		lb_btf_type_name(btf, btf_array(t)->type, e, sizeof(e));
		snprintf(buf, len, "%s[%u]", e, btf_array(t)->nelems);
	} else if (btf_is_ptr(t)) {
		snprintf(buf, len, "pointer");
	} else {
		snprintf(buf, len, "%s", *tname(btf, t) ? tname(btf, t) : "?");
	}
	return buf;
}

static const char *special_in(const struct btf *btf, uint32_t id, int depth)
{
	struct tinfo ti;

	if (depth > 32)
		return NULL;
	classify(btf, id, 0, NULL, NULL, &ti);
	if (ti.kind == LK_COMPOSITE) {
		const char *n = tname(btf, ti.t);

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
