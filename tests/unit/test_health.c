// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Health checks without a kernel: the HTTP status line, hysteresis, the effective
 * settings of an endpoint, and which settings liblb accepts. */
#include <errno.h>
#include "tap.h"
#include "health.h"

static void http_status_line(void)
{
	int code = 0;

#define ST(s) lb__http_status(s, sizeof(s) - 1, &code)
	CHECK_EQ_U(ST("HTTP/1.0 200 OK\r\n"), 1);
	CHECK_EQ_U(code, 200);
	CHECK_EQ_U(ST("HTTP/1.1 500 Internal Server Error\r\nServer: x\r\n"), 1);
	CHECK_EQ_U(code, 500);
	CHECK_EQ_U(ST("HTTP/1.1 204\r\n"), 1);
	CHECK_EQ_U(code, 204);
	CHECK_EQ_U(ST("HTTP/1.1 301\n"), 1);
	CHECK_EQ_U(code, 301);
	/* more bytes may complete it */
	CHECK_EQ_U(ST(""), 0);
	CHECK_EQ_U(ST("HTT"), 0);
	CHECK_EQ_U(ST("HTTP/1.1 20"), 0);
	/* no status line */
	CHECK(ST("SSH-2.0-OpenSSH\r\n") == -1, "ssh banner");
	CHECK(ST("HTTP/2 200\r\n") == -1, "HTTP/2");
	CHECK(ST("HTTP/1.1 2000 OK\r\n") == -1, "four digits");
	CHECK(ST("HTTP/1.1 abc OK\r\n") == -1, "letters");
	CHECK(ST("HTTP/1.1 099 OK\r\n") == -1, "below 100");
	CHECK(ST("HTTP/1.1 20\r\n") == -1, "two digits");
#undef ST
}

static void hysteresis(void)
{
	struct lb_check c = { .type = LB_CHECK_TCP, .rise = 2, .fall = 3 };
	struct lb_health h = {};

	/* unknown serves: one success confirms it, no change of serving */
	CHECK(!lb__health_step(&h, true, NULL, &c, 1), "unknown to up is no change");
	CHECK_EQ_U(h.state, LB_HEALTH_UP);
	CHECK_EQ_U(h.change_ns, 1);
	/* fall 3: two failures keep it up, the third takes it down */
	CHECK(!lb__health_step(&h, false, "a", &c, 2), "1st failure");
	CHECK(!lb__health_step(&h, false, "b", &c, 3), "2nd failure");
	CHECK_EQ_U(h.state, LB_HEALTH_UP);
	CHECK(lb__health_step(&h, false, "c", &c, 4), "3rd failure");
	CHECK_EQ_U(h.state, LB_HEALTH_DOWN);
	CHECK_EQ_U(h.fail_run, 3);
	CHECK_EQ_U(h.change_ns, 4);
	CHECK_STR(h.reason, "c");
	/* flapping while down: never rise successes in a row */
	for (int i = 0; i < 5; i++) {
		CHECK(!lb__health_step(&h, true, NULL, &c, 10 + 2 * i), "success %d", i);
		CHECK(!lb__health_step(&h, false, "d", &c, 11 + 2 * i), "failure %d", i);
	}
	CHECK_EQ_U(h.state, LB_HEALTH_DOWN);
	CHECK_STR(h.reason, "d");
	/* rise 2 */
	CHECK(!lb__health_step(&h, true, NULL, &c, 30), "1st success");
	CHECK(lb__health_step(&h, true, NULL, &c, 31), "2nd success");
	CHECK_EQ_U(h.state, LB_HEALTH_UP);
	CHECK_EQ_U(h.ok_run, 2);
	CHECK_EQ_U(h.fail_run, 0);
	CHECK_EQ_U(h.last, LB_HEALTH_OK);
	CHECK_EQ_U(h.last_ns, 31);
	CHECK_STR(h.reason, "d");	/* the last failure's, kept */
	/* flapping while up: never fall failures in a row */
	for (int i = 0; i < 5; i++) {
		CHECK(!lb__health_step(&h, false, "e", &c, 40 + 2 * i), "failure %d", i);
		CHECK(!lb__health_step(&h, true, NULL, &c, 41 + 2 * i), "success %d", i);
	}
	CHECK_EQ_U(h.state, LB_HEALTH_UP);
	/* fall 1 from unknown: down at the first failure */
	struct lb_health u = {};

	c.fall = 1;
	CHECK(lb__health_step(&u, false, "x", &c, 50), "fall 1");
	CHECK_EQ_U(u.state, LB_HEALTH_DOWN);
}

static void effective_settings(void)
{
	struct lb_check svc = { .type = LB_CHECK_HTTP, .interval_ms = 5000, .rise = 4,
				.expect_code = 204 }, own = {}, out;

	strcpy(svc.path, "/healthz");
	lb__check_effective(&own, &svc, &out);
	CHECK_EQ_U(out.type, LB_CHECK_HTTP);
	CHECK_STR(out.path, "/healthz");
	CHECK_EQ_U(out.expect_code, 204);
	CHECK_EQ_U(out.interval_ms, 5000);
	CHECK_EQ_U(out.timeout_ms, LB_CHECK_TIMEOUT_MS);
	CHECK_EQ_U(out.rise, 4);
	CHECK_EQ_U(out.fall, LB_CHECK_FALL);
	/* an endpoint's type brings its own words; its timings override one by one */
	own.type = LB_CHECK_TCP;
	own.fall = 7;
	lb__check_effective(&own, &svc, &out);
	CHECK_EQ_U(out.type, LB_CHECK_TCP);
	CHECK_STR(out.path, "");
	CHECK_EQ_U(out.expect_code, 0);
	CHECK_EQ_U(out.interval_ms, 5000);
	CHECK_EQ_U(out.rise, 4);
	CHECK_EQ_U(out.fall, 7);
	/* nothing anywhere: none, the defaults */
	memset(&svc, 0, sizeof(svc));
	memset(&own, 0, sizeof(own));
	lb__check_effective(&own, &svc, &out);
	CHECK_EQ_U(out.type, LB_CHECK_NONE);
	CHECK_EQ_U(out.interval_ms, LB_CHECK_INTERVAL_MS);
	CHECK_EQ_U(out.rise, LB_CHECK_RISE);
}

static void settings_checked(void)
{
	struct lb_open_opts o = { .pin_root = "/nonexistent/lbkit-unit-health" };
	struct lb_ctx *ctx = NULL;
	struct lb_check c = { .type = LB_CHECK_HTTP };

	lb_open(&ctx, &o);	/* fails (no such root) but leaves a ctx */
	strcpy(c.path, "/ok");
	CHECK(lb__check_valid(ctx, &c) == 0, "%s", lb_ctx_errmsg(ctx));
	strcpy(c.path, "nopath");
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "a path without /");
	strcpy(c.path, "/a b");
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "a space");
	strcpy(c.path, "/ok");
	c.expect_code = 99;
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "expect 99");
	c.expect_code = 0;
	c.interval_ms = 50;
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "interval 0.05");
	c.interval_ms = 0;
	c.type = LB_CHECK_TCP;
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "a path on tcp");
	c.path[0] = '\0';
	CHECK(lb__check_valid(ctx, &c) == 0, "%s", lb_ctx_errmsg(ctx));
	c.type = LB_CHECK_UDP;
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "udp without a payload");
	c.payload_len = 1;
	CHECK(lb__check_valid(ctx, &c) == 0, "%s", lb_ctx_errmsg(ctx));
	c.type = LB_CHECK_MAX;
	CHECK(lb__check_valid(ctx, &c) == -EINVAL, "unknown type");
	lb_close(ctx);
}

int main_health(void);
int main_health(void)
{
	RUN(http_status_line);
	RUN(hysteresis);
	RUN(effective_settings);
	RUN(settings_checked);
	return 0;
}
