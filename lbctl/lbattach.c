// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbattach: attach the datapath to interfaces, show and remove attachments. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lbattach [OPTIONS] { attach | detach | show | destroy | help }\n"
		"       lbattach attach dev IFNAME [ xdp | tc ] [ ingress | egress ] [ mode MODE ]\n"
		"               [ services N ] [ endpoints N ] [ conntrack N ]\n"
		"       lbattach detach dev IFNAME [ xdp | tc [ ingress | egress ] ]\n"
		"       lbattach show [ dev IFNAME ]\n"
		"       lbattach destroy\n"
		"MODE := { native | generic }   for xdp (default: native, generic if refused)\n"
		"        { tcx | clsact }       for tc  (default: tcx, clsact if the kernel has no tcx)\n"
		"Table sizes apply when the datapath is first loaded (defaults 1024, 8192, 65536).\n"
		"OPTIONS := { -j | -p | -s | -d | -P DIR | -b FILE | -force | -V | -h }\n");
}

/* Parsed "dev IF [xdp|tc] [ingress|egress] [mode M]". */
struct hook_args {
	const char *ifname;
	int hook;		/* enum lb_hook, -1 when not given */
	bool tc_any;		/* "tc" without a direction */
	enum lb_attach_mode mode;
	struct lb_sizes sizes;
};

static int parse_hook_args(struct cli *cli, int argc, char **argv, struct hook_args *a,
			   bool allow_mode)
{
	static const char *const kw_mode[] = { "dev", "xdp", "tc", "ingress", "egress", "mode",
					       "services", "endpoints", "conntrack", NULL };
	static const char *const kw[] = { "dev", "xdp", "tc", "ingress", "egress", NULL };
	bool tc = false, xdp = false;
	int dir = -1;

	memset(a, 0, sizeof(*a));
	a->hook = -1;
	for (int i = 0; i < argc; i++) {
		int k = cli_keyword(cli, argv[i], allow_mode ? kw_mode : kw, "keyword");

		switch (k) {
		case 0:
			if (++i >= argc)
				return cli_err(cli, EXIT_USAGE, "dev: missing interface name");
			a->ifname = argv[i];
			break;
		case 1: xdp = true; break;
		case 2: tc = true; break;
		case 3: dir = LB_HOOK_TC_INGRESS; break;
		case 4: dir = LB_HOOK_TC_EGRESS; break;
		case 5:
			if (++i >= argc)
				return cli_err(cli, EXIT_USAGE, "mode: missing value");
			if (lb_mode_parse(argv[i], &a->mode) || a->mode == LB_MODE_AUTO)
				return cli_err(cli, EXIT_USAGE,
					       "mode '%s': expected one of native, generic, tcx, clsact",
					       argv[i]);
			break;
		case 6:
		case 7:
		case 8: {
			static const unsigned long long lim[3][2] = {
				{ 2, 1 << 20 }, { 2, 1 << 24 }, { 64, 1 << 28 },
			};
			unsigned long long v;
			uint32_t *f[3] = { &a->sizes.services, &a->sizes.endpoints, &a->sizes.conntrack };

			if (++i >= argc)
				return cli_err(cli, EXIT_USAGE, "%s: missing value", kw_mode[k]);
			if (cli_parse_uint(cli, kw_mode[k], argv[i], lim[k - 6][0], lim[k - 6][1], &v))
				return EXIT_USAGE;
			*f[k - 6] = v;
			break;
		}
		default:
			return EXIT_USAGE;
		}
	}
	if (!a->ifname)
		return cli_err(cli, EXIT_USAGE, "missing 'dev IFNAME'");
	if (xdp && tc)
		return cli_err(cli, EXIT_USAGE, "xdp and tc: choose one hook");
	if (xdp && dir == LB_HOOK_TC_EGRESS)
		return cli_err(cli, EXIT_USAGE, "xdp has no egress hook");
	if (xdp)
		a->hook = LB_HOOK_XDP;
	else if (tc || dir >= 0)
		a->hook = dir >= 0 ? dir : LB_HOOK_TC_INGRESS;
	a->tc_any = tc && dir < 0;
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
	rc = parse_hook_args(cli, argc - 1, argv + 1, &a, true);
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
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", o.ifname);
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_CREATE, &ctx);
	if (rc) {
		lb_abandon(ctx);
		goto out;
	}
	err = lb_attach(ctx, &o, &res);
	if (err == -ENODEV)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: no such device", o.ifname);
	else if (err == -EPERM)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: permission denied (needs root: CAP_BPF and CAP_NET_ADMIN)",
			     o.ifname);
	else if (err)
		rc = cli_err(cli, EXIT_FAIL, "attach dev %s %s: %s", o.ifname,
			     lb_hook_name(o.hook), cli_strerror(ctx, err));
	else if (res.fell_back)
		cli_note(cli, "dev %s: %s refused (%s), using %s", o.ifname,
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
	rc = parse_hook_args(cli, argc - 1, argv + 1, &a, false);
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
		rc = cli_err(cli, EXIT_FAIL, "dev %s: nothing attached at %s", a.ifname,
			     lb_hook_name(a.hook));
	else if (err)
		rc = cli_err(cli, EXIT_FAIL, "detach dev %s: %s", a.ifname, cli_strerror(ctx, err));
	else if (!done)
		rc = cli_err(cli, EXIT_FAIL, "dev %s: nothing attached", a.ifname);
out:
	lb_close(ctx);
	return rc;
}

static void print_attachment(const struct lb_attachment *a)
{
	open_json_object(NULL);
	print_string(PRINT_ANY, "ifname", "dev %s", a->ifname);
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
		rc = parse_hook_args(cli, argc - 1, argv + 1, &a, false);
		if (rc)
			return rc;
	}
	err = lb_open(&ctx, &(struct lb_open_opts){ .pin_root = cli->pin_root });
	if (err == -ENOENT) {
		err = 0;	/* nothing was ever attached with this root */
	} else if (err) {
		rc = cli_open_err(cli, ctx, err);
		goto out;
	} else {
		err = lb_attachments(ctx, &v, &n);
	}
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

static int do_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "attach", do_attach },
		{ "detach", do_detach },
		{ "show", do_show },
		{ "destroy", do_destroy },
		{ "help", do_help },
		{ NULL, NULL },
	};
	struct cli cli = { .prog = "lbattach", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
