// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Selection tables: Maglev disruption and weights, smooth WRR cycles, addresses. */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "tap.h"
#include <lb/lb.h>

#define M LB_MAGLEV_DEFAULT

static void names_for(uint8_t (*names)[20], size_t n, size_t first)
{
	for (size_t i = 0; i < n; i++) {
		memset(names[i], 0, 20);
		names[i][0] = 198;
		names[i][1] = 18;
		names[i][2] = (first + i) >> 8;
		names[i][3] = (first + i) & 0xff;
		names[i][17] = 80;
	}
}

static void maglev_fills_and_balances(void)
{
	uint8_t names[10][20];
	uint32_t w[10], *t = malloc(M * sizeof(*t)), cnt[10] = {};

	names_for(names, 10, 1);
	for (int i = 0; i < 10; i++)
		w[i] = 1;
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, 10, M, t) == 0, "build");
	for (uint32_t i = 0; i < M; i++) {
		CHECK(t[i] < 10, "slot %u unfilled", i);
		if (t[i] < 10)
			cnt[t[i]]++;
	}
	/* Equal weights: each share within 1% of the table of 1/10. */
	for (int i = 0; i < 10; i++)
		CHECK(cnt[i] > M / 10 - M / 100 && cnt[i] < M / 10 + M / 100, "share %d: %u", i, cnt[i]);
	free(t);
}

/* Removing one of N endpoints moves at most about 1/N of the table (plus a margin). */
static void maglev_minimal_disruption(void)
{
	for (size_t n = 3; n <= 20; n += 17) {
		uint8_t names[20][20];
		uint32_t w[20], *a = malloc(M * sizeof(*a)), *b = malloc(M * sizeof(*b));
		size_t removed = n / 2, moved = 0;

		names_for(names, n, 1);
		for (size_t i = 0; i < n; i++)
			w[i] = 1;
		CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, n, M, a) == 0, "build");
		/* Same names without the removed one; indexes shift above it. */
		memmove(names[removed], names[removed + 1], (n - removed - 1) * 20);
		CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, n - 1, M, b) == 0, "rebuild");
		for (uint32_t i = 0; i < M; i++) {
			uint32_t before = a[i], after = b[i] >= removed ? b[i] + 1 : b[i];

			if (before != removed && before != after)
				moved++;
		}
		/* Slots of surviving endpoints that changed owner: a few percent at most. */
		CHECK(moved <= M / n / 2 + M / 50, "n=%zu: %zu of %u surviving slots moved", n, moved, M);
		free(a);
		free(b);
	}
}

static void maglev_weights(void)
{
	uint8_t names[3][20];
	uint32_t w[3] = { 1, 2, 3 }, *t = malloc(M * sizeof(*t)), cnt[3] = {};

	names_for(names, 3, 7);
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, 3, M, t) == 0, "build");
	for (uint32_t i = 0; i < M; i++)
		cnt[t[i]]++;
	for (int i = 0; i < 3; i++) {
		double share = (double)cnt[i] / M, want = w[i] / 6.0;

		CHECK(share > want - 0.01 && share < want + 0.01, "weight %u: share %.4f want %.4f",
		      w[i], share, want);
	}
	free(t);
}

static void maglev_rejects_bad_input(void)
{
	uint8_t names[1][20] = { { 1 } };
	uint32_t w[1] = { 1 }, t[16], zero[1] = { 0 };

	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, 1, 16, t) == -EINVAL, "16 is not prime");
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, zero, 1, 13, t) == -EINVAL, "all weights 0");
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, 0, 13, t) == -EINVAL, "no endpoints");
	CHECK(lb_is_prime(16381) && lb_is_prime(65537) && !lb_is_prime(65535) && !lb_is_prime(1),
	      "primes");
}

static void wrr_cycles(void)
{
	uint32_t w[3] = { 1, 2, 3 }, seq[64], cnt[3] = {};
	size_t len = lb_wrr_build(w, 3, seq, 64);

	CHECK_EQ_U(len, 6);
	for (size_t i = 0; i < len; i++)
		cnt[seq[i]]++;
	CHECK(cnt[0] == 1 && cnt[1] == 2 && cnt[2] == 3, "1,2,3: %u %u %u", cnt[0], cnt[1], cnt[2]);
	/* Smooth: the heaviest never runs three times in a row within the cycle. */
	for (size_t i = 2; i < len; i++)
		CHECK(!(seq[i] == 2 && seq[i - 1] == 2 && seq[i - 2] == 2), "smooth at %zu", i);
	/* Common factors fold: 10,20,30 is the same cycle. */
	w[0] = 10; w[1] = 20; w[2] = 30;
	CHECK_EQ_U(lb_wrr_build(w, 3, seq, 64), 6);
	/* Longer than the table: scaled down, still every endpoint present. */
	w[0] = 1; w[1] = 1000; w[2] = 1;
	len = lb_wrr_build(w, 3, seq, 64);
	CHECK(len > 0 && len <= 64, "len %zu", len);
	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < len; i++)
		cnt[seq[i]]++;
	CHECK(cnt[0] >= 1 && cnt[2] >= 1 && cnt[1] > cnt[0] * 10, "%u %u %u", cnt[0], cnt[1], cnt[2]);
	w[0] = w[1] = w[2] = 0;
	CHECK_EQ_U(lb_wrr_build(w, 3, seq, 64), 0);
}

static void addresses(void)
{
	struct lb_addr a;
	struct lb_prefix p;
	uint8_t fam;
	char buf[64];

	CHECK(lb_addr_parse("198.18.0.1", &a, &fam) == 0 && fam == LB_AF_INET, "v4");
	CHECK(a.a[0] == htonl(0xc6120001) && !a.a[1] && !a.a[3], "v4 layout");
	CHECK_STR(lb_addr_str(&a, fam, buf, sizeof(buf)), "198.18.0.1");
	CHECK(lb_addr_parse("2001:db8::1", &a, &fam) == 0 && fam == LB_AF_INET6, "v6");
	CHECK_STR(lb_addr_str(&a, fam, buf, sizeof(buf)), "2001:db8::1");
	CHECK(lb_addr_parse("198.18.0.256", &a, &fam) == -EINVAL, "bad v4");
	CHECK(lb_addr_parse("host.example", &a, &fam) == -EINVAL, "names are not addresses");
	CHECK(lb_prefix_parse("198.18.5.77/24", &p, &fam) == 0 && p.prefix_len == 24, "prefix");
	CHECK_STR(lb_addr_str(&p.addr, fam, buf, sizeof(buf)), "198.18.5.0");
	CHECK(lb_prefix_parse("198.18.5.7", &p, &fam) == 0 && p.prefix_len == 32, "host prefix");
	CHECK(lb_prefix_parse("2001:db8:1::/48", &p, &fam) == 0 && p.prefix_len == 48, "v6 prefix");
	CHECK(lb_prefix_parse("198.18.0.0/33", &p, &fam) == -EINVAL, "/33");
	CHECK(lb_prefix_parse("198.18.0.0/", &p, &fam) == -EINVAL, "empty length");
	CHECK(lb_prefix_parse("2001:db8::/129", &p, &fam) == -EINVAL, "/129");
}

static void names_round_trip(void)
{
	enum lb_sched s;
	enum lb_nat_mode m;
	enum lb_ep_status st;

	for (int i = 0; i < LB_SCHED_MAX; i++)
		CHECK(lb_sched_parse(lb_sched_name(i), &s) == 0 && (int)s == i, "sched %d", i);
	CHECK(lb_sched_parse("r", &s) == -EINVAL, "values are exact, not prefixes");
	CHECK(lb_nat_mode_parse("fullnat", &m) == 0 && m == LB_NAT_FULLNAT, "fullnat");
	CHECK(lb_ep_status_parse("drain", &st) == 0 && st == LB_EP_DRAIN, "drain");
	CHECK_STR(lb_drop_name(LB_DROP_NO_SNAT_PORT), "no-snat-port");
	CHECK_STR(lb_timeout_name(LB_TO_TCP_EST), "tcp-est");
	CHECK(lb_timeout_name(LB_TO_MAX) == NULL, "past the end");
}

int main_sched(void);
int main_sched(void)
{
	RUN(maglev_fills_and_balances);
	RUN(maglev_minimal_disruption);
	RUN(maglev_weights);
	RUN(maglev_rejects_bad_input);
	RUN(wrr_cycles);
	RUN(addresses);
	RUN(names_round_trip);
	return 0;
}
