// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl monitor: the datapath's events as lines, JSON objects (one a line) or a
 * pcap file.  liblb (lb/monitor.c) claims the ring and keeps the lease; this file
 * parses, prints and writes.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "cli.h"
#include "lbctl.h"
#include "lbctl.h"

struct mon_args {
	uint32_t mask;
	unsigned long long count;	/* events to show, 0: until stopped */
	const char *pcap;		/* -w FILE, "-": standard output */
};

struct mon_state {
	struct cli *cli;
	struct lb_mon *mon;
	const struct mon_args *a;
	FILE *pcap;
	bool print;			/* lines or JSON on stdout (not with -w -) */
	unsigned long long seen;
	int out_err;			/* errno of a failed write */
	const char *out_what;		/* what failed: "output" or the pcap file */
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static int mon_kind(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct mon_args *a = obj;

	a->mask = !strcmp(val, "drops") ? LB_MON_DROPS :
		  !strcmp(val, "flows") ? LB_MON_FLOWS : LB_MON_DROPS | LB_MON_FLOWS;
	return EXIT_OK;
}

static int mon_count(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return cli_parse_uint(cli, "monitor: count", val, 1, 1000000000, &((struct mon_args *)obj)->count) ?
	       EXIT_USAGE : EXIT_OK;
}

static int mon_write(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	if (!*val)
		return cli_err(cli, EXIT_USAGE, "monitor: -w: missing file name");
	((struct mon_args *)obj)->pcap = val;
	return EXIT_OK;
}

enum { GROUP_KIND = 1, GROUP_WRITE };

static const struct cli_kw mon_kws[] = {
	{ "drops", CLI_FLAG, 0, GROUP_KIND, .parse = mon_kind },
	{ "flows", CLI_FLAG, 0, GROUP_KIND, .parse = mon_kind },
	{ "all", CLI_FLAG, 0, GROUP_KIND, .parse = mon_kind },
	{ "count", CLI_VALUE, 0, 0, "number", .parse = mon_count },
	{ "write", CLI_VALUE, 0, GROUP_WRITE, "file name", .parse = mon_write },
	{ "-w", CLI_VALUE, CLI_KW_EXACT, GROUP_WRITE, "file name", .parse = mon_write },
	{ NULL },
};

/* monitor [drops|flows|all] [count N] [-w FILE | write FILE], in any order. */
static int parse_mon_args(struct cli *cli, int argc, char **argv, struct mon_args *a)
{
	char *words[2 * argc + 1];
	int n = 0, rc;

	memset(a, 0, sizeof(*a));
	/* -wFILE: two words as the table has them */
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "-w", 2) && argv[i][2]) {
			words[n++] = "-w";
			words[n++] = argv[i] + 2;
		} else {
			words[n++] = argv[i];
		}
	}
	rc = cli_parse_kw(cli, mon_kws, "monitor", NULL, n, words, a, NULL);
	if (rc)
		return rc;
	if (!a->mask)
		a->mask = LB_MON_DROPS | LB_MON_FLOWS;
	if (a->pcap && !strcmp(a->pcap, "-") && cli->json)
		return cli_err(cli, EXIT_USAGE,
			       "monitor: -w - writes the capture to standard output: no -j with it");
	return EXIT_OK;
}

/* ---------------------------------------------------------------- pcap */

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

static FILE *pcap_open(const char *path)
{
	struct pcap_file_hdr h = {
		.magic = 0xa1b2c3d4, .major = 2, .minor = 4,
		.snaplen = LB_EVENT_CAP, .linktype = 1,		/* LINKTYPE_ETHERNET */
	};
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;

	if (!f)
		return NULL;
	if (fwrite(&h, sizeof(h), 1, f) != 1 || fflush(f)) {
		int e = errno;

		if (f != stdout)
			fclose(f);
		errno = e ? e : EIO;
		return NULL;
	}
	return f;
}

/* One packet, flushed: a reader (tcpdump -r) sees every packet written so far. */
static int pcap_write(FILE *f, uint64_t realtime_ns, const struct lb_event *ev)
{
	struct pcap_rec_hdr r = {
		.ts_sec = (uint32_t)(realtime_ns / 1000000000ull),
		.ts_usec = (uint32_t)(realtime_ns % 1000000000ull / 1000),
		.incl_len = ev->cap_len,
		.orig_len = ev->pkt_len > ev->cap_len ? ev->pkt_len : ev->cap_len,
	};

	if (fwrite(&r, sizeof(r), 1, f) != 1 ||
	    fwrite(ev->data, 1, ev->cap_len, f) != ev->cap_len || fflush(f))
		return errno ? errno : EIO;
	return 0;
}

/* ---------------------------------------------------------------- printing */

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_TCP:	return "tcp";
	case IPPROTO_UDP:	return "udp";
	case IPPROTO_ICMP:	return "icmp";
	case IPPROTO_ICMPV6:	return "icmpv6";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

/* "src:sport > dst:dport" (text) or {"src","sport","dst","dport"} (JSON). */
static void print_pair(const char *key, const char *sep, const struct lb_addr *s, __be16 sp,
		       const struct lb_addr *d, __be16 dp, uint8_t family, uint8_t proto)
{
	char a[INET6_ADDRSTRLEN], fmt[16];
	bool v6 = family == LB_AF_INET6, ports = has_ports(proto);

	open_json_object(key);
	snprintf(fmt, sizeof(fmt), v6 && ports ? " [%%s]" : " %%s");
	print_string(PRINT_ANY, "src", fmt, lb_addr_str(s, family, a, sizeof(a)));
	if (ports)
		print_uint(PRINT_ANY, "sport", ":%" PRIu64, ntohs(sp));
	snprintf(fmt, sizeof(fmt), v6 && ports ? " %s [%%s]" : " %s %%s", sep);
	print_string(PRINT_ANY, "dst", fmt, lb_addr_str(d, family, a, sizeof(a)));
	if (ports)
		print_uint(PRINT_ANY, "dport", ":%" PRIu64, ntohs(dp));
	close_json_object();
}

/* " via EP:PORT [from SRC:PORT]": where a flow goes, and from where in full NAT. */
static void print_nat(const struct lb_event *ev)
{
	char a[INET6_ADDRSTRLEN];
	bool v6 = ev->family == LB_AF_INET6;
	bool snat = memcmp(&ev->nat_src, &ev->src, sizeof(ev->src)) || ev->nat_sport != ev->sport;

	open_json_object("nat");
	print_string(PRINT_JSON, "src", NULL, lb_addr_str(&ev->nat_src, ev->family, a, sizeof(a)));
	print_uint(PRINT_JSON, "sport", NULL, ntohs(ev->nat_sport));
	print_string(PRINT_ANY, "dst", v6 ? " via [%s]" : " via %s",
		     lb_addr_str(&ev->nat_dst, ev->family, a, sizeof(a)));
	print_uint(PRINT_ANY, "dport", ":%" PRIu64, ntohs(ev->nat_dport));
	if (snat) {
		print_text(v6 ? " from [%s]" : " from %s",
			   lb_addr_str(&ev->nat_src, ev->family, a, sizeof(a)));
		print_text(":%u", ntohs(ev->nat_sport));
	}
	close_json_object();
}

static void print_dev(const struct lb_event *ev)
{
	char name[IF_NAMESIZE];

	print_string(PRINT_ANY, "hook", " %s", lb_hook_name(ev->hook));
	print_string(PRINT_ANY, "ifname", " dev %s", ifname_of(ev->ifindex, name));
	print_uint(PRINT_JSON, "ifindex", NULL, ev->ifindex);
}

static void print_event(struct mon_state *st, struct lb_event *ev)
{
	char pbuf[8];
	bool tuple = lb_event_tuple(ev) == 0;

	open_json_object(NULL);
	print_uint(PRINT_JSON, "time_ns", NULL, lb_mon_realtime(st->mon, ev->ts_ns));
	print_string(PRINT_JSON, "event", NULL, lb_event_type_name(ev->type));
	switch (ev->type) {
	case LB_EV_DROP:
		print_string(PRINT_ANY, "reason", "drop %s", lb_drop_name(ev->reason));
		print_dev(ev);
		break;
	case LB_EV_FLOW_NEW:
		print_text("flow new");
		print_dev(ev);
		break;
	default:
		print_text("flow end");
		break;
	}
	if (tuple) {
		print_string(PRINT_ANY, "proto", " %s", proto_name(ev->proto, pbuf, sizeof(pbuf)));
		print_pair("orig", ">", &ev->src, ev->sport, &ev->dst, ev->dport, ev->family,
			   ev->proto);
	}
	if (ev->type != LB_EV_DROP && tuple)
		print_nat(ev);
	if (ev->svc_id)
		print_uint(PRINT_ANY, "service_id", " service %" PRIu64, ev->svc_id);
	if (ev->type != LB_EV_DROP)
		print_uint(PRINT_ANY, "endpoint_id", " endpoint %" PRIu64, ev->ep_id);
	if (ev->type == LB_EV_FLOW_END) {
		uint64_t ms = ev->last_ns > ev->created_ns ?
			      (ev->last_ns - ev->created_ns) / 1000000ull : 0;

		print_string(PRINT_ANY, "state", " state %s", lb_ct_state_name(ev->state));
		print_uint(PRINT_JSON, "duration_ms", NULL, ms);
		print_text(" duration %" PRIu64 ".%03" PRIu64 "s", ms / 1000, ms % 1000);
	} else {
		print_uint(PRINT_ANY, "len", " len %" PRIu64, ev->pkt_len);
		print_uint(PRINT_JSON, "caplen", NULL, ev->cap_len);
	}
	print_nl();
	close_json_object();
}

/* One event: print it, capture it; 1 stops the monitor (count reached, write error). */
static int on_event(const struct lb_event *raw, size_t size, void *cookie)
{
	struct mon_state *st = cookie;
	struct lb_event ev = {};

	memcpy(&ev, raw, size < sizeof(ev) ? size : sizeof(ev));
	if (ev.cap_len > LB_EVENT_CAP || size < sizeof(ev))
		ev.cap_len = size < sizeof(ev) ? 0 : LB_EVENT_CAP;
	if (st->print) {
		print_event(st, &ev);
		if (is_json_context()) {
			/* One JSON document per event, one a line. */
			delete_json_obj();
			new_json_obj(st->cli->json, st->cli->pretty, stdout);
		}
		if (fflush(stdout) || ferror(stdout)) {
			st->out_err = errno ? errno : EIO;
			st->out_what = "output";
			return 1;
		}
	}
	if (st->pcap && ev.cap_len && ev.type != LB_EV_FLOW_END) {
		st->out_err = pcap_write(st->pcap, lb_mon_realtime(st->mon, ev.ts_ns), &ev);
		if (st->out_err) {
			st->out_what = st->a->pcap;
			return 1;
		}
	}
	st->seen++;
	return st->a->count && st->seen >= st->a->count ? 1 : 0;
}

int do_monitor(struct cli *cli, int argc, char **argv)
{
	struct mon_args a;
	struct mon_state st = { .cli = cli };
	struct sigaction sa = { .sa_handler = on_stop }, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	bool handlers = false;
	struct lb_ctx *ctx = NULL;
	int rc, err = 0;

	rc = parse_mon_args(cli, argc - 1, argv + 1, &a);
	if (rc)
		return rc;
	st.a = &a;
	st.print = !a.pcap || strcmp(a.pcap, "-");
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	if (a.pcap) {
		st.pcap = pcap_open(a.pcap);
		if (!st.pcap) {
			rc = cli_err(cli, EXIT_FAIL, "monitor: -w %s: %s", a.pcap, strerror(errno));
			goto out;
		}
	}
	/* Stop cleanly on these (the mask is cleared); a closed pipe ends the output. */
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	handlers = true;
	signal(SIGPIPE, SIG_IGN);
	err = lb_mon_open(ctx, a.mask, on_event, &st, &st.mon);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "monitor: %s", cli_strerror(ctx, err));
		goto out;
	}
	while (!stop_signal) {
		err = lb_mon_poll(st.mon, -1);
		if (err == -EINTR)
			err = 0;	/* a signal: stop_signal says whether to stop */
		else if (err)
			break;
	}
	if (err < 0)
		rc = cli_err(cli, EXIT_FAIL, "monitor: %s", cli_strerror(ctx, err));
	else if (st.out_err && st.out_err != EPIPE)
		rc = cli_err(cli, EXIT_FAIL, "monitor: %s: %s", st.out_what, strerror(st.out_err));
	if (st.mon && lb_mon_lost(st.mon))
		cli_note(cli, "monitor: %" PRIu64 " events lost (the ring was full)",
			 lb_mon_lost(st.mon));
out:
	lb_mon_close(st.mon);
	if (st.pcap && st.pcap != stdout)
		fclose(st.pcap);
	lb_close(ctx);
	/* A batch goes on after a monitor: the signals mean what they did before. */
	for (int i = 0; handlers && i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	stop_signal = 0;
	return rc;
}
