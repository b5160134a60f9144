// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl health: "check" runs one round of health checks (or one every -w SECONDS
 * until SIGTERM or SIGINT); "show" prints the state.  A round probes without the
 * writer lock and takes it only to record the results (lb_health_probe, then
 * lb_health_apply), so a slow endpoint never holds up other writers.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include "cli.h"
#include "lbctl.h"

#define HEALTH_SVCS_MAX	64

struct health_args {
	struct lb_svc_key svcs[HEALTH_SVCS_MAX];
	size_t n;
	bool now;		/* probe every endpoint, due or not */
	double watch;		/* -w: seconds between rounds; 0: one round */
};

static int h_service(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	struct health_args *a = obj;
	int i = 0, rc;

	if (a->n >= HEALTH_SVCS_MAX)
		return cli_err(cli, EXIT_USAGE, "service: at most %d", HEALTH_SVCS_MAX);
	rc = parse_svc_key(cli, argc, argv, &i, &a->svcs[a->n], true);
	if (rc)
		return rc;
	a->n++;
	*used = i;
	return EXIT_OK;
}

static int h_watch(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return watch_secs(cli, val, &((struct health_args *)obj)->watch);
}

static const struct cli_kw health_check_kws[] = {
	{ "service", CLI_WORDS, CLI_KW_REPEAT, 0, "VIP port N", .take = h_service },
	{ "now", CLI_FLAG, 0, 0, NULL, .field = offsetof(struct health_args, now) },
	{ "-w", CLI_VALUE, 0, 0, "seconds", .parse = h_watch },
	{ NULL },
};
static const struct cli_kw health_show_kws[] = {
	{ "service", CLI_WORDS, CLI_KW_REPEAT, 0, "VIP port N", .take = h_service },
	{ NULL },
};

static const char *ep_name(const struct lb_addr *a, uint8_t family, uint16_t port, char *buf,
			   size_t len)
{
	char s[INET6_ADDRSTRLEN];

	lb_addr_str(a, family, s, sizeof(s));
	snprintf(buf, len, family == LB_AF_INET6 ? "[%s]:%u" : "%s:%u", s, ntohs(port));
	return buf;
}

/* -d: what changed, a line each; -s: the round in one line. */
static void print_round(const struct cli *cli, const struct lb_health_result *r, size_t n,
			const struct lb_health_change *ch, size_t nch)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		ok += r[i].ok;
	if (cli->details) {
		for (size_t i = 0; i < nch; i++) {
			char e[INET6_ADDRSTRLEN + 10], v[INET6_ADDRSTRLEN + 10];

			open_json_object(NULL);
			print_string(PRINT_ANY, "service", "%s",
				     ep_name(&ch[i].svc.vip, ch[i].svc.family, ch[i].svc.port, v, sizeof(v)));
			print_string(PRINT_ANY, "endpoint", " -> %s",
				     ep_name(&ch[i].addr, ch[i].family, ch[i].port, e, sizeof(e)));
			print_string(PRINT_ANY, "health", " %s", lb_health_state_name(ch[i].state));
			if (ch[i].state == LB_HEALTH_DOWN)
				print_string(PRINT_ANY, "reason", " (%s)", ch[i].reason);
			print_nl();
			close_json_object();
		}
	}
	if (cli->stats) {
		open_json_object(NULL);
		print_uint(PRINT_ANY, "probed", "probed %" PRIu64, n);
		print_uint(PRINT_ANY, "ok", " ok %" PRIu64, ok);
		print_uint(PRINT_ANY, "failed", " failed %" PRIu64, n - ok);
		print_uint(PRINT_ANY, "changed", " changed %" PRIu64, nch);
		print_nl();
		close_json_object();
	}
}

/* One round: probe (no lock), then record (the writer lock). */
static int health_round(struct cli *cli, const struct health_args *a)
{
	struct lb_health_result *r = NULL;
	struct lb_health_change *ch = NULL;
	size_t n = 0, nch = 0;
	struct lb_ctx *ctx;
	int rc, err;

	rc = cli_open(cli, 0, &ctx);
	if (rc) {
		lb_close(ctx);	/* a failed open leaves a ctx too */
		return rc;
	}
	err = lb_health_probe(ctx, a->svcs, a->n, a->now ? LB_HEALTH_ALL : 0, &r, &n);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "health check: %s",
			     err == -ENOENT && *lb_ctx_errmsg(ctx) ? lb_ctx_errmsg(ctx) :
			     cli_strerror(ctx, err));
		lb_close(ctx);
		return rc;
	}
	lb_close(ctx);
	if (n) {
		rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
		err = rc ? 0 : lb_health_apply(ctx, r, n, &ch, &nch);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "health check: %s", cli_strerror(ctx, err));
		lb_close(ctx);
	}
	if (!rc)
		print_round(cli, r, n, ch, nch);
	free(r);
	free(ch);
	return rc;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static int health_check(struct cli *cli, int argc, char **argv)
{
	struct health_args a = {};
	static const int sigs[] = { SIGINT, SIGTERM };
	struct sigaction sa = { .sa_handler = on_stop }, old[2];
	struct timespec next;
	int rc;

	rc = cli_parse_kw(cli, health_check_kws, "health check", NULL, argc - 1, argv + 1, &a, NULL);
	if (rc)
		return rc;
	/* quiet success: -j prints nothing either, unless -s or -d */
	if (cli->stats || cli->details)
		open_json_array(PRINT_JSON, NULL);
	if (!a.watch) {
		rc = health_round(cli, &a);
		if (cli->stats || cli->details)
			close_json_array(PRINT_JSON, NULL);
		return rc;
	}
	/* -w: rounds on a fixed beat until a signal; a failed round is reported and
	 * the next one tried, as a daemon would. */
	stop_signal = 0;
	for (size_t i = 0; i < 2; i++)
		sigaction(sigs[i], &sa, &old[i]);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop_signal) {
		uint64_t ns = (uint64_t)(a.watch * 1e9);

		health_round(cli, &a);
		fflush(stdout);
		next.tv_sec += ns / 1000000000ull;
		next.tv_nsec += ns % 1000000000ull;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (!stop_signal &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	for (size_t i = 0; i < 2; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (cli->stats || cli->details)
		close_json_array(PRINT_JSON, NULL);
	return EXIT_OK;
}

/* "2026-12-07T15:40:08Z", or "never". */
static const char *when(uint64_t ns, char *buf, size_t len)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm))
		return "never";
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static void print_health_ep(const struct lb_endpoint_info *e)
{
	char a[INET6_ADDRSTRLEN], ap[INET6_ADDRSTRLEN + 10], t[32];
	const struct lb_health_info *h = &e->health;

	open_json_object(NULL);
	print_string(PRINT_FP, NULL, "  -> %s", ep_name(&e->ep.addr, e->ep.family, e->ep.port, ap,
							 sizeof(ap)));
	print_string(PRINT_JSON, "address", NULL, lb_addr_str(&e->ep.addr, e->ep.family, a, sizeof(a)));
	print_uint(PRINT_JSON, "port", NULL, ntohs(e->ep.port));
	print_string(PRINT_ANY, "state", " state %s", lb_ep_status_name(e->ep.status));
	print_string(PRINT_ANY, "check", " check %s", lb_check_type_name(e->check));
	print_string(PRINT_ANY, "health", " health %s", lb_health_state_name(h->state));
	print_bool(PRINT_ANY, "serving_excluded", e->sick ? " excluded" : "", e->sick);
	print_string(PRINT_ANY, "last", " last %s", lb_probe_result_name(h->last));
	print_string(PRINT_ANY, "last_time", " at %s", when(h->last_ns, t, sizeof(t)));
	print_uint(PRINT_ANY, "successes", " successes %" PRIu64, h->ok_run);
	print_uint(PRINT_ANY, "failures", " failures %" PRIu64, h->fail_run);
	print_string(PRINT_ANY, "changed", " changed %s", when(h->change_ns, t, sizeof(t)));
	if (h->reason[0])
		print_string(PRINT_ANY, "reason", " reason \"%s\"", h->reason);
	else
		print_null(PRINT_JSON, "reason", NULL);
	print_nl();
	close_json_object();
}

static bool in_args(const struct health_args *a, const struct lb_svc_key *k)
{
	for (size_t i = 0; i < a->n; i++)
		if (!memcmp(&a->svcs[i].vip, &k->vip, sizeof(k->vip)) && a->svcs[i].port == k->port &&
		    a->svcs[i].proto == k->proto && a->svcs[i].family == k->family)
			return true;
	return !a->n;
}

static int health_show(struct cli *cli, int argc, char **argv)
{
	struct lb_service_info *v = NULL;
	struct health_args a = {};
	struct lb_ctx *ctx;
	size_t n = 0;
	int rc, err;

	rc = cli_parse_kw(cli, health_show_kws, "health show", NULL, argc - 1, argv + 1, &a, NULL);
	if (rc)
		return rc;
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_service_list(ctx, &v, &n);
	for (size_t i = 0; !err && i < a.n; i++) {
		struct lb_service_info one;

		err = lb_service_get(ctx, &a.svcs[i], &one);	/* an unknown service is an error */
		if (!err)
			lb_service_info_free(&one, 1);
	}
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "health show: %s",
			     err == -ENOENT ? "no such service" : cli_strerror(ctx, err));
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct lb_service_info *s = &v[i];
		char ap[INET6_ADDRSTRLEN + 10], a6[INET6_ADDRSTRLEN], t[32];
		size_t checked = 0;

		for (size_t j = 0; j < s->n_eps; j++)
			checked += s->eps[j].check > LB_CHECK_NONE;
		if (!in_args(&a, &s->svc.key) || (!checked && !a.n))
			continue;
		open_json_object(NULL);
		print_string(PRINT_ANY, "proto", "%s ", s->svc.key.proto == IPPROTO_UDP ? "udp" : "tcp");
		print_string(PRINT_FP, NULL, "%s", ep_name(&s->svc.key.vip, s->svc.key.family,
							   s->svc.key.port, ap, sizeof(ap)));
		print_string(PRINT_JSON, "vip", NULL,
			     lb_addr_str(&s->svc.key.vip, s->svc.key.family, a6, sizeof(a6)));
		print_uint(PRINT_JSON, "port", NULL, ntohs(s->svc.key.port));
		print_bool(PRINT_ANY, "panic", s->panic ? " panic (every checked endpoint down: all serve)" : "",
			   s->panic);
		print_uint(PRINT_ANY, "panics", " panics %" PRIu64, s->panics);
		if (s->panics)
			print_string(PRINT_ANY, "panic_changed", " changed %s", when(s->panic_ns, t, sizeof(t)));
		print_nl();
		open_json_array(PRINT_JSON, "endpoints");
		for (size_t j = 0; j < s->n_eps; j++)
			if (s->eps[j].check > LB_CHECK_NONE)
				print_health_ep(&s->eps[j]);
		close_json_array(PRINT_JSON, NULL);
		close_json_object();
	}
	close_json_array(PRINT_JSON, NULL);
out:
	lb_service_info_free(v, n);
	free(v);
	lb_close(ctx);
	return rc;
}

int do_health(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "check", health_check, NULL }, { "show", health_show, NULL },
		{ "help", do_help, NULL }, { NULL, NULL, NULL },
	};

	if (argc < 2)
		return health_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}
