// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc - a tc-compatible tool on libmnl: the clsact qdisc and cls_bpf filters.
 * A thin layer over liblb (tc_nl.h) and the shared CLI framework (cli.h).
 *
 *   ntc qdisc { add | del | show } dev IFNAME [ clsact ]
 *   ntc filter { add | replace | del | show } dev IFNAME { ingress | egress }
 *       [ pref N ] [ handle H ] [ protocol PROTO ] [ bpf [ da ] obj FILE [ sec NAME ] ]
 *
 * Output follows tc's ("tc qdisc show", "tc filter show", and their -j forms), without
 * tc's trailing blank at the end of each line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "json_print.h"
#include "tc_nl.h"

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
		"replace load FILE with libbpf, take the program of section NAME (default: the\n"
		"first program) and attach it as a cls_bpf filter on the clsact hook, creating\n"
		"the clsact qdisc when there is none.  filter del without pref removes every\n"
		"filter of that hook; with pref, those of that preference (and handle).\n"
		"Keywords accept unique prefixes.\n");
}

/* --- helpers ------------------------------------------------------------------ */

static bool is_help(const char *arg)
{
	return !strcmp(arg, "help");
}

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
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", dev);
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
		what, s);
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

/* --- qdisc -------------------------------------------------------------------- */

/* qdisc add|del|show: "dev IFNAME" and, for add and del, the kind ("clsact"). */
static int qdisc_args(struct cli *cli, const char *what, int argc, char **argv,
		      const char **dev, bool *help)
{
	static const char *const words[] = { "dev", "clsact", NULL };
	char kw[64];

	snprintf(kw, sizeof(kw), "%s: argument", what);
	*dev = NULL;
	*help = false;
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			*help = true;
			return 0;
		}
		switch (cli_keyword(cli, argv[i], words, kw)) {
		case 0:
			if (++i >= argc)
				return cli_err(cli, EXIT_USAGE, "%s: dev: missing interface name",
					       what);
			if (*dev)
				return cli_err(cli, EXIT_USAGE, "%s: dev given twice", what);
			*dev = argv[i];
			break;
		case 1:
			break;
		default:
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int qdisc_change(struct cli *cli, int argc, char **argv, bool add)
{
	const char *what = add ? "qdisc add" : "qdisc del";
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
	rc = open_nl(cli, &nl);
	if (rc)
		return rc;
	err = add ? lb_tc_clsact_add(nl, ifindex, true) : lb_tc_clsact_del(nl, ifindex);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, nl_strerror(nl, err, msg, sizeof(msg)));
	lb_nl_close(nl);
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
		{ "add",	qdisc_add },
		{ "del",	qdisc_del },
		{ "show",	qdisc_show },
		{ "help",	qdisc_help },
		{ NULL, NULL },
	};

	if (argc < 2)		/* "ntc qdisc" lists, like tc */
		return qdisc_show(cli, argc, argv);
	map_alias(&argv[1]);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

/* --- filter ------------------------------------------------------------------- */

struct filter_args {
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

/* The options of the bpf classifier, after "bpf". */
static int filter_bpf_args(struct cli *cli, const char *what, int argc, char **argv,
			   struct filter_args *a)
{
	static const char *const words[] = { "da", "obj", "sec", NULL };
	char kw[64];

	snprintf(kw, sizeof(kw), "%s: bpf option", what);
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		int idx;

		if (is_help(arg)) {
			a->help = true;
			return 0;
		}
		/* tc's long spellings */
		if (!strcmp(arg, "direct-action"))
			idx = 0;
		else if (!strcmp(arg, "object-file"))
			idx = 1;
		else if (!strcmp(arg, "section"))
			idx = 2;
		else
			idx = cli_keyword(cli, arg, words, kw);
		if (idx < 0)
			return EXIT_USAGE;
		if (idx == 0) {
			a->da = true;
			continue;
		}
		if (++i >= argc)
			return cli_err(cli, EXIT_USAGE, "%s: %s: missing %s", what, words[idx],
				       idx == 1 ? "file name" : "section name");
		if (idx == 1)
			a->obj = argv[i];
		else
			a->sec = argv[i];
	}
	return 0;
}

static int filter_args(struct cli *cli, const char *what, int argc, char **argv,
		       struct filter_args *a)
{
	static const char *const words[] = {
		"dev", "ingress", "egress", "pref", "handle", "protocol", "bpf", NULL
	};
	unsigned long long v;
	char kw[64], vw[64];

	memset(a, 0, sizeof(*a));
	a->dir = -1;
	snprintf(kw, sizeof(kw), "%s: argument", what);
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		int idx;

		if (is_help(arg)) {
			a->help = true;
			return 0;
		}
		if (!strcmp(arg, "prio") || !strcmp(arg, "priority") || !strcmp(arg, "preference"))
			idx = 3;
		else
			idx = cli_keyword(cli, arg, words, kw);
		if (idx < 0)
			return EXIT_USAGE;
		switch (idx) {
		case 1:
		case 2:
			if (a->dir >= 0)
				return cli_err(cli, EXIT_USAGE, "%s: ingress or egress given twice",
					       what);
			a->dir = idx == 2;
			continue;
		case 6:
			a->bpf = true;
			return filter_bpf_args(cli, what, argc - i - 1, argv + i + 1, a);
		}
		/* keywords with a value */
		if (++i >= argc)
			return cli_err(cli, EXIT_USAGE, "%s: %s: missing %s", what, words[idx],
				       idx == 0 ? "interface name" : "value");
		snprintf(vw, sizeof(vw), "%s: %s", what, words[idx]);
		switch (idx) {
		case 0:
			a->dev = argv[i];
			break;
		case 3:
			if (cli_parse_uint(cli, vw, argv[i], 1, 0xffff, &v))
				return EXIT_USAGE;
			a->has_pref = true;
			a->pref = v;
			break;
		case 4:
			if (cli_parse_uint(cli, vw, argv[i], 1, 0xffffffffULL, &v))
				return EXIT_USAGE;
			a->has_handle = true;
			a->handle = v;
			break;
		case 5:
			if (proto_parse(cli, what, argv[i], &a->proto))
				return EXIT_USAGE;
			a->has_proto = true;
			break;
		}
	}
	return 0;
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

/* Open FILE and load the program of section sec (default: the first one). */
static int load_prog(struct cli *cli, const char *what, const char *file, const char *sec,
		     struct bpf_object **objp, struct bpf_program **progp)
{
	struct bpf_object *obj;
	struct bpf_program *prog = NULL, *p;
	enum bpf_prog_type type;
	char msg[256];
	int err;

	obj = bpf_object__open_file(file, NULL);
	if (!obj) {
		err = -errno;
		libbpf_strerror(err, msg, sizeof(msg));
		return cli_err(cli, EXIT_FAIL, "%s: obj %s: %s", what, file, msg);
	}
	bpf_object__for_each_program(p, obj) {
		if (!prog && (!sec || !strcmp(bpf_program__section_name(p), sec)))
			prog = p;
		else
			bpf_program__set_autoload(p, false);	/* load only the one we attach */
	}
	if (!prog) {
		bpf_object__close(obj);
		if (sec)
			return cli_err(cli, EXIT_FAIL, "%s: obj %s: no program in section '%s'",
				       what, file, sec);
		return cli_err(cli, EXIT_FAIL, "%s: obj %s: no programs", what, file);
	}
	type = bpf_program__type(prog);
	if (type == BPF_PROG_TYPE_UNSPEC) {
		/* A section libbpf does not know: tc loads it as a classifier. */
		bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);
	} else if (type != BPF_PROG_TYPE_SCHED_CLS && type != BPF_PROG_TYPE_SCHED_ACT) {
		const char *tname = libbpf_bpf_prog_type_str(type);

		err = cli_err(cli, EXIT_FAIL,
			      "%s: obj %s: program '%s' (section %s) has type %s, not a tc classifier",
			      what, file, bpf_program__name(prog), bpf_program__section_name(prog),
			      tname ? tname : "non-tc");
		bpf_object__close(obj);
		return err;
	}
	err = bpf_object__load(obj);
	if (err) {
		libbpf_strerror(err, msg, sizeof(msg));
		err = cli_err(cli, EXIT_FAIL, "%s: obj %s: loading program '%s': %s%s", what,
			      file, bpf_program__name(prog), msg,
			      cli->details ? "" : " (-d shows libbpf's log)");
		bpf_object__close(obj);
		return err;
	}
	*objp = obj;
	*progp = prog;
	return 0;
}

static int filter_add_replace(struct cli *cli, int argc, char **argv, bool replace)
{
	const char *what = replace ? "filter replace" : "filter add";
	struct lb_tc_filter f = { .prog_fd = -1 };
	struct filter_args a;
	struct bpf_object *obj = NULL;
	struct bpf_program *prog = NULL;
	struct lb_nl *nl = NULL;
	const char *base;
	bool created = false;
	char msg[512];
	int rc, err;

	rc = filter_common(cli, what, argc, argv, &a);
	if (rc || a.help) {
		if (a.help)
			usage(stdout);
		return rc;
	}
	if (!a.bpf || !a.obj)
		return cli_err(cli, EXIT_USAGE, "%s: missing 'bpf obj FILE'", what);
	rc = resolve_dev(cli, a.dev, &f.ifindex);
	if (rc)
		return rc;
	rc = load_prog(cli, what, a.obj, a.sec, &obj, &prog);
	if (rc)
		return rc;

	f.egress = a.dir == 1;
	f.pref = a.pref;
	f.handle = a.handle;
	f.protocol = a.has_proto ? a.proto : ETH_P_ALL;
	f.prog_fd = bpf_program__fd(prog);
	f.direct_action = a.da;
	base = strrchr(a.obj, '/');
	base = base ? base + 1 : a.obj;
	snprintf(f.name, sizeof(f.name), "%s:[%s]", base, bpf_program__section_name(prog));

	rc = open_nl(cli, &nl);
	if (rc)
		goto out;
	/* Filters need the clsact qdisc; create it when missing, and only then remove
	 * it again if the filter is refused. */
	err = lb_tc_clsact_add(nl, f.ifindex, true);
	if (!err) {
		created = true;
	} else if (err != -EEXIST) {
		rc = cli_err(cli, EXIT_FAIL, "%s: clsact qdisc: %s", what,
			     nl_strerror(nl, err, msg, sizeof(msg)));
		goto out;
	}
	err = lb_tc_filter_add(nl, &f, replace);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, nl_strerror(nl, err, msg, sizeof(msg)));
		if (created)
			lb_tc_clsact_del(nl, f.ifindex);
	}
out:
	lb_nl_close(nl);
	/* The filter holds its own reference on the program. */
	bpf_object__close(obj);
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
	struct lb_nl *nl;
	unsigned int ifindex;
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
	rc = open_nl(cli, &nl);
	if (rc)
		return rc;
	err = lb_tc_filter_del(nl, ifindex, a.dir == 1, a.pref, a.handle,
			       a.has_proto ? a.proto : 0);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "filter del: %s", nl_strerror(nl, err, msg, sizeof(msg)));
	lb_nl_close(nl);
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
		rc = cli_err(cli, EXIT_FAIL, "filter show: %s", nl_strerror(nl, err, msg, sizeof(msg)));
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
		{ "add",	filter_add },
		{ "replace",	filter_replace },
		{ "del",	filter_del },
		{ "show",	filter_show },
		{ "help",	filter_help },
		{ NULL, NULL },
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
		{ "qdisc",	do_qdisc },
		{ "filter",	do_filter },
		{ "help",	do_help },
		{ NULL, NULL },
	};
	struct cli cli = { .prog = "ntc", .usage = usage };

	return cli_main(&cli, argc, argv, cmds);
}
