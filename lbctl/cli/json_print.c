// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Text and JSON through one set of print calls; see json_print.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include "json_print.h"

#define JSON_MAX_DEPTH 32

/* A tool prints one document at a time, so the writer state is per process. */
static struct {
	FILE *out;
	bool json, pretty;
	int depth;
	bool written;			/* anything in this document yet */
	bool first[JSON_MAX_DEPTH];	/* no element written yet at this depth */
} jw = { .first = { true } };

void json_escape(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (c < 0x20)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

static void jw_indent(void)
{
	if (!jw.pretty)
		return;
	fputc('\n', jw.out);
	for (int i = 0; i < jw.depth; i++)
		fputs("  ", jw.out);
}

/* Separator and key before a new element at the current depth. */
static void jw_elem(const char *key)
{
	jw.written = true;
	if (!jw.first[jw.depth])
		fputc(',', jw.out);
	jw.first[jw.depth] = false;
	if (jw.depth > 0)
		jw_indent();
	if (key) {
		json_escape(jw.out, key);
		fputs(jw.pretty ? ": " : ":", jw.out);
	}
}

static void jw_push(const char *key, char open)
{
	jw_elem(key);
	fputc(open, jw.out);
	if (jw.depth < JSON_MAX_DEPTH - 1)
		jw.depth++;
	jw.first[jw.depth] = true;
}

static void jw_pop(char close)
{
	bool empty = jw.first[jw.depth];

	if (jw.depth > 0)
		jw.depth--;
	if (!empty)
		jw_indent();
	fputc(close, jw.out);
}

void new_json_obj(bool json, bool pretty, FILE *out)
{
	jw.out = out ? out : stdout;
	jw.json = json || pretty;
	jw.pretty = pretty;
	jw.depth = 0;
	jw.written = false;
	jw.first[0] = true;
}

void delete_json_obj(void)
{
	/* Quiet success stays quiet: no document, no newline. */
	if (jw.json && jw.written)
		fputc('\n', jw.out);
	fflush(jw.out);
	jw.json = false;
}

bool is_json_context(void)
{
	return jw.json;
}

void open_json_object(const char *name)
{
	if (jw.json)
		jw_push(name, '{');
}

void close_json_object(void)
{
	if (jw.json)
		jw_pop('}');
}

void open_json_array(enum output_type t, const char *name)
{
	if (jw.json && (t & PRINT_JSON))
		jw_push(name, '[');
	else if (!jw.json && (t & PRINT_FP) && name)
		fprintf(jw.out, "%s", name);
}

void close_json_array(enum output_type t, const char *text_after)
{
	if (jw.json && (t & PRINT_JSON))
		jw_pop(']');
	else if (!jw.json && (t & PRINT_FP) && text_after)
		fprintf(jw.out, "%s", text_after);
}

/* Text side of every print_*(): fmt with one conversion, printed as given. */
#define TEXT(t, fmt, ...)						\
	do {								\
		if (!jw.json && ((t) & PRINT_FP) && (fmt))		\
			fprintf(jw.out, fmt, __VA_ARGS__);		\
	} while (0)

#define JSON_ON(t) (jw.json && ((t) & PRINT_JSON))

void print_string(enum output_type t, const char *key, const char *fmt, const char *val)
{
	if (JSON_ON(t)) {
		jw_elem(key);
		if (val)
			json_escape(jw.out, val);
		else
			fputs("null", jw.out);
	}
	TEXT(t, fmt, val ? val : "");
}

void print_uint(enum output_type t, const char *key, const char *fmt, uint64_t val)
{
	if (JSON_ON(t)) {
		jw_elem(key);
		fprintf(jw.out, "%" PRIu64, val);
	}
	TEXT(t, fmt, val);
}

void print_int(enum output_type t, const char *key, const char *fmt, int64_t val)
{
	if (JSON_ON(t)) {
		jw_elem(key);
		fprintf(jw.out, "%" PRId64, val);
	}
	TEXT(t, fmt, val);
}

void print_bool(enum output_type t, const char *key, const char *fmt, bool val)
{
	if (JSON_ON(t)) {
		jw_elem(key);
		fputs(val ? "true" : "false", jw.out);
	}
	TEXT(t, fmt, val ? "true" : "false");
}

void print_null(enum output_type t, const char *key, const char *fmt)
{
	if (JSON_ON(t)) {
		jw_elem(key);
		fputs("null", jw.out);
	}
	if (!jw.json && (t & PRINT_FP) && fmt)
		fputs(fmt, jw.out);
}

void print_text(const char *fmt, ...)
{
	va_list ap;

	if (jw.json)
		return;
	va_start(ap, fmt);
	vfprintf(jw.out, fmt, ap);
	va_end(ap);
}

void print_nl(void)
{
	if (!jw.json)
		fputc('\n', jw.out);
}
