/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One printing path for text and JSON (the iproute2 lib/json_print.c idea): a show
 * command calls print_*() once per field; in JSON mode the key and value go into the
 * JSON document, in text mode the value is printed with the text format.
 */
#ifndef LB_JSON_PRINT_H
#define LB_JSON_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum output_type {
	PRINT_FP	= 1,	/* text only */
	PRINT_JSON	= 2,	/* JSON only */
	PRINT_ANY	= 3,	/* both */
};

/* Start output: json=false prints text only. pretty indents JSON. */
void new_json_obj(bool json, bool pretty, FILE *out);
/* Finish: closes the JSON document and prints a newline. */
void delete_json_obj(void);
bool is_json_context(void);

void open_json_object(const char *name);	/* name NULL inside arrays */
void close_json_object(void);
void open_json_array(enum output_type t, const char *name);
void close_json_array(enum output_type t, const char *text_after);

void print_string(enum output_type t, const char *key, const char *fmt, const char *val);
void print_uint(enum output_type t, const char *key, const char *fmt, uint64_t val);
void print_int(enum output_type t, const char *key, const char *fmt, int64_t val);
void print_bool(enum output_type t, const char *key, const char *fmt, bool val);
void print_null(enum output_type t, const char *key, const char *fmt);
/* Text only, printf-like. */
void print_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_nl(void);	/* newline in text mode */

/* Escape s as a JSON string (with quotes) into out. */
void json_escape(FILE *out, const char *s);

#endif
