// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The health check words of service and endpoint add and set (and of a rule set):
 * "check { none | inherit | tcp | http PATH [expect CODE] [host NAME] |
 * udp PAYLOAD [expect BYTES] }", "interval S", "timeout S", "rise N", "fall N";
 * and the same words back from a struct lb_check, for save and show.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lbctl.h"

/* "2", "0.5": seconds in [min_ms, max_ms] milliseconds, to the millisecond. */
static int seconds_ms(struct cli *cli, const char *what, const char *val, uint32_t min_ms,
		      uint32_t max_ms, uint32_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(val, &end);
	if (errno || end == val || *end || !(v * 1000 >= min_ms - 0.5 && v * 1000 <= max_ms + 0.5))
		return cli_err(cli, EXIT_USAGE, "%s '%s': expected seconds from %g to %g", what,
			       cli_tok(val), min_ms / 1000.0, max_ms / 1000.0);
	*out = (uint32_t)(v * 1000 + 0.5);
	return EXIT_OK;
}

int check_value(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct check_change *ch = (struct check_change *)((char *)obj + kw->field);
	unsigned long long n;

	if (!strcmp(kw->name, "interval"))
		return seconds_ms(cli, "interval", val, 100, 3600000, &ch->interval_ms);
	if (!strcmp(kw->name, "timeout"))
		return seconds_ms(cli, "timeout", val, 10, 60000, &ch->timeout_ms);
	if (cli_parse_uint(cli, kw->name, val, 1, 100, &n))
		return EXIT_USAGE;
	if (!strcmp(kw->name, "rise"))
		ch->rise = n;
	else
		ch->fall = n;
	return EXIT_OK;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Bytes as text with \xHH and \\ escapes, or as hex after "0x". */
static int parse_bytes(struct cli *cli, const char *what, const char *s, uint8_t *out,
		       uint8_t *len)
{
	size_t n = 0, max = LB_CHECK_DATA_MAX;
	bool hex = !strncmp(s, "0x", 2) && s[2];

	for (const char *p = hex ? s + 2 : s; *p; n++) {
		int hi, lo;

		if (n >= max)
			return cli_err(cli, EXIT_USAGE, "%s '%s': at most %zu bytes", what, cli_tok(s), max);
		if (hex || (p[0] == '\\' && p[1] == 'x')) {
			const char *h = hex ? p : p + 2;

			hi = hexval(h[0]);
			lo = hi < 0 ? -1 : hexval(h[1]);
			if (lo < 0)
				return cli_err(cli, EXIT_USAGE, "%s '%s': a bad hex byte", what, cli_tok(s));
			out[n] = hi << 4 | lo;
			p = h + 2;
		} else if (p[0] == '\\' && p[1] == '\\') {
			out[n] = '\\';
			p += 2;
		} else {
			out[n] = *p++;
		}
	}
	if (!n)
		return cli_err(cli, EXIT_USAGE, "%s: empty", what);
	*len = n;
	return EXIT_OK;
}

static int http_expect(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, "expect", val, 100, 599, &v))
		return EXIT_USAGE;
	((struct lb_check *)obj)->expect_code = v;
	return EXIT_OK;
}

static int http_host(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct lb_check *c = obj;

	if (strlen(val) >= sizeof(c->host))
		return cli_err(cli, EXIT_USAGE, "host '%s': at most %zu characters", cli_tok(val),
			       sizeof(c->host) - 1);
	strcpy(c->host, val);
	return EXIT_OK;
}

static int udp_expect(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	struct lb_check *c = obj;

	return parse_bytes(cli, "expect", val, c->expect, &c->expect_len);
}

static const struct cli_kw http_kws[] = {
	{ "expect", CLI_VALUE, 0, 0, "CODE", .parse = http_expect },
	{ "host", CLI_VALUE, 0, 0, "NAME", .parse = http_host },
	{ NULL },
};
static const struct cli_kw udp_kws[] = {
	{ "expect", CLI_VALUE, 0, 0, "BYTES", .parse = udp_expect },
	{ NULL },
};

int check_take(struct cli *cli, struct check_change *ch, int argc, char **argv, int *used)
{
	static const char *const types[] = {
		[LB_CHECK_INHERIT] = "inherit", [LB_CHECK_NONE] = "none", [LB_CHECK_TCP] = "tcp",
		[LB_CHECK_HTTP] = "http", [LB_CHECK_UDP] = "udp", NULL
	};
	struct lb_check *c = &ch->words;
	int t, i = 1, n = 0, rc;

	if (!argc)
		return cli_err(cli, EXIT_USAGE, "check: missing none, %stcp, http or udp",
			       ch->endpoint ? "inherit, " : "");
	t = cli_keyword(cli, argv[0], types, "check");
	if (t < 0)
		return EXIT_USAGE;
	if (t == LB_CHECK_INHERIT && !ch->endpoint)
		return cli_err(cli, EXIT_USAGE, "check inherit: only of an endpoint (a service's default is none)");
	memset(c, 0, sizeof(*c));
	c->type = t;
	ch->type_given = true;
	if (t == LB_CHECK_HTTP || t == LB_CHECK_UDP) {
		if (argc < 2)
			return cli_err(cli, EXIT_USAGE, "check %s: missing %s", types[t],
				       t == LB_CHECK_HTTP ? "PATH" : "PAYLOAD");
		if (t == LB_CHECK_HTTP) {
			if (strlen(argv[1]) >= sizeof(c->path) || argv[1][0] != '/')
				return cli_err(cli, EXIT_USAGE,
					       "check http '%s': a path from / of at most %zu characters",
					       cli_tok(argv[1]), sizeof(c->path) - 1);
			strcpy(c->path, argv[1]);
		} else {
			rc = parse_bytes(cli, "check udp", argv[1], c->payload, &c->payload_len);
			if (rc)
				return rc;
		}
		rc = cli_parse_kw(cli, t == LB_CHECK_HTTP ? http_kws : udp_kws, "check", NULL,
				  argc - 2, argv + 2, c, &n);
		if (rc)
			return rc;
		i = 2 + n;
	}
	*used = i;
	return EXIT_OK;
}

void check_change_apply(const struct check_change *ch, struct lb_check *c)
{
	if (ch->type_given && ch->words.type == LB_CHECK_INHERIT) {
		memset(c, 0, sizeof(*c));	/* all the service's again */
	} else if (ch->type_given) {
		struct lb_check t = ch->words;

		t.interval_ms = c->interval_ms;
		t.timeout_ms = c->timeout_ms;
		t.rise = c->rise;
		t.fall = c->fall;
		*c = t;
	}
	if (ch->interval_ms)
		c->interval_ms = ch->interval_ms;
	if (ch->timeout_ms)
		c->timeout_ms = ch->timeout_ms;
	if (ch->rise)
		c->rise = ch->rise;
	if (ch->fall)
		c->fall = ch->fall;
}

bool check_change_any(const struct check_change *ch)
{
	return ch->type_given || ch->interval_ms || ch->timeout_ms || ch->rise || ch->fall;
}

/* Bytes as parse_bytes reads them: text when every byte is plain, else hex. */
static void put_bytes(FILE *f, const uint8_t *b, size_t n)
{
	bool plain = n && strncmp((const char *)b, "0x", n < 2 ? n : 2);

	for (size_t i = 0; i < n && plain; i++)
		plain = (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
			(b[i] >= '0' && b[i] <= '9') || (b[i] && strchr("._:/=+,@%-", b[i]));
	if (plain) {
		fwrite(b, 1, n, f);
		return;
	}
	fputs("0x", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

static void put_seconds(FILE *f, const char *what, uint32_t ms)
{
	if (ms % 1000 == 0)
		fprintf(f, " %s %u", what, ms / 1000);
	else if (ms % 100 == 0)
		fprintf(f, " %s %u.%u", what, ms / 1000, ms % 1000 / 100);
	else if (ms % 10 == 0)
		fprintf(f, " %s %u.%02u", what, ms / 1000, ms % 1000 / 10);
	else
		fprintf(f, " %s %u.%03u", what, ms / 1000, ms % 1000);
}

const char *check_words(const struct lb_check *c, char *buf, size_t len)
{
	FILE *f;

	memset(buf, 0, len);	/* fmemopen's "w" leaves what was there */
	f = fmemopen(buf, len - 1, "w");
	if (!f)
		return buf;
	if (c->type)
		fprintf(f, " check %s", lb_check_type_name(c->type));
	if (c->type == LB_CHECK_HTTP) {
		fprintf(f, " %s", c->path);
		if (c->expect_code)
			fprintf(f, " expect %u", c->expect_code);
		if (c->host[0])
			fprintf(f, " host %s", c->host);
	} else if (c->type == LB_CHECK_UDP) {
		fputc(' ', f);
		put_bytes(f, c->payload, c->payload_len);
		if (c->expect_len) {
			fputs(" expect ", f);
			put_bytes(f, c->expect, c->expect_len);
		}
	}
	if (c->interval_ms)
		put_seconds(f, "interval", c->interval_ms);
	if (c->timeout_ms)
		put_seconds(f, "timeout", c->timeout_ms);
	if (c->rise)
		fprintf(f, " rise %u", c->rise);
	if (c->fall)
		fprintf(f, " fall %u", c->fall);
	fclose(f);
	return buf[0] == ' ' ? buf + 1 : buf;
}
