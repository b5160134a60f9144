// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A guard on the verifier: load every program of the given BPF objects the way
 * libbpf loads them (attach types from the section names), read how many
 * instructions the verifier walked (bpf_prog_info.verified_insns) and compare
 * with the ceiling kept in the tree, so that a change creeping toward the
 * verifier's limit fails make check when it is made, not on a user's kernel.
 *
 * Usage: verifier CEILINGS OBJECT...   (root; nothing is pinned or attached)
 * CEILINGS: lines "object program ceiling", '#' starts a comment; object is the
 * file's base name.  Prints one line per program; exit 1 when a program is over
 * its ceiling, has none, does not load, or a ceiling names a program that does
 * not exist; 2 on bad usage.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct ceiling {
	char obj[64];
	char prog[64];
	unsigned long max;
	int seen;
};

static struct ceiling *ceilings;
static size_t n_ceilings;

static int read_ceilings(const char *path)
{
	char line[256], obj[64], prog[64], extra[2];
	unsigned long max;
	size_t cap = 0;
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "verifier: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		int n;

		lineno++;
		if (hash)
			*hash = '\0';
		n = sscanf(line, "%63s %63s %lu %1s", obj, prog, &max, extra);
		if (n <= 0)
			continue;
		if (n != 3) {
			fprintf(stderr, "verifier: %s:%d: expected 'object program ceiling'\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		if (n_ceilings == cap) {
			struct ceiling *c;

			cap = cap ? cap * 2 : 16;
			c = realloc(ceilings, cap * sizeof(*c));
			if (!c) {
				fclose(f);
				return -1;
			}
			ceilings = c;
		}
		snprintf(ceilings[n_ceilings].obj, sizeof(ceilings->obj), "%s", obj);
		snprintf(ceilings[n_ceilings].prog, sizeof(ceilings->prog), "%s", prog);
		ceilings[n_ceilings].max = max;
		ceilings[n_ceilings].seen = 0;
		n_ceilings++;
	}
	fclose(f);
	return 0;
}

static struct ceiling *find_ceiling(const char *obj, const char *prog)
{
	for (size_t i = 0; i < n_ceilings; i++)
		if (!strcmp(ceilings[i].obj, obj) && !strcmp(ceilings[i].prog, prog))
			return &ceilings[i];
	return NULL;
}

static int check_object(const char *path)
{
	char *copy = strdup(path);
	const char *name = copy ? basename(copy) : path;
	struct bpf_object *obj;
	struct bpf_program *p;
	struct bpf_map *m;
	int failed = 0, err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "verifier: %s: %s\n", path, strerror(errno));
		free(copy);
		return 1;
	}
	/* Private maps: nothing pinned, nothing shared with a running datapath. */
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "verifier: %s: does not load: %s\n", path, strerror(-err));
		bpf_object__close(obj);
		free(copy);
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		const char *prog = bpf_program__name(p);
		struct ceiling *c = find_ceiling(name, prog);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)) {
			fprintf(stderr, "verifier: %s %s: no program info: %s\n", name, prog,
				strerror(errno));
			failed = 1;
			continue;
		}
		if (!c) {
			fprintf(stderr, "verifier: %s %s: %u verified instructions, and no ceiling in the ceilings file\n",
				name, prog, info.verified_insns);
			failed = 1;
			continue;
		}
		c->seen = 1;
		printf("%-20s %-16s %8u verified, ceiling %8lu\n", name, prog,
		       info.verified_insns, c->max);
		if (info.verified_insns > c->max) {
			fprintf(stderr, "verifier: %s %s: %u verified instructions, over its ceiling %lu\n",
				name, prog, info.verified_insns, c->max);
			failed = 1;
		}
	}
	/* A ceiling for a program this object no longer has would guard nothing. */
	for (size_t i = 0; i < n_ceilings; i++) {
		if (strcmp(ceilings[i].obj, name) || ceilings[i].seen)
			continue;
		fprintf(stderr, "verifier: %s %s: a ceiling for a program the object does not have\n",
			name, ceilings[i].prog);
		failed = 1;
	}
	bpf_object__close(obj);
	free(copy);
	return failed;
}

int main(int argc, char **argv)
{
	int failed = 0;

	if (argc < 3) {
		fprintf(stderr, "verifier: usage: verifier CEILINGS OBJECT...\n");
		return 2;
	}
	if (read_ceilings(argv[1]))
		return 2;
	for (int i = 2; i < argc; i++)
		failed |= check_object(argv[i]);
	free(ceilings);
	return failed ? 1 : 0;
}
