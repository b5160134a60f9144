// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbattach: attach the datapath to interfaces, show and remove attachments. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lbattach [OPTIONS] { attach | detach | show | upgrade | destroy | chain | help }\n"
		"       lbattach attach dev IFNAME [ xdp | tc ] [ ingress | egress ] [ mode MODE ]\n"
		"               [ services N ] [ endpoints N ] [ conntrack N ] [ allow N ]\n"
		"               [ selection N ]\n"
		"       lbattach detach dev IFNAME [ xdp | tc [ ingress | egress ] ]\n"
		"       lbattach show [ dev IFNAME ]\n"
		"       lbattach upgrade [ obj FILE ]\n"
		"       lbattach destroy\n"
		"       lbattach chain { add | del | move | show | help } ...\n"
		"MODE := { native | generic }   for xdp (default: native, generic if refused)\n"
		"        { tcx | clsact }       for tc  (default: tcx, clsact if the kernel has no tcx)\n"
		"Table sizes apply when the datapath is first loaded (defaults 1024, 8192, 65536, 65536,\n"
		"1048576).\n"
		"OPTIONS := { -j | -p | -s | -d | -P DIR | -b FILE | -force | -V | -h }\n");
}

/* Parsed "dev IF [xdp|tc] [ingress|egress] [mode M] [services N]...". */
struct hook_args {
	const char *ifname;
	bool xdp, tc, ingress, egress;
	int hook;		/* enum lb_hook, -1 when not given */
	bool tc_any;		/* "tc" without a direction */
	enum lb_attach_mode mode;
	struct lb_sizes sizes;
};

/* "mode MODE" of attach and chain add: any but auto, which is the default. */
static int parse_mode(struct cli *cli, const char *val, enum lb_attach_mode *mode)
{
	if (lb_mode_parse(val, mode) || *mode == LB_MODE_AUTO)
		return cli_err(cli, EXIT_USAGE, "mode '%s': expected one of native, generic, tcx, clsact",
			       cli_tok(val));
	return EXIT_OK;
}

static int hook_mode(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return parse_mode(cli, val, &((struct hook_args *)obj)->mode);
}

/* The table sizes of attach: keyword, bounds, field of struct lb_sizes. */
static const struct {
	const char *name;
	unsigned long long min, max;
	size_t field;
} table_sizes[] = {
	{ "services", 2, 1 << 20, offsetof(struct lb_sizes, services) },
	{ "endpoints", 2, 1 << 24, offsetof(struct lb_sizes, endpoints) },
	{ "conntrack", 64, 1 << 28, offsetof(struct lb_sizes, conntrack) },
	{ "allow", 1, 1 << 24, offsetof(struct lb_sizes, allow) },
	/* at least one table of the largest size, slot 0 being no table's */
	{ "selection", LB_SEL_MAX + 1, 1 << 27, offsetof(struct lb_sizes, selection) },
};

static int hook_size(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct lb_sizes *sizes = &((struct hook_args *)obj)->sizes;
	unsigned long long v;

	for (size_t i = 0; i < sizeof(table_sizes) / sizeof(table_sizes[0]); i++) {
		if (strcmp(kw->name, table_sizes[i].name))
			continue;
		if (cli_parse_uint(cli, kw->name, val, table_sizes[i].min, table_sizes[i].max, &v))
			return EXIT_USAGE;
		*(uint32_t *)((char *)sizes + table_sizes[i].field) = v;
		return EXIT_OK;
	}
	return cli_err(cli, EXIT_USAGE, "%s: not a table", kw->name);
}

enum { GROUP_HOOK = 1, GROUP_DIR };

#define HOOK_KWS								\
	{ "dev", CLI_VALUE, CLI_KW_REQUIRED, 0, "IFNAME", .field = offsetof(struct hook_args, ifname) }, \
	{ "xdp", CLI_FLAG, 0, GROUP_HOOK, .field = offsetof(struct hook_args, xdp) }, \
	{ "tc", CLI_FLAG, 0, GROUP_HOOK, .field = offsetof(struct hook_args, tc) }, \
	{ "ingress", CLI_FLAG, 0, GROUP_DIR, .field = offsetof(struct hook_args, ingress) }, \
	{ "egress", CLI_FLAG, 0, GROUP_DIR, .field = offsetof(struct hook_args, egress) }

/* attach */
static const struct cli_kw attach_kws[] = {
	HOOK_KWS,
	{ "mode", CLI_VALUE, 0, 0, "MODE", .parse = hook_mode },
	{ "services", CLI_VALUE, 0, 0, "N", .parse = hook_size },
	{ "endpoints", CLI_VALUE, 0, 0, "N", .parse = hook_size },
	{ "conntrack", CLI_VALUE, 0, 0, "N", .parse = hook_size },
	{ "allow", CLI_VALUE, 0, 0, "N", .parse = hook_size },
	{ "selection", CLI_VALUE, 0, 0, "N", .parse = hook_size },
	{ NULL },
};

/* detach and show */
static const struct cli_kw hook_kws[] = { HOOK_KWS, { NULL } };

static int parse_hook_args(struct cli *cli, int argc, char **argv, struct hook_args *a,
			   const struct cli_kw *kws)
{
	int rc;

	memset(a, 0, sizeof(*a));
	rc = cli_parse_kw(cli, kws, NULL, NULL, argc, argv, a, NULL);
	if (rc)
		return rc;
	if (a->xdp && a->egress)
		return cli_err(cli, EXIT_USAGE, "xdp has no egress hook");
	if (a->xdp)
		a->hook = LB_HOOK_XDP;
	else if (a->egress)
		a->hook = LB_HOOK_TC_EGRESS;
	else if (a->tc || a->ingress)
		a->hook = LB_HOOK_TC_INGRESS;
	else
		a->hook = -1;
	a->tc_any = a->tc && !a->ingress && !a->egress;
	return EXIT_OK;
}

static int do_attach(struct cli *cli, int argc, char **argv)
{
	struct lb_attach_result res;
	struct lb_attach_opts o = {};
	struct hook_args a;
	struct lb_ctx *ctx;
	int rc, err;

	if (argc > 1 && cli_matches(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	rc = parse_hook_args(cli, argc - 1, argv + 1, &a, attach_kws);
	if (rc)
		return rc;
	o.ifname = a.ifname;
	o.hook = a.hook < 0 ? LB_HOOK_TC_INGRESS : a.hook;
	o.mode = a.mode;
	o.sizes = &a.sizes;
	if (o.mode != LB_MODE_AUTO &&
	    (o.hook == LB_HOOK_XDP) != (o.mode == LB_MODE_NATIVE || o.mode == LB_MODE_GENERIC))
		return cli_err(cli, EXIT_USAGE, "mode %s does not apply to %s",
			       lb_mode_name(o.mode), lb_hook_name(o.hook));
	/* A missing device changes nothing: not even a pin root is made. */
	if (!if_nametoindex(o.ifname))
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(o.ifname));
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_CREATE, &ctx);
	if (rc) {
		lb_abandon(ctx);
		goto out;
	}
	err = lb_attach(ctx, &o, &res);
	if (err == -ENODEV)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(o.ifname));
	else if (err == -EPERM)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: permission denied (needs root: CAP_BPF and CAP_NET_ADMIN)",
			     cli_tok(o.ifname));
	else if (err)
		rc = cli_err(cli, EXIT_FAIL, "attach dev %s %s: %s", cli_tok(o.ifname),
			     lb_hook_name(o.hook), cli_strerror(ctx, err));
	else if (res.fell_back)
		cli_note(cli, "dev %s: %s refused (%s), using %s", cli_tok(o.ifname),
			 o.hook == LB_HOOK_XDP ? "native XDP" : "tcx",
			 strerror(-res.fallback_err), lb_mode_name(res.mode));
	if (err)
		lb_abandon(ctx);	/* after the message: it clears the detail */
out:
	lb_close(ctx);
	return rc;
}

static int do_detach(struct cli *cli, int argc, char **argv)
{
	struct hook_args a;
	struct lb_ctx *ctx;
	int rc, err = 0, done = 0;

	if (argc > 1 && cli_matches(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	rc = parse_hook_args(cli, argc - 1, argv + 1, &a, hook_kws);
	if (rc)
		return rc;
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	for (int h = 0; h < LB_HOOK_MAX && !err; h++) {
		if (a.hook >= 0 && a.hook != h && !(a.tc_any && h != LB_HOOK_XDP))
			continue;
		err = lb_detach(ctx, a.ifname, h);
		if (err == -ENOENT && (a.hook < 0 || a.tc_any))
			err = 0;
		else if (!err)
			done++;
	}
	if (err == -ENOENT)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: nothing attached at %s", cli_tok(a.ifname),
			     lb_hook_name(a.hook));
	else if (err)
		rc = cli_err(cli, EXIT_FAIL, "detach dev %s: %s", cli_tok(a.ifname), cli_strerror(ctx, err));
	else if (!done)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: nothing attached", cli_tok(a.ifname));
out:
	lb_close(ctx);
	return rc;
}

/* Open the pin root for a listing: 1 with *ctx, 0 when nothing was ever attached
 * with this root (an empty listing), -1 with the error printed and *rc set. */
static int open_reader(struct cli *cli, struct lb_ctx **ctx, int *rc)
{
	int err = lb_open(ctx, &(struct lb_open_opts){ .pin_root = cli->pin_root });

	if (err == -ENOENT)
		return 0;
	if (err) {
		*rc = cli_open_err(cli, *ctx, err);
		return -1;
	}
	return 1;
}

static void print_attachment(const struct lb_attachment *a)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "ifname", "dev %s", cli_tok(a->ifname));
	print_uint(PRINT_JSON, "ifindex", NULL, a->ifindex);
	if (!a->ifindex)
		print_text(" (gone)");
	print_string(PRINT_ANY, "hook", " %s", lb_hook_name(a->hook));
	print_string(PRINT_ANY, "mode", " mode %s", lb_mode_name(a->mode));
	print_string(PRINT_ANY, "prog", " prog %s", a->prog_name);
	print_uint(PRINT_ANY, "prog_id", " id %" PRIu64, a->prog_id);
	if (a->link_id)
		print_uint(PRINT_ANY, "link_id", " link %" PRIu64, a->link_id);
	else
		print_null(PRINT_JSON, "link_id", NULL);
	print_nl();
	close_json_object();
}

static int do_show(struct cli *cli, int argc, char **argv)
{
	struct lb_attachment *v = NULL;
	struct hook_args a = { .hook = -1 };
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc = EXIT_OK, err;

	if (argc > 1 && cli_matches(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 1) {
		rc = parse_hook_args(cli, argc - 1, argv + 1, &a, hook_kws);
		if (rc)
			return rc;
	}
	err = open_reader(cli, &ctx, &rc);
	if (err < 0)
		goto out;
	err = err ? lb_attachments(ctx, &v, &n) : 0;
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "show: %s", cli_strerror(ctx, err));
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++) {
		if (a.ifname && strcmp(a.ifname, v[i].ifname))
			continue;
		if (a.hook >= 0 && a.hook != (int)v[i].hook)
			continue;
		print_attachment(&v[i]);
	}
	close_json_array(PRINT_JSON, NULL);
out:
	free(v);
	lb_close(ctx);
	return rc;
}

static int do_destroy(struct cli *cli, int argc, char **argv)
{
	struct lb_ctx *ctx;
	int rc, err;

	if (argc > 1) {
		if (cli_matches(argv[1], "help")) {
			usage(stdout);
			return EXIT_OK;
		}
		return cli_err(cli, EXIT_USAGE, "destroy takes no arguments");
	}
	/* Any layout version: destroy is how a root of older tools is cleared.
	 * Like detach, destroying what is not there is an error. */
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_ANY_ABI, &ctx);
	if (rc == EXIT_OK) {
		err = lb_destroy(ctx);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "destroy: %s", cli_strerror(ctx, err));
	}
	lb_close(ctx);
	return rc;
}

/*
 * Replace the running programs by those of the installed (or given) object,
 * keeping maps, conntrack and attachments.  Any layout version: upgrade is the
 * way from the old one to ours.  Quiet on success; -s tells what it did.
 */
static int do_upgrade(struct cli *cli, int argc, char **argv)
{
	static const struct cli_kw kws[] = {
		{ "obj", CLI_VALUE, 0, 0, "FILE", .field = offsetof(struct lb_upgrade_opts, obj) },
		{ NULL },
	};
	struct lb_upgrade_opts opts = {};
	struct lb_upgrade_result res;
	struct lb_ctx *ctx;
	int rc, err;

	if (argc > 1 && cli_matches(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	rc = cli_parse_kw(cli, kws, "upgrade", NULL, argc - 1, argv + 1, &opts, NULL);
	if (rc)
		return rc;
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_ANY_ABI, &ctx);
	if (rc == EXIT_OK) {
		err = lb_upgrade(ctx, &opts, &res);
		if (err) {
			rc = cli_err(cli, EXIT_FAIL, "upgrade: %s", cli_strerror(ctx, err));
		} else if (cli->stats) {
			open_json_object(NULL);
			print_uint(PRINT_ANY, "programs", "programs %" PRIu64, res.programs);
			print_uint(PRINT_ANY, "attachments", " attachments %" PRIu64, res.attachments);
			print_uint(PRINT_ANY, "maps_migrated", " maps-migrated %" PRIu64,
				   res.maps_migrated);
			print_uint(PRINT_ANY, "entries", " entries %" PRIu64, res.entries);
			print_uint(PRINT_ANY, "entries_late", " late %" PRIu64, res.entries_late);
			print_nl();
			close_json_object();
		}
	}
	lb_close(ctx);
	return rc;
}

static int do_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

/* ------------------------------------------------------------------ chain */

static void chain_usage(FILE *out)
{
	fprintf(out,
		"Usage: lbattach chain add dev IFNAME hook HOOK { obj FILE [ sec NAME ] | lb }\n"
		"                          [ name LABEL ] [ POSITION ] [ mode MODE ] [ expect REVISION ]\n"
		"       lbattach chain del dev IFNAME hook HOOK name LABEL [ expect REVISION ]\n"
		"       lbattach chain move dev IFNAME hook HOOK name LABEL POSITION [ expect REVISION ]\n"
		"       lbattach chain show [ dev IFNAME ] [ hook HOOK ]\n"
		"HOOK := { xdp | tc-ingress | tc-egress }\n"
		"POSITION := { first | last | before LABEL | after LABEL }   (default: last)\n"
		"MODE := { native | generic } for xdp, { tcx | clsact } for tc\n"
		"The load balancer itself is the element 'lb'.\n");
}

struct chain_args {
	const char *ifname;
	int hook;		/* -1: not given */
	const char *obj, *sec, *label;
	bool lb;
	enum lb_attach_mode mode;
	struct lb_chain_place place;
	bool placed;
};

static int chain_hook(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	enum lb_hook h;

	if (lb_hook_parse(val, &h))
		return cli_err(cli, EXIT_USAGE, "hook '%s': expected one of xdp, tc-ingress, tc-egress",
			       cli_tok(val));
	((struct chain_args *)obj)->hook = h;
	return EXIT_OK;
}

static int chain_mode(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return parse_mode(cli, val, &((struct chain_args *)obj)->mode);
}

static int chain_expect(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, "expect", val, 1, UINT64_MAX, &v))
		return EXIT_USAGE;
	((struct chain_args *)obj)->place.expected_revision = v;
	return EXIT_OK;
}

static int chain_place(struct cli *cli, void *obj, enum lb_chain_where where, const char *rel)
{
	struct chain_args *a = obj;

	/* four words for one setting: a group would not name it */
	if (a->placed)
		return cli_err(cli, EXIT_USAGE, "more than one position");
	a->placed = true;
	a->place.where = where;
	a->place.rel = rel;
	return EXIT_OK;
}

static int chain_first(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return chain_place(cli, obj, LB_CHAIN_FIRST, NULL);
}

static int chain_last(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return chain_place(cli, obj, LB_CHAIN_LAST, NULL);
}

static int chain_before(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return chain_place(cli, obj, LB_CHAIN_BEFORE, val);
}

static int chain_after(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return chain_place(cli, obj, LB_CHAIN_AFTER, val);
}

#define CHAIN_DEV(req)	{ "dev", CLI_VALUE, req, 0, "IFNAME", .field = offsetof(struct chain_args, ifname) }
#define CHAIN_HOOK(req)	{ "hook", CLI_VALUE, req, 0, "HOOK", .parse = chain_hook }
#define CHAIN_NAME	{ "name", CLI_VALUE, 0, 0, "LABEL", .field = offsetof(struct chain_args, label) }
#define CHAIN_PLACE								\
	{ "first", CLI_FLAG, 0, 0, .parse = chain_first },		\
	{ "last", CLI_FLAG, 0, 0, .parse = chain_last },		\
	{ "before", CLI_VALUE, 0, 0, "LABEL", .parse = chain_before }, \
	{ "after", CLI_VALUE, 0, 0, "LABEL", .parse = chain_after }
#define CHAIN_EXPECT	{ "expect", CLI_VALUE, 0, 0, "REVISION", .parse = chain_expect }

static const struct cli_kw chain_add_kws[] = {
	CHAIN_DEV(CLI_KW_REQUIRED), CHAIN_HOOK(CLI_KW_REQUIRED),
	{ "obj", CLI_VALUE, 0, 0, "FILE", .field = offsetof(struct chain_args, obj) },
	{ "sec", CLI_VALUE, 0, 0, "NAME", .field = offsetof(struct chain_args, sec) },
	{ "lb", CLI_FLAG, 0, 0, .field = offsetof(struct chain_args, lb) },
	CHAIN_NAME, CHAIN_PLACE,
	{ "mode", CLI_VALUE, 0, 0, "MODE", .parse = chain_mode },
	CHAIN_EXPECT, { NULL },
};
static const struct cli_kw chain_del_kws[] = {
	CHAIN_DEV(CLI_KW_REQUIRED), CHAIN_HOOK(CLI_KW_REQUIRED), CHAIN_NAME, CHAIN_EXPECT, { NULL },
};
static const struct cli_kw chain_move_kws[] = {
	CHAIN_DEV(CLI_KW_REQUIRED), CHAIN_HOOK(CLI_KW_REQUIRED), CHAIN_NAME, CHAIN_PLACE,
	CHAIN_EXPECT, { NULL },
};
static const struct cli_kw chain_show_kws[] = { CHAIN_DEV(0), CHAIN_HOOK(0), { NULL } };

static int parse_chain_args(struct cli *cli, int argc, char **argv, struct chain_args *a,
			    const struct cli_kw *kws)
{
	int rc;

	memset(a, 0, sizeof(*a));
	a->hook = -1;
	rc = cli_parse_kw(cli, kws, NULL, NULL, argc, argv, a, NULL);
	if (rc)
		return rc;
	if (a->sec && !a->obj)
		return cli_err(cli, EXIT_USAGE, "sec: needs 'obj FILE'");
	if (kws == chain_add_kws && !a->obj == !a->lb)
		return cli_err(cli, EXIT_USAGE, "give one of 'obj FILE' or 'lb'");
	return EXIT_OK;
}

static int chain_err(struct cli *cli, struct lb_ctx *ctx, const struct chain_args *a,
		     const char *what, int err)
{
	if (err == -ENODEV)
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(a->ifname));
	return cli_err(cli, EXIT_FAIL, "chain %s dev %s %s: %s", what, cli_tok(a->ifname),
		       lb_hook_name(a->hook), cli_strerror(ctx, err));
}

static int do_chain_add(struct cli *cli, int argc, char **argv)
{
	struct chain_args a;
	struct lb_ctx *ctx;
	int rc, err;

	rc = parse_chain_args(cli, argc - 1, argv + 1, &a, chain_add_kws);
	if (rc)
		return rc;
	if (a.mode != LB_MODE_AUTO &&
	    (a.hook == LB_HOOK_XDP) != (a.mode == LB_MODE_NATIVE || a.mode == LB_MODE_GENERIC))
		return cli_err(cli, EXIT_USAGE, "mode %s does not apply to %s",
			       lb_mode_name(a.mode), lb_hook_name(a.hook));
	if (!if_nametoindex(a.ifname))
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(a.ifname));
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_CREATE, &ctx);
	if (rc) {
		lb_abandon(ctx);
		goto out;
	}
	err = lb_chain_add(ctx, &(struct lb_chain_add_opts){
				   .ifname = a.ifname, .hook = a.hook, .obj = a.obj, .sec = a.sec,
				   .label = a.label, .mode = a.mode, .place = a.place });
	if (err) {
		rc = chain_err(cli, ctx, &a, "add", err);
		lb_abandon(ctx);
	}
out:
	lb_close(ctx);
	return rc;
}

/* chain del and chain move: an element named by its label. */
static int chain_change(struct cli *cli, int argc, char **argv, bool move)
{
	struct chain_args a;
	struct lb_ctx *ctx;
	int rc, err;

	rc = parse_chain_args(cli, argc - 1, argv + 1, &a, move ? chain_move_kws : chain_del_kws);
	if (rc)
		return rc;
	if (!a.label)
		return cli_err(cli, EXIT_USAGE, "missing 'name LABEL'");
	if (move && !a.placed)
		return cli_err(cli, EXIT_USAGE, "missing position: first, last, before LABEL or after LABEL");
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc == EXIT_OK) {
		err = move ? lb_chain_move(ctx, a.ifname, a.hook, a.label, &a.place)
			   : lb_chain_del(ctx, a.ifname, a.hook, a.label, a.place.expected_revision);
		if (err)
			rc = chain_err(cli, ctx, &a, move ? "move" : "del", err);
	}
	lb_close(ctx);
	return rc;
}

static int do_chain_del(struct cli *cli, int argc, char **argv)
{
	return chain_change(cli, argc, argv, false);
}

static int do_chain_move(struct cli *cli, int argc, char **argv)
{
	return chain_change(cli, argc, argv, true);
}

static void print_chain(const struct lb_chain_info *c)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "ifname", "dev %s", c->ifname);
	print_uint(PRINT_JSON, "ifindex", NULL, c->ifindex);
	print_string(PRINT_ANY, "hook", " hook %s", lb_hook_name(c->hook));
	print_string(PRINT_ANY, "mode", " mode %s", lb_mode_name(c->mode));
	print_uint(PRINT_ANY, "revision", " revision %" PRIu64, c->revision);
	print_nl();
	open_json_array(PRINT_JSON, "chain");
	for (size_t i = 0; i < c->n; i++) {
		const struct lb_chain_elem *e = &c->elem[i];

		open_json_object(NULL);
		print_uint(PRINT_ANY, "pos", "  %" PRIu64, i + 1);
		if (e->label[0])
			print_string(PRINT_ANY, "label", " %s", e->label);
		else
		{
			print_null(PRINT_JSON, "label", NULL);
			print_text(" -");
		}
		print_string(PRINT_ANY, "prog", " prog %s", e->prog_name);
		print_uint(PRINT_ANY, "prog_id", " id %" PRIu64, e->prog_id);
		print_string(PRINT_ANY, "tag", " tag %s", e->tag);
		if (c->mode == LB_MODE_TCX)
			print_uint(PRINT_ANY, "link_id", " link %" PRIu64, e->link_id);
		if (c->mode == LB_MODE_CLSACT)
			print_uint(PRINT_ANY, "pref", " pref %" PRIu64, e->pref);
		if (e->has_packets)
			print_uint(PRINT_ANY, "packets", " packets %" PRIu64, e->packets);
		else
			print_null(PRINT_JSON, "packets", NULL);
		print_nl();
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
}

static int do_chain_show(struct cli *cli, int argc, char **argv)
{
	struct lb_chain_info *v = NULL;
	struct chain_args a;
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc = EXIT_OK, err;

	rc = parse_chain_args(cli, argc - 1, argv + 1, &a, chain_show_kws);
	if (rc)
		return rc;
	err = open_reader(cli, &ctx, &rc);
	if (err < 0)
		goto out;
	if (!err) {
		err = 0;
	} else if (a.ifname && a.hook >= 0) {
		v = calloc(1, sizeof(*v));
		err = v ? lb_chain_get(ctx, a.ifname, a.hook, v) : -ENOMEM;
		n = !err;
	} else {
		err = lb_chain_list(ctx, &v, &n);
	}
	if (err) {
		rc = err == -ENODEV ? cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(a.ifname))
				    : cli_err(cli, EXIT_FAIL, "chain show: %s", cli_strerror(ctx, err));
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++) {
		if (a.ifname && strcmp(a.ifname, v[i].ifname))
			continue;
		if ((a.hook >= 0 && a.hook != (int)v[i].hook) || !v[i].n)
			continue;
		print_chain(&v[i]);
	}
	close_json_array(PRINT_JSON, NULL);
out:
	free(v);
	lb_close(ctx);
	return rc;
}

static int do_chain_help(struct cli *cli, int argc, char **argv)
{
	chain_usage(stdout);
	return EXIT_OK;
}

static int do_chain(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", do_chain_add, NULL },
		{ "del", do_chain_del, NULL },
		{ "move", do_chain_move, NULL },
		{ "show", do_chain_show, NULL },
		{ "help", do_chain_help, NULL },
		{ NULL, NULL, NULL },
	};

	void (*tool_usage)(FILE *out) = cli->usage;
	int rc;

	if (argc < 2)
		return do_chain_show(cli, 1, argv);
	cli->usage = chain_usage;	/* "chain COMMAND help" */
	rc = cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
	cli->usage = tool_usage;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "attach", do_attach, NULL },
		{ "detach", do_detach, NULL },
		{ "show", do_show, NULL },
		{ "upgrade", do_upgrade, NULL },
		{ "destroy", do_destroy, NULL },
		{ "chain", do_chain, chain_usage },
		{ "help", do_help, NULL },
		{ NULL, NULL, NULL },
	};
	struct cli cli = { .prog = "lbattach", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
