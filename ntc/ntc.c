// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc - a tc-compatible tool on libmnl: the clsact qdisc and cls_bpf filters.
 * A thin layer over liblb (lb.h) and the shared CLI framework (cli.h).
 *
 *   ntc qdisc { add | del | show } dev IFNAME [ clsact ]
 *   ntc filter { add | replace | del | show } dev IFNAME { ingress | egress }
 *       [ pref N ] [ handle H ] [ protocol PROTO ] [ bpf [ da ] obj FILE [ sec NAME ] ]
 *
 * Output follows tc's ("tc qdisc show", "tc filter show", and their -j forms), without
 * tc's trailing blank at the end of each line.
 *
 * filter add and replace load FILE into the pin root with lb_obj_load() (maps pinned
 * by name shared below <root>/maps, "tail/MAP/KEY" sections stored in prog arrays)
 * and record the filter by pinning its programs below
 * <root>/ntc/<ifname>/<ingress|egress>/<pref>/<handle>/ (handle as tc prints it,
 * "0x1"; liblb's lb_ntc_* functions keep that layout).  A record whose filter is gone,
 * or holds another program, is removed by the next writing command on that hook
 * (filter add, replace, del; qdisc del).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <net/if.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "json_print.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ntc [OPTIONS] { qdisc | filter | help }\n"
		"       ntc qdisc { add | del | show } dev IFNAME [ clsact ]\n"
		"       ntc filter { add | replace | del | show } dev IFNAME { ingress | egress }\n"
		"               [ pref N ] [ handle H ] [ protocol PROTO ]\n"
		"               [ bpf [ da ] obj FILE [ sec NAME ] ]\n"
		"\n"
		"PROTO := { all | ip | ipv6 | arp | 802.1Q | 802.1ad | NUMBER }\n"
		"OPTIONS := { -j[son] | -p[retty] | -s[tats] | -d[etails] | -P[in-root] DIR |\n"
		"             -b[atch] FILE | -force | -V[ersion] | -h[elp] }\n"
		"\n"
		"qdisc show lists the qdiscs (of one interface with dev).  filter add and\n"
		"replace load FILE into the pin root (maps pinned by name are shared below\n"
		"ROOT/maps; programs in sections tail/MAP/KEY go into prog array MAP at KEY),\n"
		"take the program of section or name NAME (default: the first program) and\n"
		"attach it as a cls_bpf filter on the clsact hook, creating the clsact qdisc\n"
		"when there is none; the programs are pinned below\n"
		"ROOT/ntc/IFNAME/{ingress|egress}/PREF/HANDLE.  filter del without pref\n"
		"removes every filter of that hook; with pref, those of that preference (and\n"
		"handle), and their pins.  Keywords accept unique prefixes.\n");
}

/* --- helpers ------------------------------------------------------------------ */

/* "<ext ack>: <strerror>" for a failed liblb tc call, or just strerror. */
static const char *nl_strerror(struct lb_nl *nl, int err, char *buf, size_t len)
{
	const char *ext = lb_nl_ext_ack(nl);
	size_t n = strlen(ext);

	if (err < 0)
		err = -err;
	/* Kernel messages end with a period; the error line goes on after them. */
	while (n && (ext[n - 1] == '.' || ext[n - 1] == ' ' || ext[n - 1] == '\n'))
		n--;
	if (n)
		snprintf(buf, len, "%.*s: %s", (int)n, ext, strerror(err));
	else
		snprintf(buf, len, "%s", strerror(err));
	return buf;
}

static int open_nl(struct cli *cli, struct lb_nl **nl)
{
	int err = lb_nl_open(nl);

	if (err)
		return cli_err(cli, EXIT_FAIL, "netlink: %s", strerror(-err));
	return EXIT_OK;
}

static int resolve_dev(struct cli *cli, const char *dev, unsigned int *ifindex)
{
	*ifindex = strlen(dev) < IF_NAMESIZE ? if_nametoindex(dev) : 0;
	if (!*ifindex)
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(dev));
	return EXIT_OK;
}

static const char *ifname_of(unsigned int ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

/* tc's names for link-layer protocols (iproute2 lib/ll_proto.c), the usual ones;
 * others print as "[NUMBER]" as tc prints unknown ones. */
static const struct {
	const char *name;
	uint16_t id;
} protos[] = {
	{ "all",	ETH_P_ALL },
	{ "ip",		ETH_P_IP },
	{ "ipv6",	ETH_P_IPV6 },
	{ "arp",	ETH_P_ARP },
	{ "rarp",	ETH_P_RARP },
	{ "loop",	ETH_P_LOOP },
	{ "x25",	ETH_P_X25 },
	{ "ppp_disc",	ETH_P_PPP_DISC },
	{ "ppp_ses",	ETH_P_PPP_SES },
	{ "802_3",	ETH_P_802_3 },
	{ "802_2",	ETH_P_802_2 },
	{ "can",	ETH_P_CAN },
	{ "tipc",	ETH_P_TIPC },
	{ "aoe",	ETH_P_AOE },
	{ "802.1Q",	ETH_P_8021Q },
	{ "802.1ad",	ETH_P_8021AD },
	{ "mpls_uc",	ETH_P_MPLS_UC },
	{ "mpls_mc",	ETH_P_MPLS_MC },
	{ "teb",	ETH_P_TEB },
	{ "cfm",	0x8902 },
	{ "LLDP",	0x88cc },
	{ "ipv4",	ETH_P_IP },	/* input only: ip comes first */
};

static const char *proto_name(uint16_t id, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].id == id)
			return protos[i].name;
	snprintf(buf, len, "[%u]", id);
	return buf;
}

static int proto_parse(struct cli *cli, const char *what, const char *s, uint16_t *id)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcasecmp(s, protos[i].name)) {
			*id = protos[i].id;
			return 0;
		}
	}
	errno = 0;
	v = strtoul(s, &end, 0);
	if (*s && *s != '-' && !*end && !errno && v > 0 && v <= 0xffff) {
		*id = v;
		return 0;
	}
	cli_err(cli, EXIT_USAGE,
		"%s: protocol '%s': expected one of all, ip, ipv6, arp, 802.1Q, 802.1ad or a number",
		what, cli_tok(s));
	return -1;
}

/* tc's print_tc_classid(). */
static const char *classid_str(uint32_t h, char *buf, size_t len)
{
	if (h == TC_H_ROOT)
		snprintf(buf, len, "root");
	else if (h == TC_H_UNSPEC)
		snprintf(buf, len, "none");
	else if (TC_H_MAJ(h) == 0)
		snprintf(buf, len, ":%x", TC_H_MIN(h));
	else if (TC_H_MIN(h) == 0)
		snprintf(buf, len, "%x:", TC_H_MAJ(h) >> 16);
	else
		snprintf(buf, len, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
	return buf;
}

/* --- the pin root (liblb keeps the filter records: lb_ntc_*) ------------------ */

static const char *hook_word(bool egress)
{
	return egress ? "egress" : "ingress";
}

static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Is the pin root there (on a bpffs)?  Commands that only remove need not make one. */
static bool root_exists(struct cli *cli)
{
	struct statfs st;

	return statfs(lb_pin_root_default(cli->pin_root), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* For del: the pin root when there is one, locked; *ctx NULL when there is none. */
static int open_existing_root(struct cli *cli, struct lb_ctx **ctx)
{
	int rc;

	*ctx = NULL;
	if (!root_exists(cli))
		return EXIT_OK;
	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_ANY_ABI, ctx);
	if (rc) {
		lb_close(*ctx);
		*ctx = NULL;
	}
	return rc;
}

/* After the kernel lost filters: drop the records of both hooks that went. */
static void prune_both(struct lb_ctx *ctx, struct lb_nl *nl, unsigned int ifindex)
{
	char ifname[IF_NAMESIZE];

	if (!ctx || !if_indextoname(ifindex, ifname))
		return;
	lb_ntc_prune(ctx, nl, ifname, false);
	lb_ntc_prune(ctx, nl, ifname, true);
}

/* --- qdisc -------------------------------------------------------------------- */

/* What the words of a qdisc command name. */
struct qdisc_words {
	const char *dev;
	bool clsact, help;
};

static const struct cli_kw qdisc_kws[] = {
	{ "dev", CLI_VALUE, 0, 0, "interface name", .field = offsetof(struct qdisc_words, dev) },
	{ "clsact", CLI_FLAG, 0, 0, .field = offsetof(struct qdisc_words, clsact) },
	{ "help", CLI_FLAG, CLI_KW_EXACT, .field = offsetof(struct qdisc_words, help) },
	{ NULL },
};

/* qdisc add|del|show: "dev IFNAME" and, for add and del, the kind ("clsact"). */
static int qdisc_args(struct cli *cli, const char *what, int argc, char **argv,
		      const char **dev, bool *help)
{
	struct qdisc_words w = {};
	int rc = cli_parse_kw(cli, qdisc_kws, what, "argument", argc, argv, &w, NULL);

	*dev = w.dev;
	*help = w.help;
	return rc;
}

static int qdisc_change(struct cli *cli, int argc, char **argv, bool add)
{
	const char *what = add ? "qdisc add" : "qdisc del";
	struct lb_ctx *ctx = NULL;
	const char *dev;
	struct lb_nl *nl;
	unsigned int ifindex;
	bool help;
	char msg[512];
	int rc, err;

	rc = qdisc_args(cli, what, argc - 1, argv + 1, &dev, &help);
	if (rc || help) {
		if (help)
			usage(stdout);
		return rc;
	}
	if (!dev)
		return cli_err(cli, EXIT_USAGE, "%s: missing 'dev IFNAME'", what);
	rc = resolve_dev(cli, dev, &ifindex);
	if (rc)
		return rc;
	/* del takes the filters with it: their records in the pin root go too. */
	rc = add ? EXIT_OK : open_existing_root(cli, &ctx);
	if (!rc)
		rc = open_nl(cli, &nl);
	if (rc) {
		lb_close(ctx);
		return rc;
	}
	err = add ? lb_tc_clsact_add(nl, ifindex, true) : lb_tc_clsact_del(nl, ifindex);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, nl_strerror(nl, err, msg, sizeof(msg)));
	else
		prune_both(ctx, nl, ifindex);
	lb_nl_close(nl);
	lb_close(ctx);
	return rc;
}

static int qdisc_add(struct cli *cli, int argc, char **argv)
{
	return qdisc_change(cli, argc, argv, true);
}

static int qdisc_del(struct cli *cli, int argc, char **argv)
{
	return qdisc_change(cli, argc, argv, false);
}

static void print_qdisc(const struct lb_tc_qdisc *q, bool show_dev)
{
	char buf[32], ifname[IF_NAMESIZE];

	open_json_object(NULL);
	print_string(PRINT_ANY, "kind", "qdisc %s", q->kind);
	snprintf(buf, sizeof(buf), "%x:", q->handle >> 16);
	print_string(PRINT_ANY, "handle", " %s", buf);
	if (show_dev)
		print_string(PRINT_ANY, "dev", " dev %s", ifname_of(q->ifindex, ifname));
	if (q->parent == TC_H_ROOT)
		print_bool(PRINT_ANY, "root", " root", true);
	else if (q->parent)
		print_string(PRINT_ANY, "parent", " parent %s",
			     classid_str(q->parent, buf, sizeof(buf)));
	if (q->refcnt != 1)
		print_uint(PRINT_ANY, "refcnt", " refcnt %" PRIu64, q->refcnt);
	print_nl();
	close_json_object();
}

static int qdisc_show(struct cli *cli, int argc, char **argv)
{
	const char *dev;
	struct lb_tc_qdisc *qs;
	struct lb_nl *nl;
	unsigned int ifindex = 0;
	size_t n;
	bool help;
	char msg[512];
	int rc, err;

	rc = qdisc_args(cli, "qdisc show", argc - 1, argv + 1, &dev, &help);
	if (rc || help) {
		if (help)
			usage(stdout);
		return rc;
	}
	if (dev) {
		rc = resolve_dev(cli, dev, &ifindex);
		if (rc)
			return rc;
	}
	rc = open_nl(cli, &nl);
	if (rc)
		return rc;
	err = lb_tc_qdisc_list(nl, ifindex, &qs, &n);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "qdisc show: %s", nl_strerror(nl, err, msg, sizeof(msg)));
		lb_nl_close(nl);
		return rc;
	}
	lb_nl_close(nl);

	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++)
		print_qdisc(&qs[i], !dev);
	close_json_array(PRINT_JSON, NULL);
	free(qs);
	return EXIT_OK;
}

static int qdisc_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

/* tc's aliases, mapped before prefix matching so they do not make it ambiguous. */
static void map_alias(char **arg)
{
	if (!strcmp(*arg, "delete"))
		*arg = "del";
	else if (!strcmp(*arg, "list") || !strcmp(*arg, "ls"))
		*arg = "show";
}

static int do_qdisc(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add",	qdisc_add, NULL },
		{ "del",	qdisc_del, NULL },
		{ "show",	qdisc_show, NULL },
		{ "help",	qdisc_help, NULL },
		{ NULL, NULL, NULL },
	};

	if (argc < 2)		/* "ntc qdisc" lists, like tc */
		return qdisc_show(cli, argc, argv);
	map_alias(&argv[1]);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

/* --- filter ------------------------------------------------------------------- */

struct filter_args {
	const char *what;		/* "filter add", for messages */
	const char *dev;
	int dir;			/* -1 none, 0 ingress, 1 egress */
	bool has_pref, has_handle, has_proto;
	uint16_t pref;
	uint32_t handle;
	uint16_t proto;
	bool bpf, da;			/* "bpf" given; "da" */
	const char *obj, *sec;
	bool help;
};

/* The options of the bpf classifier, after "bpf"; tc's long spellings in full only. */
static const struct cli_kw filter_bpf_kws[] = {
	{ "da", CLI_FLAG, 0, 1, .field = offsetof(struct filter_args, da) },
	{ "obj", CLI_VALUE, 0, 2, "file name", .field = offsetof(struct filter_args, obj) },
	{ "sec", CLI_VALUE, 0, 3, "section name", .field = offsetof(struct filter_args, sec) },
	{ "direct-action", CLI_FLAG, CLI_KW_EXACT, 1, .field = offsetof(struct filter_args, da) },
	{ "object-file", CLI_VALUE, CLI_KW_EXACT, 2, "file name",
	  .field = offsetof(struct filter_args, obj) },
	{ "section", CLI_VALUE, CLI_KW_EXACT, 3, "section name",
	  .field = offsetof(struct filter_args, sec) },
	{ "help", CLI_FLAG, CLI_KW_EXACT, .field = offsetof(struct filter_args, help) },
	{ NULL },
};

static int filter_bpf_args(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	struct filter_args *a = obj;
	char where[64];

	a->bpf = true;
	snprintf(where, sizeof(where), "%s: bpf", a->what);
	*used = argc;
	return cli_parse_kw(cli, filter_bpf_kws, where, "option", argc, argv, a, NULL);
}

static int filter_dir(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	((struct filter_args *)obj)->dir = !strcmp(kw->name, "egress");
	return EXIT_OK;
}

/* pref and handle: "filter add: pref '0': expected a number ..." */
static int filter_number(struct cli *cli, const struct filter_args *a, const char *name,
			 const char *val, unsigned long long max, unsigned long long *v)
{
	char what[64];

	snprintf(what, sizeof(what), "%s: %s", a->what, name);
	return cli_parse_uint(cli, what, val, 1, max, v) ? EXIT_USAGE : EXIT_OK;
}

static int filter_pref(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct filter_args *a = obj;
	unsigned long long v;

	if (filter_number(cli, a, "pref", val, 0xffff, &v))
		return EXIT_USAGE;
	a->has_pref = true;
	a->pref = v;
	return EXIT_OK;
}

static int filter_handle(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct filter_args *a = obj;
	unsigned long long v;

	if (filter_number(cli, a, "handle", val, 0xffffffffULL, &v))
		return EXIT_USAGE;
	a->has_handle = true;
	a->handle = v;
	return EXIT_OK;
}

static int filter_proto(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct filter_args *a = obj;

	if (proto_parse(cli, a->what, val, &a->proto))
		return EXIT_USAGE;
	a->has_proto = true;
	return EXIT_OK;
}

static const struct cli_kw filter_kws[] = {
	{ "dev", CLI_VALUE, 0, 0, "interface name", .field = offsetof(struct filter_args, dev) },
	{ "ingress", CLI_FLAG, 0, 1, .parse = filter_dir },
	{ "egress", CLI_FLAG, 0, 1, .parse = filter_dir },
	{ "pref", CLI_VALUE, 0, 2, .parse = filter_pref },
	{ "handle", CLI_VALUE, 0, 0, .parse = filter_handle },
	{ "protocol", CLI_VALUE, 0, 0, .parse = filter_proto },
	{ "bpf", CLI_WORDS, 0, 0, .take = filter_bpf_args },
	/* tc's other spellings of pref, in full only */
	{ "prio", CLI_VALUE, CLI_KW_EXACT, 2, .parse = filter_pref },
	{ "priority", CLI_VALUE, CLI_KW_EXACT, 2, .parse = filter_pref },
	{ "preference", CLI_VALUE, CLI_KW_EXACT, 2, .parse = filter_pref },
	{ "help", CLI_FLAG, CLI_KW_EXACT, .field = offsetof(struct filter_args, help) },
	{ NULL },
};

static int filter_args(struct cli *cli, const char *what, int argc, char **argv,
		       struct filter_args *a)
{
	memset(a, 0, sizeof(*a));
	a->what = what;
	a->dir = -1;
	return cli_parse_kw(cli, filter_kws, what, "argument", argc, argv, a, NULL);
}

/* Parse and check what every filter command needs: dev and a direction. */
static int filter_common(struct cli *cli, const char *what, int argc, char **argv,
			 struct filter_args *a)
{
	int rc = filter_args(cli, what, argc - 1, argv + 1, a);

	if (rc || a->help)
		return rc;
	if (!a->dev)
		return cli_err(cli, EXIT_USAGE, "%s: missing 'dev IFNAME'", what);
	if (a->dir < 0)
		return cli_err(cli, EXIT_USAGE, "%s: missing 'ingress' or 'egress'", what);
	return 0;
}

/* An lb_obj_load() error: the loader's own words, else strerror with the detail. */
static const char *obj_strerror(struct lb_ctx *ctx, int err)
{
	const char *detail = lb_ctx_errmsg(ctx);

	if (*detail && (err == -ESRCH || err == -EINVAL || err == -ENOEXEC))
		return detail;
	return cli_strerror(ctx, err);
}

/* What filter add/replace builds, for undoing it on failure. */
struct filter_job {
	const char *what;
	struct filter_args a;
	struct lb_tc_filter f;
	char ifname[IF_NAMESIZE];
	struct lb_ctx *ctx;
	struct lb_obj *obj;
	struct lb_nl *nl;
	bool qdisc_made;	/* this command created the clsact qdisc */
	bool filter_made;	/* ... and the filter (add, not replace) */
};

/*
 * Load the object into the pin root, its programs pinned in the hook's staging dir
 * (moved to <pref>/<handle> once the kernel has placed the filter), and check that
 * the selected program is a tc classifier.
 */
static int filter_load(struct cli *cli, struct filter_job *j)
{
	char staging[PATH_MAX];
	struct lb_obj_opts oo = {
		.path = j->a.obj, .sec = j->a.sec, .prog_type = BPF_PROG_TYPE_SCHED_CLS,
		.pin_dir = staging,
	};
	const char *base;
	int type, err;

	err = lb_ntc_stage(j->ctx, j->ifname, j->a.dir == 1, staging, sizeof(staging));
	if (err)
		return cli_err(cli, EXIT_FAIL, "%s: %s: %s", j->what, staging, strerror(-err));
	err = lb_obj_load(j->ctx, &oo, &j->obj);
	if (err)
		return cli_err(cli, EXIT_FAIL, "%s: obj %s: %s", j->what, j->a.obj,
			       obj_strerror(j->ctx, err));
	type = lb_obj_prog_type(j->obj);
	if (type != BPF_PROG_TYPE_SCHED_CLS && type != BPF_PROG_TYPE_SCHED_ACT) {
		const char *tname = libbpf_bpf_prog_type_str(type);

		return cli_err(cli, EXIT_FAIL,
			       "%s: obj %s: program '%s' (section %s) has type %s, not a tc classifier",
			       j->what, j->a.obj, lb_obj_prog_name(j->obj), lb_obj_prog_sec(j->obj),
			       tname ? tname : "non-tc");
	}
	j->f.prog_fd = lb_obj_prog_fd(j->obj);
	base = strrchr(j->a.obj, '/');
	base = base ? base + 1 : j->a.obj;
	snprintf(j->f.name, sizeof(j->f.name), "%s:[%s]", base, lb_obj_prog_sec(j->obj));
	return EXIT_OK;
}

/* The clsact qdisc (created when missing) and the filter. */
static int filter_attach(struct cli *cli, struct filter_job *j, bool replace)
{
	char msg[512];
	int rc, err;

	rc = open_nl(cli, &j->nl);
	if (rc)
		return rc;
	err = lb_tc_clsact_add(j->nl, j->f.ifindex, true);
	if (!err)
		j->qdisc_made = true;
	else if (err != -EEXIST)
		return cli_err(cli, EXIT_FAIL, "%s: clsact qdisc: %s", j->what,
			       nl_strerror(j->nl, err, msg, sizeof(msg)));
	err = lb_tc_filter_add(j->nl, &j->f, replace);
	if (err)
		return cli_err(cli, EXIT_FAIL, "%s: %s", j->what,
			       nl_strerror(j->nl, err, msg, sizeof(msg)));
	j->filter_made = !replace;
	return EXIT_OK;
}

/* Where the kernel put the filter: the pref and handle that run our program. */
static int filter_placed(struct filter_job *j)
{
	struct lb_tc_filter *fs;
	uint32_t id = prog_id_of(j->f.prog_fd);
	size_t n;
	int err;

	if (j->a.has_pref && j->a.has_handle)
		return 0;
	err = lb_tc_filter_list(j->nl, j->f.ifindex, j->f.egress, &fs, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n && err; i++) {
		if (fs[i].handle && id && fs[i].prog_id == id) {
			j->f.pref = fs[i].pref;
			j->f.handle = fs[i].handle;
			err = 0;
		}
	}
	free(fs);
	return err;
}

/* Undo a failed add: the filter, the qdisc and the pins this command made. */
static void filter_undo(struct filter_job *j)
{
	if (j->filter_made && j->f.pref && j->f.handle)	/* never "every filter" */
		lb_tc_filter_del(j->nl, j->f.ifindex, j->f.egress, j->f.pref, j->f.handle,
				 j->f.protocol);
	if (j->qdisc_made)
		lb_tc_clsact_del(j->nl, j->f.ifindex);
	if (j->obj)
		lb_obj_unpin(j->obj);
	if (j->ctx) {
		lb_ntc_rmdir_empty(j->ctx, j->ifname, j->f.egress);
		lb_abandon(j->ctx);	/* a root this command created goes again */
	}
}

static int filter_add_replace(struct cli *cli, int argc, char **argv, bool replace)
{
	struct filter_job j = { .what = replace ? "filter replace" : "filter add" };
	char path[PATH_MAX];
	int rc, err;

	rc = filter_common(cli, j.what, argc, argv, &j.a);
	if (rc || j.a.help) {
		if (j.a.help)
			usage(stdout);
		return rc;
	}
	if (!j.a.bpf || !j.a.obj)
		return cli_err(cli, EXIT_USAGE, "%s: missing 'bpf obj FILE'", j.what);
	rc = resolve_dev(cli, j.a.dev, &j.f.ifindex);
	if (rc)
		return rc;
	ifname_of(j.f.ifindex, j.ifname);
	j.f.egress = j.a.dir == 1;
	j.f.pref = j.a.pref;
	j.f.handle = j.a.handle;
	j.f.protocol = j.a.has_proto ? j.a.proto : ETH_P_ALL;
	j.f.direct_action = j.a.da;

	rc = cli_open(cli, LB_OPEN_WRITE | LB_OPEN_CREATE, &j.ctx);
	if (!rc)
		rc = filter_load(cli, &j);
	if (!rc)
		rc = filter_attach(cli, &j, replace);
	if (!rc) {
		err = filter_placed(&j);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "%s: the new filter is not on dev %s %s: %s",
				     j.what, j.ifname, hook_word(j.f.egress), strerror(-err));
	}
	if (!rc) {
		err = lb_ntc_record(j.ctx, j.ifname, j.f.egress, j.f.pref, j.f.handle);
		if (err && !lb_ntc_hook_dir(j.ctx, j.ifname, j.f.egress, path, sizeof(path)))
			rc = cli_err(cli, EXIT_FAIL, "%s: cannot record the filter below %s: %s",
				     j.what, path, strerror(-err));
	}
	if (rc)
		filter_undo(&j);
	lb_obj_close(j.obj);	/* the filter and the pins hold what stays */
	if (!rc)
		lb_ntc_prune(j.ctx, j.nl, j.ifname, j.f.egress);
	lb_nl_close(j.nl);
	lb_close(j.ctx);
	return rc;
}

static int filter_add(struct cli *cli, int argc, char **argv)
{
	return filter_add_replace(cli, argc, argv, false);
}

static int filter_replace(struct cli *cli, int argc, char **argv)
{
	return filter_add_replace(cli, argc, argv, true);
}

static int filter_del(struct cli *cli, int argc, char **argv)
{
	struct filter_args a;
	struct lb_ctx *ctx;
	struct lb_nl *nl;
	unsigned int ifindex;
	char ifname[IF_NAMESIZE];
	char msg[512];
	int rc, err;

	rc = filter_common(cli, "filter del", argc, argv, &a);
	if (rc || a.help) {
		if (a.help)
			usage(stdout);
		return rc;
	}
	if (a.obj || a.sec || a.da)
		return cli_err(cli, EXIT_USAGE, "filter del: bpf options go with add and replace");
	if ((a.has_handle || a.has_proto) && !a.has_pref)
		return cli_err(cli, EXIT_USAGE, "filter del: handle and protocol need 'pref N'");
	rc = resolve_dev(cli, a.dev, &ifindex);
	if (rc)
		return rc;
	rc = open_existing_root(cli, &ctx);
	if (!rc)
		rc = open_nl(cli, &nl);
	if (rc) {
		lb_close(ctx);
		return rc;
	}
	err = lb_tc_filter_del(nl, ifindex, a.dir == 1, a.pref, a.handle,
			       a.has_proto ? a.proto : 0);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "filter del: %s", nl_strerror(nl, err, msg, sizeof(msg)));
	else if (ctx)
		lb_ntc_prune(ctx, nl, ifname_of(ifindex, ifname), a.dir == 1);
	lb_nl_close(nl);
	lb_close(ctx);
	return rc;
}

/* One line of "tc filter show dev IF ingress" (fields given on the command line are
 * left out, as tc does). */
static void print_filter(const struct lb_tc_filter *f, const struct filter_args *a)
{
	char buf[64];

	open_json_object(NULL);
	print_text("filter");
	/* Only when the kernel reports another hook than asked for: an ingress qdisc
	 * has one block for both. */
	if (f->egress != (a->dir == 1))
		print_bool(PRINT_ANY, f->egress ? "egress" : "ingress",
			   f->egress ? " egress" : " ingress", true);
	if (f->protocol && !a->has_proto)
		print_string(PRINT_ANY, "protocol", " protocol %s",
			     proto_name(f->protocol, buf, sizeof(buf)));
	if (f->pref && !a->has_pref)
		print_uint(PRINT_ANY, "pref", " pref %" PRIu64, f->pref);
	print_string(PRINT_ANY, "kind", " %s", f->kind);
	print_uint(PRINT_ANY, "chain", " chain %" PRIu64, f->chain);
	if (f->handle) {	/* the classifier's own entry has neither handle nor options */
		open_json_object("options");
		snprintf(buf, sizeof(buf), "%#x", f->handle);
		print_string(PRINT_ANY, "handle", " handle %s", buf);
		if (!strcmp(f->kind, "bpf")) {
			if (f->name[0])
				print_string(PRINT_ANY, "bpf_name", " %s", f->name);
			if (f->direct_action)
				print_bool(PRINT_ANY, "direct-action", " direct-action", true);
			if (f->gen_flags & TCA_CLS_FLAGS_SKIP_HW)
				print_bool(PRINT_ANY, "skip_hw", " skip_hw", true);
			if (f->gen_flags & TCA_CLS_FLAGS_SKIP_SW)
				print_bool(PRINT_ANY, "skip_sw", " skip_sw", true);
			if (f->gen_flags & TCA_CLS_FLAGS_IN_HW)
				print_bool(PRINT_ANY, "in_hw", " in_hw", true);
			else if (f->gen_flags & TCA_CLS_FLAGS_NOT_IN_HW)
				print_bool(PRINT_ANY, "not_in_hw", " not_in_hw", true);
			if (f->prog_id) {
				open_json_object("prog");
				print_uint(PRINT_ANY, "id", " id %" PRIu64, f->prog_id);
				if (f->prog_name[0])
					print_string(PRINT_ANY, "name", " name %s", f->prog_name);
				for (int i = 0; i < 8; i++)
					snprintf(buf + 2 * i, 3, "%02x", f->tag[i]);
				print_string(PRINT_ANY, "tag", " tag %s", buf);
				print_uint(PRINT_JSON, "jited", NULL, f->jited);
				if (f->jited)
					print_text(" jited");
				close_json_object();
			}
		}
		close_json_object();
	}
	print_nl();
	close_json_object();
}

static bool filter_selected(const struct lb_tc_filter *f, const struct filter_args *a)
{
	if (a->has_pref && f->pref != a->pref)
		return false;
	if (a->has_proto && f->protocol != a->proto)
		return false;
	if (a->has_handle && f->handle != a->handle)
		return false;
	if (a->bpf && strcmp(f->kind, "bpf"))
		return false;
	return true;
}

static int filter_show(struct cli *cli, int argc, char **argv)
{
	struct lb_tc_filter *fs;
	struct filter_args a;
	struct lb_nl *nl;
	unsigned int ifindex;
	size_t n;
	char msg[512];
	int rc, err;

	rc = filter_common(cli, "filter show", argc, argv, &a);
	if (rc || a.help) {
		if (a.help)
			usage(stdout);
		return rc;
	}
	if (a.obj || a.sec || a.da)
		return cli_err(cli, EXIT_USAGE, "filter show: bpf options go with add and replace");
	rc = resolve_dev(cli, a.dev, &ifindex);
	if (rc)
		return rc;
	rc = open_nl(cli, &nl);
	if (rc)
		return rc;
	err = lb_tc_filter_list(nl, ifindex, a.dir == 1, &fs, &n);
	if (err) {
		rc = err == -EPERM ? cli_err_perm(cli, "filter show") :
		     cli_err(cli, EXIT_FAIL, "filter show: %s", nl_strerror(nl, err, msg, sizeof(msg)));
		lb_nl_close(nl);
		return rc;
	}
	lb_nl_close(nl);

	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++)
		if (filter_selected(&fs[i], &a))
			print_filter(&fs[i], &a);
	close_json_array(PRINT_JSON, NULL);
	free(fs);
	return EXIT_OK;
}

static int filter_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

static int do_filter(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add",	filter_add, NULL },
		{ "replace",	filter_replace, NULL },
		{ "del",	filter_del, NULL },
		{ "show",	filter_show, NULL },
		{ "help",	filter_help, NULL },
		{ NULL, NULL, NULL },
	};

	if (argc >= 2)
		map_alias(&argv[1]);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

static int do_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "qdisc",	do_qdisc, NULL },
		{ "filter",	do_filter, NULL },
		{ "help",	do_help, NULL },
		{ NULL, NULL, NULL },
	};
	struct cli cli = { .prog = "ntc", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
