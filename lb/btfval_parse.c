// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The parser of the text form (lb_btf_parse): "field value ...", a lone value, or
 * "hex ..." into the bytes of a typed map key or value. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include "internal.h"
#include "btfval.h"

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
			btfval_classify(btf, m[i].type, 0, NULL, NULL, &ti);
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
		btfval_classify(p->btf, tg->type_id, 0, NULL, NULL, &ti);
		if (ti.kind != LK_COMPOSITE || tg->bits)
			return -ENOENT;
		tg->sname = btfval_type_name(p->btf, ti.t);
		if (find_member(p->btf, ti.t, s, nlen, tg, tg->off))
			return -ENOENT;
		s += nlen;
		while (*s == '[') {
			char *end;
			unsigned long idx;
			const struct btf_array *a;
			long long esz;

			btfval_classify(p->btf, tg->type_id, 0, NULL, NULL, &ti);
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
			if (btfval_enum_sentinel(btf, ti->t, i))
				continue;
			btfval_enum_short(btf, ti->t, i, one, sizeof(one));
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

			if (btfval_enum_sentinel(btf, ti->t, i))
				continue;
			btfval_enum_short(btf, ti->t, i, one, sizeof(one));
			if ((strlen(one) == wlen && !strncasecmp(one, w, wlen)) ||
			    (full && strlen(full) == wlen && !strncmp(full, w, wlen))) {
				*out = btfval_enum_value(ti->t, i);
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

	btfval_classify(p->btf, tg->type_id, tg->raw_size, tg->sname, tg->member, &ti);
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

		btfval_classify(p->btf, btf_array(ti.t)->type, 0, NULL, NULL, &et);
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

/* Field word i was given before (field words are every other word). */
static bool given_before(char **argv, int i)
{
	for (int j = 0; j < i; j += 2)
		if (!strcmp(argv[j], argv[i]))
			return true;
	return false;
}

/* The one field a struct's lone value goes to (a struct of one field), else NULL. */
static bool lone_target(struct parser *p, uint32_t id, size_t raw_size, struct target *tg)
{
	struct tinfo ti;

	memset(tg, 0, sizeof(*tg));
	tg->type_id = id;
	tg->raw_size = raw_size;
	for (int guard = 0; guard < 8; guard++) {
		btfval_classify(p->btf, tg->type_id, tg->raw_size, tg->sname, tg->member, &ti);
		if (ti.kind == LK_ARRAY) {
			struct tinfo et;

			btfval_classify(p->btf, btf_array(ti.t)->type, 0, NULL, NULL, &et);
			return is_scalar(et.kind) && et.kind != LK_STRING;
		}
		if (ti.kind != LK_COMPOSITE)
			return is_scalar(ti.kind);
		if (btf_vlen(ti.t) != 1 || btf_member_bitfield_size(ti.t, 0))
			return false;
		tg->sname = btfval_type_name(p->btf, ti.t);
		tg->member = btf__name_by_offset(p->btf, btf_members(ti.t)[0].name_off);
		tg->type_id = btf_members(ti.t)[0].type;
		tg->off += btf_member_bit_offset(ti.t, 0) / 8;
	}
	return false;
}

/* A whole value given as one word (a scalar, or a struct of one field): nothing
 * but a stop word may follow it. */
static int lone_value(struct parser *p, const struct target *tg, int argc, char **argv,
		      const char *const *stop, int *used)
{
	int rc;

	p->field = "";
	rc = set_value(p, tg, argv[0]);
	if (rc)
		return rc;
	if (argc > 1 && !is_stop(argv[1], stop))
		return perr(p, "unexpected '%s' after the value", argv[1]);
	*used = 1;
	return 0;
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
	btfval_classify(btf, type_id, size, NULL, NULL, &root);
	if (root.size != size)
		return perr(&p, "type of %u bytes for %zu bytes", root.size, size);
	if (argc < 1 || is_stop(argv[0], stop))
		return perr(&p, "missing");
	if (!strcmp(argv[0], "hex"))
		return parse_hex(&p, argc, argv, stop, used);
	if (root.kind != LK_COMPOSITE) {
		tg = (struct target){ .type_id = type_id, .raw_size = size };
		return lone_value(&p, &tg, argc, argv, stop, used);
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
				return lone_value(&p, &tg, argc, argv, stop, used);
			}
			snprintf(err, errlen, "field '%s' unknown", argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc || is_stop(argv[i + 1], stop))
			return perr(&p, "missing value");
		if (given_before(argv, i))
			return perr(&p, "given twice");
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

			btfval_classify(btf, tg.type_id, 0, tg.sname, tg.member, &ti);
			if (ti.kind == LK_NAMES && ti.names == lb_family_names)
				store_uint(p.data + tg.off, ti.size,
					   p.addr_family == 4 ? LB_AF_INET : LB_AF_INET6);
		}
	}
	*used = i;
	return 0;
}
