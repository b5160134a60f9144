// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbctl: rules, state and statistics. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "lbctl.h"

/* lbctl_save.c */
int do_save(struct cli *cli, int argc, char **argv);
int do_restore(struct cli *cli, int argc, char **argv);

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: lbctl [OPTIONS] { service | endpoint | allow | health | conntrack | stats | metrics | monitor | save | restore | trace | info | help }\n"
		"       lbctl service { add | set } VIP port PORT [ proto { tcp | udp } ] [ sched SCHED ]\n"
		"               [ mode { dnat | fullnat } ] [ snat ADDR ] [ persist SECONDS ]\n"
		"               [ allow PREFIX... ] [ maglev-size PRIME ] [ CHECK ]\n"
		"       lbctl service del VIP port PORT [ proto { tcp | udp } ]\n"
		"       lbctl service show [ VIP port PORT [ proto { tcp | udp } ] ]\n"
		"       lbctl service flush\n"
		"       lbctl endpoint { add | set } ADDR [ port PORT ] [ weight N ] [ state { up | drain | down } ]\n"
		"               [ CHECK ] service VIP port PORT [ proto { tcp | udp } ]\n"
		"       lbctl endpoint del ADDR [ port PORT ] service VIP port PORT [ proto { tcp | udp } ]\n"
		"       lbctl endpoint show [ service VIP port PORT [ proto { tcp | udp } ] ]\n"
		"       lbctl allow { add | del } PREFIX... service VIP port PORT [ proto { tcp | udp } ]\n"
		"       lbctl allow flush service VIP port PORT [ proto { tcp | udp } ]\n"
		"       lbctl allow show [ service VIP port PORT [ proto { tcp | udp } ] ]\n"
		"       lbctl health check [ service VIP port PORT [ proto { tcp | udp } ] ]... [ now ] [ -w SECONDS ]\n"
		"       lbctl health show [ service VIP port PORT [ proto { tcp | udp } ] ]...\n"
		"       lbctl conntrack { show | count | flush | delete } [ service VIP port PORT ]\n"
		"               [ endpoint ADDR ] [ address ADDR ]\n"
		"       lbctl conntrack gc\n"
		"       lbctl conntrack timeout [ show | set NAME SECONDS... ]\n"
		"       lbctl stats [ show ] [ dev IFNAME ] [ -w SECONDS [ count N ] ]\n"
		"       lbctl stats drops\n"
		"       lbctl stats reset [ dev IFNAME ]\n"
		"       lbctl metrics [ show | write FILE ]\n"
		"       lbctl monitor [ drops | flows | all ] [ count N ] [ -w FILE ]\n"
		"       lbctl save [ -z ] [ file FILE ]\n"
		"       lbctl restore [ -z ] [ file FILE | - ]\n"
		"       lbctl trace [ dev IFNAME ] [ hook { tc-ingress | xdp } ] { tcp | udp | icmp }\n"
		"               SRC[:PORT] { > | to } DST[:PORT] [ syn | ack | fin | rst ]...\n"
		"       lbctl info\n"
		"SCHED := { rr | wrr | random | hash | maglev | lc }\n"
		"CHECK := [ check { none | inherit | tcp | http PATH [ expect CODE ] [ host NAME ] |\n"
		"               udp PAYLOAD [ expect BYTES ] } ] [ interval SECONDS ] [ timeout SECONDS ]\n"
		"               [ rise N ] [ fall N ]\n"
		"NAME := { tcp-syn | tcp-est | tcp-fin | udp | icmp | other }\n"
		"OPTIONS := { -j | -p | -s | -d | -P DIR | -b FILE | -force | -V | -h }\n");
}

/* "stats [show]" arguments: [dev IFNAME] [-w SECONDS [count N]], in any order. */
struct stats_args {
	const char *ifname;
	unsigned int ifindex;		/* 0: every interface */
	double watch;			/* seconds between blocks, 0: print once */
	unsigned long long count;	/* blocks to print, 0: until interrupted */
};

static int stats_dev(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct stats_args *a = obj;

	a->ifname = val;
	a->ifindex = if_nametoindex(val);
	if (!a->ifindex)
		return cli_err(cli, EXIT_FAIL, "dev %s: no such device", cli_tok(val));
	return EXIT_OK;
}

static int stats_count(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return cli_parse_uint(cli, "count", val, 1, 1000000000, &((struct stats_args *)obj)->count) ?
	       EXIT_USAGE : EXIT_OK;
}

int watch_secs(struct cli *cli, const char *val, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(val, &end);
	if (errno || end == val || *end || !(*out >= 0.1 && *out <= 86400))
		return cli_err(cli, EXIT_USAGE, "-w '%s': expected seconds from 0.1 to 86400",
			       cli_tok(val));
	return EXIT_OK;
}

static int stats_watch_secs(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return watch_secs(cli, val, &((struct stats_args *)obj)->watch);
}

enum { GROUP_WATCH = 1 };

#define STATS_DEV { "dev", CLI_VALUE, 0, 0, "interface name", .parse = stats_dev }

static const struct cli_kw stats_kws[] = {
	STATS_DEV,
	{ "count", CLI_VALUE, 0, 0, "number", .parse = stats_count },
	{ "-w", CLI_VALUE, 0, GROUP_WATCH, "seconds", .parse = stats_watch_secs },
	{ "--watch", CLI_VALUE, 0, GROUP_WATCH, "seconds", .parse = stats_watch_secs },
	{ NULL },
};
static const struct cli_kw stats_reset_kws[] = { STATS_DEV, { NULL } };

static int parse_stats_args(struct cli *cli, int argc, char **argv, struct stats_args *a)
{
	char *words[2 * argc + 1];
	int n = 0, rc;

	memset(a, 0, sizeof(*a));
	/* -wSECONDS and --watch=SECONDS: two words as the table has them */
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "-w", 2) && argv[i][2] && argv[i][1] != '-') {
			words[n++] = "-w";
			words[n++] = argv[i] + 2;
		} else if (!strncmp(argv[i], "--watch=", 8)) {
			words[n++] = "--watch";
			words[n++] = argv[i] + 8;
		} else {
			words[n++] = argv[i];
		}
	}
	rc = cli_parse_kw(cli, stats_kws, NULL, NULL, n, words, a, NULL);
	if (rc)
		return rc;
	if (a->count && !a->watch)
		return cli_err(cli, EXIT_USAGE, "count: only with -w SECONDS");
	return EXIT_OK;
}

const char *ifname_of(unsigned int ifindex, char name[IF_NAMESIZE])
{
	if (!if_indextoname(ifindex, name))
		snprintf(name, IF_NAMESIZE, "if%u", ifindex);
	return name;
}

static void print_counters(const struct cli *cli, const struct lb_if_counters *c)
{
	char name[IF_NAMESIZE];

	ifname_of(c->ifindex, name);
	open_json_object(NULL);
	print_string(PRINT_JSON, "ifname", NULL, name);
	print_uint(PRINT_JSON, "ifindex", NULL, c->ifindex);
	print_string(PRINT_JSON, "hook", NULL, lb_hook_name(c->hook));
	open_json_object("counters");
	for (int i = 0; i < LB_CTR_MAX; i++) {
		if (!is_json_context() && !c->ctr[i].packets && !cli->details && i != LB_CTR_RX)
			continue;
		print_text("%-15s %-11s ", name, lb_hook_name(c->hook));
		open_json_object(lb_ctr_name(i));
		print_string(PRINT_FP, NULL, "%-10s", lb_ctr_name(i));
		print_uint(PRINT_ANY, "packets", " %14" PRIu64, c->ctr[i].packets);
		print_uint(PRINT_ANY, "bytes", " %16" PRIu64, c->ctr[i].bytes);
		close_json_object();
		print_nl();
	}
	close_json_object();
	close_json_object();
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };

	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* The counters of (ifindex, hook) in a sample, NULL when it has none. */
static const struct lb_if_counters *find_counters(const struct lb_if_counters *v, size_t n,
						  unsigned int ifindex, enum lb_hook hook)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ifindex == ifindex && v[i].hook == hook)
			return &v[i];
	return NULL;
}

/* Growth of a counter over an interval; a counter reset meanwhile counts from 0. */
static uint64_t ctr_delta(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

/* One block of -w: rates over dt seconds between two samples. */
static void print_rates(const struct cli *cli, const struct stats_args *a,
			const struct lb_if_counters *cur, size_t ncur,
			const struct lb_if_counters *prev, size_t nprev, double dt)
{
	print_text("%-15s %-11s %-10s %12s %14s %14s %16s\n", "DEV", "HOOK", "COUNTER", "PACKETS/S",
		   "BYTES/S", "PACKETS", "BYTES");
	print_uint(PRINT_JSON, "time", NULL, (uint64_t)time(NULL));
	print_uint(PRINT_JSON, "interval_ms", NULL, (uint64_t)(dt * 1000 + 0.5));
	open_json_array(PRINT_JSON, "interfaces");
	for (size_t i = 0; i < ncur; i++) {
		const struct lb_if_counters *c = &cur[i];
		const struct lb_if_counters *p = find_counters(prev, nprev, c->ifindex, c->hook);
		char name[IF_NAMESIZE];

		if (a->ifindex && c->ifindex != a->ifindex)
			continue;
		ifname_of(c->ifindex, name);
		open_json_object(NULL);
		print_string(PRINT_JSON, "ifname", NULL, name);
		print_uint(PRINT_JSON, "ifindex", NULL, c->ifindex);
		print_string(PRINT_JSON, "hook", NULL, lb_hook_name(c->hook));
		open_json_object("counters");
		for (int k = 0; k < LB_CTR_MAX; k++) {
			uint64_t dp = ctr_delta(c->ctr[k].packets, p ? p->ctr[k].packets : 0);
			uint64_t db = ctr_delta(c->ctr[k].bytes, p ? p->ctr[k].bytes : 0);

			if (!is_json_context() && !c->ctr[k].packets && !cli->details && k != LB_CTR_RX)
				continue;
			print_text("%-15s %-11s ", name, lb_hook_name(c->hook));
			open_json_object(lb_ctr_name(k));
			print_string(PRINT_FP, NULL, "%-10s", lb_ctr_name(k));
			print_uint(PRINT_ANY, "packets_per_sec", " %12" PRIu64,
				   (uint64_t)(dp / dt + 0.5));
			print_uint(PRINT_ANY, "bytes_per_sec", " %14" PRIu64, (uint64_t)(db / dt + 0.5));
			print_uint(PRINT_ANY, "packets", " %14" PRIu64, c->ctr[k].packets);
			print_uint(PRINT_ANY, "bytes", " %16" PRIu64, c->ctr[k].bytes);
			close_json_object();
			print_nl();
		}
		close_json_object();
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
}

/*
 * stats -w: every SECONDS one block of rates.  On a terminal (text) the screen is
 * cleared and the table redrawn; otherwise blocks follow each other, separated by
 * an empty line, or with -j one JSON object per line.
 */
static int stats_watch(struct cli *cli, struct lb_ctx *ctx, const struct stats_args *a)
{
	struct lb_if_counters *prev = NULL, *cur = NULL;
	size_t nprev = 0, ncur = 0;
	bool tty = !cli->json && isatty(STDOUT_FILENO);
	double start, tprev, t;
	int err, rc = EXIT_OK;

	err = lb_if_counters(ctx, &prev, &nprev);
	if (err)
		return cli_err(cli, EXIT_FAIL, "stats: %s", cli_strerror(ctx, err));
	start = tprev = mono_now();
	for (unsigned long long n = 0; !a->count || n < a->count; n++) {
		sleep_until(start + (n + 1) * a->watch);
		err = lb_if_counters(ctx, &cur, &ncur);
		t = mono_now();
		if (err) {
			rc = cli_err(cli, EXIT_FAIL, "stats: %s", cli_strerror(ctx, err));
			break;
		}
		if (tty) {
			char clock[32];
			time_t now = time(NULL);

			strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
			print_text("\033[H\033[2J");
			print_text("every %gs, %s (Ctrl-C to stop)\n", a->watch, clock);
		} else if (n > 0) {
			/* One document per block: a JSON object per line. */
			if (is_json_context()) {
				delete_json_obj();
				new_json_obj(cli->json, cli->pretty, stdout);
			} else {
				print_text("\n");
			}
		}
		open_json_object(NULL);
		print_rates(cli, a, cur, ncur, prev, nprev, t - tprev > 0 ? t - tprev : a->watch);
		close_json_object();
		fflush(stdout);
		free(prev);
		prev = cur;
		nprev = ncur;
		cur = NULL;
		tprev = t;
	}
	free(prev);
	free(cur);
	return rc;
}

static int stats_show(struct cli *cli, int argc, char **argv)
{
	struct lb_if_counters *v = NULL;
	struct stats_args a;
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc, err;

	rc = parse_stats_args(cli, argc - 1, argv + 1, &a);
	if (rc)
		return rc;
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	if (a.watch) {
		rc = stats_watch(cli, ctx, &a);
		goto out;
	}
	err = lb_if_counters(ctx, &v, &n);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "stats: %s", cli_strerror(ctx, err));
		goto out;
	}
	print_text("%-15s %-11s %-10s %14s %16s\n", "DEV", "HOOK", "COUNTER", "PACKETS", "BYTES");
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++)
		if (!a.ifindex || v[i].ifindex == a.ifindex)
			print_counters(cli, &v[i]);
	close_json_array(PRINT_JSON, NULL);
out:
	free(v);
	lb_close(ctx);
	return rc;
}

static int stats_reset(struct cli *cli, int argc, char **argv)
{
	struct stats_args a = {};
	struct lb_ctx *ctx;
	int rc, err;

	rc = cli_parse_kw(cli, stats_reset_kws, NULL, NULL, argc - 1, argv + 1, &a, NULL);
	if (rc)
		return rc;
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (!rc) {
		err = lb_if_counters_reset(ctx, a.ifindex);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "stats reset: %s", cli_strerror(ctx, err));
	}
	lb_close(ctx);
	return rc;
}

/* The tables info shows, by enum lbctl_table. */
static const struct { const char *label, *map; } tables[LBCTL_TABLE_MAX] = {
	[LBCTL_TABLE_SERVICES] = { "services", LB_MAP_SERVICES },
	[LBCTL_TABLE_ENDPOINTS] = { "endpoints", LB_MAP_ENDPOINTS },
	[LBCTL_TABLE_CT] = { "conntrack", LB_MAP_CT },
	[LBCTL_TABLE_AFFINITY] = { "affinity", LB_MAP_AFFINITY },
	[LBCTL_TABLE_ALLOW] = { "allow", LB_MAP_ALLOW },
	[LBCTL_TABLE_HEALTH] = { "health", LB_MAP_HEALTH },
	[LBCTL_TABLE_SEL] = { "selection", LB_MAP_SEL },
};

void table_use(const struct lb_map_desc *maps, size_t n, const struct lb_service_info *svcs,
	       size_t nsvc, struct table_use out[LBCTL_TABLE_MAX])
{
	uint64_t used_eps = 0, used_sel = 0;

	/* lb_endpoints and lb_sel are arrays: count the slots services use. */
	for (size_t i = 0; i < nsvc; i++) {
		used_eps += svcs[i].n_eps;
		used_sel += lb_sel_room(svcs[i].svc.sched, svcs[i].sel_len);
	}
	for (int t = 0; t < LBCTL_TABLE_MAX; t++) {
		out[t] = (struct table_use){ .label = tables[t].label };
		for (size_t i = 0; i < n; i++) {
			if (strcmp(maps[i].name, tables[t].map))
				continue;
			out[t].found = true;
			out[t].entries = t == LBCTL_TABLE_ENDPOINTS ? used_eps :
					 t == LBCTL_TABLE_SEL ? used_sel : maps[i].entries;
			out[t].max = maps[i].max_entries;
			out[t].memlock = maps[i].memlock;
		}
	}
}

int gc_read(struct lb_ctx *ctx, struct lb_gc *gc)
{
	uint32_t zero = 0;
	int fd, err = 0;

	fd = lb_map_fd(ctx, LB_MAP_GC);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, gc))
		err = -errno;
	close(fd);
	return err;
}

/* lbctl info: the pin root at a glance: layout, table use and memory, the sweep. */
static int do_info(struct cli *cli, int argc, char **argv)
{
	struct lb_map_desc *maps = NULL;
	struct lb_service_info *svcs = NULL;
	struct table_use use[LBCTL_TABLE_MAX];
	size_t nsvc = 0;
	struct lb_gc gc = {};
	uint64_t memlock = 0;
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc, err;

	if (argc > 1) {
		if (cli_matches(argv[1], "help")) {
			usage(stdout);
			return EXIT_OK;
		}
		return cli_err(cli, EXIT_USAGE, "info: unexpected '%s'", cli_tok(argv[1]));
	}
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_maps(ctx, &maps, &n);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "info: %s", cli_strerror(ctx, err));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		memlock += maps[i].memlock;
	if (lb_service_list(ctx, &svcs, &nsvc))
		nsvc = 0;
	table_use(maps, n, svcs, nsvc, use);
	open_json_object(NULL);
	print_string(PRINT_ANY, "pin_root", "pin root %s", lb_pin_root(ctx));
	print_uint(PRINT_ANY, "abi", " abi %" PRIu64, lb_found_abi_version(ctx));
	print_bool(PRINT_JSON, "loaded", NULL, lb_datapath_loaded(ctx));
	print_nl();
	open_json_object("tables");
	for (int t = 0; t < LBCTL_TABLE_MAX; t++) {
		if (!use[t].found)
			continue;
		open_json_object(use[t].label);
		print_string(PRINT_FP, NULL, "%-10s", use[t].label);
		print_uint(PRINT_ANY, "entries", " %8" PRIu64, use[t].entries);
		print_uint(PRINT_ANY, "max", " / %-8" PRIu64, use[t].max);
		print_uint(PRINT_ANY, "memlock", " %10" PRIu64 " bytes", use[t].memlock);
		close_json_object();
		print_nl();
	}
	close_json_object();
	print_uint(PRINT_ANY, "memlock", "memory %" PRIu64 " bytes in all maps\n", memlock);
	if (gc_read(ctx, &gc) == 0) {
		open_json_object("gc");
		print_uint(PRINT_ANY, "runs", "conntrack sweep runs %" PRIu64, gc.runs);
		print_uint(PRINT_ANY, "expired", " expired %" PRIu64, gc.expired);
		print_uint(PRINT_ANY, "entries", " entries %" PRIu64, gc.entries);
		print_uint(PRINT_ANY, "early", " early %" PRIu64, gc.early);
		print_uint(PRINT_ANY, "sweep_ns", " sweep-time %" PRIu64 "ns", gc.sweep_ns);
		close_json_object();
		print_nl();
	}
	close_json_object();
out:
	free(maps);
	lb_service_info_free(svcs, nsvc);
	free(svcs);
	lb_close(ctx);
	return rc;
}

int do_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return EXIT_OK;
}

static int stats_drops(struct cli *cli, int argc, char **argv)
{
	struct lb_counter d[LB_DROP_MAX];
	struct lb_ctx *ctx;
	int rc, err;

	if (argc > 1)
		return cli_err(cli, EXIT_USAGE, "stats drops: unexpected '%s'", cli_tok(argv[1]));
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_drops(ctx, d);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "stats drops: %s", cli_strerror(ctx, err));
		goto out;
	}
	print_text("%-18s %14s %16s\n", "REASON", "PACKETS", "BYTES");
	open_json_object(NULL);
	for (int i = 1; i < LB_DROP_MAX; i++) {
		if (!strcmp(lb_drop_name(i), "unknown"))
			continue;
		if (!is_json_context() && !d[i].packets && !cli->details)
			continue;
		open_json_object(lb_drop_name(i));
		print_string(PRINT_FP, NULL, "%-18s", lb_drop_name(i));
		print_uint(PRINT_ANY, "packets", " %14" PRIu64, d[i].packets);
		print_uint(PRINT_ANY, "bytes", " %16" PRIu64, d[i].bytes);
		close_json_object();
		print_nl();
	}
	close_json_object();
out:
	lb_close(ctx);
	return rc;
}

static int do_stats(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "show", stats_show, NULL },
		{ "drops", stats_drops, NULL },
		{ "reset", stats_reset, NULL },
		{ "help", do_help, NULL },
		{ NULL, NULL, NULL },
	};

	/* "lbctl stats", "lbctl stats dev X" and "lbctl stats -w N" mean show. */
	if (argc < 2 || (strlen(argv[1]) >= 2 && cli_matches(argv[1], "dev")) ||
	    argv[1][0] == '-' || (strlen(argv[1]) >= 2 && cli_matches(argv[1], "count")))
		return stats_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

int do_monitor(struct cli *cli, int argc, char **argv);	/* lbctl_mon.c */
int do_health(struct cli *cli, int argc, char **argv);	/* lbctl_health.c */
int do_trace(struct cli *cli, int argc, char **argv);	/* lbctl_trace.c */

int main(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "service", do_service, NULL },
		{ "endpoint", do_endpoint, NULL },
		{ "allow", do_allow, NULL },
		{ "health", do_health, NULL },		/* lbctl_health.c */
		{ "conntrack", do_conntrack, NULL },
		{ "stats", do_stats, NULL },
		{ "metrics", do_metrics, NULL },	/* lbctl_metrics.c */
		{ "monitor", do_monitor, NULL },	/* lbctl_mon.c */
		{ "save", do_save, NULL },
		{ "restore", do_restore, NULL },
		{ "trace", do_trace, NULL },		/* lbctl_trace.c */
		{ "info", do_info, NULL },
		{ "help", do_help, NULL },
		{ NULL, NULL, NULL },
	};
	struct cli cli = { .prog = "lbctl", .usage = usage, .tx_begin = lbctl_tx_begin,
			   .tx_end = lbctl_tx_end };

	return cli_main(&cli, argc, argv, cmds);
}
