// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbmap's typed values (lb_btf_parse, lb_btf_format, lb_btf_walk, the per-CPU sums)
 * under libFuzzer, on the real types: the BTF of the datapath object of this build
 * tree (<exe dir>/../bpf/lb_datapath.bpf.o), every struct, union, enum, integer,
 * typedef and array in it, and type 0 (raw bytes).
 *
 * Input: two bytes choose the type (little-endian index; LB_FUZZ_LIST_TYPES=1 in the
 * environment lists the indices), the rest is used twice, as the words to parse
 * (split on blanks) and as the bytes of a value to format and walk.  Checked: parse
 * fails only with -EINVAL and a reason, never takes more words than given; a value
 * read back from text and printed, read back and printed again does not change;
 * format's length is the text's.  ASan and UBSan check
 * the rest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include <lb/lb.h>

#define FUZZ_MAX_WORDS	256
#define FUZZ_TEXT	65536

static struct btf *btf;
static uint32_t *types;		/* ids worth a value; types[0] = 0: raw bytes */
static uint32_t n_types;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char exe[512], path[600];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		abort();
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(path, sizeof(path), "%s/../bpf/lb_datapath.bpf.o", exe);
	btf = btf__parse(path, NULL);
	if (!btf) {
		fprintf(stderr, "fuzz_btfval: %s: %s\n", path, strerror(errno));
		abort();
	}
	types = calloc(btf__type_cnt(btf) + 1, sizeof(*types));
	n_types = 1;
	for (uint32_t id = 1; id < btf__type_cnt(btf); id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		__s64 size = btf__resolve_size(btf, id);

		switch (btf_kind(t)) {
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64: case BTF_KIND_INT: case BTF_KIND_TYPEDEF:
		case BTF_KIND_ARRAY:
			if (size <= 0 || size > 4096)
				break;
			/* For writing seeds: the index the first two bytes choose. */
			if (getenv("LB_FUZZ_LIST_TYPES")) {
				char name[128];

				printf("%u %s\n", n_types, lb_btf_type_name(btf, id, name,
									sizeof(name)));
			}
			types[n_types++] = id;
			break;
		default:
			break;
		}
	}
	return 0;
}

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_btfval: %s\n%s\n%s\n", what, a, b ? b : "");
	abort();
}

static int split(char *s, char **argv)
{
	int argc = 0;

	for (char *save = NULL, *w = strtok_r(s, " \t\n", &save); w && argc < FUZZ_MAX_WORDS;
	     w = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = w;
	return argc;
}

static int count_item(const struct lb_btf_item *it, void *cookie)
{
	if (!it->path || (it->kind == LB_BTF_STR && !it->s))
		fail("walk: an item without path or text", "", NULL);
	++*(int *)cookie;
	return 0;
}

/* Parse text into zeros and format the value again, into out; false when it does
 * not parse whole. */
static bool reformat(uint32_t id, size_t size, const char *text, char *out)
{
	char *copy, *argv[FUZZ_MAX_WORDS], err[256] = "";
	uint8_t *v;
	int argc, used = 0;
	bool ok = false;

	/* Strings are quoted for a shell, and parse takes words as they come. */
	if (strchr(text, '"') || strlen(text) >= FUZZ_TEXT - 1)
		return false;
	copy = strdup(text);
	v = calloc(1, size);
	argc = split(copy, argv);
	if (argc < FUZZ_MAX_WORDS &&
	    !lb_btf_parse(btf, id, size, argc, argv, NULL, v, &used, err, sizeof(err)) &&
	    used == argc) {
		if (lb_btf_format(btf, id, v, size, out, FUZZ_TEXT) < 0)
			fail("format of what parsed failed", text, NULL);
		ok = true;
	}
	free(v);
	free(copy);
	return ok;
}

/* Text read back and printed again is a fixed point from then on.  (Not at once:
 * the text of arbitrary bytes leaves out some, such as the 12 bytes of an IPv4
 * address's struct lb_addr after the first 4.) */
static void check_reads_back(uint32_t id, size_t size, const char *text)
{
	char *once = malloc(FUZZ_TEXT), *twice = malloc(FUZZ_TEXT);

	if (reformat(id, size, text, once)) {
		if (!reformat(id, size, once, twice))
			fail("what was printed from a value read back does not read back", text,
			     once);
		if (strcmp(once, twice))
			fail("read back and printed again differs", once, twice);
	}
	free(once);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const stop[] = { "value", NULL };
	char *words, *argv[FUZZ_MAX_WORDS], *text, err[256] = "";
	uint8_t *v, *cpus;
	uint32_t id;
	size_t vsize, stride;
	int argc, used = -1, rc, items = 0;
	__s64 len;

	if (size < 2)
		return -1;
	id = types[(data[0] | data[1] << 8) % n_types];
	vsize = id ? (size_t)btf__resolve_size(btf, id) : 1 + data[0] % 32;
	data += 2;
	size -= 2;
	text = malloc(FUZZ_TEXT);
	v = calloc(1, vsize);

	/* The words. */
	words = malloc(size + 1);
	memcpy(words, data, size);
	words[size] = '\0';
	argc = split(words, argv);
	rc = lb_btf_parse(btf, id, vsize, argc, argv, stop, v, &used, err, sizeof(err));
	if (rc && (rc != -EINVAL || !*err))
		fail("parse failed without -EINVAL and a reason", err, NULL);
	if (!rc && (used < 0 || used > argc))
		fail("parse used more words than given", err, NULL);
	if (!rc && used == argc) {
		len = lb_btf_format(btf, id, v, vsize, text, FUZZ_TEXT);
		if (len < 0 || (len < FUZZ_TEXT && strlen(text) != (size_t)len))
			fail("format: length", text, NULL);
		check_reads_back(id, vsize, text);
	}

	/* The bytes, as a value. */
	memset(v, 0, vsize);
	memcpy(v, data, size < vsize ? size : vsize);
	len = lb_btf_format(btf, id, v, vsize, text, FUZZ_TEXT);
	if (len < 0 || (len < FUZZ_TEXT && strlen(text) != (size_t)len))
		fail("format of bytes: length", text, NULL);
	if (len >= 0)
		check_reads_back(id, vsize, text);
	lb_btf_walk(btf, id, v, vsize, count_item, &items);
	lb_btf_format(btf, id, v, vsize, text, 1 + size % 64);	/* cut short */

	/* Two CPUs' worth of the bytes: sum, then set the sum back. */
	stride = (vsize + 7) / 8 * 8;
	cpus = calloc(2, stride);
	memcpy(cpus, data, size < 2 * stride ? size : 2 * stride);
	if (!lb_btf_percpu_sum(btf, id, vsize, cpus, 2, v))
		lb_btf_percpu_set(btf, id, vsize, v, v, cpus, 2);
	free(cpus);
	free(words);
	free(v);
	free(text);
	return 0;
}
