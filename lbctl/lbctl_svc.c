// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lbctl service, endpoint and conntrack commands. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include "cli.h"
#include "lbctl.h"

const char *svc_proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

/* "198.18.0.1:80" or "[2001:db8::1]:80" */
static const char *addr_port(const struct lb_addr *a, uint8_t family, uint16_t port_net,
			     char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	lb_addr_str(a, family, s, sizeof(s));
	snprintf(buf, len, family == LB_AF_INET6 ? "[%s]:%u" : "%s:%u", s, ntohs(port_net));
	return buf;
}

/* What "port N proto P" after an address sets. */
struct svc_key_args {
	unsigned long long port;	/* 0: not given */
	uint8_t proto;
};

static int key_port(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return cli_parse_uint(cli, "port", val, 1, 65535, &((struct svc_key_args *)obj)->port) ?
	       EXIT_USAGE : EXIT_OK;
}

static int key_proto(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct svc_key_args *a = obj;

	if (!strcmp(val, "tcp"))
		a->proto = IPPROTO_TCP;
	else if (!strcmp(val, "udp"))
		a->proto = IPPROTO_UDP;
	else
		return cli_err(cli, EXIT_USAGE, "proto '%s': expected tcp or udp", cli_tok(val));
	return EXIT_OK;
}

static const struct cli_kw svc_key_kws[] = {
	{ "port", CLI_VALUE, 0, 0, NULL, .parse = key_port },
	{ "proto", CLI_VALUE, 0, 0, NULL, .parse = key_proto },
	{ NULL },
};

/* Parse "VIP [port N] [proto tcp|udp]" starting at argv[*i]; stops at other words. */
int parse_svc_key(struct cli *cli, int argc, char **argv, int *i, struct lb_svc_key *k,
		  bool need_port)
{
	struct svc_key_args a = { .proto = IPPROTO_TCP };
	struct lb_addr vip;
	uint8_t family;
	const char *vip_arg;
	int rc, used;

	if (*i >= argc)
		return cli_err(cli, EXIT_USAGE, "missing service address");
	vip_arg = argv[*i];
	if (lb_addr_parse(argv[*i], &vip, &family))
		return cli_err(cli, EXIT_USAGE, "service address '%s': not an IPv4 or IPv6 address",
			       cli_tok(argv[*i]));
	(*i)++;
	rc = cli_parse_kw(cli, svc_key_kws, NULL, NULL, argc - *i, argv + *i, &a, &used);
	if (rc)
		return rc;
	*i += used;
	if (need_port && !a.port)
		return cli_err(cli, EXIT_USAGE, "service %s: missing 'port N'", cli_tok(vip_arg));
	lb_svc_key_init(k, &vip, family, a.port, a.proto);
	return EXIT_OK;
}

/* lb errors of service commands, in words. */
static int svc_fail(struct cli *cli, struct lb_ctx *ctx, const char *what, int err)
{
	switch (err) {
	case -EEXIST:
		return cli_err(cli, EXIT_FAIL, "%s: %s", what,
			       *lb_ctx_errmsg(ctx) ? lb_ctx_errmsg(ctx) : "already exists");
	case -ENOENT:
		return cli_err(cli, EXIT_FAIL, "%s: %s", what,
			       *lb_ctx_errmsg(ctx) ? lb_ctx_errmsg(ctx) : "no such service");
	case -EINVAL:
	case -EAFNOSUPPORT:
		return cli_err(cli, EXIT_USAGE, "%s: %s", what, lb_ctx_errmsg(ctx));
	default:
		return cli_err(cli, EXIT_FAIL, "%s: %s", what, cli_strerror(ctx, err));
	}
}

/* What the options of service add and set change. */
struct svc_opts {
	struct lb_service *s;
	bool snat_given;
	bool allow_given;	/* the first "allow" starts a new list, the next ones add */
	bool had_snat;		/* an explicit snat address, kept unless the line names another */
	struct check_change chk;
};

static int opt_check(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	return check_take(cli, &((struct svc_opts *)obj)->chk, argc, argv, used);
}

static int opt_sched(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	if (lb_sched_parse(val, &((struct svc_opts *)obj)->s->sched))
		return cli_err(cli, EXIT_USAGE,
			       "sched '%s': expected one of rr, wrr, random, hash, maglev, lc",
			       cli_tok(val));
	return EXIT_OK;
}

static int opt_mode(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	if (lb_nat_mode_parse(val, &((struct svc_opts *)obj)->s->mode))
		return cli_err(cli, EXIT_USAGE, "mode '%s': expected dnat or fullnat", cli_tok(val));
	return EXIT_OK;
}

static int opt_snat(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct svc_opts *o = obj;
	struct lb_service *s = o->s;
	uint8_t fam;

	o->snat_given = true;
	if (!strcmp(val, "ifaddr")) {
		/* the egress interface's address, as show prints it */
		memset(&s->snat, 0, sizeof(s->snat));
		s->snat_ifaddr = true;
		o->had_snat = false;
		return EXIT_OK;
	}
	s->snat_ifaddr = false;
	if (lb_addr_parse(val, &s->snat, &fam))
		return cli_err(cli, EXIT_USAGE, "snat '%s': not an address", cli_tok(val));
	if (fam != s->key.family)
		return cli_err(cli, EXIT_USAGE, "snat %s: not of the service's family", cli_tok(val));
	return EXIT_OK;
}

static int opt_persist(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, "persist", val, 0, 86400 * 7, &v))
		return EXIT_USAGE;
	((struct svc_opts *)obj)->s->persist = v;
	return EXIT_OK;
}

static int opt_maglev_size(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, "maglev-size", val, 7, LB_SEL_MAX, &v))
		return EXIT_USAGE;
	if (!lb_is_prime(v))
		return cli_err(cli, EXIT_USAGE, "maglev-size %llu: not a prime", v);
	((struct svc_opts *)obj)->s->maglev_size = v;
	return EXIT_OK;
}

static int opt_allow(struct cli *cli, void *obj, int argc, char **argv, int *used);

static const struct cli_kw svc_opt_kws[] = {
	{ "sched", CLI_VALUE, 0, 0, NULL, .parse = opt_sched },
	{ "mode", CLI_VALUE, 0, 0, NULL, .parse = opt_mode },
	{ "snat", CLI_VALUE, 0, 0, NULL, .parse = opt_snat },
	{ "persist", CLI_VALUE, 0, 0, NULL, .parse = opt_persist },
	{ "allow", CLI_WORDS, CLI_KW_REPEAT, 0, .take = opt_allow },
	{ "maglev-size", CLI_VALUE, 0, 0, NULL, .parse = opt_maglev_size },
	{ "check", CLI_WORDS, 0, 0, "TYPE", .take = opt_check },
	CHECK_VALUE_KWS(struct svc_opts, chk),
	{ NULL },
};

int allow_push(struct lb_prefix **v, uint32_t *n, const struct lb_prefix *p)
{
	if (!(*n & (*n - 1))) {	/* 0 or a power of two: full, double it */
		struct lb_prefix *g = realloc(*v, (*n ? *n * 2 : 1) * sizeof(*g));

		if (!g)
			return -ENOMEM;
		*v = g;
	}
	(*v)[(*n)++] = *p;
	return 0;
}

int parse_allow_prefix(struct cli *cli, const char *arg, uint8_t family, struct lb_prefix **v,
		       uint32_t *n)
{
	struct lb_prefix p;
	uint8_t fam;

	if (lb_prefix_parse(arg, &p, &fam))
		return cli_err(cli, EXIT_USAGE, "allow '%s': not a prefix", cli_tok(arg));
	if (fam != family)
		return cli_err(cli, EXIT_USAGE, "allow %s: not of the service's family", cli_tok(arg));
	if (allow_push(v, n, &p))
		return cli_err(cli, EXIT_FAIL, "%s", strerror(ENOMEM));
	return EXIT_OK;
}

/* "allow PREFIX...": the prefixes up to the next keyword; repeated, it adds more.
 * s->allow is malloc'd: the caller frees it. */
static int opt_allow(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	struct svc_opts *o = obj;
	struct lb_service *s = o->s;
	int i, rc;

	if (!argc || cli_kw_match(svc_opt_kws, argv[0]) >= 0)
		return cli_err(cli, EXIT_USAGE, "allow: missing value");
	if (!o->allow_given) {
		s->allow = NULL;	/* set: the list named here replaces the one there */
		s->n_allow = 0;
		o->allow_given = true;
	}
	for (i = 0; i < argc && cli_kw_match(svc_opt_kws, argv[i]) < 0; i++) {
		rc = parse_allow_prefix(cli, argv[i], s->key.family, &s->allow, &s->n_allow);
		if (rc)
			return rc;
	}
	*used = i;
	return EXIT_OK;
}

int parse_svc_options(struct cli *cli, int argc, char **argv, int i, struct lb_service *s,
		      bool *snat_given)
{
	struct svc_opts o = { .s = s, .had_snat = s->mode == LB_NAT_FULLNAT && !s->snat_ifaddr };
	int rc;

	*snat_given = false;
	rc = cli_parse_kw(cli, svc_opt_kws, NULL, NULL, argc - i, argv + i, &o, NULL);
	if (rc)
		return rc;
	*snat_given = o.snat_given;
	check_change_apply(&o.chk, &s->check);
	if (o.snat_given && s->mode != LB_NAT_FULLNAT)
		return cli_err(cli, EXIT_USAGE, "snat: only with mode fullnat");
	if (!o.snat_given && s->mode == LB_NAT_FULLNAT && !o.had_snat)
		s->snat_ifaddr = true;	/* full NAT without an address: the egress one */
	return EXIT_OK;
}

/* service add | set in a batch: on the staged set (lbctl_batch.c), checked as
 * below.  The staged set owns the allow lists: a list the line names replaces
 * the one there, else set keeps it. */
static int svc_stage(struct cli *cli, int argc, char **argv, int i, struct lb_service *s,
		     bool add)
{
	struct lbctl_tx *tx = cli->tx;
	struct lb_ruleset_svc *r = lbctl_tx_service(tx, &s->key);
	const char *what = add ? "service add" : "service set";
	struct lb_prefix *had;
	bool snat_given;
	int rc, err;

	if (!add && !r)
		return cli_err(cli, EXIT_FAIL, "%s: no such service", what);
	if (!add)
		*s = r->svc;
	had = s->allow;
	rc = parse_svc_options(cli, argc, argv, i, s, &snat_given);
	if (!rc && (err = lb_service_check(tx->ctx, s)))
		rc = svc_fail(cli, tx->ctx, what, err);
	if (!rc && add && r)
		rc = svc_fail(cli, tx->ctx, what, -EEXIST);
	if (rc) {
		if (s->allow != had)
			free(s->allow);
		return rc;
	}
	if (add) {
		/* the staged set owns s->allow now, also when indexing fails */
		if (lbctl_tx_service_add(tx, s))
			return cli_err(cli, EXIT_FAIL, "%s: %s", what, strerror(ENOMEM));
		return EXIT_OK;
	}
	if (s->allow != had)
		free(had);
	r->svc = *s;
	return EXIT_OK;
}

static int svc_add_set(struct cli *cli, int argc, char **argv, bool add)
{
	struct lb_service s = { .sched = LB_SCHED_RR, .mode = LB_NAT_DNAT };
	struct lb_service_info cur;
	struct lb_ctx *ctx;
	bool snat_given;
	int i = 1, rc, err;

	rc = parse_svc_key(cli, argc, argv, &i, &s.key, true);
	if (rc)
		return rc;
	if (cli->tx)
		return svc_stage(cli, argc, argv, i, &s, add);
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	if (!add) {
		/* set: start from what is there, change what is named. */
		err = lb_service_get(ctx, &s.key, &cur);
		if (err) {
			rc = svc_fail(cli, ctx, "service set", err);
			goto out;
		}
		s = cur.svc;
		lb_service_info_free(&cur, 1);
	}
	rc = parse_svc_options(cli, argc, argv, i, &s, &snat_given);
	if (rc)
		goto out;
	err = add ? lb_service_add(ctx, &s) : lb_service_set(ctx, &s);
	if (err == -ENOSPC)
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", add ? "service add" : "service set",
			     lb_ctx_errmsg(ctx));
	else if (err)
		rc = svc_fail(cli, ctx, add ? "service add" : "service set", err);
out:
	free(s.allow);
	lb_close(ctx);
	return rc;
}

static int svc_add(struct cli *cli, int argc, char **argv) { return svc_add_set(cli, argc, argv, true); }
static int svc_set(struct cli *cli, int argc, char **argv) { return svc_add_set(cli, argc, argv, false); }

static int svc_del(struct cli *cli, int argc, char **argv)
{
	struct lb_svc_key k;
	struct lb_ctx *ctx;
	int i = 1, rc, err;

	rc = parse_svc_key(cli, argc, argv, &i, &k, true);
	if (rc)
		return rc;
	if (i < argc)
		return cli_err(cli, EXIT_USAGE, "service del: unexpected '%s'", cli_tok(argv[i]));
	if (cli->tx) {
		struct lbctl_tx *tx = cli->tx;
		struct lb_ruleset_svc *r = lbctl_tx_service(tx, &k);

		if (!r)
			return cli_err(cli, EXIT_FAIL, "service del: no such service");
		if (lbctl_tx_service_del(tx, r))
			return cli_err(cli, EXIT_FAIL, "service del: %s", strerror(ENOMEM));
		return EXIT_OK;
	}
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (!rc) {
		err = lb_service_del(ctx, &k);
		if (err)
			rc = svc_fail(cli, ctx, "service del", err);
	}
	lb_close(ctx);
	return rc;
}

static int svc_flush(struct cli *cli, int argc, char **argv)
{
	struct lb_ctx *ctx;
	int rc, err;

	if (argc > 1)
		return cli_err(cli, EXIT_USAGE, "service flush: unexpected '%s'", cli_tok(argv[1]));
	if (cli->tx) {
		if (lbctl_tx_flush(cli->tx))
			return cli_err(cli, EXIT_FAIL, "service flush: %s", strerror(ENOMEM));
		return EXIT_OK;
	}
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (!rc) {
		err = lb_service_flush(ctx);
		if (err)
			rc = svc_fail(cli, ctx, "service flush", err);
	}
	lb_close(ctx);
	return rc;
}

int64_t service_active(const struct lb_service_info *s)
{
	int64_t active = 0;

	for (size_t i = 0; i < s->n_eps; i++)
		active += s->eps[i].active;
	return active;
}

/* -s: packets and bytes (both directions), flows created, flows open; services
 * also count their drops. */
static void print_obj_stats(const struct cli *cli, const struct lb_obj_stats *st, int64_t active,
			    bool drops)
{
	if (!cli->stats)
		return;
	open_json_object("stats");
	print_uint(PRINT_ANY, "packets", " packets %" PRIu64, st->packets);
	print_uint(PRINT_ANY, "bytes", " bytes %" PRIu64, st->bytes);
	print_uint(PRINT_ANY, "flows", " flows %" PRIu64, st->flows);
	print_int(PRINT_ANY, "active", " active %" PRId64, active);
	if (drops)
		print_uint(PRINT_ANY, "drops", " drops %" PRIu64, st->drops);
	close_json_object();
}

/* " check ..." as the commands take it; JSON "check": the same words, or null. */
static void print_check(const struct lb_check *c)
{
	char buf[CHECK_WORDS_MAX];
	const char *w = check_words(c, buf, sizeof(buf));

	if (*w)
		print_string(PRINT_ANY, "check", " %s", w);
	else
		print_null(PRINT_JSON, "check", NULL);
}

/* One endpoint; key names the JSON object (NULL inside an array). */
static void print_endpoint(const struct cli *cli, const struct lb_endpoint_info *e,
			   const char *prefix, const char *key)
{
	char a[INET6_ADDRSTRLEN], ap[INET6_ADDRSTRLEN + 10];

	open_json_object(key);
	print_text("%s", prefix);
	print_string(PRINT_FP, NULL, "%s", addr_port(&e->ep.addr, e->ep.family, e->ep.port, ap,
						     sizeof(ap)));
	print_string(PRINT_JSON, "address", NULL, lb_addr_str(&e->ep.addr, e->ep.family, a, sizeof(a)));
	print_uint(PRINT_JSON, "port", NULL, ntohs(e->ep.port));
	print_uint(PRINT_ANY, "weight", " weight %" PRIu64, e->ep.weight);
	print_string(PRINT_ANY, "state", " state %s", lb_ep_status_name(e->ep.status));
	print_check(&e->ep.check);
	if (e->check > LB_CHECK_NONE)
		print_string(PRINT_ANY, "health", " health %s",
			     e->sick ? "down" : lb_health_state_name(e->health.state));
	else
		print_null(PRINT_JSON, "health", NULL);
	print_uint(PRINT_JSON, "id", NULL, e->id);
	print_obj_stats(cli, &e->stats, e->active, false);
	print_nl();
	close_json_object();
}

/* "198.18.0.0/24" */
static const char *prefix_text(const struct lb_prefix *p, uint8_t family, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", lb_addr_str(&p->addr, family, a, sizeof(a)), p->prefix_len);
	return buf;
}

/* Text shows this many prefixes of a service's allow list (-d: all); JSON all. */
#define SHOW_ALLOW_MAX	8

/* Where the entries of service id start in all[0..n) (sorted by service id). */
static size_t allow_first(const struct lb_allow_entry *all, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (all[mid].svc_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The allow list of service s: its entries in the list of all. */
static void print_allow(const struct cli *cli, const struct lb_service_info *s,
			const struct lb_allow_entry *all, size_t n_all)
{
	size_t lo = allow_first(all, n_all, s->id), cnt = 0;
	bool all_text = cli->details || s->svc.n_allow <= SHOW_ALLOW_MAX;

	open_json_array(PRINT_JSON, "allow");
	for (; lo < n_all && all[lo].svc_id == s->id; lo++, cnt++) {
		char p[INET6_ADDRSTRLEN + 8];

		prefix_text(&all[lo].pfx, s->svc.key.family, p, sizeof(p));
		if (all_text || cnt < SHOW_ALLOW_MAX)
			print_string(PRINT_ANY, NULL, cnt ? " %s" : " allow %s", p);
		else
			print_string(PRINT_JSON, NULL, NULL, p);
	}
	close_json_array(PRINT_JSON, NULL);
	if (cnt > SHOW_ALLOW_MAX && !all_text)
		print_text(" (%zu more: -d, or lbctl allow show)", cnt - SHOW_ALLOW_MAX);
}

static void print_service(const struct cli *cli, const struct lb_service_info *s,
			  const struct lb_allow_entry *allow, size_t n_allow)
{
	const struct lb_service *c = &s->svc;
	char a[INET6_ADDRSTRLEN], ap[INET6_ADDRSTRLEN + 10];

	open_json_object(NULL);
	print_string(PRINT_ANY, "proto", "%s ", svc_proto_name(c->key.proto));
	print_string(PRINT_FP, NULL, "%s", addr_port(&c->key.vip, c->key.family, c->key.port, ap,
						     sizeof(ap)));
	print_string(PRINT_JSON, "vip", NULL, lb_addr_str(&c->key.vip, c->key.family, a, sizeof(a)));
	print_uint(PRINT_JSON, "port", NULL, ntohs(c->key.port));
	print_string(PRINT_JSON, "family", NULL, c->key.family == LB_AF_INET ? "inet" : "inet6");
	print_string(PRINT_ANY, "sched", " sched %s", lb_sched_name(c->sched));
	print_string(PRINT_ANY, "mode", " mode %s", lb_nat_mode_name(c->mode));
	if (c->mode == LB_NAT_FULLNAT) {
		if (c->snat_ifaddr)
			print_string(PRINT_ANY, "snat", " snat %s", "ifaddr");
		else
			print_string(PRINT_ANY, "snat", " snat %s",
				     lb_addr_str(&c->snat, c->key.family, a, sizeof(a)));
	} else {
		print_null(PRINT_JSON, "snat", NULL);
	}
	if (c->persist || is_json_context())
		print_uint(PRINT_ANY, "persist", " persist %" PRIu64, c->persist);
	if (c->sched == LB_SCHED_HASH || c->sched == LB_SCHED_MAGLEV || cli->details || is_json_context())
		print_uint(PRINT_ANY, "maglev_size", " maglev-size %" PRIu64, c->maglev_size);
	print_allow(cli, s, allow, n_allow);
	print_check(&c->check);
	if (s->panic || is_json_context())
		print_bool(PRINT_ANY, "panic", " panic", s->panic);
	print_uint(cli->details ? PRINT_ANY : PRINT_JSON, "id", " id %" PRIu64, s->id);
	print_uint(cli->details ? PRINT_ANY : PRINT_JSON, "table_len", " table %" PRIu64, s->sel_len);
	print_obj_stats(cli, &s->stats, service_active(s), true);
	print_nl();
	open_json_array(PRINT_JSON, "endpoints");
	for (size_t i = 0; i < s->n_eps; i++)
		print_endpoint(cli, &s->eps[i], "  -> ", NULL);
	close_json_array(PRINT_JSON, NULL);
	close_json_object();
}

static int svc_show(struct cli *cli, int argc, char **argv)
{
	struct lb_allow_entry *allow = NULL;
	size_t n_allow = 0;
	struct lb_service_info *v = NULL, one = {};
	struct lb_svc_key k;
	struct lb_ctx *ctx;
	size_t n = 0;
	int i = 1, rc, err;
	bool filter = argc > 1;

	if (filter) {
		rc = parse_svc_key(cli, argc, argv, &i, &k, true);
		if (rc)
			return rc;
		if (i < argc)
			return cli_err(cli, EXIT_USAGE, "service show: unexpected '%s'", cli_tok(argv[i]));
	}
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = filter ? lb_service_get(ctx, &k, &one) : lb_service_list(ctx, &v, &n);
	if (!err)
		err = lb_service_allow_list(ctx, filter ? &k : NULL, &allow, &n_allow);
	if (err) {
		rc = svc_fail(cli, ctx, "service show", err);
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	if (filter)
		print_service(cli, &one, allow, n_allow);
	for (size_t j = 0; j < n; j++)
		print_service(cli, &v[j], allow, n_allow);
	close_json_array(PRINT_JSON, NULL);
out:
	free(allow);
	lb_service_info_free(&one, 1);
	lb_service_info_free(v, n);
	free(v);
	lb_close(ctx);
	return rc;
}

int do_service(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", svc_add, NULL }, { "set", svc_set, NULL }, { "del", svc_del, NULL },
		{ "show", svc_show, NULL }, { "flush", svc_flush, NULL }, { "help", do_help, NULL }, { NULL, NULL, NULL },
	};

	if (argc < 2)
		return svc_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

/* What the words of an endpoint set. */
struct ep_args {
	const char *verb;		/* "add", for messages */
	struct lb_endpoint *e;
	struct lb_svc_key *k;
	unsigned long long port;	/* 0: the service's */
	bool weight_given, state_given;
	struct check_change chk;
};

static int ep_check(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	return check_take(cli, &((struct ep_args *)obj)->chk, argc, argv, used);
}

static int ep_port(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	return cli_parse_uint(cli, "port", val, 1, 65535, &((struct ep_args *)obj)->port) ?
	       EXIT_USAGE : EXIT_OK;
}

static int ep_weight(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct ep_args *a = obj;
	unsigned long long v;

	if (cli_parse_uint(cli, "weight", val, 0, 65535, &v))
		return EXIT_USAGE;
	a->e->weight = v;
	a->weight_given = true;
	return EXIT_OK;
}

static int ep_state(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct ep_args *a = obj;

	if (lb_ep_status_parse(val, &a->e->status))
		return cli_err(cli, EXIT_USAGE, "state '%s': expected up, drain or down", cli_tok(val));
	a->state_given = true;
	return EXIT_OK;
}

/* "service VIP port N [proto P]": the last words of the line. */
static int ep_service(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	struct ep_args *a = obj;
	int i = 0;

	if (parse_svc_key(cli, argc, argv, &i, a->k, true))
		return EXIT_USAGE;
	if (i < argc)
		return cli_err(cli, EXIT_USAGE, "endpoint %s: unexpected '%s'", a->verb,
			       cli_tok(argv[i]));
	*used = i;
	return EXIT_OK;
}

#define EP_PORT		{ "port", CLI_VALUE, 0, 0, NULL, .parse = ep_port }
#define EP_SERVICE	{ "service", CLI_WORDS, CLI_KW_REQUIRED, 0, "VIP port N", .take = ep_service }

static const struct cli_kw ep_kws[] = {
	EP_PORT,
	{ "weight", CLI_VALUE, 0, 0, NULL, .parse = ep_weight },
	{ "state", CLI_VALUE, 0, 0, NULL, .parse = ep_state },
	{ "check", CLI_WORDS, 0, 0, "TYPE", .take = ep_check },
	CHECK_VALUE_KWS(struct ep_args, chk),
	EP_SERVICE,
	{ NULL },
};
static const struct cli_kw ep_del_kws[] = { EP_PORT, EP_SERVICE, { NULL } };

/* "ADDR [port N] [weight W] [state S] service VIP port N [proto P]" */
int parse_endpoint(struct cli *cli, int argc, char **argv, struct lb_endpoint *e,
		   struct lb_svc_key *k, bool *weight_given, bool *state_given, bool opts,
		   struct check_change *chk)
{
	struct ep_args a = { .verb = argv[0], .e = e, .k = k, .chk.endpoint = true };
	char where[64];
	int rc;

	memset(e, 0, sizeof(*e));
	e->weight = 1;
	*weight_given = *state_given = false;
	if (argc < 2)
		return cli_err(cli, EXIT_USAGE, "endpoint %s: missing endpoint address", argv[0]);
	if (lb_addr_parse(argv[1], &e->addr, &e->family))
		return cli_err(cli, EXIT_USAGE, "endpoint address '%s': not an IPv4 or IPv6 address",
			       cli_tok(argv[1]));
	snprintf(where, sizeof(where), "endpoint %s", argv[0]);
	rc = cli_parse_kw(cli, opts ? ep_kws : ep_del_kws, where, NULL, argc - 2, argv + 2, &a, NULL);
	if (rc)
		return rc;
	e->port = htons(a.port ? a.port : ntohs(k->port));	/* as ipvsadm: the service's port */
	*weight_given = a.weight_given;
	*state_given = a.state_given;
	check_change_apply(&a.chk, &e->check);
	if (chk)
		*chk = a.chk;
	return EXIT_OK;
}

enum ep_verb { EP_ADD, EP_SET, EP_DEL };

/* endpoint add | set | del in a batch: on the staged set, checked as the maps
 * check it (lb_endpoint_add() and the others). */
static int ep_stage(struct cli *cli, const struct lb_svc_key *k, const struct lb_endpoint *e,
		    bool wg, bool sg, const struct check_change *chk, enum ep_verb which,
		    const char *what)
{
	struct lbctl_tx *tx = cli->tx;
	struct lb_ruleset_svc *r = lbctl_tx_service(tx, k);
	struct lb_endpoint set, *slot;
	size_t j = 0;
	int err;

	if (!r)
		return cli_err(cli, EXIT_FAIL, "%s: no such service", what);
	while (j < r->n_eps && (r->eps[j].port != e->port ||
				memcmp(&r->eps[j].addr, &e->addr, sizeof(e->addr))))
		j++;
	if (which == EP_ADD) {
		err = lb_endpoint_check(tx->ctx, &r->svc, e);
		if (err)
			return svc_fail(cli, tx->ctx, what, err);
		if (j < r->n_eps)
			return svc_fail(cli, tx->ctx, what, -EEXIST);
		if (r->n_eps >= LB_SVC_EPS_MAX)
			return cli_err(cli, EXIT_FAIL, "%s: a service has at most %d endpoints", what,
				       LB_SVC_EPS_MAX);
		slot = lb_ruleset_ep_add(r);
		if (!slot)
			return cli_err(cli, EXIT_FAIL, "%s: %s", what, strerror(ENOMEM));
		*slot = *e;
		return EXIT_OK;
	}
	if (j == r->n_eps)
		return cli_err(cli, EXIT_FAIL, "%s: no such endpoint in the service", what);
	if (which == EP_DEL) {
		memmove(&r->eps[j], &r->eps[j + 1], (--r->n_eps - j) * sizeof(r->eps[0]));
		return EXIT_OK;
	}
	/* set: keep what is not named */
	set = r->eps[j];
	if (wg)
		set.weight = e->weight;
	if (sg)
		set.status = e->status;
	check_change_apply(chk, &set.check);
	err = lb_endpoint_check(tx->ctx, &r->svc, &set);
	if (err)
		return svc_fail(cli, tx->ctx, what, err);
	r->eps[j] = set;
	return EXIT_OK;
}

static int ep_change(struct cli *cli, int argc, char **argv, enum ep_verb which)
{
	struct check_change chk;
	struct lb_endpoint e;
	struct lb_svc_key k;
	struct lb_ctx *ctx;
	bool wg, sg;
	int rc, err;
	static const char *const what[] = {
		[EP_ADD] = "endpoint add", [EP_SET] = "endpoint set", [EP_DEL] = "endpoint del"
	};

	rc = parse_endpoint(cli, argc, argv, &e, &k, &wg, &sg, which != EP_DEL, &chk);
	if (rc)
		return rc;
	if (cli->tx)
		return ep_stage(cli, &k, &e, wg, sg, &chk, which, what[which]);
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	if (which == EP_SET) {
		/* set: keep what is not named. */
		struct lb_service_info info;

		err = lb_service_get(ctx, &k, &info);
		for (size_t j = 0; !err && j < info.n_eps; j++) {
			const struct lb_endpoint *cur = &info.eps[j].ep;

			if (cur->port == e.port && !memcmp(&cur->addr, &e.addr, sizeof(e.addr))) {
				if (!wg)
					e.weight = cur->weight;
				if (!sg)
					e.status = cur->status;
				e.check = cur->check;
				check_change_apply(&chk, &e.check);
			}
		}
		if (!err)
			lb_service_info_free(&info, 1);
	}
	err = which == EP_ADD ? lb_endpoint_add(ctx, &k, &e) :
	      which == EP_SET ? lb_endpoint_set(ctx, &k, &e) : lb_endpoint_del(ctx, &k, &e);
	if (err == -ENOSPC)
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what[which], lb_ctx_errmsg(ctx));
	else if (err)
		rc = svc_fail(cli, ctx, what[which], err);
out:
	lb_close(ctx);
	return rc;
}

static int ep_add(struct cli *cli, int argc, char **argv) { return ep_change(cli, argc, argv, EP_ADD); }
static int ep_set(struct cli *cli, int argc, char **argv) { return ep_change(cli, argc, argv, EP_SET); }
static int ep_del(struct cli *cli, int argc, char **argv) { return ep_change(cli, argc, argv, EP_DEL); }

static int ep_show(struct cli *cli, int argc, char **argv)
{
	struct lb_service_info *v = NULL;
	struct lb_svc_key k;
	struct lb_ctx *ctx;
	bool filter = false;
	size_t n = 0;
	int i = 1, rc, err;

	if (argc > 1) {
		static const char *const kw[] = { "service", NULL };

		if (lb_match_keyword(argv[1], kw) < 0)
			return cli_err(cli, EXIT_USAGE, "endpoint show: expected 'service VIP port N'");
		i = 2;
		rc = parse_svc_key(cli, argc, argv, &i, &k, true);
		if (rc)
			return rc;
		if (i < argc)
			return cli_err(cli, EXIT_USAGE, "endpoint show: unexpected '%s'", cli_tok(argv[i]));
		filter = true;
	}
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_service_list(ctx, &v, &n);
	if (!err && filter) {
		struct lb_service_info one;

		err = lb_service_get(ctx, &k, &one);	/* an unknown service is an error */
		if (!err)
			lb_service_info_free(&one, 1);
	}
	if (err) {
		rc = svc_fail(cli, ctx, "endpoint show", err);
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	for (size_t j = 0; j < n; j++) {
		char ap[INET6_ADDRSTRLEN + 10];

		if (filter && memcmp(&v[j].svc.key, &k, sizeof(k)))
			continue;
		for (size_t e = 0; e < v[j].n_eps; e++) {
			open_json_object(NULL);
			print_string(PRINT_ANY, "proto", "%s ", svc_proto_name(v[j].svc.key.proto));
			print_string(PRINT_ANY, "service", "%s -> ",
				     addr_port(&v[j].svc.key.vip, v[j].svc.key.family, v[j].svc.key.port,
					       ap, sizeof(ap)));
			print_endpoint(cli, &v[j].eps[e], "", "endpoint");
			close_json_object();
		}
	}
	close_json_array(PRINT_JSON, NULL);
out:
	lb_service_info_free(v, n);
	free(v);
	lb_close(ctx);
	return rc;
}

int do_endpoint(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", ep_add, NULL }, { "set", ep_set, NULL }, { "del", ep_del, NULL }, { "show", ep_show, NULL },
		{ "help", do_help, NULL }, { NULL, NULL, NULL },
	};

	if (argc < 2)
		return ep_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

/* ------------------------------------------------------------------ allow */

/* "service VIP port N [proto P]" from argv[*i], the last words of an allow line. */
static int allow_service(struct cli *cli, const char *verb, int argc, char **argv, int *i,
			 struct lb_svc_key *k)
{
	static const char *const kw[] = { "service", NULL };

	if (*i >= argc || lb_match_keyword(argv[*i], kw) < 0)
		return cli_err(cli, EXIT_USAGE, "allow %s: expected 'service VIP port N'", verb);
	(*i)++;
	if (parse_svc_key(cli, argc, argv, i, k, true))
		return EXIT_USAGE;
	if (*i < argc)
		return cli_err(cli, EXIT_USAGE, "allow %s: unexpected '%s'", verb, cli_tok(argv[*i]));
	return EXIT_OK;
}

int parse_allow(struct cli *cli, int argc, char **argv, struct lb_svc_key *k,
		struct lb_prefix **v, uint32_t *n)
{
	static const char *const kw[] = { "service", NULL };
	int i = 1, rc;

	*v = NULL;
	*n = 0;
	while (i < argc && lb_match_keyword(argv[i], kw) < 0)
		i++;
	rc = allow_service(cli, argv[0], argc, argv, &i, k);
	if (rc)
		return rc;
	for (i = 1; i < argc && lb_match_keyword(argv[i], kw) < 0; i++) {
		rc = parse_allow_prefix(cli, argv[i], k->family, v, n);
		if (rc)
			return rc;
	}
	if (!*n)
		return cli_err(cli, EXIT_USAGE, "allow %s: missing prefix", argv[0]);
	return EXIT_OK;
}

/* add, del, or flush (every prefix of the service's list: del of them all). */
enum allow_verb { ALLOW_ADD, ALLOW_DEL, ALLOW_FLUSH };

/* The index of p in s's list, or s->n_allow. */
static uint32_t allow_find(const struct lb_service *s, const struct lb_prefix *p)
{
	uint32_t j = 0;

	while (j < s->n_allow && (s->allow[j].prefix_len != p->prefix_len ||
				  memcmp(&s->allow[j].addr, &p->addr, sizeof(p->addr))))
		j++;
	return j;
}

/* allow add | del | flush in a batch: on the staged list, checked as
 * lb_service_allow_add() and _del() check it (all of the line or nothing). */
static int allow_stage(struct cli *cli, const struct lb_svc_key *k, const struct lb_prefix *v,
		       uint32_t n, enum allow_verb which, const char *what)
{
	struct lbctl_tx *tx = cli->tx;
	struct lb_ruleset_svc *r = lbctl_tx_service(tx, k);
	char p[INET6_ADDRSTRLEN + 8];
	struct lb_service s;
	int err;

	if (!r)
		return cli_err(cli, EXIT_FAIL, "%s: no such service", what);
	if (which == ALLOW_FLUSH) {
		free(r->svc.allow);
		r->svc.allow = NULL;
		r->svc.n_allow = 0;
		return EXIT_OK;
	}
	s = r->svc;
	s.allow = (struct lb_prefix *)v;	/* the line's prefixes: family, bits, twice */
	s.n_allow = n;
	err = lb_service_check(tx->ctx, &s);
	if (err)
		return svc_fail(cli, tx->ctx, what, err);
	for (uint32_t i = 0; i < n; i++) {
		bool there = allow_find(&r->svc, &v[i]) < r->svc.n_allow;

		if (there != (which == ALLOW_DEL))
			return cli_err(cli, EXIT_FAIL, "%s: allow %s: %s", what,
				       prefix_text(&v[i], k->family, p, sizeof(p)),
				       there ? "already in the list" : "not in the list");
	}
	if (which == ALLOW_ADD) {
		/* to its exact size: a list read from the maps has no room beyond it */
		struct lb_prefix *g = realloc(r->svc.allow, (r->svc.n_allow + n) * sizeof(*g));

		if (!g)
			return cli_err(cli, EXIT_FAIL, "%s: %s", what, strerror(ENOMEM));
		memcpy(g + r->svc.n_allow, v, n * sizeof(*g));
		r->svc.allow = g;
		r->svc.n_allow += n;
		return EXIT_OK;
	}
	for (uint32_t i = 0; i < n; i++)	/* the last in its place: the order is no matter */
		r->svc.allow[allow_find(&r->svc, &v[i])] = r->svc.allow[--r->svc.n_allow];
	return EXIT_OK;
}

static int allow_change(struct cli *cli, int argc, char **argv, enum allow_verb which)
{
	static const char *const what[] = {
		[ALLOW_ADD] = "allow add", [ALLOW_DEL] = "allow del", [ALLOW_FLUSH] = "allow flush",
	};
	struct lb_allow_entry *cur = NULL;
	struct lb_prefix *v = NULL;
	struct lb_svc_key k;
	struct lb_ctx *ctx = NULL;
	uint32_t n = 0;
	size_t n_cur;
	int i = 1, rc, err;

	rc = which == ALLOW_FLUSH ? allow_service(cli, argv[0], argc, argv, &i, &k) :
	     parse_allow(cli, argc, argv, &k, &v, &n);
	if (rc)
		goto out;
	if (cli->tx) {
		rc = allow_stage(cli, &k, v, n, which, what[which]);
		goto out;
	}
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	if (which == ALLOW_FLUSH) {
		err = lb_service_allow_list(ctx, &k, &cur, &n_cur);
		v = err ? NULL : malloc((n_cur ? n_cur : 1) * sizeof(*v));
		if (!err && !v)
			err = -ENOMEM;
		for (size_t j = 0; !err && j < n_cur; j++)
			v[n++] = cur[j].pfx;
	} else {
		err = 0;
	}
	if (!err)
		err = which == ALLOW_ADD ? lb_service_allow_add(ctx, &k, v, n) :
		      lb_service_allow_del(ctx, &k, v, n);
	if (err == -ENOSPC || (err == -ENOENT && *lb_ctx_errmsg(ctx)))
		rc = cli_err(cli, EXIT_FAIL, "%s: %s", what[which], lb_ctx_errmsg(ctx));
	else if (err)
		rc = svc_fail(cli, ctx, what[which], err);
out:
	free(cur);
	free(v);
	lb_close(ctx);
	return rc;
}

static int allow_add(struct cli *cli, int argc, char **argv) { return allow_change(cli, argc, argv, ALLOW_ADD); }
static int allow_del(struct cli *cli, int argc, char **argv) { return allow_change(cli, argc, argv, ALLOW_DEL); }
static int allow_flush(struct cli *cli, int argc, char **argv) { return allow_change(cli, argc, argv, ALLOW_FLUSH); }

/* One line per prefix: "tcp VIP:PORT allow PREFIX". */
static int allow_show(struct cli *cli, int argc, char **argv)
{
	struct lb_allow_entry *allow = NULL;
	struct lb_service_info *v = NULL;
	size_t n = 0, n_allow = 0;
	struct lb_svc_key k;
	struct lb_ctx *ctx = NULL;
	int i = 1, rc = EXIT_OK, err;

	if (argc > 1) {
		rc = allow_service(cli, argv[0], argc, argv, &i, &k);
		if (rc)
			return rc;
	}
	rc = cli_open(cli, 0, &ctx);
	if (rc)
		goto out;
	err = lb_service_list(ctx, &v, &n);
	if (!err)
		err = lb_service_allow_list(ctx, argc > 1 ? &k : NULL, &allow, &n_allow);
	if (err) {
		rc = svc_fail(cli, ctx, "allow show", err);
		goto out;
	}
	open_json_array(PRINT_JSON, NULL);
	for (size_t j = 0; j < n; j++) {
		const struct lb_service *c = &v[j].svc;
		char ap[INET6_ADDRSTRLEN + 10], addr[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN + 8];
		size_t a = allow_first(allow, n_allow, v[j].id);

		for (; a < n_allow && allow[a].svc_id == v[j].id; a++) {
			open_json_object(NULL);
			print_string(PRINT_ANY, "proto", "%s ", svc_proto_name(c->key.proto));
			print_string(PRINT_FP, NULL, "%s",
				     addr_port(&c->key.vip, c->key.family, c->key.port, ap, sizeof(ap)));
			print_string(PRINT_JSON, "vip", NULL,
				     lb_addr_str(&c->key.vip, c->key.family, addr, sizeof(addr)));
			print_uint(PRINT_JSON, "port", NULL, ntohs(c->key.port));
			print_string(PRINT_ANY, "prefix", " allow %s",
				     prefix_text(&allow[a].pfx, c->key.family, p, sizeof(p)));
			print_nl();
			close_json_object();
		}
	}
	close_json_array(PRINT_JSON, NULL);
out:
	free(allow);
	lb_service_info_free(v, n);
	free(v);
	lb_close(ctx);
	return rc;
}

int do_allow(struct cli *cli, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", allow_add, NULL }, { "del", allow_del, NULL }, { "show", allow_show, NULL },
		{ "flush", allow_flush, NULL }, { "help", do_help, NULL }, { NULL, NULL, NULL },
	};

	if (argc < 2)
		return allow_show(cli, argc, argv);
	return cli_dispatch(cli, argc - 1, argv + 1, cmds, "command");
}

/* Conntrack timeouts: the words of "conntrack timeout set", also those of a rule set
 * (restore), so here with the other words restore shares. */

/* "NAME SECONDS": field is the place in the array. */
static int ct_timeout_value(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, kw->name, val, 1, 86400 * 30, &v))
		return EXIT_USAGE;
	*(uint32_t *)((char *)obj + kw->field) = v;
	return EXIT_OK;
}

int parse_timeouts(struct cli *cli, int argc, char **argv, uint32_t *to)
{
	struct cli_kw kws[LB_TO_MAX + 1] = { { NULL } };

	if (argc < 2 || argc % 2)
		return cli_err(cli, EXIT_USAGE, "conntrack timeout set: expected NAME SECONDS pairs");
	for (int i = 0; i < LB_TO_MAX && lb_timeout_name(i); i++)
		kws[i] = (struct cli_kw){ lb_timeout_name(i), CLI_VALUE, .parse = ct_timeout_value,
					  .field = i * sizeof(to[0]) };
	return cli_parse_kw(cli, kws, NULL, "timeout", argc, argv, to, NULL);
}
