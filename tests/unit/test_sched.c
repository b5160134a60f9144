// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Selection tables: Maglev disruption and weights, smooth WRR cycles, addresses. */
#include <errno.h>
#include <stdbool.h>
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

/* The default Maglev size grows to LB_MAGLEV_SLOTS_PER_EP slots per endpoint
 * through three primes; a size the user chose stays. */
static void maglev_size_grows(void)
{
	CHECK_EQ_U(lb_maglev_size(0, 8), LB_MAGLEV_DEFAULT);
	CHECK_EQ_U(lb_maglev_size(0, 163), 16381);
	CHECK_EQ_U(lb_maglev_size(0, 164), 131071);
	CHECK_EQ_U(lb_maglev_size(LB_MAGLEV_DEFAULT, 1310), 131071);
	CHECK_EQ_U(lb_maglev_size(0, 1311), LB_SEL_MAX);
	CHECK_EQ_U(lb_maglev_size(0, LB_SVC_EPS_MAX), LB_SEL_MAX);
	CHECK_EQ_U(lb_maglev_size(251, LB_SVC_EPS_MAX), 251);
	CHECK(lb_is_prime(131071) && lb_is_prime(LB_SEL_MAX), "the sizes are prime");
	CHECK((uint64_t)LB_SEL_MAX >= (uint64_t)LB_SVC_EPS_MAX * LB_MAGLEV_SLOTS_PER_EP,
	      "LB_SEL_MAX holds %d slots for each of %d endpoints", LB_MAGLEV_SLOTS_PER_EP,
	      LB_SVC_EPS_MAX);
}

/*
 * LB_SVC_EPS_MAX endpoints in a table of the default size for them: each share
 * within 1% of its weight's (equal weights); removing one moves its own slots
 * and few others.  The figures go to the TAP output as comments.
 */
static void maglev_at_max_endpoints(void)
{
	size_t n = LB_SVC_EPS_MAX, removed = n / 2, moved = 0;
	uint32_t m = lb_maglev_size(0, n);
	uint8_t (*names)[20] = malloc(n * sizeof(*names));
	uint32_t *w = malloc(n * sizeof(*w)), *cnt = calloc(n, sizeof(*cnt));
	uint32_t *a = malloc(m * sizeof(*a)), *b = malloc(m * sizeof(*b));
	double worst = 0, wsum = 0;

	if (!names || !w || !cnt || !a || !b) {
		CHECK(0, "out of memory");
		goto out;
	}
	names_for(names, n, 1);
	for (size_t i = 0; i < n; i++)
		w[i] = 1;
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, n, m, a) == 0, "build");
	for (uint32_t i = 0; i < m; i++)
		if (a[i] < n)
			cnt[a[i]]++;
	for (size_t i = 0; i < n; i++) {
		double dev = ((double)cnt[i] - (double)m / n) / ((double)m / n);

		worst = dev < 0 ? (-dev > worst ? -dev : worst) : (dev > worst ? dev : worst);
	}
	printf("# maglev %zu endpoints, M %u (%u KiB): largest share deviation %.2f%%\n", n, m,
	       m * 4 / 1024, worst * 100);
	CHECK(worst <= 0.01, "a share is %.2f%% off its weight's", worst * 100);

	/* Without one endpoint (indexes above it shift down). */
	memmove(names[removed], names[removed + 1], (n - removed - 1) * 20);
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, n - 1, m, b) == 0, "rebuild");
	for (uint32_t i = 0; i < m; i++)
		if (a[i] != (b[i] >= removed ? b[i] + 1 : b[i]))
			moved++;
	printf("# maglev %zu endpoints: removing one moves %.4f%% of the table (1/N %.4f%%)\n", n,
	       100.0 * moved / m, 100.0 / n);
	/* Maglev's fill is a race between permutations: the removed endpoint's 1/N
	 * and a few N-ths more (8/N measured at 128 slots each). */
	CHECK(moved <= 10 * (m / n), "%zu of %u slots moved, 1/N is %u", moved, m, m / (uint32_t)n);

	/* Weights 1..4 in turn: each share within 1% of its weight's too (the fill
	 * hands out turns by weight). */
	names_for(names, n, 1);
	for (size_t i = 0; i < n; i++) {
		w[i] = 1 + i % 4;
		wsum += w[i];
		cnt[i] = 0;
	}
	CHECK(lb_maglev_build((const uint8_t (*)[20])names, w, n, m, a) == 0, "build weighted");
	for (uint32_t i = 0; i < m; i++)
		if (a[i] < n)
			cnt[a[i]]++;
	worst = 0;
	for (size_t i = 0; i < n; i++) {
		double want = m * w[i] / wsum, dev = (cnt[i] - want) / want;

		worst = dev < 0 ? (-dev > worst ? -dev : worst) : (dev > worst ? dev : worst);
	}
	printf("# maglev %zu endpoints of weights 1..4: largest share deviation %.2f%%\n", n,
	       worst * 100);
	CHECK(worst <= 0.01, "a weighted share is %.2f%% off", worst * 100);
out:
	free(names);
	free(w);
	free(cnt);
	free(a);
	free(b);
}

/* A small deterministic generator for the simulation (xorshift64). */
static uint64_t sim_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * lc by two choices against the exact minimum and against one random choice:
 * flows arrive and leave (one at random) with load flows per endpoint open;
 * after a warm-up, the largest active/weight over the mean, averaged over the
 * run.  Both lc rules use the datapath's comparison (lb_lc_prefer_b).
 */
enum sim_rule { SIM_RANDOM, SIM_TWO, SIM_EXACT };

static double lc_simulate(size_t n, enum sim_rule rule, uint32_t load, uint64_t seed)
{
	uint32_t steps = 40 * n * load, open = n * load, nflows = 0, *flows, *w;
	int64_t *act = calloc(n, sizeof(*act));
	double wsum = 0, ratio = 0;
	uint32_t samples = 0;

	flows = malloc(open * sizeof(*flows));
	w = malloc(n * sizeof(*w));
	if (!act || !flows || !w) {
		free(act);
		free(flows);
		free(w);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		w[i] = 1 + i % 4;
		wsum += w[i];
	}
	for (uint32_t step = 0; step < steps; step++) {
		uint32_t pick;

		if (nflows == open) {	/* one leaves, at random */
			uint32_t f = sim_rand(&seed) % nflows;

			act[flows[f]]--;
			flows[f] = flows[--nflows];
		}
		if (rule == SIM_RANDOM) {
			pick = sim_rand(&seed) % n;
		} else if (rule == SIM_EXACT) {
			pick = 0;
			for (uint32_t i = 1; i < n; i++)
				if (lb_lc_prefer_b(act[pick], w[pick], act[i], w[i]))
					pick = i;
		} else {
			uint32_t x = sim_rand(&seed) % n;
			uint32_t y = (x + 1 + sim_rand(&seed) % (n - 1)) % n;

			pick = lb_lc_prefer_b(act[x], w[x], act[y], w[y]) ? y : x;
		}
		act[pick]++;
		flows[nflows++] = pick;
		if (step >= steps / 2 && step % n == 0) {
			double worst = 0;

			for (size_t i = 0; i < n; i++)
				if ((double)act[i] / w[i] > worst)
					worst = (double)act[i] / w[i];
			ratio += worst / (nflows / wsum);
			samples++;
		}
	}
	free(act);
	free(flows);
	free(w);
	return samples ? ratio / samples : -1;
}

static void lc_two_choices_near_exact(void)
{
	static const size_t sizes[] = { 8, 64, 1024 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double one = lc_simulate(sizes[i], SIM_RANDOM, 16, 42);
		double two = lc_simulate(sizes[i], SIM_TWO, 16, 42);
		double exact = lc_simulate(sizes[i], SIM_EXACT, 16, 42);

		printf("# lc %zu endpoints of weights 1..4, 16 flows each: busiest over mean %.3f by two choices, %.3f exact, %.3f random\n",
		       sizes[i], two, exact, one);
		CHECK(one > 0 && two > 0 && exact > 0, "simulation");
		/* The busiest endpoint: a few flows above the mean (log log n), where one
		 * random choice leaves it far above (log n / log log n). */
		CHECK(two <= exact + 0.6, "n=%zu: two choices %.3f, exact %.3f", sizes[i], two, exact);
		CHECK(two < one - 0.3, "n=%zu: two choices %.3f, random %.3f", sizes[i], two, one);
	}
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
	RUN(maglev_size_grows);
	RUN(maglev_at_max_endpoints);
	RUN(lc_two_choices_near_exact);
	RUN(wrr_cycles);
	RUN(addresses);
	RUN(names_round_trip);
	return 0;
}
