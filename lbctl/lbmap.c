// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbmap: list and read the pinned maps of a pin root. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lbmap [OPTIONS] { list | dump | help }\n"
		"       lbmap list\n"
		"       lbmap dump NAME\n"
		"OPTIONS := { -j | -p | -s | -d | -P DIR | -b FILE | -force | -V | -h }\n");
}

static const char *map_type_name(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

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
		return cli_err(cli, EXIT_USAGE, "list: unexpected '%s'", argv[1]);
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

static void print_entry(const struct lb_map_desc *d, const unsigned char *key,
			const unsigned char *val, int ncpu)
{
	unsigned int stride = (d->value_size + 7) & ~7u;

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
		for (int cpu = 0; cpu < ncpu; cpu++) {
			open_json_object(NULL);
			print_int(PRINT_ANY, "cpu", "  cpu %" PRId64 ": ", cpu);
			print_bytes("value", val + (size_t)cpu * stride, d->value_size);
			print_nl();
			close_json_object();
		}
		close_json_array(PRINT_JSON, NULL);
	}
	close_json_object();
}

static int do_dump(struct cli *cli, int argc, char **argv)
{
	unsigned char *key = NULL, *next = NULL, *val = NULL;
	int ncpu = libbpf_num_possible_cpus(), fd = -1, rc, err;
	struct lb_map_desc d;
	struct lb_ctx *ctx;
	bool first = true;

	if (argc == 2 && !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 2)
		return cli_err(cli, EXIT_USAGE, "dump: missing map NAME");
	if (argc > 2)
		return cli_err(cli, EXIT_USAGE, "dump: unexpected '%s'", argv[2]);
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	fd = lb_map_fd(ctx, argv[1]);
	if (fd < 0 || lb_map_describe(fd, &d)) {
		rc = cli_err(cli, EXIT_FAIL, "map '%s': no such map in %s/maps", argv[1],
			     lb_pin_root(ctx));
		goto out;
	}
	key = calloc(1, d.key_size ? d.key_size : 1);
	next = calloc(1, d.key_size ? d.key_size : 1);
	val = calloc(d.per_cpu ? ncpu : 1, (d.value_size + 7) & ~7u);
	if (!key || !next || !val) {
		rc = cli_err(cli, EXIT_FAIL, "dump: out of memory");
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		memcpy(key, next, d.key_size);
		first = false;
		err = bpf_map_lookup_elem(fd, key, val);
		if (err && errno == ENOENT)
			continue;	/* deleted while we walk */
		if (err) {
			rc = cli_err(cli, EXIT_FAIL, "dump %s: %s", argv[1], strerror(errno));
			break;
		}
		print_entry(&d, key, val, ncpu);
	}
	close_json_array(PRINT_JSON, NULL);
out:
	if (fd >= 0)
		close(fd);
	free(key);
	free(next);
	free(val);
	lb_close(ctx);
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
		{ "list", do_list },
		{ "dump", do_dump },
		{ "help", do_help },
		{ NULL, NULL },
	};
	struct cli cli = { .prog = "lbmap", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
