// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl restore's parser without a kernel: rule sets as text into a struct
 * lb_ruleset, and one message naming FILE:LINE for each kind of bad line.
 */
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "tap.h"
#include "lbctl.h"
#include "lbctl_restore_parse.h"

/* lbctl_svc.o, which the parser uses for the words of "service add" and "endpoint
 * add", names lbctl.c's help command; the parser never runs it. */
int do_help(struct cli *cli, int argc, char **argv)
{
	return EXIT_OK;
}

/* The checks of liblb need a ctx for their words only: one that opened nothing. */
static struct lb_ctx *ctx;

/* Parse len bytes of text as restore does, into rs; msg: the line it printed on
 * stderr, "" when none. */
static int parse_bytes(const char *text, size_t len, struct lb_ruleset *rs, char *msg,
		       size_t msglen)
{
	struct cli cli = { .prog = "lbctl" };
	char *buf = malloc(len + 1);
	FILE *out = tmpfile();
	int saved = dup(STDERR_FILENO), rc;

	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(rs, 0, sizeof(*rs));
	fflush(stderr);
	dup2(fileno(out), STDERR_FILENO);
	rc = restore_parse(&cli, ctx, buf, len, "rules", rs);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(out);
	if (!fgets(msg, msglen, out))
		msg[0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	fclose(out);
	free(buf);
	return rc;
}

/* The message for text, which must fail with exit code code. */
static const char *bad(const char *text, int code)
{
	static char msg[512];
	struct lb_ruleset rs;
	int rc = parse_bytes(text, strlen(text), &rs, msg, sizeof(msg));

	lb_ruleset_free(&rs);
	if (rc != code)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (exit %d, not %d)", rc, code);
	return msg;
}

static const char good_set[] =
	"# lbkit rule set (lbctl save); 'lbctl restore' replaces the rule set with it\n"
	"conntrack timeout set tcp-syn 30 tcp-est 3600 udp 120\n"
	"\n"
	"service add 198.18.0.10 port 80 proto tcp sched maglev mode dnat\n"
	"endpoint add 198.18.1.1 port 8080 weight 2 service 198.18.0.10 port 80 proto tcp\n"
	"   # an indented comment, then blanks\n"
	" \t \n"
	"endpoint add 198.18.1.2 port 8080 weight 1 state drain service 198.18.0.10 port 80 proto tcp\n"
	"service add 2001:db8::10 port 443 proto udp sched rr mode fullnat snat 2001:db8::1 persist 60\n"
	"endpoint add 2001:db8:1::1 port 443 service 2001:db8::10 port 443 proto udp\n"
	"# end 6 rules";	/* no \n */

static void good_file(void)
{
	struct lb_ruleset rs;
	struct in6_addr a6;
	char msg[512];

	CHECK(parse_bytes(good_set, strlen(good_set), &rs, msg, sizeof(msg)) == EXIT_OK, "%s", msg);
	CHECK_STR(msg, "");
	CHECK_EQ_U(rs.timeout[LB_TO_TCP_SYN], 30);
	CHECK_EQ_U(rs.timeout[LB_TO_TCP_EST], 3600);
	CHECK_EQ_U(rs.timeout[LB_TO_UDP], 120);
	CHECK_EQ_U(rs.timeout[LB_TO_TCP_FIN], 0);
	CHECK_EQ_U(rs.n, 2);
	if (rs.n != 2)
		goto out;
	CHECK_EQ_U(rs.svcs[0].svc.key.vip.a[0], htonl(0xc612000a));
	CHECK_EQ_U(rs.svcs[0].svc.key.port, htons(80));
	CHECK_EQ_U(rs.svcs[0].svc.key.proto, IPPROTO_TCP);
	CHECK_EQ_U(rs.svcs[0].svc.key.family, LB_AF_INET);
	CHECK_EQ_U(rs.svcs[0].svc.sched, LB_SCHED_MAGLEV);
	CHECK_EQ_U(rs.svcs[0].svc.mode, LB_NAT_DNAT);
	CHECK_EQ_U(rs.svcs[0].n_eps, 2);
	CHECK_EQ_U(rs.svcs[0].eps[0].addr.a[0], htonl(0xc6120101));
	CHECK_EQ_U(rs.svcs[0].eps[0].port, htons(8080));
	CHECK_EQ_U(rs.svcs[0].eps[0].weight, 2);
	CHECK_EQ_U(rs.svcs[0].eps[0].status, LB_EP_UP);
	CHECK_EQ_U(rs.svcs[0].eps[1].addr.a[0], htonl(0xc6120102));
	CHECK_EQ_U(rs.svcs[0].eps[1].status, LB_EP_DRAIN);
	CHECK_EQ_U(rs.svcs[1].svc.key.family, LB_AF_INET6);
	CHECK_EQ_U(rs.svcs[1].svc.key.proto, IPPROTO_UDP);
	CHECK_EQ_U(rs.svcs[1].svc.mode, LB_NAT_FULLNAT);
	CHECK_EQ_U(rs.svcs[1].svc.persist, 60);
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	CHECK(!memcmp(&rs.svcs[1].svc.snat, &a6, 16), "snat address");
	CHECK_EQ_U(rs.svcs[1].n_eps, 1);
	CHECK_EQ_U(rs.svcs[1].eps[0].port, htons(443));
out:
	lb_ruleset_free(&rs);
}

#define NO_END	"lbctl: rules: no '# end N rules' line: the file is empty or cut short " \
		"(an empty rule set is the one line '# end 0 rules')"

/* An empty rule set must be said: "# end 0 rules".  Empty input, or comments only,
 * is a file cut short (restore changes nothing). */
static void empty_file(void)
{
	struct lb_ruleset rs;
	char msg[512];

	static const char empty[] = "# nothing\n  # end 0 rules \n\n";

	CHECK(parse_bytes(empty, strlen(empty), &rs, msg, sizeof(msg)) == EXIT_OK, "%s", msg);
	CHECK(rs.n == 0 && rs.timeout[LB_TO_UDP] == 0, "n %zu", rs.n);
	lb_ruleset_free(&rs);
	CHECK_STR(bad("", EXIT_FAIL), NO_END);
	CHECK_STR(bad("# nothing\n\n", EXIT_FAIL), NO_END);
	CHECK_STR(bad("# end 0 rule\n", EXIT_FAIL), NO_END);
	CHECK_STR(bad("# end rules\n", EXIT_FAIL), NO_END);
}

/* The end line counts the rules above it, comes once, and last. */
static void end_line(void)
{
	CHECK_STR(bad("service add 198.18.0.10 port 80\n# end 2 rules\n", EXIT_FAIL),
		  "lbctl: rules:2: end: 2 rules, the file holds 1 above (cut short or edited)");
	CHECK_STR(bad("# end 0 rules\nservice add 198.18.0.10 port 80\n", EXIT_USAGE),
		  "lbctl: rules:2: a rule after the end line (line 1)");
	CHECK_STR(bad("# end 0 rules\n# end 0 rules\n", EXIT_USAGE),
		  "lbctl: rules:2: a second end line (the first: line 1)");
}

/* A saved file cut at any byte is refused, except where nothing of it is lost
 * (the whole file, or all but its last newline). */
static void cut_anywhere(void)
{
	size_t len = strlen(good_set), refused = 0;
	struct lb_ruleset rs;
	char msg[512];

	for (size_t cut = 0; cut < len; cut++) {
		int rc = parse_bytes(good_set, cut, &rs, msg, sizeof(msg));

		lb_ruleset_free(&rs);
		refused += rc != EXIT_OK;
		CHECK(rc != EXIT_OK, "cut at byte %zu of %zu applied: %.*s", cut, len, 40,
		      good_set + (cut > 40 ? cut - 40 : 0));
	}
	CHECK_EQ_U(refused, len);
}

static const char svc[] = "service add 198.18.0.10 port 80 proto tcp\n";

/* Each kind of bad line, and its line number. */
static void bad_lines(void)
{
	char nul[] = "service add 198.18.0.10 port 80\n\0x\n";
	struct lb_ruleset rs;
	char msg[512], text[4096], want[128], *big;
	size_t off, big_len;

	CHECK_STR(bad("foo add 1\n", EXIT_USAGE),
		  "lbctl: rules:1: 'foo add': a rule set holds only 'service add', 'allow add', "
		  "'endpoint add' and 'conntrack timeout set'");
	CHECK_STR(bad("# ok\nservice del 198.18.0.10 port 80\n", EXIT_USAGE),
		  "lbctl: rules:2: 'service del': a rule set holds only 'service add', "
		  "'allow add', 'endpoint add' and 'conntrack timeout set'");
	CHECK_STR(bad("service\n", EXIT_USAGE),
		  "lbctl: rules:1: 'service': a rule set holds only 'service add', 'allow add', "
		  "'endpoint add' and 'conntrack timeout set'");
	CHECK_STR(bad("allow del 198.18.5.0/24 service 198.18.0.10 port 80\n", EXIT_USAGE),
		  "lbctl: rules:1: 'allow del': a rule set holds only 'service add', 'allow add', "
		  "'endpoint add' and 'conntrack timeout set'");
	CHECK_STR(bad("allow add 198.18.5.0/24 service 198.18.0.10 port 80\n", EXIT_FAIL),
		  "lbctl: rules:1: allow add: no such service (a service comes before its allow "
		  "lines)");
	snprintf(text, sizeof(text), "%sallow add 198.18.5.0/33 service 198.18.0.10 port 80\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE), "lbctl: rules:2: allow '198.18.5.0/33': not a prefix");
	snprintf(text, sizeof(text), "%sallow add 198.18.5.x service 198.18.0.10 port 80\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE), "lbctl: rules:2: allow '198.18.5.x': not a prefix");
	snprintf(text, sizeof(text), "%sallow add 2001:db8::/32 service 198.18.0.10 port 80\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE),
		  "lbctl: rules:2: allow 2001:db8::/32: not of the service's family");
	snprintf(text, sizeof(text), "%sallow add service 198.18.0.10 port 80\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE), "lbctl: rules:2: allow add: missing prefix");
	snprintf(text, sizeof(text), "%sallow add 198.18.5.0/24\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE),
		  "lbctl: rules:2: allow add: expected 'service VIP port N'");
	CHECK_STR(bad("service add 198.18.0.10 port 80 allow 198.18.5.0/24 allow 198.18.5.0/24\n",
		      EXIT_USAGE),
		  "lbctl: rules:1: service add: allow 198.18.5.0/24: listed twice");
	CHECK_STR(bad("conntrack flush\n", EXIT_USAGE),
		  "lbctl: rules:1: 'conntrack flush': a rule set holds only 'conntrack timeout "
		  "set' of conntrack");
	CHECK_STR(bad("conntrack timeout set udp\n", EXIT_USAGE),
		  "lbctl: rules:1: conntrack timeout set: expected NAME SECONDS pairs");
	CHECK_STR(bad("conntrack timeout set sctp 5\n", EXIT_USAGE),
		  "lbctl: rules:1: timeout 'sctp': expected one of tcp-syn, tcp-est, tcp-fin, "
		  "udp");
	CHECK_STR(bad("conntrack timeout set udp 0\n", EXIT_USAGE),
		  "lbctl: rules:1: udp '0': expected a number from 1 to 2592000");
	CHECK_STR(bad("service add 198.18.0.10 port 80 'x\n", EXIT_USAGE),
		  "lbctl: rules:1: unbalanced quotes or too many words");
	CHECK_STR(bad("service add 198.18.0.10 port 80 sched fastest\n", EXIT_USAGE),
		  "lbctl: rules:1: sched 'fastest': expected one of rr, wrr, random, hash, "
		  "maglev, lc");
	CHECK_STR(bad("service add 224.0.0.1 port 80\n", EXIT_USAGE),
		  "lbctl: rules:1: service add: VIP 224.0.0.1 is a multicast address");
	snprintf(text, sizeof(text), "%s%s", svc, svc);
	CHECK_STR(bad(text, EXIT_FAIL),
		  "lbctl: rules:2: service add: already exists (earlier in the file)");
	CHECK_STR(bad("endpoint add 198.18.1.1 port 80 service 198.18.0.10 port 80\n", EXIT_FAIL),
		  "lbctl: rules:1: endpoint add: no such service (a service comes before its "
		  "endpoints)");
	snprintf(text, sizeof(text), "%sendpoint add 2001:db8::1 port 80 service 198.18.0.10 "
		 "port 80\n", svc);
	CHECK_STR(bad(text, EXIT_USAGE),
		  "lbctl: rules:2: endpoint add: endpoint family differs from the service's");
	snprintf(text, sizeof(text), "%sendpoint add 198.18.1.1 port 80 service 198.18.0.10 port 80\n"
		 "endpoint add 198.18.1.1 port 80 weight 3 service 198.18.0.10 port 80\n", svc);
	CHECK_STR(bad(text, EXIT_FAIL),
		  "lbctl: rules:3: endpoint add: already exists (earlier in the file)");
	/* one endpoint more than a service may have: a line each, on the heap */
	big_len = sizeof(svc) + (LB_SVC_EPS_MAX + 1) * 80;
	big = malloc(big_len);
	CHECK(big != NULL, "malloc");
	if (big) {
		off = snprintf(big, big_len, "%s", svc);
		for (int i = 0; i <= LB_SVC_EPS_MAX; i++)
			off += snprintf(big + off, big_len - off, "endpoint add 198.18.%d.%d port 80 "
					"service 198.18.0.10 port 80\n", 2 + i / 250, 1 + i % 250);
		CHECK(off < big_len, "text too short");
		snprintf(want, sizeof(want), "lbctl: rules:%d: endpoint add: a service has at most %d endpoints",
			 LB_SVC_EPS_MAX + 2, LB_SVC_EPS_MAX);
		CHECK_STR(bad(big, EXIT_FAIL), want);
		free(big);
	}
	CHECK(parse_bytes(nul, sizeof(nul) - 1, &rs, msg, sizeof(msg)) == EXIT_USAGE, "NUL");
	CHECK_STR(msg, "lbctl: rules:2: a NUL byte: not a rule set in text");
	lb_ruleset_free(&rs);
}

/*
 * Allow lists: "allow" on the service line (repeatable) and "allow add" lines, one
 * list in the file's order; 10,000 prefixes (what save writes: a line each).
 */
static void allow_lines(void)
{
	const size_t n = 10000;
	size_t len = 0, cap = n * 80 + 256;
	char *text = malloc(cap), msg[512];
	struct lb_ruleset rs;

	len += snprintf(text + len, cap - len,
			"service add 198.18.0.10 port 80 allow 198.18.200.0/24 allow 198.18.201.0/24\n");
	for (size_t i = 0; i < n; i++)
		len += snprintf(text + len, cap - len,
				"allow add 10.%zu.%zu.0/24 service 198.18.0.10 port 80 proto tcp\n",
				i / 256, i % 256);
	len += snprintf(text + len, cap - len,
			"service add 2001:db8::10 port 443 allow 2001:db8:5::/48\n"
			"allow add 2001:db8:6::1/128 2001:db8:7::/64 service 2001:db8::10 port 443\n"
			"# end %zu rules\n", n + 3);
	CHECK(parse_bytes(text, len, &rs, msg, sizeof(msg)) == EXIT_OK, "%s", msg);
	CHECK_EQ_U(rs.n, 2);
	if (rs.n == 2) {
		const struct lb_service *s = &rs.svcs[0].svc, *s6 = &rs.svcs[1].svc;

		CHECK_EQ_U(s->n_allow, n + 2);
		CHECK_EQ_U(s->allow[0].addr.a[0], htonl(0xc612c800));
		CHECK_EQ_U(s->allow[1].addr.a[0], htonl(0xc612c900));
		CHECK_EQ_U(s->allow[2].addr.a[0], htonl(0x0a000000));
		CHECK_EQ_U(s->allow[n + 1].addr.a[0], htonl(0x0a000000 | (uint32_t)(n - 1) << 8));
		CHECK_EQ_U(s->allow[n + 1].prefix_len, 24);
		CHECK_EQ_U(s6->n_allow, 3);
		CHECK_EQ_U(s6->allow[1].prefix_len, 128);
		CHECK_EQ_U(s6->allow[1].addr.a[3], htonl(1));
		CHECK_EQ_U(s6->allow[2].prefix_len, 64);
		/* liblb's check of the whole list, as restore makes it */
		CHECK(lb_service_check(ctx, s) == 0, "%s", lb_ctx_errmsg(ctx));
	}
	lb_ruleset_free(&rs);
	free(text);
}

/* A file cut short: a last line without its newline is read; cut inside a line, that
 * line is the error. */
static void truncated_last_line(void)
{
	CHECK_STR(bad("service add 198.18.0.10 port 80\nendpoint add 198.18.1.1 port 80 service "
		      "198.18.0.10 port", EXIT_USAGE),
		  "lbctl: rules:2: port: missing value");
	CHECK_STR(bad("service add 198.18.0.10 port 80\nconntrack timeout set udp", EXIT_USAGE),
		  "lbctl: rules:2: conntrack timeout set: expected NAME SECONDS pairs");
}

/* save's check of its own text: the line restore would refuse, named by its text;
 * the text itself left as it is. */
static void saved_text_checked(void)
{
	static const char bad_weight[] =
		"conntrack timeout set tcp-syn 60\n"
		"service add 198.18.0.10 port 80 proto tcp sched rr mode dnat\n"
		"endpoint add 198.18.1.1 port 80 weight 70000 service 198.18.0.10 port 80 proto tcp\n"
		"# end 3 rules\n";
	static const char bad_addr[] =
		"service add 198.18.0.10 port 80 proto tcp sched rr mode dnat\n"
		"endpoint add 0.0.0.0 port 80 weight 1 service 198.18.0.10 port 80 proto tcp\n"
		"# end 2 rules\n";
	struct cli cli = { .prog = "lbctl" };
	char copy[sizeof(bad_weight)], msg[512];
	FILE *out = tmpfile();
	int saved = dup(STDERR_FILENO), rc1, rc2, rc3;

	memcpy(copy, bad_weight, sizeof(copy));
	fflush(stderr);
	dup2(fileno(out), STDERR_FILENO);
	rc1 = restore_check_saved(&cli, ctx, copy, strlen(copy));
	rc2 = restore_check_saved(&cli, ctx, bad_addr, strlen(bad_addr));
	rc3 = restore_check_saved(&cli, ctx, good_set, strlen(good_set));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(out);
	CHECK_EQ_U(rc1, EXIT_USAGE);
	CHECK_EQ_U(rc2, EXIT_USAGE);
	CHECK_EQ_U(rc3, EXIT_OK);
	CHECK(fgets(msg, sizeof(msg), out) != NULL, "first message");
	CHECK_STR(msg, "lbctl: save: 'endpoint add 198.18.1.1 port 80 weight 70000 service "
		  "198.18.0.10 port 80 proto tcp' would not restore: weight '70000': expected a "
		  "number from 0 to 65535\n");
	CHECK(fgets(msg, sizeof(msg), out) != NULL, "second message");
	CHECK_STR(msg, "lbctl: save: 'endpoint add 0.0.0.0 port 80 weight 1 service 198.18.0.10 "
		  "port 80 proto tcp' would not restore: endpoint add: endpoint 0.0.0.0 is an "
		  "unspecified address\n");
	CHECK(fgets(msg, sizeof(msg), out) == NULL, "one message each, none for the good set");
	CHECK(!memcmp(copy, bad_weight, sizeof(copy)), "the text is left as it is");
	fclose(out);
}

/* The health check words of service and endpoint lines, and their errors. */
static void check_words_parsed(void)
{
	static const char text[] =
		"service add 198.18.0.10 port 80 check http /healthz expect 200 host www.example "
		"interval 1.5 timeout 0.25 rise 4 fall 5\n"
		"endpoint add 198.18.1.1 port 8080 check udp 'ping\\x0a' expect 0x706f6e67 "
		"service 198.18.0.10 port 80\n"
		"endpoint add 198.18.1.2 port 8080 interval 3 check none service 198.18.0.10 port 80\n"
		"# end 3 rules\n";
	struct lb_ruleset rs;
	char msg[512], words[CHECK_WORDS_MAX];

	CHECK(parse_bytes(text, strlen(text), &rs, msg, sizeof(msg)) == EXIT_OK, "%s", msg);
	if (rs.n != 1 || rs.svcs[0].n_eps != 2) {
		CHECK(0, "%zu services", rs.n);
		goto out;
	}
	const struct lb_check *c = &rs.svcs[0].svc.check;

	CHECK_EQ_U(c->type, LB_CHECK_HTTP);
	CHECK_STR(c->path, "/healthz");
	CHECK_STR(c->host, "www.example");
	CHECK_EQ_U(c->expect_code, 200);
	CHECK_EQ_U(c->interval_ms, 1500);
	CHECK_EQ_U(c->timeout_ms, 250);
	CHECK_EQ_U(c->rise, 4);
	CHECK_EQ_U(c->fall, 5);
	CHECK_STR(check_words(c, words, sizeof(words)),
		  "check http /healthz expect 200 host www.example interval 1.5 timeout 0.25 rise 4 fall 5");
	c = &rs.svcs[0].eps[0].check;
	CHECK_EQ_U(c->type, LB_CHECK_UDP);
	CHECK_EQ_U(c->payload_len, 5);
	CHECK(!memcmp(c->payload, "ping\n", 5), "payload");
	CHECK_EQ_U(c->expect_len, 4);
	CHECK(!memcmp(c->expect, "pong", 4), "expect");
	CHECK_STR(check_words(c, words, sizeof(words)), "check udp 0x70696e670a expect pong");
	c = &rs.svcs[0].eps[1].check;
	CHECK_EQ_U(c->type, LB_CHECK_NONE);
	CHECK_EQ_U(c->interval_ms, 3000);
	CHECK_STR(check_words(c, words, sizeof(words)), "check none interval 3");
out:
	lb_ruleset_free(&rs);
	CHECK_STR(bad("service add 198.18.0.10 port 80 check inherit\n", EXIT_USAGE),
		  "lbctl: rules:1: check inherit: only of an endpoint (a service's default is none)");
	CHECK_STR(bad("service add 198.18.0.10 port 80 check http\n", EXIT_USAGE),
		  "lbctl: rules:1: check http: missing PATH");
	CHECK_STR(bad("service add 198.18.0.10 port 80 check udp 0x1\n", EXIT_USAGE),
		  "lbctl: rules:1: check udp '0x1': a bad hex byte");
	CHECK_STR(bad("service add 198.18.0.10 port 80 interval 0.01\n", EXIT_USAGE),
		  "lbctl: rules:1: interval '0.01': expected seconds from 0.1 to 3600");
	CHECK_STR(bad("service add 198.18.0.10 port 80 check tcp rise 0\n", EXIT_USAGE),
		  "lbctl: rules:1: rise '0': expected a number from 1 to 100");
}

int main_restore(void);
int main_restore(void)
{
	struct lb_open_opts o = { .pin_root = "/nonexistent/lbkit-unit-restore" };

	lb_open(&ctx, &o);	/* fails (no such root) but leaves a ctx */
	RUN(good_file);
	RUN(empty_file);
	RUN(end_line);
	RUN(cut_anywhere);
	RUN(bad_lines);
	RUN(allow_lines);
	RUN(truncated_last_line);
	RUN(saved_text_checked);
	RUN(check_words_parsed);
	lb_close(ctx);
	return 0;
}
