// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The text form of a typed map key or value (lb_btf_format), built on the walk:
 * "field value ..." words that lb_btf_parse reads back. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>
#include "internal.h"
#include "btfval.h"

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
