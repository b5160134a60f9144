// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The first packet of a flow on several CPUs at once, and its last packets too.
 *
 * Threads run BPF_PROG_TEST_RUN of lb_tc_ingress on the same pinned maps, in
 * lockstep (a barrier before each flow): every thread sends the same SYN, so the
 * new-flow path runs for one flow on two CPUs at the same moment, again and
 * again.  Afterwards each flow must have one endpoint (every thread's packet
 * went to the same place), exactly two conntrack entries (no orphan reply
 * entry), the "flows created" counters and lb_ep_state.active must count each
 * flow once.  Then a FIN from the client and one from the endpoint run at the
 * same moment on two threads: active must fall to exactly 0, never below.
 *
 * Round-robin makes two racing CPUs pick different endpoints, so a lost race
 * shows at once; full NAT adds the SNAT port claimed by the reply entry.
 * Setup as in nat_test.c (tests/datapath/harness.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define TAP_MAIN
#include "tap.h"
#include <lb/lb.h>
#include "datapath/pkt.h"
#include "datapath/harness.h"

#define THREADS		4
#define FLOWS		2000	/* per service */

#define C4	"198.18.0.1"
#define V4	"198.19.0.10"
#define LB4	"198.18.1.1"
static const char *const eps[] = { "198.18.1.2", "198.18.1.3", "198.18.1.4" };

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_ACK	0x10

static struct dp_root dp;
static struct lb_ctx *ctx;
static int prog_fd = -1;
static int if_cli, if_ep;
static uint8_t mac_cli[6], mac_ep[6];

static const struct dp_host hosts[] = {
	{ C4,      DP_CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ "198.18.1.2", DP_EP_DEV, { 2, 0, 0, 0, 1, 0x02 } },
	{ "198.18.1.3", DP_EP_DEV, { 2, 0, 0, 0, 1, 0x03 } },
	{ "198.18.1.4", DP_EP_DEV, { 2, 0, 0, 0, 1, 0x04 } },
};

static void teardown(void)
{
	if (prog_fd >= 0)
		close(prog_fd);
	prog_fd = -1;
	dp_root_close(&dp);
}

static void on_signal(int sig)
{
	teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

static struct lb_addr A(const char *s)
{
	struct lb_addr a = {};
	uint8_t fam;

	lb_addr_parse(s, &a, &fam);
	return a;
}

static void tcp_pkt(struct pkt *p, const uint8_t *dmac, const char *src, uint16_t sport,
		    const char *dst, uint16_t dport, uint8_t flags)
{
	uint8_t smac[6] = { 2, 0, 0, 0, 0, 0x01 };

	memset(p, 0, sizeof(*p));
	eth_mac(p, dmac, smac, 0x0800);
	ip4(p, src, dst, 6, 0);
	set_ttl(p, 64);
	tcp_seq(p, sport, dport, 1000, flags & TCP_ACK ? 2000 : 0, flags);
	finish_tx(p);
}

/* ---- threads in lockstep --------------------------------------------------- */

enum phase { PHASE_SYN, PHASE_SYN_AGAIN, PHASE_FIN };

struct job {
	enum phase phase;
	uint16_t port;			/* the service's port */
	bool fullnat;
};

static pthread_barrier_t start, done;
static struct job job;
static bool quit;
static int verdicts[THREADS][FLOWS];
static struct pkt outs[THREADS][FLOWS];
static struct pkt fin_from_ep[FLOWS];	/* built by the main thread before PHASE_FIN */

static int run(int ifindex, const struct pkt *in, struct pkt *out)
{
	int verdict, err;

	err = dp_test_run(prog_fd, false, ifindex, in->b, in->len, out->b, sizeof(out->b),
			  &out->len, &verdict);
	return err ? err : verdict;
}

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	struct pkt in;

	for (;;) {
		pthread_barrier_wait(&start);
		if (quit)
			return NULL;
		for (int f = 0; f < FLOWS; f++) {
			/* lockstep per flow: all threads hit the same flow together */
			pthread_barrier_wait(&done);
			if (job.phase == PHASE_FIN) {
				/* two sides of one flow at once: even threads the client's
				 * FIN, odd ones the endpoint's */
				if (t % 2 == 0)
					tcp_pkt(&in, mac_cli, C4, 20000 + f, V4, job.port,
						TCP_FIN | TCP_ACK);
				else
					in = fin_from_ep[f];
				verdicts[t][f] = run(t % 2 ? if_ep : if_cli, &in, &outs[t][f]);
				continue;
			}
			tcp_pkt(&in, mac_cli, C4, 20000 + f, V4, job.port, TCP_SYN);
			verdicts[t][f] = run(if_cli, &in, &outs[t][f]);
		}
		pthread_barrier_wait(&start);
	}
}

static void run_phase(enum phase ph, uint16_t port, bool fullnat)
{
	job = (struct job){ .phase = ph, .port = port, .fullnat = fullnat };
	pthread_barrier_wait(&start);
	for (int f = 0; f < FLOWS; f++)
		pthread_barrier_wait(&done);
	pthread_barrier_wait(&start);
}

/* ---- checks ---------------------------------------------------------------- */

static uint32_t svc_id_of(uint16_t port)
{
	struct lb_service_info si;
	struct lb_svc_key k;
	struct lb_addr v = A(V4);

	lb_svc_key_init(&k, &v, LB_AF_INET, port, 6);
	return lb_service_get(ctx, &k, &si) ? 0 : si.id;
}

static uint64_t svc_flows(uint16_t port)
{
	struct lb_service_info si;
	struct lb_svc_key k;
	struct lb_addr v = A(V4);

	lb_svc_key_init(&k, &v, LB_AF_INET, port, 6);
	return lb_service_get(ctx, &k, &si) ? 0 : si.stats.flows;
}

/* lb_ep_state.active, summed over every endpoint id (raw: negative shows); id 0
 * is no endpoint (its element holds liblb's id allocation hint). */
static int64_t active_sum(int64_t *min)
{
	int fd = lb_map_fd(ctx, LB_MAP_EP_STATE);
	struct lb_ep_state st;
	int64_t sum = 0;

	*min = 0;
	for (__u32 id = 1; fd >= 0 && id < 64; id++) {
		if (bpf_map_lookup_elem(fd, &id, &st))
			continue;
		sum += st.active;
		if (st.active < *min)
			*min = st.active;
	}
	if (fd >= 0)
		close(fd);
	return sum;
}

/* The SYNs: same verdict and bytes from every thread; two entries per flow. */
static void check_syns(const char *what, uint16_t port)
{
	struct lb_ct_filter flt = { .svc_id = svc_id_of(port) };
	struct lb_ct_entry *v = NULL;
	size_t n = 0, fwd = 0, rev = 0, paired = 0, diff = 0, bad = 0;

	for (int f = 0; f < FLOWS; f++) {
		for (int t = 0; t < THREADS; t++) {
			if (verdicts[t][f] != TC_ACT_REDIRECT)
				bad++;
			else if (t && (outs[t][f].len != outs[0][f].len ||
				       memcmp(outs[t][f].b, outs[0][f].b, outs[0][f].len)))
				diff++;
		}
	}
	CHECK(bad == 0, "%s: %zu packets not redirected", what, bad);
	CHECK(diff == 0, "%s: %zu packets went elsewhere than the flow's first", what, diff);
	CHECK(lb_ct_list(ctx, &flt, &v, &n) == 0, "%s: conntrack list", what);
	for (size_t i = 0; i < n; i++) {
		if (v[i].ct.flags & LB_CT_F_REPLY) {
			rev++;
			continue;
		}
		fwd++;
		/* its reply entry: keyed by what comes back, pointing at the same endpoint */
		for (size_t j = 0; j < n; j++) {
			const struct lb_ct_entry *r = &v[j];

			if ((r->ct.flags & LB_CT_F_REPLY) && r->ct.ep_id == v[i].ct.ep_id &&
			    !memcmp(&r->key.src, &v[i].ct.nat_dst, sizeof(r->key.src)) &&
			    r->key.sport == v[i].ct.nat_dport &&
			    !memcmp(&r->key.dst, &v[i].ct.nat_src, sizeof(r->key.dst)) &&
			    r->key.dport == v[i].ct.nat_sport) {
				paired++;
				break;
			}
		}
	}
	free(v);
	CHECK(fwd == FLOWS, "%s: %zu forward entries, want %d", what, fwd, FLOWS);
	CHECK(rev == FLOWS, "%s: %zu reply entries, want %d (orphans?)", what, rev, FLOWS);
	CHECK(paired == FLOWS, "%s: %zu forward entries with their reply entry, want %d", what,
	      paired, FLOWS);
	CHECK(svc_flows(port) == FLOWS, "%s: service counts %llu flows, want %d", what,
	      (unsigned long long)svc_flows(port), FLOWS);
}

/* The endpoint's FIN for each flow, from its reply entry. */
static void build_ep_fins(uint16_t port)
{
	struct lb_ct_filter flt = { .svc_id = svc_id_of(port) };
	struct lb_ct_entry *v = NULL;
	size_t n = 0;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	memset(fin_from_ep, 0, sizeof(fin_from_ep));
	if (lb_ct_list(ctx, &flt, &v, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct lb_ct_entry *e = &v[i];
		int f = ntohs(e->ct.nat_dport) - 20000;

		if (!(e->ct.flags & LB_CT_F_REPLY) || f < 0 || f >= FLOWS)
			continue;
		lb_addr_str(&e->key.src, LB_AF_INET, src, sizeof(src));
		lb_addr_str(&e->key.dst, LB_AF_INET, dst, sizeof(dst));
		tcp_pkt(&fin_from_ep[f], mac_ep, src, ntohs(e->key.sport), dst,
			ntohs(e->key.dport), TCP_FIN | TCP_ACK);
	}
	free(v);
}

static void race(uint16_t port, bool fullnat)
{
	const char *what = fullnat ? "full NAT" : "DNAT";
	int64_t min, sum;
	int missing = 0;

	run_phase(PHASE_SYN, port, fullnat);
	check_syns(what, port);
	sum = active_sum(&min);
	CHECK(sum == FLOWS, "%s: active sums to %lld, want %d", what, (long long)sum, FLOWS);
	/* The same SYNs again: the flows exist, nothing may move or count again. */
	run_phase(PHASE_SYN_AGAIN, port, fullnat);
	check_syns(fullnat ? "full NAT, SYNs again" : "DNAT, SYNs again", port);
	sum = active_sum(&min);
	CHECK(sum == FLOWS, "%s again: active sums to %lld, want %d", what, (long long)sum, FLOWS);
	/* Both FINs of every flow at once. */
	build_ep_fins(port);
	for (int f = 0; f < FLOWS; f++)
		missing += fin_from_ep[f].len == 0;
	CHECK(missing == 0, "%s: %d flows without a reply entry to send a FIN from", what,
	      missing);
	run_phase(PHASE_FIN, port, fullnat);
	sum = active_sum(&min);
	CHECK(sum == 0 && min == 0, "%s: after both FINs active sums to %lld (lowest %lld), want 0",
	      what, (long long)sum, (long long)min);
}

static void add_service(uint16_t port, bool fullnat)
{
	struct lb_service s = { .sched = LB_SCHED_RR };
	struct lb_addr v = A(V4);
	int err;

	lb_svc_key_init(&s.key, &v, LB_AF_INET, port, 6);
	if (fullnat) {
		s.mode = LB_NAT_FULLNAT;
		s.snat = A(LB4);
	}
	err = lb_service_add(ctx, &s);
	CHECK(err == 0, "service add port %u: %s", port, lb_ctx_errmsg(ctx));
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		struct lb_endpoint e = { .port = htons(8080), .status = LB_EP_UP, .weight = 1 };

		lb_addr_parse(eps[i], &e.addr, &e.family);
		err = lb_endpoint_add(ctx, &s.key, &e);
		CHECK(err == 0, "endpoint add %s: %s", eps[i], lb_ctx_errmsg(ctx));
	}
}

static void dnat_first_packet_race(void)
{
	add_service(80, false);
	race(80, false);
}

static void fullnat_first_packet_race(void)
{
	add_service(81, true);
	race(81, true);
}

int main(void)
{
	const struct dp_log lg = { stdout, "# setup: " };
	pthread_t th[THREADS];

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (dp_net_setup(&lg, hosts, sizeof(hosts) / sizeof(hosts[0]), NULL, 0, &if_cli, &if_ep,
			 mac_cli, mac_ep) ||
	    dp_root_open(&dp, "lbrace", "../bpf", NULL, &lg) ||
	    (prog_fd = lb_prog_fd(dp.ctx, LB_PROG_TC_INGRESS)) < 0) {
		printf("not ok 1 - private network namespace and pin root with the datapath\n1..1\n");
		teardown();
		return 1;
	}
	ctx = dp.ctx;
	pthread_barrier_init(&start, NULL, THREADS + 1);
	pthread_barrier_init(&done, NULL, THREADS + 1);
	for (long t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	RUN(dnat_first_packet_race);
	RUN(fullnat_first_packet_race);
	quit = true;
	pthread_barrier_wait(&start);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	teardown();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
