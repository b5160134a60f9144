// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The parser of lbctl restore: the text of a rule set into a struct lb_ruleset, each
 * line checked as its command would check it, nothing written anywhere.  Built into
 * lbctl and into the unit tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lbctl.h"
#include "lbctl_restore_parse.h"

#define LINE_WORDS	256

/* The index of services by key (lbctl.h), here with restore, its first user. */

static uint64_t key_hash(const struct lb_svc_key *k)
{
	const uint8_t *p = (const uint8_t *)&k->vip;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(k->vip); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	h = (h ^ k->port) * 1099511628211ull;
	h = (h ^ k->proto) * 1099511628211ull;
	return (h ^ k->family) * 1099511628211ull;
}

static bool key_eq(const struct lb_svc_key *a, const struct lb_svc_key *b)
{
	return !memcmp(&a->vip, &b->vip, sizeof(a->vip)) && a->port == b->port &&
	       a->proto == b->proto && a->family == b->family;
}

struct lb_ruleset_svc *svc_index_find(const struct svc_index *x, const struct lb_ruleset *rs,
				      const struct lb_svc_key *k)
{
	if (!x->cap)
		return NULL;
	for (size_t i = key_hash(k) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		if (!x->slot[i])
			return NULL;
		if (key_eq(&rs->svcs[x->slot[i] - 1].svc.key, k))
			return &rs->svcs[x->slot[i] - 1];
	}
}

static void index_insert(struct svc_index *x, const struct lb_ruleset *rs, size_t idx)
{
	for (size_t i = key_hash(&rs->svcs[idx].svc.key) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		if (!x->slot[i]) {
			x->slot[i] = idx + 1;
			return;
		}
	}
}

int svc_index_build(struct svc_index *x, const struct lb_ruleset *rs)
{
	size_t cap = x->cap ? x->cap : 64;

	while (cap < rs->n * 2 + 1)
		cap *= 2;
	if (cap != x->cap) {
		size_t *slot = calloc(cap, sizeof(*slot));

		if (!slot)
			return -ENOMEM;
		free(x->slot);
		x->slot = slot;
		x->cap = cap;
	}
	memset(x->slot, 0, x->cap * sizeof(*x->slot));
	for (size_t j = 0; j < rs->n; j++)
		index_insert(x, rs, j);
	return 0;
}

int svc_index_put(struct svc_index *x, const struct lb_ruleset *rs, size_t idx)
{
	if (rs->n * 2 + 1 > x->cap)
		return svc_index_build(x, rs);	/* grows; idx is in rs already */
	index_insert(x, rs, idx);
	return 0;
}

void svc_index_free(struct svc_index *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = 0;
}

struct parse_state {
	struct cli *cli;
	struct lb_ctx *ctx;
	struct lb_ruleset *rs;
	struct svc_index idx;
	unsigned long rules;	/* rule lines read */
	int end_line;		/* the "# end N rules" line, 0 before it */
};

/*
 * "# end N rules": the last line save writes.  A comment, so that lbctl -b still
 * runs the file; restore requires it, with N the number of rule lines above, so
 * that a file cut anywhere (or empty) is refused rather than applied in part.
 * 1: it is one (N in *n), 0: another comment or a rule.
 */
static int end_marker(const char *line, unsigned long *n)
{
	char rest[8];
	int used = 0;

	line += strspn(line, " \t");
	/* "rules" even for 1: every proper prefix of the line is then refused */
	if (sscanf(line, "# end %lu %7s%n", n, rest, &used) != 2 || strcmp(rest, "rules"))
		return 0;
	return line[used + strspn(line + used, " \t")] == '\0';
}

/* A liblb check failed: bad input is a usage error, as for the command itself. */
static int check_fail(struct parse_state *p, const char *what, int err)
{
	if (err == -EINVAL || err == -EAFNOSUPPORT)
		return cli_err(p->cli, EXIT_USAGE, "%s: %s", what, lb_ctx_errmsg(p->ctx));
	return cli_err(p->cli, EXIT_FAIL, "%s: %s", what, cli_strerror(p->ctx, err));
}

static int line_service(struct parse_state *p, int argc, char **argv)
{
	struct lb_service s = { .sched = LB_SCHED_RR, .mode = LB_NAT_DNAT };
	struct lb_ruleset_svc *r;
	int i = 2, rc, err;

	rc = parse_svc_key(p->cli, argc, argv, &i, &s.key, true);
	if (!rc) {
		bool snat_given;

		rc = parse_svc_options(p->cli, argc, argv, i, &s, &snat_given);
	}
	if (!rc && (err = lb_service_check(p->ctx, &s)))
		rc = check_fail(p, "service add", err);
	if (!rc && svc_index_find(&p->idx, p->rs, &s.key))
		rc = cli_err(p->cli, EXIT_FAIL, "service add: already exists (earlier in the file)");
	if (rc) {
		free(s.allow);
		return rc;
	}
	r = lb_ruleset_add(p->rs);
	if (r)
		r->svc = s;	/* the rule set owns s.allow now */
	else
		free(s.allow);
	if (!r || svc_index_put(&p->idx, p->rs, p->rs->n - 1))
		return cli_err(p->cli, EXIT_FAIL, "%s", strerror(ENOMEM));
	return EXIT_OK;
}

/* "allow add PREFIX... service VIP port N [proto P]": more of the service's list. */
static int line_allow(struct parse_state *p, int argc, char **argv)
{
	struct lb_ruleset_svc *r;
	struct lb_prefix *v = NULL;
	struct lb_svc_key k;
	uint32_t n = 0;
	int rc = parse_allow(p->cli, argc - 1, argv + 1, &k, &v, &n);

	r = rc ? NULL : svc_index_find(&p->idx, p->rs, &k);
	if (!rc && !r)
		rc = cli_err(p->cli, EXIT_FAIL,
			     "allow add: no such service (a service comes before its allow lines)");
	for (uint32_t j = 0; !rc && j < n; j++)
		if (allow_push(&r->svc.allow, &r->svc.n_allow, &v[j]))
			rc = cli_err(p->cli, EXIT_FAIL, "%s", strerror(ENOMEM));
	free(v);
	return rc;
}

/* "endpoint add ADDR [port N] [weight W] [state S] service VIP port N [proto P]" */
static int line_endpoint(struct parse_state *p, int argc, char **argv)
{
	struct lb_ruleset_svc *r;
	struct lb_endpoint e, *slot;
	struct lb_svc_key k;
	bool wg, sg;
	int err;

	if (parse_endpoint(p->cli, argc - 1, argv + 1, &e, &k, &wg, &sg, true, NULL))
		return EXIT_USAGE;
	r = svc_index_find(&p->idx, p->rs, &k);
	if (!r)
		return cli_err(p->cli, EXIT_FAIL,
			       "endpoint add: no such service (a service comes before its endpoints)");
	err = lb_endpoint_check(p->ctx, &r->svc, &e);
	if (err)
		return check_fail(p, "endpoint add", err);
	for (size_t j = 0; j < r->n_eps; j++)
		if (r->eps[j].port == e.port && !memcmp(&r->eps[j].addr, &e.addr, sizeof(e.addr)))
			return cli_err(p->cli, EXIT_FAIL, "endpoint add: already exists (earlier in the file)");
	if (r->n_eps >= LB_SVC_EPS_MAX)
		return cli_err(p->cli, EXIT_FAIL, "endpoint add: a service has at most %d endpoints",
			       LB_SVC_EPS_MAX);
	slot = lb_ruleset_ep_add(r);
	if (!slot)
		return cli_err(p->cli, EXIT_FAIL, "endpoint add: %s", strerror(ENOMEM));
	*slot = e;
	return EXIT_OK;
}

/* "conntrack timeout set NAME SECONDS..." */
static int line_timeout(struct parse_state *p, int argc, char **argv)
{
	static const char *const verbs[] = { "timeout", NULL }, *const sets[] = { "set", NULL };

	if (argc < 3 || lb_match_keyword(argv[1], verbs) < 0 || lb_match_keyword(argv[2], sets) < 0)
		return cli_err(p->cli, EXIT_USAGE,
			       "'%s%s%s': a rule set holds only 'conntrack timeout set' of conntrack",
			       cli_tok(argv[0]), argc > 1 ? " " : "", argc > 1 ? cli_tok(argv[1]) : "");
	return parse_timeouts(p->cli, argc - 3, argv + 3, p->rs->timeout);
}

static int parse_line(struct parse_state *p, char *line)
{
	enum { SERVICE, ENDPOINT, CONNTRACK, ALLOW };
	static const char *const objs[] = {
		[SERVICE] = "service", [ENDPOINT] = "endpoint", [CONNTRACK] = "conntrack",
		[ALLOW] = "allow", NULL
	};
	static const char *const adds[] = { "add", NULL };
	char *argv[LINE_WORDS];
	int argc = cli_split_line(line, argv, LINE_WORDS), o;

	if (argc < 0)
		return cli_err(p->cli, EXIT_USAGE, "unbalanced quotes or too many words");
	if (argc == 0)
		return EXIT_OK;
	if (p->end_line)
		return cli_err(p->cli, EXIT_USAGE, "a rule after the end line (line %d)", p->end_line);
	p->rules++;
	o = lb_match_keyword(argv[0], objs);
	if (o == CONNTRACK)
		return line_timeout(p, argc, argv);
	if (o < 0 || argc < 2 || lb_match_keyword(argv[1], adds) < 0)
		return cli_err(p->cli, EXIT_USAGE,
			       "'%s%s%s': a rule set holds only 'service add', 'allow add', 'endpoint add' and 'conntrack timeout set'",
			       cli_tok(argv[0]), argc > 1 ? " " : "", argc > 1 ? cli_tok(argv[1]) : "");
	return o == SERVICE ? line_service(p, argc, argv) : o == ALLOW ? line_allow(p, argc, argv) :
	       line_endpoint(p, argc, argv);
}

/*
 * The text, line by line.  quote: a bad line is named by its text after "NAME: "
 * (save checking what it is about to write: nobody has seen a line number), through
 * a copy of cli that speaks as "lbctl: NAME: 'LINE' would not restore".
 */
static int parse_text(struct cli *cli, struct lb_ctx *ctx, char *buf, size_t len,
		      const char *name, bool quote, struct lb_ruleset *rs)
{
	struct parse_state p = { .cli = cli, .ctx = ctx, .rs = rs };
	const char *old_name = cli->batch_name;
	int old_line = cli->batch_line, lineno = 0, rc = EXIT_OK;
	unsigned long marked;
	char *line = buf, *end = buf + len;
	struct cli quoted;

	cli->batch_name = name;
	while (line < end && !rc) {
		char *nl = memchr(line, '\n', end - line), *who = NULL;

		if (nl)
			*nl = '\0';
		cli->batch_line = ++lineno;
		if (quote) {
			size_t n = strlen(cli->prog) + strlen(name) + strlen(line) + 32;

			who = malloc(n);
			if (!who) {
				rc = cli_err(cli, EXIT_FAIL, "%s", strerror(ENOMEM));
				break;
			}
			snprintf(who, n, "%s: %s: '%s' would not restore", cli->prog, name, line);
			quoted = *cli;
			quoted.prog = who;
			quoted.batch_line = 0;
			p.cli = &quoted;
		}
		if (strlen(line) != (size_t)((nl ? nl : end) - line)) {
			rc = cli_err(p.cli, EXIT_USAGE, "a NUL byte: not a rule set in text");
		} else if (end_marker(line, &marked)) {
			if (p.end_line)
				rc = cli_err(p.cli, EXIT_USAGE, "a second end line (the first: line %d)",
					     p.end_line);
			else if (marked != p.rules)
				rc = cli_err(p.cli, EXIT_FAIL,
					     "end: %lu rules, the file holds %lu above (cut short or edited)",
					     marked, p.rules);
			p.end_line = lineno;
		} else {
			rc = parse_line(&p, line);
		}
		p.cli = cli;
		free(who);
		line = nl ? nl + 1 : end;
	}
	cli->batch_line = 0;
	if (!rc && !p.end_line)
		rc = cli_err(cli, EXIT_FAIL,
			     "%s: no '# end N rules' line: the file is empty or cut short (an empty rule set is the one line '# end 0 rules')",
			     name);
	cli->batch_name = old_name;
	cli->batch_line = old_line;
	svc_index_free(&p.idx);
	return rc;
}

int restore_parse(struct cli *cli, struct lb_ctx *ctx, char *buf, size_t len, const char *name,
		  struct lb_ruleset *rs)
{
	return parse_text(cli, ctx, buf, len, name, false, rs);
}

int restore_check_saved(struct cli *cli, struct lb_ctx *ctx, const char *text, size_t len)
{
	struct lb_ruleset rs = {};
	char *copy = malloc(len ? len : 1);
	int rc;

	if (!copy)
		return cli_err(cli, EXIT_FAIL, "save: %s", strerror(ENOMEM));
	memcpy(copy, text, len);
	rc = parse_text(cli, ctx, copy, len, "save", true, &rs);
	lb_ruleset_free(&rs);
	free(copy);
	return rc;
}
