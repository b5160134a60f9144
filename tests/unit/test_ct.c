// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The conntrack rules of lb_abi.h that the datapath and liblb share: which timeout
 * an entry lives by, when it has expired, its flow's other key, affinity. */
#include "tap.h"
#include <lb/lb.h>

#define NS 1000000000ull

static void timeout_by_protocol_and_state(void)
{
	struct lb_config cfg = {};

	CHECK_EQ_U(lb_ct_timeout(NULL, 6, LB_CT_NEW), 60);
	CHECK_EQ_U(lb_ct_timeout(NULL, 6, LB_CT_EST), 7440);
	CHECK_EQ_U(lb_ct_timeout(NULL, 6, LB_CT_CLOSING), 10);
	CHECK_EQ_U(lb_ct_timeout(NULL, 17, LB_CT_NEW), 60);
	CHECK_EQ_U(lb_ct_timeout(NULL, 17, LB_CT_EST), 60);
	/* A configured value wins for its slot only; 0 means the built-in one. */
	cfg.timeout[LB_TO_TCP_EST] = 3600;
	cfg.timeout[LB_TO_UDP] = 5;
	CHECK_EQ_U(lb_ct_timeout(&cfg, 6, LB_CT_EST), 3600);
	CHECK_EQ_U(lb_ct_timeout(&cfg, 6, LB_CT_NEW), 60);
	CHECK_EQ_U(lb_ct_timeout(&cfg, 6, LB_CT_CLOSING), 10);
	CHECK_EQ_U(lb_ct_timeout(&cfg, 17, LB_CT_EST), 5);
}

static bool expired(uint64_t seen, uint64_t now, uint32_t timeout_s)
{
	return lb_ct_age_expired(lb_ct_age(seen, now), timeout_s);
}

static void expiry_boundaries(void)
{
	uint64_t seen = 1000 * NS;

	CHECK_EQ_U(lb_ct_age(seen, seen + 5), 5);
	CHECK(!expired(seen, seen, 10), "just seen");
	CHECK(!expired(seen, seen + 10 * NS, 10), "exactly the timeout is still alive");
	CHECK(expired(seen, seen + 10 * NS + 1, 10), "past the timeout");
	/* Stamped by another CPU after now was read: fresh, not 2^64 ns old. */
	CHECK_EQ_U(lb_ct_age(seen + 1, seen), 0);
	CHECK(!expired(seen + 1, seen, 10), "a time after now");
	CHECK(expired(0, (uint64_t)7440 * NS + 1, 7440), "no overflow of seconds * 1e9");
}

static void peer_key_reverses_the_rewrite(void)
{
	/* Forward entry of client 198.18.0.1:1000 -> VIP 198.18.5.1:80, to endpoint
	 * 198.18.1.10:8080: the reply arrives from the endpoint to the client. */
	struct lb_ct_key k = {
		.src.a = { 0x010012c6 }, .dst.a = { 0x010512c6 }, .sport = 1000, .dport = 80,
		.proto = 6, .family = LB_AF_INET,
	};
	struct lb_ct ct = {
		.nat_src = k.src, .nat_dst.a = { 0x0a0112c6 }, .nat_sport = 1000, .nat_dport = 8080,
	};
	struct lb_ct_key pk, want = {
		.src = ct.nat_dst, .dst = k.src, .sport = 8080, .dport = 1000,
		.proto = 6, .family = LB_AF_INET,
	};

	memset(&pk, 0xa5, sizeof(pk));
	lb_ct_peer_key(&k, &ct, &pk);
	CHECK(!memcmp(&pk, &want, sizeof(pk)), "peer key differs (padding included)");
}

static void affinity_freshness(void)
{
	uint64_t seen = 50 * NS;

	CHECK(lb_aff_fresh(seen, seen + 30 * NS - 1, 30), "within persist");
	CHECK(!lb_aff_fresh(seen, seen + 30 * NS, 30), "persist seconds later");
	CHECK(lb_aff_fresh(seen + 1, seen, 30), "a time after now");
}

int main_ct(void);
int main_ct(void)
{
	RUN(timeout_by_protocol_and_state);
	RUN(expiry_boundaries);
	RUN(peer_key_reverses_the_rewrite);
	RUN(affinity_freshness);
	return 0;
}
