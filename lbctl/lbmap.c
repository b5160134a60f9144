// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbmap: the pinned maps of a pin root, typed by their BTF: list, show, dump,
 * lookup, update and delete with keys and values by field name (lb/btfval.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lbmap [OPTIONS] { list | show | dump | lookup | update | delete | help }\n"
		"       lbmap list\n"
		"       lbmap show NAME\n"
		"       lbmap dump NAME [ hex ]\n"
		"       lbmap lookup NAME [ key ] KEY\n"
		"       lbmap update NAME [ key ] KEY value VALUE [ any | exist | noexist ]\n"
		"       lbmap delete NAME [ key ] KEY\n"
		"KEY, VALUE := { FIELD WORD [ FIELD WORD ]... | WORD | hex XX [ XX ]... }\n"
		"VALUE of a program array or map of maps := { id ID | name NAME | pinned PATH }\n"
		"OPTIONS := { -j | -p | -s | -d | -P DIR | -b FILE | -force | -V | -h }\n");
}

static const char *map_type_name(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

/* ------------------------------------------------------------ list */

static int do_list(struct cli *cli, int argc, char **argv)
{
	struct lb_map_desc *v = NULL;
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc, err;

	if (argc > 1 && cli_matches(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 1)
		return cli_err(cli, EXIT_USAGE, "list: unexpected '%s'", cli_tok(argv[1]));
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_maps(ctx, &v, &n);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "list: %s", cli_strerror(ctx, err));
		goto out;
	}
	print_text("%-20s %-16s %5s %6s %8s %8s %10s\n", "NAME", "TYPE", "KEY", "VALUE", "MAX",
		   "ENTRIES", "MEMLOCK");
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "name", "%-20s", v[i].name);
		print_string(PRINT_ANY, "type", " %-16s", map_type_name(v[i].type));
		print_uint(PRINT_ANY, "key_size", " %5" PRIu64, v[i].key_size);
		print_uint(PRINT_ANY, "value_size", " %6" PRIu64, v[i].value_size);
		print_uint(PRINT_ANY, "max_entries", " %8" PRIu64, v[i].max_entries);
		print_uint(PRINT_ANY, "entries", " %8" PRIu64, v[i].entries);
		print_uint(PRINT_ANY, "memlock", " %10" PRIu64, v[i].memlock);
		print_uint(PRINT_JSON, "id", NULL, v[i].id);
		print_bool(PRINT_JSON, "per_cpu", NULL, v[i].per_cpu);
		print_nl();
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
out:
	free(v);
	lb_close(ctx);
	return rc;
}

/* ------------------------------------------------------------ one map */

struct mapx {
	const char *name;
	struct lb_ctx *ctx;
	int fd;
	struct lb_map_btf m;
	int ncpu;		/* values a lookup returns: possible CPUs, or 1 */
	size_t stride;		/* bytes between them */
	bool fd_prog;		/* prog array: values are programs */
	bool fd_map;		/* map of maps: values are maps */
	bool array;		/* keys are indexes below max_entries */
};

static bool type_is_array(unsigned int t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

static void map_close(struct mapx *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	lb_map_btf_close(&x->m);
	lb_close(x->ctx);
	x->ctx = NULL;
}

/* Open the pin root (flags as cli_open) and the map NAME in it: an exit code. */
static int map_open(struct cli *cli, const char *name, unsigned int flags, struct mapx *x)
{
	int rc, err;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->name = name;
	rc = cli_open(cli, flags, &x->ctx);
	if (rc)
		return rc;
	x->fd = strchr(name, '/') ? -ENOENT : lb_map_fd(x->ctx, name);
	if (x->fd == -EUCLEAN)
		return cli_open_err(cli, x->ctx, x->fd);
	if (x->fd < 0)
		return cli_err(cli, EXIT_FAIL, "map '%s': no such map in %s/maps", name,
			       lb_pin_root(x->ctx));
	err = lb_map_btf_open(x->fd, &x->m);
	if (err)
		return cli_err(cli, EXIT_FAIL, "map '%s': %s", name, strerror(-err));
	x->ncpu = 1;
	x->stride = (x->m.desc.value_size + 7) & ~7u;
	if (x->m.desc.per_cpu) {
		x->ncpu = libbpf_num_possible_cpus();
		if (x->ncpu < 1)
			return cli_err(cli, EXIT_FAIL, "possible CPUs: %s", strerror(-x->ncpu));
	}
	x->fd_prog = x->m.desc.type == BPF_MAP_TYPE_PROG_ARRAY;
	x->fd_map = x->m.desc.type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    x->m.desc.type == BPF_MAP_TYPE_HASH_OF_MAPS;
	x->array = type_is_array(x->m.desc.type);
	return EXIT_OK;
}

/* A buffer for one lookup: every CPU's value. */
static void *value_buf(const struct mapx *x)
{
	return calloc(x->ncpu, x->stride ? x->stride : 8);
}

/* The text form of a key or value, malloc'd (NULL on failure). */
static char *text_of(const struct btf *btf, uint32_t type_id, const void *data, size_t size)
{
	size_t len = 256;

	for (int tries = 0; tries < 3; tries++) {
		char *buf = malloc(len);
		int n;

		if (!buf)
			return NULL;
		n = lb_btf_format(btf, type_id, data, size, buf, len);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < len)
			return buf;
		free(buf);
		len = n + 1;
	}
	return NULL;
}

/* JSON of a key or value through the one printing path: top is its key. */
static int json_item(const struct lb_btf_item *it, void *cookie)
{
	const char *name = it->depth == 0 ? cookie : it->name;

	switch (it->kind) {
	case LB_BTF_OBJ:
		open_json_object(name);
		break;
	case LB_BTF_OBJ_END:
		close_json_object();
		break;
	case LB_BTF_ARR:
		open_json_array(PRINT_JSON, name);
		break;
	case LB_BTF_ARR_END:
		close_json_array(PRINT_JSON, NULL);
		break;
	case LB_BTF_UINT:
		print_uint(PRINT_JSON, name, NULL, it->u);
		break;
	case LB_BTF_INT:
		print_int(PRINT_JSON, name, NULL, it->i);
		break;
	case LB_BTF_BOOL:
		print_bool(PRINT_JSON, name, NULL, it->u);
		break;
	case LB_BTF_STR:
		print_string(PRINT_JSON, name, NULL, it->s);
		break;
	}
	return 0;
}

/* "key K" / " value V": text and JSON of one typed datum. */
static void print_typed(const char *label, const char *textfmt, const struct btf *btf,
			uint32_t type_id, const void *data, size_t size)
{
	if (is_json_context()) {
		lb_btf_walk(btf, type_id, data, size, json_item, (void *)label);
	} else {
		char *s = text_of(btf, type_id, data, size);

		print_string(PRINT_FP, NULL, textfmt, s ? s : "?");
		free(s);
	}
}

/* Name of the program or map with this id ("" when it is gone). */
static void obj_name(bool prog, uint32_t id, char *buf, size_t len)
{
	int fd = prog ? bpf_prog_get_fd_by_id(id) : bpf_map_get_fd_by_id(id);

	buf[0] = '\0';
	if (fd < 0)
		return;
	if (prog) {
		struct bpf_prog_info info = {};
		__u32 ilen = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
			snprintf(buf, len, "%s", info.name);
	} else {
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
			snprintf(buf, len, "%s", info.name);
	}
	close(fd);
}

/* One entry: "key K value V" (and "  cpu N V" lines with -d on per-CPU maps). */
static int print_entry(struct cli *cli, const struct mapx *x, const void *key, const void *val)
{
	const struct lb_map_desc *d = &x->m.desc;

	open_json_object(NULL);
	print_typed("key", "key %s", x->m.btf, x->m.key_type_id, key, d->key_size);
	if (x->fd_prog || x->fd_map) {
		uint32_t id;
		char name[64];

		memcpy(&id, val, sizeof(id));
		obj_name(x->fd_prog, id, name, sizeof(name));
		open_json_object("value");
		print_uint(PRINT_ANY, "id", " value id %" PRIu64, id);
		print_string(PRINT_ANY, "name", " name %s", *name ? name : "?");
		close_json_object();
	} else if (d->per_cpu) {
		void *sum = calloc(1, d->value_size ? d->value_size : 1);

		if (!sum)
			return cli_err(cli, EXIT_FAIL, "%s: out of memory", x->name);
		lb_btf_percpu_sum(x->m.btf, x->m.value_type_id, d->value_size, val, x->ncpu, sum);
		print_typed("value", " value %s", x->m.btf, x->m.value_type_id, sum, d->value_size);
		free(sum);
		if (cli->details) {
			open_json_array(PRINT_JSON, "values");
			for (int cpu = 0; cpu < x->ncpu; cpu++) {
				open_json_object(NULL);
				print_int(PRINT_ANY, "cpu", "\n  cpu %" PRId64, cpu);
				print_typed("value", " %s", x->m.btf, x->m.value_type_id,
					    (const char *)val + (size_t)cpu * x->stride, d->value_size);
				close_json_object();
			}
			close_json_array(PRINT_JSON, NULL);
		}
	} else {
		print_typed("value", " value %s", x->m.btf, x->m.value_type_id, val, d->value_size);
	}
	print_nl();
	close_json_object();
	return EXIT_OK;
}

/* Walk every key: fn(key, value) for each entry present.  An exit code. */
static int for_each(struct cli *cli, struct mapx *x,
		    int (*fn)(struct cli *cli, const struct mapx *x, const void *key,
			      const void *val, void *cookie),
		    void *cookie)
{
	size_t ks = x->m.desc.key_size ? x->m.desc.key_size : 1;
	void *key = calloc(1, ks), *next = calloc(1, ks), *val = value_buf(x);
	bool first = true;
	int rc = EXIT_OK;

	if (!key || !next || !val) {
		rc = cli_err(cli, EXIT_FAIL, "%s: out of memory", x->name);
		goto out;
	}
	while (bpf_map_get_next_key(x->fd, first ? NULL : key, next) == 0) {
		memcpy(key, next, x->m.desc.key_size);
		first = false;
		if (bpf_map_lookup_elem(x->fd, key, val)) {
			if (errno == ENOENT)
				continue;	/* deleted while we walk, or an empty slot */
			rc = cli_err(cli, EXIT_FAIL, "%s: lookup: %s", x->name, strerror(errno));
			break;
		}
		rc = fn(cli, x, key, val, cookie);
		if (rc)
			break;
	}
out:
	free(key);
	free(next);
	free(val);
	return rc;
}

static int entry_typed(struct cli *cli, const struct mapx *x, const void *key, const void *val,
		       void *cookie)
{
	bool skip_zero = cookie != NULL;

	/* show: the slots of an array that hold nothing (all zero) are left out. */
	if (skip_zero && x->array && !x->fd_prog && !x->fd_map) {
		const unsigned char *p = val;
		bool zero = true;

		for (size_t i = 0; zero && i < (size_t)x->ncpu * x->stride; i++)
			zero = !p[i];
		if (zero)
			return EXIT_OK;
	}
	return print_entry(cli, x, key, val);
}

static void print_bytes(const char *key, const unsigned char *p, unsigned int len)
{
	char hex[8];

	open_json_array(PRINT_JSON, key);
	for (unsigned int i = 0; i < len; i++) {
		snprintf(hex, sizeof(hex), "0x%02x", p[i]);
		print_string(PRINT_JSON, NULL, NULL, hex);
		print_text("%s%02x", i ? " " : "", p[i]);
	}
	close_json_array(PRINT_JSON, NULL);
}

static int entry_hex(struct cli *cli, const struct mapx *x, const void *key, const void *val,
		     void *cookie)
{
	const struct lb_map_desc *d = &x->m.desc;

	open_json_object(NULL);
	print_text("key: ");
	print_bytes("key", key, d->key_size);
	if (!d->per_cpu) {
		print_text("  value: ");
		print_bytes("value", val, d->value_size);
		print_nl();
	} else {
		print_nl();
		open_json_array(PRINT_JSON, "values");
		for (int cpu = 0; cpu < x->ncpu; cpu++) {
			open_json_object(NULL);
			print_int(PRINT_ANY, "cpu", "  cpu %" PRId64 ": ", cpu);
			print_bytes("value", (const unsigned char *)val + (size_t)cpu * x->stride,
				    d->value_size);
			print_nl();
			close_json_object();
		}
		close_json_array(PRINT_JSON, NULL);
	}
	close_json_object();
	return EXIT_OK;
}

/* "CMD help" and "CMD" without NAME. */
static int want_name(struct cli *cli, int argc, char **argv, int *rc)
{
	if (argc >= 2 && !strcmp(argv[1], "help")) {
		usage(stdout);
		*rc = EXIT_OK;
		return -1;
	}
	if (argc < 2) {
		*rc = cli_err(cli, EXIT_USAGE, "%s: missing map NAME", argv[0]);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ show, dump */

static int do_show(struct cli *cli, int argc, char **argv)
{
	char kt[128], vt[128];
	struct lb_map_desc *d;
	struct mapx x;
	int rc;

	if (want_name(cli, argc, argv, &rc))
		return rc;
	if (argc > 2)
		return cli_err(cli, EXIT_USAGE, "show: unexpected '%s'", cli_tok(argv[2]));
	rc = map_open(cli, argv[1], 0, &x);
	if (rc)
		goto out;
	d = &x.m.desc;
	if (!x.m.key_type_id && x.array)
		snprintf(kt, sizeof(kt), "index");
	else
		lb_btf_type_name(x.m.btf, x.m.key_type_id, kt, sizeof(kt));
	if (x.fd_prog || x.fd_map)
		snprintf(vt, sizeof(vt), "%s id", x.fd_prog ? "program" : "map");
	else
		lb_btf_type_name(x.m.btf, x.m.value_type_id, vt, sizeof(vt));
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "%s:", x.name);
	print_string(PRINT_ANY, "type", " %s", map_type_name(d->type));
	print_uint(PRINT_ANY, "id", " id %" PRIu64, d->id);
	print_string(PRINT_ANY, "key_type", "\n\tkey %s", kt);
	print_uint(PRINT_ANY, "key_size", " (%" PRIu64 " bytes)", d->key_size);
	print_string(PRINT_ANY, "value_type", " value %s", vt);
	print_uint(PRINT_ANY, "value_size", " (%" PRIu64 " bytes", d->value_size);
	if (d->per_cpu)
		print_int(PRINT_FP, NULL, " per CPU, %" PRId64 " CPUs", x.ncpu);
	print_text(")");
	print_uint(PRINT_ANY, "max_entries", "\n\tmax_entries %" PRIu64, d->max_entries);
	print_uint(PRINT_ANY, "entries", " entries %" PRIu64, d->entries);
	print_uint(PRINT_ANY, "flags", " flags 0x%" PRIx64, d->flags);
	print_uint(PRINT_ANY, "memlock", " memlock %" PRIu64, d->memlock);
	print_bool(PRINT_JSON, "per_cpu", NULL, d->per_cpu);
	print_bool(PRINT_JSON, "btf", NULL, x.m.btf != NULL);
	print_nl();
	open_json_array(PRINT_JSON, "elements");
	rc = for_each(cli, &x, entry_typed, (void *)1);
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
out:
	map_close(&x);
	return rc;
}

static int do_dump(struct cli *cli, int argc, char **argv)
{
	bool hex = false;
	struct mapx x;
	int rc;

	if (want_name(cli, argc, argv, &rc))
		return rc;
	if (argc > 2) {
		static const char *const kw[] = { "hex", NULL };

		if (cli_keyword(cli, argv[2], kw, "dump: option") < 0)
			return EXIT_USAGE;
		hex = true;
	}
	if (argc > 3)
		return cli_err(cli, EXIT_USAGE, "dump: unexpected '%s'", cli_tok(argv[3]));
	rc = map_open(cli, argv[1], 0, &x);
	if (rc)
		goto out;
	open_json_array(PRINT_JSON, NULL);
	rc = for_each(cli, &x, hex ? entry_hex : entry_typed, NULL);
	close_json_array(PRINT_JSON, NULL);
out:
	map_close(&x);
	return rc;
}

/* ------------------------------------------------------------ lookup, update, delete */

/*
 * "[key] KEY..." from argv[0]: parsed into key (zeros first), words up to a stop
 * word; *used counts the words taken, "key" included.  An exit code.
 */
static int parse_key(struct cli *cli, const struct mapx *x, int argc, char **argv,
		     const char *const *stop, void *key, int *used)
{
	char err[512];
	int n = 0, skip = 0;

	*used = 0;
	if (!x->m.desc.key_size)
		return cli_err(cli, EXIT_USAGE, "%s: a %s map has no keys", x->name,
			       map_type_name(x->m.desc.type));
	if (argc > 0 && !strcmp(argv[0], "key"))
		skip = 1;
	if (argc - skip < 1 || (stop && argc > skip && !strcmp(argv[skip], stop[0])))
		return cli_err(cli, EXIT_USAGE, "%s: missing key", x->name);
	memset(key, 0, x->m.desc.key_size);
	if (lb_btf_parse(x->m.btf, x->m.key_type_id, x->m.desc.key_size, argc - skip, argv + skip,
			 stop, key, &n, err, sizeof(err)))
		return cli_err(cli, EXIT_USAGE, "%s: key: %s", x->name, err);
	if (x->array && x->m.desc.key_size == 4) {
		uint32_t idx;

		memcpy(&idx, key, 4);
		if (idx >= x->m.desc.max_entries)
			return cli_err(cli, EXIT_USAGE, "%s: key: index %u out of range 0..%u",
				       x->name, idx, x->m.desc.max_entries - 1);
	}
	*used = skip + n;
	return EXIT_OK;
}

static int do_lookup(struct cli *cli, int argc, char **argv)
{
	void *key = NULL, *val = NULL;
	struct mapx x;
	int rc, used;

	if (want_name(cli, argc, argv, &rc))
		return rc;
	rc = map_open(cli, argv[1], 0, &x);
	if (rc)
		goto out;
	key = calloc(1, x.m.desc.key_size ? x.m.desc.key_size : 1);
	val = value_buf(&x);
	if (!key || !val) {
		rc = cli_err(cli, EXIT_FAIL, "%s: out of memory", x.name);
		goto out;
	}
	rc = parse_key(cli, &x, argc - 2, argv + 2, NULL, key, &used);
	if (rc)
		goto out;
	if (bpf_map_lookup_elem(x.fd, key, val)) {
		rc = errno == ENOENT ? cli_err(cli, EXIT_FAIL, "%s: key not found", x.name) :
		     cli_err(cli, EXIT_FAIL, "%s: lookup: %s", x.name, strerror(errno));
		goto out;
	}
	rc = print_entry(cli, &x, key, val);
out:
	free(key);
	free(val);
	map_close(&x);
	return rc;
}

/* What "id ID | name NAME | pinned PATH" found. */
struct fd_value_args {
	const struct mapx *x;
	int fd;
};

/* The fd of what kw val names, or the error. */
static int fd_found(struct cli *cli, const struct cli_kw *kw, struct fd_value_args *a,
		    const char *val, int fd)
{
	a->fd = fd;
	if (fd < 0)
		return cli_err(cli, EXIT_FAIL, "%s: value: no %s %s %s", a->x->name,
			       a->x->fd_prog ? "program" : "map", kw->name, cli_tok(val));
	return EXIT_OK;
}

static int fd_by_id(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct fd_value_args *a = obj;
	unsigned long long id;

	if (cli_parse_uint(cli, "value id", val, 1, UINT32_MAX, &id))
		return EXIT_USAGE;
	return fd_found(cli, kw, a, val, a->x->fd_prog ? bpf_prog_get_fd_by_id(id) :
							  bpf_map_get_fd_by_id(id));
}

static int fd_by_name(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct fd_value_args *a = obj;

	return fd_found(cli, kw, a, val, a->x->fd_prog ? lb_prog_fd(a->x->ctx, val) :
							  lb_map_fd(a->x->ctx, val));
}

static int fd_by_pin(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return fd_found(cli, kw, obj, val, bpf_obj_get(val));
}

static const struct cli_kw fd_value_kws[] = {
	{ "id", CLI_VALUE, 0, 0, "argument", .parse = fd_by_id },
	{ "name", CLI_VALUE, 0, 0, "argument", .parse = fd_by_name },
	{ "pinned", CLI_VALUE, 0, 0, "argument", .parse = fd_by_pin },
	{ NULL },
};

/* The fd a program array or map of maps takes: "id ID | name NAME | pinned PATH",
 * the two words at argv. */
static int fd_value(struct cli *cli, const struct mapx *x, int argc, char **argv, int *fd)
{
	struct fd_value_args a = { .x = x, .fd = -1 };
	char where[128];
	int rc, used = 0;

	*fd = -1;
	if (argc < 1)
		return cli_err(cli, EXIT_USAGE, "%s: value: missing (id ID, name NAME or pinned PATH)",
			       x->name);
	snprintf(where, sizeof(where), "%s: value", x->name);
	/* one keyword and its value: what follows are the update's flags */
	rc = cli_parse_kw(cli, fd_value_kws, where, NULL, argc < 2 ? argc : 2, argv, &a, &used);
	*fd = a.fd;
	if (rc)
		return rc;
	if (!used)
		return cli_err(cli, EXIT_USAGE, "%s: value: '%s': expected id ID, name NAME or pinned PATH",
			       x->name, cli_tok(argv[0]));
	return EXIT_OK;
}

static int do_update(struct cli *cli, int argc, char **argv)
{
	static const char *const key_stop[] = { "value", NULL };
	static const char *const flag_words[] = { "any", "exist", "noexist", NULL };
	static const __u64 flag_vals[] = { BPF_ANY, BPF_EXIST, BPF_NOEXIST };
	void *key = NULL, *val = NULL, *sum = NULL, *newsum = NULL;
	const struct lb_map_desc *d;
	int rc, used, n, vfd = -1, i, err;
	__u64 flags = BPF_ANY;
	char msg[512];
	struct mapx x;

	if (want_name(cli, argc, argv, &rc))
		return rc;
	rc = map_open(cli, argv[1], LB_OPEN_WRITE, &x);
	if (rc)
		goto out;
	d = &x.m.desc;
	key = calloc(1, d->key_size ? d->key_size : 1);
	val = value_buf(&x);
	sum = calloc(1, x.stride ? x.stride : 8);
	newsum = calloc(1, x.stride ? x.stride : 8);
	if (!key || !val || !sum || !newsum) {
		rc = cli_err(cli, EXIT_FAIL, "%s: out of memory", x.name);
		goto out;
	}
	rc = parse_key(cli, &x, argc - 2, argv + 2, key_stop, key, &used);
	if (rc)
		goto out;
	i = 2 + used;
	if (i >= argc) {
		rc = cli_err(cli, EXIT_USAGE, "%s: missing value", x.name);
		goto out;
	}
	i++;	/* "value" */
	if (x.fd_prog || x.fd_map) {
		rc = fd_value(cli, &x, argc - i, argv + i, &vfd);
		if (rc)
			goto out;
		memcpy(val, &vfd, sizeof(vfd));
		i += 2;
	} else {
		const char *special = lb_btf_special(x.m.btf, x.m.value_type_id);

		if (special) {
			rc = cli_err(cli, EXIT_FAIL,
				     "%s: the value holds a struct %s, which a write from user space resets; refused",
				     x.name, special);
			goto out;
		}
		if (i >= argc || !strcmp(argv[i], "any") || !strcmp(argv[i], "exist") ||
		    !strcmp(argv[i], "noexist")) {
			rc = cli_err(cli, EXIT_USAGE, "%s: value: missing", x.name);
			goto out;
		}
		/* Start from the current value: fields not named keep theirs. */
		if (bpf_map_lookup_elem(x.fd, key, val)) {
			if (errno != ENOENT) {
				rc = cli_err(cli, EXIT_FAIL, "%s: lookup: %s", x.name, strerror(errno));
				goto out;
			}
			memset(val, 0, (size_t)x.ncpu * x.stride);
		}
		if (d->per_cpu) {
			lb_btf_percpu_sum(x.m.btf, x.m.value_type_id, d->value_size, val, x.ncpu, sum);
			memcpy(newsum, sum, d->value_size);
		} else {
			memcpy(newsum, val, d->value_size);
		}
		if (lb_btf_parse(x.m.btf, x.m.value_type_id, d->value_size, argc - i, argv + i,
				 flag_words, newsum, &n, msg, sizeof(msg))) {
			rc = cli_err(cli, EXIT_USAGE, "%s: value: %s", x.name, msg);
			goto out;
		}
		if (d->per_cpu)
			lb_btf_percpu_set(x.m.btf, x.m.value_type_id, d->value_size, sum, newsum, val,
					  x.ncpu);
		else
			memcpy(val, newsum, d->value_size);
		i += n;
		/* Raw, but our maps still get only what liblb could have written. */
		err = d->per_cpu ? 0 : lb_map_entry_check(x.ctx, x.name, key, val);
		if (err) {
			rc = err == -EINVAL || err == -EAFNOSUPPORT ?
			     cli_err(cli, EXIT_USAGE, "%s: update: %s", x.name, lb_ctx_errmsg(x.ctx)) :
			     cli_err(cli, EXIT_FAIL, "%s: update: %s", x.name, cli_strerror(x.ctx, err));
			goto out;
		}
	}
	if (i < argc) {
		int k = cli_keyword(cli, argv[i], flag_words, "update: flag");

		if (k < 0) {
			rc = EXIT_USAGE;
			goto out;
		}
		flags = flag_vals[k];
		if (++i < argc) {
			rc = cli_err(cli, EXIT_USAGE, "update: unexpected '%s'", cli_tok(argv[i]));
			goto out;
		}
	}
	if (bpf_map_update_elem(x.fd, key, val, flags)) {
		switch (errno) {
		case EEXIST:
			rc = cli_err(cli, EXIT_FAIL, "%s: update: the key exists (noexist)", x.name);
			break;
		case ENOENT:
			rc = cli_err(cli, EXIT_FAIL, "%s: update: key not found (exist)", x.name);
			break;
		case E2BIG:
			rc = cli_err(cli, EXIT_FAIL, "%s: update: the map is full", x.name);
			break;
		default:
			rc = cli_err(cli, EXIT_FAIL, "%s: update: %s", x.name, strerror(errno));
		}
	}
out:
	if (vfd >= 0)
		close(vfd);
	free(key);
	free(val);
	free(sum);
	free(newsum);
	map_close(&x);
	return rc;
}

static int do_delete(struct cli *cli, int argc, char **argv)
{
	void *key = NULL;
	struct mapx x;
	int rc, used;

	if (want_name(cli, argc, argv, &rc))
		return rc;
	rc = map_open(cli, argv[1], LB_OPEN_WRITE, &x);
	if (rc)
		goto out;
	key = calloc(1, x.m.desc.key_size ? x.m.desc.key_size : 1);
	if (!key) {
		rc = cli_err(cli, EXIT_FAIL, "%s: out of memory", x.name);
		goto out;
	}
	rc = parse_key(cli, &x, argc - 2, argv + 2, NULL, key, &used);
	if (rc)
		goto out;
	if (x.array && !x.fd_prog && !x.fd_map) {
		rc = cli_err(cli, EXIT_USAGE,
			     "%s: delete: the elements of an array cannot be deleted (update them to 0)",
			     x.name);
		goto out;
	}
	if (bpf_map_delete_elem(x.fd, key))
		rc = errno == ENOENT ? cli_err(cli, EXIT_FAIL, "%s: key not found", x.name) :
		     cli_err(cli, EXIT_FAIL, "%s: delete: %s", x.name, strerror(errno));
out:
	free(key);
	map_close(&x);
	return rc;
}

static int do_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "list", do_list, NULL },
		{ "show", do_show, NULL },
		{ "dump", do_dump, NULL },
		{ "lookup", do_lookup, NULL },
		{ "update", do_update, NULL },
		{ "delete", do_delete, NULL },
		{ "help", do_help, NULL },
		{ NULL, NULL, NULL },
	};
	struct cli cli = { .prog = "lbmap", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
