// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbctl conntrack: show, count, flush, delete, timeout. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "cli.h"
#include "lbctl.h"

/* What the filter words select. */
struct ct_filter_args {
	struct lb_ctx *ctx;	/* to find the service */
	struct lb_ct_filter *f;
};

static int ct_service(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	struct ct_filter_args *a = obj;
	struct lb_service_info info;
	struct lb_svc_key sk;
	int err;

	*used = 0;
	if (parse_svc_key(cli, argc, argv, used, &sk, true))
		return EXIT_USAGE;
	err = lb_service_get(a->ctx, &sk, &info);
	if (err)
		return cli_err(cli, EXIT_FAIL, "conntrack: service: %s",
			       err == -ENOENT ? "no such service" : cli_strerror(a->ctx, err));
	a->f->svc_id = info.id;
	lb_service_info_free(&info, 1);
	return EXIT_OK;
}

/* "endpoint ADDR" and "address ADDR": field is the address in the filter. */
static int ct_addr(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct lb_ct_filter *f = ((struct ct_filter_args *)obj)->f;
	uint8_t fam;

	if (lb_addr_parse(val, (struct lb_addr *)((char *)f + kw->field), &fam))
		return cli_err(cli, EXIT_USAGE, "%s '%s': not an address", kw->name, cli_tok(val));
	if (kw->field == offsetof(struct lb_ct_filter, ep_addr))
		f->has_ep_addr = true;
	else
		f->has_addr = true;
	return EXIT_OK;
}

static const struct cli_kw ct_filter_kws[] = {
	{ "service", CLI_WORDS, 0, 0, "VIP port N", .take = ct_service },
	{ "endpoint", CLI_VALUE, 0, 0, "address", .parse = ct_addr,
	  .field = offsetof(struct lb_ct_filter, ep_addr) },
	{ "address", CLI_VALUE, 0, 0, "address", .parse = ct_addr,
	  .field = offsetof(struct lb_ct_filter, addr) },
	{ NULL },
};

/* "[service VIP port N [proto P]] [endpoint ADDR] [address ADDR]" after the verb */
static int parse_ct_filter(struct cli *cli, struct lb_ctx *ctx, int argc, char **argv,
			   struct lb_ct_filter *f, bool *any)
{
	struct ct_filter_args a = { .ctx = ctx, .f = f };

	memset(f, 0, sizeof(*f));
	*any = argc > 1;
	return cli_parse_kw(cli, ct_filter_kws, NULL, "filter", argc - 1, argv + 1, &a, NULL);
}

static void print_tuple(const char *key, const struct lb_addr *s, __be16 sp,
			const struct lb_addr *d, __be16 dp, uint8_t family)
{
	char a[INET6_ADDRSTRLEN];
	const char *fmt = family == LB_AF_INET6 ? "[%s]" : "%s";

	open_json_object(key);
	print_string(PRINT_ANY, "src", fmt, lb_addr_str(s, family, a, sizeof(a)));
	print_uint(PRINT_ANY, "sport", ":%" PRIu64, ntohs(sp));
	print_string(PRINT_ANY, "dst", family == LB_AF_INET6 ? " > [%s]" : " > %s",
		     lb_addr_str(d, family, a, sizeof(a)));
	print_uint(PRINT_ANY, "dport", ":%" PRIu64, ntohs(dp));
	close_json_object();
}

/* Open the root and list the live entries the filter words select. */
static int ct_fetch(struct cli *cli, int argc, char **argv, struct lb_ctx **ctx,
		    struct lb_ct_entry **v, size_t *n)
{
	struct lb_ct_filter f;
	bool any;
	int rc, err;

	*v = NULL;
	*n = 0;
	rc = cli_open(cli, 0, ctx);
	if (!rc)
		rc = parse_ct_filter(cli, *ctx, argc, argv, &f, &any);
	if (rc)
		return rc;
	err = lb_ct_list(*ctx, &f, v, n);
	if (err)
		return cli_err(cli, EXIT_FAIL, "conntrack %s: %s", argv[0], cli_strerror(*ctx, err));
	return EXIT_OK;
}

static int ct_show(struct cli *cli, int argc, char **argv)
{
	struct lb_ct_entry *v = NULL;
	struct lb_ctx *ctx = NULL;
	size_t n = 0;
	int rc;

	rc = ct_fetch(cli, argc, argv, &ctx, &v, &n);
	if (rc)
		goto out;
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct lb_ct_entry *e = &v[i];

		open_json_object(NULL);
		print_string(PRINT_ANY, "proto", "%s ", e->key.proto == 6 ? "tcp" : "udp");
		print_tuple("orig", &e->key.src, e->key.sport, &e->key.dst, e->key.dport, e->key.family);
		print_text(" =>");
		print_text(" ");
		print_tuple("nat", &e->ct.nat_src, e->ct.nat_sport, &e->ct.nat_dst, e->ct.nat_dport,
			    e->key.family);
		print_string(PRINT_ANY, "dir", " %s", e->ct.flags & LB_CT_F_REPLY ? "reply" : "forward");
		print_string(PRINT_ANY, "state", " %s", lb_ct_state_name(e->ct.state));
		print_uint(PRINT_ANY, "age", " age %" PRIu64 "s", e->age_ns / 1000000000ull);
		print_uint(PRINT_ANY, "timeout", " timeout %" PRIu64 "s", e->timeout);
		print_uint(PRINT_ANY, "service_id", " service %" PRIu64, e->ct.svc_id);
		print_uint(PRINT_ANY, "endpoint_id", " endpoint %" PRIu64, e->ct.ep_id);
		print_nl();
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
out:
	free(v);
	lb_close(ctx);
	return rc;
}

static int ct_count(struct cli *cli, int argc, char **argv)
{
	struct lb_ct_entry *v = NULL;
	struct lb_ctx *ctx = NULL;
	size_t n = 0, flows = 0;
	int rc;

	rc = ct_fetch(cli, argc, argv, &ctx, &v, &n);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++)
		flows += !(v[i].ct.flags & LB_CT_F_REPLY);
	open_json_object(NULL);
	print_uint(PRINT_ANY, "flows", "%" PRIu64, flows);
	print_uint(PRINT_JSON, "entries", NULL, n);
	print_nl();
	close_json_object();
out:
	free(v);
	lb_close(ctx);
	return rc;
}

static int ct_flush_cmd(struct cli *cli, int argc, char **argv, bool need_filter)
{
	struct lb_ct_filter f;
	struct lb_ctx *ctx;
	bool any;
	int rc, err;

	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	rc = parse_ct_filter(cli, ctx, argc, argv, &f, &any);
	if (rc)
		goto out;
	if (need_filter && !any) {
		rc = cli_err(cli, EXIT_USAGE, "conntrack delete: name what (service, endpoint, address); 'flush' removes all");
		goto out;
	}
	err = lb_ct_flush(ctx, &f, NULL);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "conntrack %s: %s", argv[0], cli_strerror(ctx, err));
out:
	lb_close(ctx);
	return rc;
}

static int ct_flush(struct cli *cli, int argc, char **argv) { return ct_flush_cmd(cli, argc, argv, false); }

/* Remove expired entries now, as the kernel's sweep would; print how many. */
static int ct_gc(struct cli *cli, int argc, char **argv)
{
	struct lb_ct_filter f = { .expired = true };
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc, err;

	if (argc > 1)
		return cli_err(cli, EXIT_USAGE, "conntrack gc: unexpected '%s'", cli_tok(argv[1]));
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (!rc) {
		err = lb_ct_flush(ctx, &f, &n);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "conntrack gc: %s", cli_strerror(ctx, err));
		else if (cli->stats || is_json_context()) {
			open_json_object(NULL);
			print_uint(PRINT_ANY, "removed", "removed %" PRIu64 "\n", n);
			close_json_object();
		}
	}
	lb_close(ctx);
	return rc;
}
static int ct_delete(struct cli *cli, int argc, char **argv) { return ct_flush_cmd(cli, argc, argv, true); }

static int ct_timeout(struct cli *cli, int argc, char **argv)
{
	uint32_t to[LB_TO_MAX] = { 0 };
	struct lb_ctx *ctx;
	enum { SHOW, SET };
	static const char *const verbs[] = { [SHOW] = "show", [SET] = "set", NULL };
	int verb = argc > 1 ? lb_match_keyword(argv[1], verbs) : SHOW;
	bool set = verb == SET;
	int rc, err, i;

	if (verb < 0)
		return cli_err(cli, EXIT_USAGE, "conntrack timeout '%s': expected show or set",
			       cli_tok(argv[1]));
	if (!set && argc > 2)
		return cli_err(cli, EXIT_USAGE, "conntrack timeout show: unexpected '%s'",
			       cli_tok(argv[2]));
	if (set) {
		rc = parse_timeouts(cli, argc - 2, argv + 2, to);
		if (rc)
			return rc;
	}
	if (set && cli->tx) {
		/* in a batch: on the staged set; the names not given keep theirs */
		struct lbctl_tx *tx = cli->tx;

		for (i = 0; i < LB_TO_MAX; i++)
			if (to[i])
				tx->rs.timeout[i] = to[i];
		return EXIT_OK;
	}
	rc = cli_open(cli, set ? LB_OPEN_WRITE : 0, &ctx);
	if (rc)
		goto out;
	err = set ? lb_timeouts_set(ctx, to) : lb_timeouts_get(ctx, to);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "conntrack timeout: %s", cli_strerror(ctx, err));
		goto out;
	}
	if (!set) {
		open_json_object(NULL);
		for (i = 0; i < LB_TO_MAX && lb_timeout_name(i); i++) {
			char fmt[32];

			snprintf(fmt, sizeof(fmt), "%s%s %%" PRIu64, i ? " " : "", lb_timeout_name(i));
			print_uint(PRINT_ANY, lb_timeout_name(i), fmt, to[i]);
		}
		print_nl();
		close_json_object();
	}
out:
	lb_close(ctx);
	return rc;
}

int do_conntrack(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "show", ct_show, NULL }, { "count", ct_count, NULL }, { "flush", ct_flush, NULL },
		{ "delete", ct_delete, NULL }, { "gc", ct_gc, NULL }, { "timeout", ct_timeout, NULL }, { "help", do_help, NULL }, { NULL, NULL, NULL },
	};

	if (argc < 2)
		return ct_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}
