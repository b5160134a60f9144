// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl metrics: the counters, state and table use of stats, info and service show,
 * in the Prometheus text exposition format (version 0.0.4), which node_exporter's
 * textfile collector reads.  Everything is read first, through the same liblb calls
 * those commands make, then printed: a failure prints (and writes) nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include "cli.h"
#include "lbctl.h"

/* One moment of the pin root. */
struct metrics {
	struct lb_if_counters *ifs;
	size_t n_ifs;
	struct lb_counter drops[LB_DROP_MAX];
	struct lb_service_info *svcs;
	size_t n_svcs;
	struct table_use tables[LBCTL_TABLE_MAX];
	uint64_t memlock;		/* all maps */
	bool has_gc;
	struct lb_gc gc;
	int64_t mono_to_real_ns;	/* add to bpf_ktime_get_ns() for the wall clock */
};

static void metrics_free(struct metrics *m)
{
	free(m->ifs);
	lb_service_info_free(m->svcs, m->n_svcs);
	free(m->svcs);
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int metrics_read(struct lb_ctx *ctx, struct metrics *m)
{
	struct lb_map_desc *maps = NULL;
	size_t n = 0;
	int err;

	err = lb_if_counters(ctx, &m->ifs, &m->n_ifs);
	if (!err)
		err = lb_drops(ctx, m->drops);
	if (!err)
		err = lb_service_list(ctx, &m->svcs, &m->n_svcs);
	if (!err)
		err = lb_maps(ctx, &maps, &n);
	if (err)
		return err;
	table_use(maps, n, m->svcs, m->n_svcs, m->tables);
	for (size_t i = 0; i < n; i++)
		m->memlock += maps[i].memlock;
	free(maps);
	m->has_gc = gc_read(ctx, &m->gc) == 0;
	m->mono_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	return 0;
}

/* ------------------------------------------------------------------ printing */

/* A sample's labels, {name="value",...}, values escaped as the format wants
 * (backslash, double quote, line feed); what does not fit is cut. */
struct labels {
	char s[512];
	size_t len;
};

static void label(struct labels *l, const char *name, const char *value)
{
	size_t room = sizeof(l->s) - 2;	/* for "}" and the NUL */

	if (l->len + strlen(name) + 4 >= room)
		return;
	l->len += sprintf(l->s + l->len, "%s%s=\"", l->len ? "," : "{", name);
	for (const char *p = value; *p && l->len + 3 < room; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n')
			l->s[l->len++] = '\\';
		l->s[l->len++] = *p == '\n' ? 'n' : *p;
	}
	l->s[l->len++] = '"';
	l->s[l->len] = '\0';
}

static const char *labels_end(struct labels *l)
{
	if (l->len && l->s[l->len - 1] != '}')
		strcpy(l->s + l->len++, "}");
	return l->s;
}

static void label_uint(struct labels *l, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	label(l, name, buf);
}

/* HELP and TYPE: every sample of a metric follows them, in one group. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u(FILE *f, const char *name, struct labels *l, uint64_t v)
{
	fprintf(f, "%s%s %" PRIu64 "\n", name, l ? labels_end(l) : "", v);
}

static void sample_i(FILE *f, const char *name, struct labels *l, int64_t v)
{
	fprintf(f, "%s%s %" PRId64 "\n", name, l ? labels_end(l) : "", v);
}

/* Nanoseconds as seconds, exactly. */
static void sample_secs(FILE *f, const char *name, uint64_t ns)
{
	fprintf(f, "%s %" PRIu64 ".%09" PRIu64 "\n", name, ns / 1000000000, ns % 1000000000);
}

/* ------------------------------------------------------------------ the metrics */

static void print_interfaces(FILE *f, const struct metrics *m)
{
	static const struct { const char *name, *help; size_t off; } fams[] = {
		{ "lbkit_interface_packets_total",
		  "Packets the datapath saw on an interface's hook, by class (rx: all; then ipv4, ipv6, nonip; then tcp, udp, icmp, icmpv6, frag, l4-other, malformed).",
		  offsetof(struct lb_counter, packets) },
		{ "lbkit_interface_bytes_total",
		  "Bytes the datapath saw on an interface's hook, by class as lbkit_interface_packets_total.",
		  offsetof(struct lb_counter, bytes) },
	};

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, "counter", fams[k].help);
		for (size_t i = 0; i < m->n_ifs; i++) {
			const struct lb_if_counters *c = &m->ifs[i];
			char dev[IF_NAMESIZE];

			ifname_of(c->ifindex, dev);
			for (int j = 0; j < LB_CTR_MAX; j++) {
				struct labels l = {};

				label(&l, "dev", dev);
				label(&l, "hook", lb_hook_name(c->hook));
				label(&l, "class", lb_ctr_name(j));
				sample_u(f, fams[k].name, &l,
					 *(const uint64_t *)((const char *)&c->ctr[j] + fams[k].off));
			}
		}
	}
}

static void print_drops(FILE *f, const struct metrics *m)
{
	static const struct { const char *name, *help; size_t off; } fams[] = {
		{ "lbkit_drop_packets_total", "Packets the datapath dropped, by reason.",
		  offsetof(struct lb_counter, packets) },
		{ "lbkit_drop_bytes_total", "Bytes of the packets the datapath dropped, by reason.",
		  offsetof(struct lb_counter, bytes) },
	};

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, "counter", fams[k].help);
		/* The reasons stats drops lists. */
		for (int i = 1; i < LB_DROP_MAX; i++) {
			struct labels l = {};

			if (!strcmp(lb_drop_name(i), "unknown"))
				continue;
			label(&l, "reason", lb_drop_name(i));
			sample_u(f, fams[k].name, &l,
				 *(const uint64_t *)((const char *)&m->drops[i] + fams[k].off));
		}
	}
}

/* vip, port, proto: the service's labels. */
static void service_labels(struct labels *l, const struct lb_service_info *s)
{
	char a[INET6_ADDRSTRLEN];

	label(l, "vip", lb_addr_str(&s->svc.key.vip, s->svc.key.family, a, sizeof(a)));
	label_uint(l, "port", ntohs(s->svc.key.port));
	label(l, "proto", svc_proto_name(s->svc.key.proto));
}

/* The service's labels, then endpoint and endpoint_port. */
static void endpoint_labels(struct labels *l, const struct lb_service_info *s,
			    const struct lb_endpoint_info *e)
{
	char a[INET6_ADDRSTRLEN];

	service_labels(l, s);
	label(l, "endpoint", lb_addr_str(&e->ep.addr, e->ep.family, a, sizeof(a)));
	label_uint(l, "endpoint_port", ntohs(e->ep.port));
}

/* The counters of service show -s, for services and for endpoints. */
static const struct { const char *suffix, *help; size_t off; bool svc_only; } obj_counters[] = {
	{ "packets_total", "Packets of its flows, both directions.",
	  offsetof(struct lb_obj_stats, packets), false },
	{ "bytes_total", "Bytes of its flows, both directions.",
	  offsetof(struct lb_obj_stats, bytes), false },
	{ "flows_total", "Flows created.", offsetof(struct lb_obj_stats, flows), false },
	{ "drops_total", "Packets to it dropped (no endpoint, not allowed, no room...).",
	  offsetof(struct lb_obj_stats, drops), true },
};

static uint64_t obj_counter(const struct lb_obj_stats *st, size_t k)
{
	return *(const uint64_t *)((const char *)st + obj_counters[k].off);
}

static void print_services(FILE *f, const struct metrics *m)
{
	char name[64], help[128];

	for (size_t k = 0; k < sizeof(obj_counters) / sizeof(obj_counters[0]); k++) {
		snprintf(name, sizeof(name), "lbkit_service_%s", obj_counters[k].suffix);
		snprintf(help, sizeof(help), "Service: %s", obj_counters[k].help);
		family(f, name, "counter", help);
		for (size_t i = 0; i < m->n_svcs; i++) {
			struct labels l = {};

			service_labels(&l, &m->svcs[i]);
			sample_u(f, name, &l, obj_counter(&m->svcs[i].stats, k));
		}
	}
	family(f, "lbkit_service_active_flows", "gauge",
	       "Service: flows open (the sum of its endpoints').");
	for (size_t i = 0; i < m->n_svcs; i++) {
		struct labels l = {};

		service_labels(&l, &m->svcs[i]);
		sample_i(f, "lbkit_service_active_flows", &l, service_active(&m->svcs[i]));
	}
	family(f, "lbkit_service_endpoints", "gauge", "Service: endpoints, in any state.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		struct labels l = {};

		service_labels(&l, &m->svcs[i]);
		sample_u(f, "lbkit_service_endpoints", &l, m->svcs[i].n_eps);
	}
	family(f, "lbkit_service_fail_open", "gauge",
	       "Service: 1 while every checked endpoint is down and all serve (fail open).");
	for (size_t i = 0; i < m->n_svcs; i++) {
		struct labels l = {};

		service_labels(&l, &m->svcs[i]);
		sample_u(f, "lbkit_service_fail_open", &l, m->svcs[i].panic);
	}
}

static void print_endpoints(FILE *f, const struct metrics *m)
{
	static const enum lb_ep_status states[] = { LB_EP_UP, LB_EP_DRAIN, LB_EP_DOWN };
	char name[64], help[128];

	for (size_t k = 0; k < sizeof(obj_counters) / sizeof(obj_counters[0]); k++) {
		if (obj_counters[k].svc_only)
			continue;
		snprintf(name, sizeof(name), "lbkit_endpoint_%s", obj_counters[k].suffix);
		snprintf(help, sizeof(help), "Endpoint: %s", obj_counters[k].help);
		family(f, name, "counter", help);
		for (size_t i = 0; i < m->n_svcs; i++) {
			for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
				struct labels l = {};

				endpoint_labels(&l, &m->svcs[i], &m->svcs[i].eps[e]);
				sample_u(f, name, &l, obj_counter(&m->svcs[i].eps[e].stats, k));
			}
		}
	}
	family(f, "lbkit_endpoint_active_flows", "gauge", "Endpoint: flows open.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
			struct labels l = {};

			endpoint_labels(&l, &m->svcs[i], &m->svcs[i].eps[e]);
			sample_i(f, "lbkit_endpoint_active_flows", &l, m->svcs[i].eps[e].active);
		}
	}
	family(f, "lbkit_endpoint_weight", "gauge", "Endpoint: its weight.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
			struct labels l = {};

			endpoint_labels(&l, &m->svcs[i], &m->svcs[i].eps[e]);
			sample_u(f, "lbkit_endpoint_weight", &l, m->svcs[i].eps[e].ep.weight);
		}
	}
	/* Every state, 1 for the endpoint's: a series exists before the state does. */
	family(f, "lbkit_endpoint_state", "gauge",
	       "Endpoint: 1 for its administrative state (up, drain, down), 0 for the others.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
			const struct lb_endpoint_info *ep = &m->svcs[i].eps[e];

			for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
				struct labels l = {};

				endpoint_labels(&l, &m->svcs[i], ep);
				label(&l, "state", lb_ep_status_name(states[s]));
				sample_u(f, "lbkit_endpoint_state", &l, ep->ep.status == states[s]);
			}
		}
	}
	/* Health checks, of checked endpoints: every state, 1 for the endpoint's as
	 * endpoint show tells it (unknown: not decided yet, it serves); and whether
	 * the check keeps it out of the selection. */
	family(f, "lbkit_endpoint_health", "gauge",
	       "Checked endpoint: 1 for its health (unknown, up, down), 0 for the others.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
			const struct lb_endpoint_info *ep = &m->svcs[i].eps[e];
			enum lb_health_state now = ep->sick ? LB_HEALTH_DOWN : ep->health.state;

			for (int h = LB_HEALTH_UNKNOWN; ep->check > LB_CHECK_NONE && h <= LB_HEALTH_DOWN;
			     h++) {
				struct labels l = {};

				endpoint_labels(&l, &m->svcs[i], ep);
				label(&l, "health", lb_health_state_name(h));
				sample_u(f, "lbkit_endpoint_health", &l, now == (enum lb_health_state)h);
			}
		}
	}
	family(f, "lbkit_endpoint_excluded", "gauge",
	       "Endpoint: 1 while its health check keeps it out of the selection.");
	for (size_t i = 0; i < m->n_svcs; i++) {
		for (size_t e = 0; e < m->svcs[i].n_eps; e++) {
			struct labels l = {};

			endpoint_labels(&l, &m->svcs[i], &m->svcs[i].eps[e]);
			sample_u(f, "lbkit_endpoint_excluded", &l, m->svcs[i].eps[e].sick);
		}
	}
}

static void print_tables(FILE *f, const struct metrics *m)
{
	static const struct { const char *name, *help; size_t off; } fams[] = {
		{ "lbkit_table_entries", "Entries in use (endpoints: the slots services hold).",
		  offsetof(struct table_use, entries) },
		{ "lbkit_table_capacity", "Entries the table holds at most.",
		  offsetof(struct table_use, max) },
		{ "lbkit_table_memlock_bytes", "Memory the kernel charges for the table.",
		  offsetof(struct table_use, memlock) },
	};

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, "gauge", fams[k].help);
		for (int t = 0; t < LBCTL_TABLE_MAX; t++) {
			struct labels l = {};

			if (!m->tables[t].found)
				continue;
			label(&l, "table", m->tables[t].label);
			sample_u(f, fams[k].name, &l,
				 *(const uint64_t *)((const char *)&m->tables[t] + fams[k].off));
		}
	}
	family(f, "lbkit_maps_memlock_bytes", "gauge",
	       "Memory the kernel charges for all maps of the pin root.");
	sample_u(f, "lbkit_maps_memlock_bytes", NULL, m->memlock);
}

/* A bpf_ktime_get_ns() stamp as wall-clock nanoseconds, 0 for never. */
static uint64_t wall_ns(const struct metrics *m, uint64_t ktime)
{
	return ktime ? ktime + m->mono_to_real_ns : 0;
}

static void print_sweep(FILE *f, const struct metrics *m)
{
	const struct lb_gc *gc = &m->gc;

	if (!m->has_gc)
		return;
	family(f, "lbkit_conntrack_sweeps_total", "counter", "Conntrack sweeps done.");
	sample_u(f, "lbkit_conntrack_sweeps_total", NULL, gc->runs);
	family(f, "lbkit_conntrack_sweep_removed_total", "counter",
	       "Conntrack entries the sweep removed, their flow over.");
	sample_u(f, "lbkit_conntrack_sweep_removed_total", NULL, gc->expired);
	family(f, "lbkit_conntrack_sweep_early_removed_total", "counter",
	       "Unanswered conntrack entries the sweep removed early, the table having been full.");
	sample_u(f, "lbkit_conntrack_sweep_early_removed_total", NULL, gc->early);
	family(f, "lbkit_conntrack_sweep_seconds_total", "counter", "Time spent sweeping.");
	sample_secs(f, "lbkit_conntrack_sweep_seconds_total", gc->sweep_ns);
	family(f, "lbkit_conntrack_sweep_entries", "gauge", "Conntrack entries the last sweep saw.");
	sample_u(f, "lbkit_conntrack_sweep_entries", NULL, gc->entries);
	family(f, "lbkit_conntrack_sweep_last_timestamp_seconds", "gauge",
	       "When the last sweep ran (0: never).");
	sample_secs(f, "lbkit_conntrack_sweep_last_timestamp_seconds", wall_ns(m, gc->last_ns));
	family(f, "lbkit_conntrack_full_last_timestamp_seconds", "gauge",
	       "When a new flow last found the conntrack table full (0: never).");
	sample_secs(f, "lbkit_conntrack_full_last_timestamp_seconds", wall_ns(m, gc->full_ns));
}

static void metrics_print(FILE *f, const struct metrics *m)
{
	print_interfaces(f, m);
	print_drops(f, m);
	print_services(f, m);
	print_endpoints(f, m);
	print_tables(f, m);
	print_sweep(f, m);
}

/* ------------------------------------------------------------------ commands */

/* Read the pin root into the exposition text (malloc'd), or print the error. */
static int metrics_text(struct cli *cli, const char *what, char **buf, size_t *len)
{
	struct metrics m = {};
	struct lb_ctx *ctx;
	FILE *f;
	int rc, err;

	if (cli->json)
		return cli_err(cli, EXIT_USAGE,
			       "%s: no JSON form (the same numbers: -j stats, -j info, -j -s service show)",
			       what);
	/* No writer lock: a scrape never waits for, nor holds up, a change. */
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = metrics_read(ctx, &m);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, cli_strerror(ctx, err));
		goto out;
	}
	f = open_memstream(buf, len);
	if (!f) {
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, strerror(errno));
		goto out;
	}
	metrics_print(f, &m);
	if (fclose(f)) {
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what, strerror(errno));
		free(*buf);
		*buf = NULL;
	}
out:
	metrics_free(&m);
	lb_close(ctx);
	return rc;
}

static int metrics_show(struct cli *cli, int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (argc > 1)
		return cli_err(cli, EXIT_USAGE, "metrics show: unexpected '%s'", cli_tok(argv[1]));
	rc = metrics_text(cli, "metrics show", &buf, &len);
	if (!rc && (fwrite(buf, 1, len, stdout) != len || fflush(stdout)))
		rc = cli_err(cli, EXIT_FAIL, "metrics show: %s", strerror(errno));
	free(buf);
	return rc;
}

/* metrics write FILE: mode 0644, for node_exporter, which runs as another user. */
static int metrics_write(struct cli *cli, int argc, char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	int rc, err;

	if (argc < 2 || !*argv[1])
		return cli_err(cli, EXIT_USAGE, "metrics write: missing FILE");
	if (argc > 2)
		return cli_err(cli, EXIT_USAGE, "metrics write: unexpected '%s'", cli_tok(argv[2]));
	rc = metrics_text(cli, "metrics write", &buf, &len);
	if (!rc) {
		err = write_file_atomic(argv[1], buf, len, false, 0644);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "metrics write: %s: %s", cli_tok(argv[1]),
				     strerror(-err));
	}
	free(buf);
	return rc;
}

int do_metrics(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "show", metrics_show, NULL },
		{ "write", metrics_write, NULL },
		{ "help", do_help, NULL },
		{ NULL, NULL, NULL },
	};

	if (argc < 2)
		return metrics_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}
