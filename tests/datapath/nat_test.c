// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load-balancing datapath tests: services and endpoints are configured through
 * liblb, packets built here run through lb_tc_ingress with BPF_PROG_TEST_RUN,
 * and verdicts, output bytes (checksums recomputed here, independently of the
 * datapath), conntrack entries and drop counters are asserted exactly.
 *
 * The test makes its own world: a private network namespace (the host's routes
 * never reach bpf_fib_lookup) with two veth pairs, the LB's client side and its
 * endpoint side, permanent neighbours and forwarding on:
 *
 *   clients 198.18.0.0/24  --  lbc0 198.18.0.254  [LB]  lbt0 198.18.1.1  --  endpoints
 *           2001:db8::/64      2001:db8::fe              2001:db8:1::1       2001:db8:1::/64
 *
 * Client packets run with the skb on lbc0, endpoint packets on lbt0 (the test
 * run sets skb->dev from the context's ifindex), so every forwarded packet
 * resolves in the FIB and comes out with verdict TC_ACT_REDIRECT.
 *
 * Every case starts from reset(): no services, no flows, default timeouts and
 * SNAT port range.  Build (the Makefile rule must name only this .c file):
 *   cc $(CFLAGS) -Itests -o tests/datapath/nat_test tests/datapath/nat_test.c lb/liblb.a $(LDLIBS)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define TAP_MAIN	/* this file defines the TAP counters */
#include "tap.h"
#include <lb/lb.h>
#include "datapath/pkt.h"
#include "datapath/harness.h"

#define CLI_DEV		DP_CLI_DEV	/* the LB's client-facing interface */
#define EP_DEV		DP_EP_DEV	/* the LB's endpoint-facing interface */

#define C4	"198.18.0.1"
#define C4B	"198.18.0.2"
#define C4IN	"198.18.5.7"	/* inside 198.18.5.0/24 */
#define V4	"198.19.0.10"
#define E4A	"198.18.1.2"
#define E4B	"198.18.1.3"
#define E4C	"198.18.1.4"
#define LB4	"198.18.1.1"	/* the LB's address on the endpoint side */
#define C6	"2001:db8::1"
#define V6	"2001:db8:ffff::10"
#define E6A	"2001:db8:1::2"
#define E6B	"2001:db8:1::3"
#define LB6	"2001:db8:1::1"

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_PSH	0x08
#define TCP_ACK	0x10

#define VERDICT_UNSPEC	TC_ACT_UNSPEC	/* -1: not ours, continue */
#define VERDICT_SHOT	TC_ACT_SHOT	/* 2 */
#define VERDICT_REDIR	TC_ACT_REDIRECT	/* 7 */

#define NAT_PORT_MIN	32768
#define NAT_PORT_MAX	60999

static struct dp_root dp;		/* the private pin root */
static struct lb_ctx *ctx;		/* dp.ctx once set up */
static int prog_fd = -1;
static int if_cli, if_ep;		/* ifindex of lbc0, lbt0 */
static uint8_t mac_cli[6], mac_ep[6];	/* their MAC addresses, read back */

/* Hosts around the LB: the neighbours the FIB resolves to. */
static const struct dp_host hosts[] = {
	{ C4,  CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ C4B, CLI_DEV, { 2, 0, 0, 0, 0, 0x02 } },
	{ C6,  CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ E4A, EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
	{ E4B, EP_DEV,  { 2, 0, 0, 0, 1, 0x03 } },
	{ E4C, EP_DEV,  { 2, 0, 0, 0, 1, 0x04 } },
	{ E6A, EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
	{ E6B, EP_DEV,  { 2, 0, 0, 0, 1, 0x03 } },
};
static const uint8_t mac_other[6] = { 2, 0, 0, 0, 0, 0x99 };	/* clients without a neighbour */

static const uint8_t *mac_of(const char *addr)
{
	return dp_mac_of(hosts, sizeof(hosts) / sizeof(hosts[0]), addr, mac_other);
}

/* ---- setup and teardown ---------------------------------------------------- */

static int setup(void)
{
	const struct dp_log lg = { stdout, "# setup: " };
	int err;

	if (dp_net_setup(&lg, hosts, sizeof(hosts) / sizeof(hosts[0]), NULL, 0,
			 &if_cli, &if_ep, mac_cli, mac_ep))
		return -1;
	/* The objects of this build tree: tests/datapath/../../bpf */
	err = dp_root_open(&dp, "lbnat", "../bpf", NULL, &lg);
	if (err)
		return err;
	ctx = dp.ctx;
	prog_fd = lb_prog_fd(ctx, LB_PROG_TC_INGRESS);
	return prog_fd < 0 ? prog_fd : 0;
}

static void teardown(void)
{
	if (prog_fd >= 0)
		close(prog_fd);
	prog_fd = -1;
	ctx = NULL;
	dp_root_close(&dp);
	/* The namespace, its veths and routes go when the process exits. */
}

static void on_signal(int sig)
{
	teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- packets --------------------------------------------------------------- */

static bool is_v6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

/* src:sport -> dst:dport, the addresses of one packet. */
struct tuple {
	const char *src;
	uint16_t sport;
	const char *dst;
	uint16_t dport;
};

/*
 * One TCP or UDP packet of a test: Ethernet dmac/smac, the tuple, a TTL (hop
 * limit), TCP flags, a payload.  nocsum: IPv4 UDP sent without a checksum (0).
 */
static void mk(struct pkt *p, uint8_t proto, const struct tuple *t, const uint8_t *dmac,
	       const uint8_t *smac, uint8_t ttl, uint8_t flags, const char *payload, bool nocsum)
{
	bool v6 = is_v6(t->src);

	memset(p, 0, sizeof(*p));
	eth_mac(p, dmac, smac, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(p, t->src, t->dst, proto);
	else
		ip4(p, t->src, t->dst, proto, 0);
	set_ttl(p, ttl);
	if (proto == 6) {
		tcp_seq(p, t->sport, t->dport, 1000, flags & TCP_ACK ? 2000 : 0, flags);
		putn(p, payload, strlen(payload));
	} else {
		udp(p, t->sport, t->dport, payload);
	}
	finish_tx(p);
	if (nocsum)
		set16(p, p->l4 + 6, 0);
}

/* A packet from a client (arrives on lbc0) and one from an endpoint (on lbt0). */
static void from_client(struct pkt *p, uint8_t proto, const struct tuple *t, uint8_t flags,
			const char *payload, bool nocsum)
{
	mk(p, proto, t, mac_cli, mac_of(t->src), 64, flags, payload, nocsum);
}

static void from_endpoint(struct pkt *p, uint8_t proto, const struct tuple *t, uint8_t flags,
			  const char *payload, bool nocsum)
{
	mk(p, proto, t, mac_ep, mac_of(t->src), 64, flags, payload, nocsum);
}

/* What the LB must send: rewritten tuple, TTL 63, MACs of the way out. */
static void to_endpoint(struct pkt *p, uint8_t proto, const struct tuple *t, uint8_t flags,
			const char *payload, bool nocsum)
{
	mk(p, proto, t, mac_of(t->dst), mac_ep, 63, flags, payload, nocsum);
}

static void to_client(struct pkt *p, uint8_t proto, const struct tuple *t, uint8_t flags,
		      const char *payload, bool nocsum)
{
	mk(p, proto, t, mac_of(t->dst), mac_cli, 63, flags, payload, nocsum);
}

struct run {
	int err;
	int verdict;
	struct pkt out;
};

/*
 * BPF_F_TEST_SKB_CHECKSUM_COMPLETE (kernel 6.11; the installed uapi headers are
 * older): the test run hands the program a CHECKSUM_COMPLETE skb whose skb->csum
 * sums the packet, and afterwards fails the run with EBADMSG unless skb->csum
 * still sums the packet the program left.  run_flags: the flags of every run.
 */
#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE	(1U << 2)
#endif
static uint32_t run_flags;

static void run_pkt(int ifindex, const struct pkt *in, struct run *r)
{
	struct __sk_buff skb = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = in->b, .data_size_in = in->len,
		    .data_out = r->out.b, .data_size_out = sizeof(r->out.b),
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb),
		    .flags = run_flags, .repeat = 1);

	memset(r, 0, sizeof(*r));
	r->err = bpf_prog_test_run_opts(prog_fd, &o) ? -errno : 0;
	r->verdict = (int)o.retval;
	r->out.len = o.data_size_out;
	if (pkt_parse(&r->out))
		r->out.l3 = r->out.l4 = 0;
}

static void hexdump(const char *tag, const struct pkt *p)
{
	printf("#     %-5s", tag);
	for (size_t i = 0; i < p->len; i++)
		printf("%s%02x", i && !(i % 32) ? "\n#          " : " ", p->b[i]);
	printf("\n");
}

/* The output's checksums, recomputed here: IPv4 header and L4 (IPv4 UDP 0 = none). */
static void check_csums(const char *what, const struct pkt *out)
{
	bool v4 = (out->b[out->l3] >> 4) == 4;

	CHECK(out->l4 > 0, "%s: output is not an IP packet", what);
	if (!out->l4)
		return;
	if (v4)
		CHECK(verify_ip4_csum(out) == 0, "%s: output IPv4 header checksum %#06x is wrong",
		      what, get16(out, out->l3 + 10));
	if (v4 && out->proto == 17 && get16(out, out->l4 + 6) == 0)
		return;		/* IPv4 UDP without a checksum */
	if (!v4 && out->proto == 17)
		CHECK(get16(out, out->l4 + 6) != 0, "%s: IPv6 UDP checksum 0x0000 (invalid, dropped "
		      "by receivers; a sum of 0 is sent as 0xffff)", what);
	CHECK(verify_l4_csum(out, out->proto) == 0, "%s: output L4 checksum %#06x is wrong", what,
	      get16(out, out->l4 + (out->proto == 6 ? 16 : 6)));
}

/*
 * Run in on ifindex; the verdict must be want_verdict and, unless the packet is
 * dropped, the output must be want byte for byte (want NULL: unchanged input).
 */
static void expect(const char *what, int ifindex, const struct pkt *in, int want_verdict,
		   const struct pkt *want, struct run *r)
{
	struct run local;

	if (!r)
		r = &local;
	if (!want)
		want = in;
	run_pkt(ifindex, in, r);
	CHECK(r->err == 0, "%s: test run: %s", what, strerror(-r->err));
	CHECK(r->verdict == want_verdict, "%s: verdict %d, want %d", what, r->verdict,
	      want_verdict);
	if (want_verdict == VERDICT_SHOT)
		return;
	if (r->out.len != want->len || memcmp(r->out.b, want->b, want->len)) {
		size_t i = 0;

		while (i < want->len && i < r->out.len && r->out.b[i] == want->b[i])
			i++;
		CHECK(0, "%s: output differs from the expected packet at byte %zu (%zu bytes out, %zu expected)",
		      what, i, r->out.len, want->len);
		hexdump("want", want);
		hexdump("got", &r->out);
	}
	if (want_verdict == VERDICT_REDIR || want_verdict == TC_ACT_OK)
		check_csums(what, &r->out);
}

/* ---- liblb ----------------------------------------------------------------- */

static struct lb_addr A(const char *s)
{
	struct lb_addr a = {};
	uint8_t fam;

	if (lb_addr_parse(s, &a, &fam))
		printf("# bad address %s\n", s);
	return a;
}

static struct lb_svc_key svc_key(const char *vip, uint16_t port, uint8_t proto)
{
	struct lb_svc_key k;
	struct lb_addr a = A(vip);

	lb_svc_key_init(&k, &a, is_v6(vip) ? LB_AF_INET6 : LB_AF_INET, port, proto);
	return k;
}

/* Every CPU's lb_ep_nh emptied: a test's new flows ask the FIB, whatever ran before. */
static void ep_nh_clear(void)
{
	int fd = lb_map_fd(ctx, LB_MAP_EP_NH), ncpu = libbpf_num_possible_cpus();
	struct lb_ep_nh *v = calloc(ncpu > 0 ? ncpu : 1, sizeof(*v));
	bool ok = fd >= 0 && v;

	for (__u32 i = 0; ok && i < LB_EP_NH_SLOTS; i++)
		ok = !bpf_map_update_elem(fd, &i, v, BPF_ANY);
	CHECK(ok, "clearing lb_ep_nh: %s", strerror(errno));
	free(v);
	if (fd >= 0)
		close(fd);
}

/* Start from nothing: no services, no flows, default timeouts and SNAT ports. */
static void reset(void)
{
	uint32_t to[LB_TO_MAX] = {};
	struct lb_config cfg;
	size_t n;
	int fd;
	__u32 zero = 0;

	CHECK(lb_service_flush(ctx) == 0, "service flush: %s", lb_ctx_errmsg(ctx));
	CHECK(lb_ct_flush(ctx, NULL, &n) == 0, "conntrack flush");
	ep_nh_clear();
	for (int i = 0; i < LB_TO_MAX; i++)
		to[i] = lb_timeout_default(i);
	CHECK(lb_timeouts_set(ctx, to) == 0, "timeouts set");
	fd = lb_map_fd(ctx, LB_MAP_CONFIG);
	CHECK(fd >= 0 && bpf_map_lookup_elem(fd, &zero, &cfg) == 0, "read lb_config");
	if (fd >= 0) {
		cfg.snat_port_min = cfg.snat_port_max = 0;
		CHECK(bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) == 0, "write lb_config");
		close(fd);
	}
}

struct svc_opts {
	enum lb_sched sched;
	enum lb_nat_mode mode;
	const char *snat;	/* full NAT: NULL = snat ifaddr */
	const char *allow;	/* one prefix, or NULL */
	uint32_t persist;
};

static struct lb_svc_key add_service(const char *vip, uint16_t port, uint8_t proto,
				     const struct svc_opts *so)
{
	struct lb_service s = {};
	struct lb_prefix allow;
	int err;

	s.key = svc_key(vip, port, proto);
	if (so) {
		s.sched = so->sched;
		s.mode = so->mode;
		if (so->mode == LB_NAT_FULLNAT) {
			s.snat_ifaddr = !so->snat;
			if (so->snat)
				s.snat = A(so->snat);
		}
		s.persist = so->persist;
		if (so->allow) {
			uint8_t fam;

			CHECK(lb_prefix_parse(so->allow, &allow, &fam) == 0, "prefix %s", so->allow);
			s.allow = &allow;
			s.n_allow = 1;
		}
	}
	err = lb_service_add(ctx, &s);
	CHECK(err == 0, "service add %s port %u: %s (%s)", vip, port, strerror(-err),
	      lb_ctx_errmsg(ctx));
	return s.key;
}

static void add_endpoint(const struct lb_svc_key *k, const char *addr, uint16_t port,
			 uint32_t weight)
{
	struct lb_endpoint e = { .port = htons(port), .status = LB_EP_UP, .weight = weight };
	int err;

	lb_addr_parse(addr, &e.addr, &e.family);
	err = lb_endpoint_add(ctx, k, &e);
	CHECK(err == 0, "endpoint add %s port %u: %s (%s)", addr, port, strerror(-err),
	      lb_ctx_errmsg(ctx));
}

static void set_endpoint(const struct lb_svc_key *k, const char *addr, uint16_t port,
			 enum lb_ep_status st)
{
	struct lb_endpoint e = { .port = htons(port), .status = st, .weight = 1 };
	int err;

	lb_addr_parse(addr, &e.addr, &e.family);
	err = lb_endpoint_set(ctx, k, &e);
	CHECK(err == 0, "endpoint set %s: %s (%s)", addr, strerror(-err), lb_ctx_errmsg(ctx));
}

static struct lb_ct_key ct_key(uint8_t proto, const struct tuple *t)
{
	struct lb_ct_key k;

	memset(&k, 0, sizeof(k));
	k.src = A(t->src);
	k.dst = A(t->dst);
	k.sport = htons(t->sport);
	k.dport = htons(t->dport);
	k.proto = proto;
	k.family = is_v6(t->src) ? LB_AF_INET6 : LB_AF_INET;
	return k;
}

/* Live conntrack entries; *n of them. free() the result. */
static struct lb_ct_entry *ct_all(size_t *n)
{
	struct lb_ct_entry *v = NULL;
	int err = lb_ct_list(ctx, NULL, &v, n);

	CHECK(err == 0, "conntrack list: %s", strerror(-err));
	if (err)
		*n = 0;
	return v;
}

static const struct lb_ct_entry *ct_find(const struct lb_ct_entry *v, size_t n,
					 const struct lb_ct_key *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&v[i].key, k, sizeof(*k)))
			return &v[i];
	return NULL;
}

static const char *tuple_str(const struct tuple *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u > %s:%u", t->src, t->sport, t->dst, t->dport);
	return buf;
}

/*
 * The entry keyed by `key` exists and rewrites to `nat` (nat->sport 0: any port,
 * returned in *port), with these flags and state.
 */
static const struct lb_ct_entry *check_ct(const char *what, const struct lb_ct_entry *v, size_t n,
					  uint8_t proto, const struct tuple *key,
					  const struct tuple *nat, uint8_t flags, uint8_t state)
{
	struct lb_ct_key k = ct_key(proto, key);
	const struct lb_ct_entry *e = ct_find(v, n, &k);
	struct lb_addr ns = A(nat->src), nd = A(nat->dst);
	char b1[128];

	CHECK(e, "%s: no conntrack entry %s", what, tuple_str(key, b1, sizeof(b1)));
	if (!e)
		return NULL;
	CHECK(!memcmp(&e->ct.nat_src, &ns, sizeof(ns)) && !memcmp(&e->ct.nat_dst, &nd, sizeof(nd)) &&
	      (!nat->sport || e->ct.nat_sport == htons(nat->sport)) &&
	      e->ct.nat_dport == htons(nat->dport),
	      "%s: entry %s rewrites to port %u > port %u, want %s", what, b1,
	      ntohs(e->ct.nat_sport), ntohs(e->ct.nat_dport), tuple_str(nat, b1, sizeof(b1)));
	CHECK(e->ct.flags == flags, "%s: entry flags %#x, want %#x", what, e->ct.flags, flags);
	CHECK(e->ct.state == state, "%s: entry state %s, want %s", what,
	      lb_ct_state_name(e->ct.state), lb_ct_state_name(state));
	return e;
}

static void drops(struct lb_counter d[LB_DROP_MAX])
{
	CHECK(lb_drops(ctx, d) == 0, "read drop counters");
}

static bool svc_info(const struct lb_svc_key *k, struct lb_service_info *info)
{
	int err = lb_service_get(ctx, k, info);

	CHECK(err == 0, "service get: %s", strerror(-err));
	return err == 0;
}

/* The summed packets of counter c of (ifindex, hook) as lb_if_counters reads them. */
static uint64_t if_packets(int ifindex, enum lb_hook hook, enum lb_ctr c)
{
	struct lb_if_counters *v;
	uint64_t packets = 0;
	size_t n;

	if (lb_if_counters(ctx, &v, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((int)v[i].ifindex == ifindex && v[i].hook == hook)
			packets = v[i].ctr[c].packets;
	free(v);
	return packets;
}

static uint64_t if_counter(int ifindex, enum lb_ctr c)
{
	return if_packets(ifindex, LB_HOOK_TC_INGRESS, c);
}

/* ---- DNAT flows -------------------------------------------------------------- */

/*
 * One flow through a DNAT service vip:80 -> ep:8080, client port 40000: first
 * packet, the endpoint's answer, data both ways, and for TCP a FIN.  Conntrack,
 * states, active count and service/endpoint statistics followed on the way.
 */
static void dnat_flow(uint8_t proto, const char *client, const char *vip, const char *ep,
		      bool nocsum)
{
	const struct tuple c2v = { client, 40000, vip, 80 }, c2e = { client, 40000, ep, 8080 };
	const struct tuple e2c = { ep, 8080, client, 40000 }, v2c = { vip, 80, client, 40000 };
	bool tcp = proto == 6;
	struct lb_service_info info;
	struct lb_ct_entry *v;
	struct lb_svc_key k;
	struct pkt in, want;
	size_t n;

	reset();
	k = add_service(vip, 80, proto, NULL);
	add_endpoint(&k, ep, 8080, 1);
	if (!svc_info(&k, &info) || info.n_eps != 1)
		return;

	from_client(&in, proto, &c2v, TCP_SYN, "", nocsum);
	to_endpoint(&want, proto, &c2e, TCP_SYN, "", nocsum);
	expect("first packet: client -> VIP becomes client -> endpoint", if_cli, &in,
	       VERDICT_REDIR, &want, NULL);
	if (nocsum)
		CHECK(want.b[want.l4 + 6] == 0 && want.b[want.l4 + 7] == 0, "expected no checksum");

	v = ct_all(&n);
	CHECK(n == 2, "after the first packet: %zu conntrack entries, want 2", n);
	const struct lb_ct_entry *f = check_ct("forward", v, n, proto, &c2v, &c2e, LB_CT_F_ACTIVE, LB_CT_NEW);
	const struct lb_ct_entry *r = check_ct("reply", v, n, proto, &e2c, &v2c, LB_CT_F_REPLY,
					       LB_CT_NEW);
	if (f && r) {
		CHECK(f->ct.svc_id == info.id && r->ct.svc_id == info.id, "service id of the entries");
		CHECK(f->ct.ep_id == info.eps[0].id && r->ct.ep_id == info.eps[0].id,
		      "endpoint id of the entries");
	}
	free(v);
	if (svc_info(&k, &info))
		CHECK_EQ_U(info.eps[0].active, 1);

	from_endpoint(&in, proto, &e2c, TCP_SYN | TCP_ACK, "", nocsum);
	to_client(&want, proto, &v2c, TCP_SYN | TCP_ACK, "", nocsum);
	expect("reply: endpoint -> client comes from the VIP", if_ep, &in, VERDICT_REDIR, &want,
	       NULL);
	v = ct_all(&n);
	CHECK(n == 2, "after the reply: %zu conntrack entries, want 2", n);
	/* Answered, not yet established: the client has to speak again. */
	check_ct("forward after reply", v, n, proto, &c2v, &c2e, LB_CT_F_ACTIVE | LB_CT_F_REPLIED,
		 LB_CT_NEW);
	check_ct("reply after reply", v, n, proto, &e2c, &v2c, LB_CT_F_REPLY | LB_CT_F_REPLIED,
		 LB_CT_NEW);
	free(v);

	from_client(&in, proto, &c2v, TCP_ACK | TCP_PSH, "hello", nocsum);
	to_endpoint(&want, proto, &c2e, TCP_ACK | TCP_PSH, "hello", nocsum);
	expect("established: client data", if_cli, &in, VERDICT_REDIR, &want, NULL);
	v = ct_all(&n);
	check_ct("forward established", v, n, proto, &c2v, &c2e, LB_CT_F_ACTIVE | LB_CT_F_REPLIED,
		 LB_CT_EST);
	check_ct("reply established", v, n, proto, &e2c, &v2c, LB_CT_F_REPLY | LB_CT_F_REPLIED,
		 LB_CT_EST);
	free(v);
	from_endpoint(&in, proto, &e2c, TCP_ACK | TCP_PSH, "world!", nocsum);
	to_client(&want, proto, &v2c, TCP_ACK | TCP_PSH, "world!", nocsum);
	expect("established: endpoint data", if_ep, &in, VERDICT_REDIR, &want, NULL);

	if (tcp) {
		from_client(&in, proto, &c2v, TCP_FIN | TCP_ACK, "", false);
		to_endpoint(&want, proto, &c2e, TCP_FIN | TCP_ACK, "", false);
		expect("client FIN", if_cli, &in, VERDICT_REDIR, &want, NULL);
		v = ct_all(&n);
		check_ct("forward after FIN", v, n, proto, &c2v, &c2e, LB_CT_F_REPLIED, LB_CT_CLOSING);
		check_ct("reply after FIN", v, n, proto, &e2c, &v2c, LB_CT_F_REPLY | LB_CT_F_REPLIED,
			 LB_CT_CLOSING);
		free(v);
		from_endpoint(&in, proto, &e2c, TCP_FIN | TCP_ACK, "", false);
		to_client(&want, proto, &v2c, TCP_FIN | TCP_ACK, "", false);
		expect("endpoint FIN", if_ep, &in, VERDICT_REDIR, &want, NULL);
	}
	if (svc_info(&k, &info)) {
		CHECK_EQ_U(info.stats.flows, 1);
		CHECK_EQ_U(info.stats.packets, tcp ? 6 : 4);
		CHECK_EQ_U(info.stats.drops, 0);
		CHECK_EQ_U(info.eps[0].stats.flows, 1);
		CHECK_EQ_U(info.eps[0].stats.packets, tcp ? 6 : 4);
		CHECK_EQ_U(info.eps[0].active, tcp ? 0 : 1);
	}
}

static void dnat_ipv4_tcp(void) { dnat_flow(6, C4, V4, E4A, false); }
static void dnat_ipv4_udp(void) { dnat_flow(17, C4, V4, E4A, false); }
static void dnat_ipv4_udp_no_checksum(void) { dnat_flow(17, C4, V4, E4A, true); }
static void dnat_ipv6_tcp(void) { dnat_flow(6, C6, V6, E6A, false); }
static void dnat_ipv6_udp(void) { dnat_flow(17, C6, V6, E6A, false); }

/* ---- full NAT ---------------------------------------------------------------- */

/*
 * A flow through a full NAT service: the forward packet leaves from lbaddr and a
 * port of 32768-60999 that conntrack records; the answer to lbaddr:port goes back
 * to the client from the VIP.
 */
static void fullnat_flow(uint8_t proto, const char *client, const char *vip, const char *ep,
			 const char *snat, const char *lbaddr, bool nocsum)
{
	const struct tuple c2v = { client, 40000, vip, 80 }, v2c = { vip, 80, client, 40000 };
	struct svc_opts so = { .mode = LB_NAT_FULLNAT, .snat = snat };
	struct lb_counter d[LB_DROP_MAX];
	struct lb_svc_key k;
	struct lb_ct_entry *v;
	struct pkt in, want;
	struct run r;
	uint16_t port = 0;
	size_t n;

	reset();
	k = add_service(vip, 80, proto, &so);
	add_endpoint(&k, ep, 8080, 1);

	from_client(&in, proto, &c2v, TCP_SYN, "", nocsum);
	run_pkt(if_cli, &in, &r);
	CHECK(r.err == 0 && r.verdict == VERDICT_REDIR, "first packet: verdict %d, want %d",
	      r.verdict, VERDICT_REDIR);
	if (r.verdict == VERDICT_SHOT) {
		drops(d);
		for (int i = 1; i < LB_DROP_MAX; i++)
			if (d[i].packets)
				printf("#   dropped: %s %llu\n", lb_drop_name(i),
				       (unsigned long long)d[i].packets);
	}
	v = ct_all(&n);
	CHECK(n == 2, "after the first packet: %zu conntrack entries, want 2", n);
	{
		struct tuple c2e = { lbaddr, 0, ep, 8080 };
		const struct lb_ct_entry *f = check_ct("forward", v, n, proto, &c2v, &c2e,
						       LB_CT_F_SNAT | LB_CT_F_ACTIVE, LB_CT_NEW);

		if (f)
			port = ntohs(f->ct.nat_sport);
	}
	free(v);
	if (!port)
		return;
	CHECK(port >= NAT_PORT_MIN && port <= NAT_PORT_MAX, "SNAT port %u outside %u-%u", port,
	      NAT_PORT_MIN, NAT_PORT_MAX);

	const struct tuple l2e = { lbaddr, port, ep, 8080 }, e2l = { ep, 8080, lbaddr, port };

	v = ct_all(&n);
	check_ct("reply", v, n, proto, &e2l, &v2c, LB_CT_F_REPLY | LB_CT_F_SNAT, LB_CT_NEW);
	free(v);
	to_endpoint(&want, proto, &l2e, TCP_SYN, "", nocsum);
	CHECK(r.out.len == want.len && !memcmp(r.out.b, want.b, want.len),
	      "first packet: output differs from the expected packet");
	if (memcmp(r.out.b, want.b, want.len)) {
		hexdump("want", &want);
		hexdump("got", &r.out);
	}
	check_csums("first packet", &r.out);

	from_endpoint(&in, proto, &e2l, TCP_SYN | TCP_ACK, "", nocsum);
	to_client(&want, proto, &v2c, TCP_SYN | TCP_ACK, "", nocsum);
	expect("reply: endpoint -> LB:port comes out VIP -> client", if_ep, &in, VERDICT_REDIR,
	       &want, NULL);
	from_client(&in, proto, &c2v, TCP_ACK, "more", nocsum);
	to_endpoint(&want, proto, &l2e, TCP_ACK, "more", nocsum);
	expect("established: same source port", if_cli, &in, VERDICT_REDIR, &want, NULL);
	from_endpoint(&in, proto, &e2l, TCP_ACK, "data back", nocsum);
	to_client(&want, proto, &v2c, TCP_ACK, "data back", nocsum);
	expect("established: endpoint data", if_ep, &in, VERDICT_REDIR, &want, NULL);
	v = ct_all(&n);
	CHECK(n == 2, "%zu conntrack entries, want 2", n);
	check_ct("forward established", v, n, proto, &c2v, &l2e,
		 LB_CT_F_SNAT | LB_CT_F_ACTIVE | LB_CT_F_REPLIED, LB_CT_EST);
	check_ct("reply established", v, n, proto, &e2l, &v2c,
		 LB_CT_F_REPLY | LB_CT_F_SNAT | LB_CT_F_REPLIED, LB_CT_EST);
	free(v);
}

static void fullnat_ipv4_tcp_snat(void) { fullnat_flow(6, C4, V4, E4A, LB4, LB4, false); }
static void fullnat_ipv4_udp_snat(void) { fullnat_flow(17, C4, V4, E4A, LB4, LB4, false); }
static void fullnat_ipv4_udp_no_checksum(void) { fullnat_flow(17, C4, V4, E4A, LB4, LB4, true); }
static void fullnat_ipv4_tcp_snat_ifaddr(void) { fullnat_flow(6, C4, V4, E4A, NULL, LB4, false); }
static void fullnat_ipv6_tcp_snat(void) { fullnat_flow(6, C6, V6, E6A, LB6, LB6, false); }
static void fullnat_ipv6_udp_snat_ifaddr(void) { fullnat_flow(17, C6, V6, E6A, NULL, LB6, false); }

/*
 * The flows above on CHECKSUM_COMPLETE skbs (as many NICs deliver them): the
 * same output bytes with whole checksums, and no run fails its skb->csum check
 * (EBADMSG): a rewritten skb leaves CHECKSUM_NONE, as the kernel's forwarding
 * makes it, not COMPLETE with a sum the rewrite (or the IPv6 hop limit, which no
 * header checksum covers) made stale.
 */
static void checksum_complete(void)
{
	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	dnat_flow(6, C4, V4, E4A, false);
	dnat_flow(17, C4, V4, E4A, false);
	dnat_flow(17, C4, V4, E4A, true);
	dnat_flow(6, C6, V6, E6A, false);
	dnat_flow(17, C6, V6, E6A, false);
	fullnat_flow(6, C4, V4, E4A, LB4, LB4, false);
	fullnat_flow(17, C4, V4, E4A, LB4, LB4, true);
	fullnat_flow(6, C6, V6, E6A, LB6, LB6, false);
	fullnat_flow(17, C6, V6, E6A, NULL, LB6, false);
	run_flags = 0;
}

/* Two clients with the same source port to the one endpoint: two SNAT ports. */
static void fullnat_two_clients_same_port(void)
{
	const struct tuple a2v = { C4, 40000, V4, 80 }, b2v = { C4B, 40000, V4, 80 };
	struct svc_opts so = { .mode = LB_NAT_FULLNAT, .snat = LB4 };
	struct lb_svc_key k;
	struct pkt in;
	struct run ra, rb;
	size_t n;

	reset();
	k = add_service(V4, 80, 6, &so);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &a2v, TCP_SYN, "", false);
	run_pkt(if_cli, &in, &ra);
	from_client(&in, 6, &b2v, TCP_SYN, "", false);
	run_pkt(if_cli, &in, &rb);
	CHECK(ra.verdict == VERDICT_REDIR && rb.verdict == VERDICT_REDIR && ra.out.l4 && rb.out.l4,
	      "verdicts %d, %d", ra.verdict, rb.verdict);
	if (!ra.out.l4 || !rb.out.l4)
		return;
	CHECK(get16(&ra.out, ra.out.l4) != get16(&rb.out, rb.out.l4),
	      "both flows leave from port %u", get16(&ra.out, ra.out.l4));
	free(ct_all(&n));
	CHECK(n == 4, "%zu conntrack entries, want 4", n);

	/* Each answer goes back to its own client. */
	for (int i = 0; i < 2; i++) {
		const struct run *r = i ? &rb : &ra;
		const char *c = i ? C4B : C4;
		const struct tuple e2l = { E4A, 8080, LB4, get16(&r->out, r->out.l4) };
		const struct tuple v2c = { V4, 80, c, 40000 };
		struct pkt want;

		from_endpoint(&in, 6, &e2l, TCP_SYN | TCP_ACK, "", false);
		to_client(&want, 6, &v2c, TCP_SYN | TCP_ACK, "", false);
		expect(i ? "answer to the second client" : "answer to the first client", if_ep, &in,
		       VERDICT_REDIR, &want, NULL);
	}
}

/* ---- drops ------------------------------------------------------------------- */

/* in is dropped, counted once under reason, and leaves no conntrack entry. */
static void expect_drop(const char *what, int ifindex, const struct pkt *in, enum lb_drop reason)
{
	struct lb_counter before[LB_DROP_MAX], after[LB_DROP_MAX];
	size_t n0, n1;
	struct lb_ct_entry *v;

	v = ct_all(&n0);
	free(v);
	drops(before);
	expect(what, ifindex, in, VERDICT_SHOT, NULL, NULL);
	drops(after);
	for (int i = 0; i < LB_DROP_MAX; i++) {
		uint64_t dp = after[i].packets - before[i].packets;
		uint64_t db = after[i].bytes - before[i].bytes;

		CHECK(dp == (i == (int)reason) && db == (i == (int)reason ? in->len : 0),
		      "%s: drop reason %s moved by %llu packets %llu bytes", what,
		      lb_drop_name(i) ? lb_drop_name(i) : "?", (unsigned long long)dp,
		      (unsigned long long)db);
	}
	v = ct_all(&n1);
	CHECK(n1 == n0, "%s: conntrack entries %zu -> %zu", what, n0, n1);
	free(v);
}

static void drop_no_endpoint(void)
{
	const struct tuple c2v = { C4, 40000, V4, 80 };
	struct lb_service_info info;
	struct lb_svc_key k;
	struct pkt in;

	reset();
	k = add_service(V4, 80, 6, NULL);
	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	expect_drop("service without endpoints", if_cli, &in, LB_DROP_NO_ENDPOINT);
	if (svc_info(&k, &info)) {
		CHECK_EQ_U(info.stats.drops, 1);
		CHECK_EQ_U(info.stats.flows, 0);
	}
}

static void drop_not_allowed(void)
{
	const struct tuple out = { C4, 40000, V4, 80 }, inside = { C4IN, 40000, V4, 80 };
	const struct tuple in2e = { C4IN, 40000, E4A, 8080 };
	struct svc_opts so = { .allow = "198.18.5.0/24" };
	struct lb_svc_key k;
	struct pkt in, want;

	reset();
	k = add_service(V4, 80, 6, &so);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &out, TCP_SYN, "", false);
	expect_drop("client outside allow 198.18.5.0/24", if_cli, &in, LB_DROP_NOT_ALLOWED);
	from_client(&in, 6, &inside, TCP_SYN, "", false);
	to_endpoint(&want, 6, &in2e, TCP_SYN, "", false);
	expect("client inside the allowed prefix", if_cli, &in, VERDICT_REDIR, &want, NULL);
}

/* allow add (add) or del of one prefix of service k. */
static void allow_change(const struct lb_svc_key *k, const char *prefix, bool add)
{
	struct lb_prefix p;
	uint8_t fam;
	int err;

	CHECK(lb_prefix_parse(prefix, &p, &fam) == 0, "prefix %s", prefix);
	err = add ? lb_service_allow_add(ctx, k, &p, 1) : lb_service_allow_del(ctx, k, &p, 1);
	CHECK(err == 0, "allow %s %s: %s (%s)", add ? "add" : "del", prefix, strerror(-err),
	      lb_ctx_errmsg(ctx));
}

/* A new flow from src:sport to the service vip:port goes to endpoint ep:8080. */
static void expect_allowed(const char *what, const char *src, uint16_t sport, const char *vip,
			   uint16_t port, const char *ep)
{
	const struct tuple c2v = { src, sport, vip, port }, c2e = { src, sport, ep, 8080 };
	struct pkt in, want;

	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	to_endpoint(&want, 6, &c2e, TCP_SYN, "", false);
	expect(what, if_cli, &in, VERDICT_REDIR, &want, NULL);
}

static void expect_refused(const char *what, const char *src, uint16_t sport, const char *vip,
			   uint16_t port)
{
	const struct tuple c2v = { src, sport, vip, port };
	struct pkt in;

	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	expect_drop(what, if_cli, &in, LB_DROP_NOT_ALLOWED);
}

/*
 * Allow lists in lb_allow: the longest prefix holding the source decides, within
 * the service's own entries (its id is part of every key); a service without a
 * list takes every source; both families.
 */
static void allow_lpm(void)
{
	struct svc_opts so4 = { .allow = "198.18.5.0/24" }, so6 = { .allow = "2001:db8::/64" };
	struct svc_opts other = { .allow = "198.18.0.0/16" };
	struct lb_svc_key k, everyone, k6;

	reset();
	k = add_service(V4, 80, 6, &so4);
	add_endpoint(&k, E4A, 8080, 1);
	everyone = add_service(V4, 81, 6, NULL);
	add_endpoint(&everyone, E4A, 8080, 1);
	add_service(V4, 82, 6, &other);	/* C4 is inside this one's list, not k's */
	k6 = add_service(V6, 80, 6, &so6);
	add_endpoint(&k6, E6A, 8080, 1);

	expect_refused("C4 outside 198.18.5.0/24 (another service allows it)", C4, 41000, V4, 80);
	expect_allowed("C4 to the service without a list", C4, 41001, V4, 81, E4A);
	expect_allowed("C4IN inside 198.18.5.0/24", C4IN, 41002, V4, 80, E4A);

	allow_change(&k, "198.18.0.0/16", true);
	expect_allowed("C4 inside the added 198.18.0.0/16", C4, 41003, V4, 80, E4A);
	allow_change(&k, "198.18.0.0/16", false);
	expect_refused("C4 after 198.18.0.0/16 went", C4, 41004, V4, 80);
	expect_allowed("C4IN: its /24 stayed", C4IN, 41005, V4, 80, E4A);
	allow_change(&k, "198.18.5.7/32", true);
	expect_allowed("C4IN by its /32 inside the /24", C4IN, 41006, V4, 80, E4A);
	allow_change(&k, "198.18.5.0/24", false);
	expect_allowed("C4IN by the /32 alone", C4IN, 41007, V4, 80, E4A);
	expect_refused("198.18.5.8: neither the /32 nor the /24 now", "198.18.5.8", 41008, V4, 80);

	expect_allowed("C6 inside 2001:db8::/64", C6, 41009, V6, 80, E6A);
	expect_refused("2001:db8:5::7 outside 2001:db8::/64", "2001:db8:5::7", 41010, V6, 80);
	allow_change(&k6, "2001:db8::/64", false);
	expect_allowed("2001:db8:5::7 once the list is empty", "2001:db8:5::7", 41011, V6, 80, E6A);
}

static int config_ports(uint16_t min, uint16_t max)
{
	struct lb_config cfg;
	__u32 zero = 0;
	int fd = lb_map_fd(ctx, LB_MAP_CONFIG), err;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	if (!err) {
		cfg.snat_port_min = min;
		cfg.snat_port_max = max;
		err = bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) ? -errno : 0;
	}
	close(fd);
	return err;
}

static void drop_no_snat_port(void)
{
	const struct tuple a2v = { C4, 40000, V4, 80 }, b2v = { C4B, 40000, V4, 80 };
	const struct tuple a2e = { LB4, 50000, E4A, 8080 };
	struct svc_opts so = { .mode = LB_NAT_FULLNAT, .snat = LB4 };
	struct lb_ct_key kb = ct_key(17, &b2v);
	struct lb_ct_entry *v;
	struct lb_svc_key k;
	struct pkt in, want;
	size_t n;

	reset();
	k = add_service(V4, 80, 17, &so);
	add_endpoint(&k, E4A, 8080, 1);
	CHECK(config_ports(50000, 50000) == 0, "shrink the SNAT port range to 50000-50000");
	from_client(&in, 17, &a2v, 0, "first", false);
	to_endpoint(&want, 17, &a2e, 0, "first", false);
	expect("first client gets the one port", if_cli, &in, VERDICT_REDIR, &want, NULL);
	from_client(&in, 17, &b2v, 0, "second", false);
	expect_drop("second client: no port left", if_cli, &in, LB_DROP_NO_SNAT_PORT);
	v = ct_all(&n);
	CHECK(n == 2, "%zu conntrack entries, want 2 (the first flow's)", n);
	CHECK(!ct_find(v, n, &kb), "the dropped flow has a conntrack entry");
	free(v);
	/* The first flow goes on. */
	from_client(&in, 17, &a2v, 0, "again", false);
	to_endpoint(&want, 17, &a2e, 0, "again", false);
	expect("first client's flow continues", if_cli, &in, VERDICT_REDIR, &want, NULL);
	config_ports(0, 0);
}

/* ---- not ours ---------------------------------------------------------------- */

static void not_a_service(void)
{
	const struct tuple other_vip = { C4, 40000, "198.19.0.99", 80 };
	const struct tuple other_port = { C4, 40000, V4, 81 };
	const struct tuple vip = { C4, 40000, V4, 80 };
	const struct tuple v6 = { C6, 40000, V6, 80 };
	const struct tuple stray = { E4A, 8080, C4, 40001 };
	struct lb_counter before[LB_DROP_MAX], after[LB_DROP_MAX];
	struct lb_svc_key k;
	struct pkt in;
	size_t n;

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	drops(before);
	from_client(&in, 6, &other_vip, TCP_SYN, "", false);
	expect("tcp to an address without service", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	from_client(&in, 6, &other_port, TCP_SYN, "", false);
	expect("tcp to the VIP, other port", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	from_client(&in, 17, &vip, 0, "udp", false);
	expect("udp to a tcp service's VIP and port", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	from_client(&in, 6, &v6, TCP_SYN, "", false);
	expect("ipv6 tcp, only an ipv4 service", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	from_endpoint(&in, 6, &stray, TCP_SYN | TCP_ACK, "", false);
	expect("endpoint packet of no flow", if_ep, &in, VERDICT_UNSPEC, NULL, NULL);
	eth_mac(&in, mac_cli, mac_of(C4), 0x0800);
	ip4(&in, C4, V4, 1, 0);
	icmp_echo(&in, 8, 1, 1);
	finish(&in);
	expect("icmp echo to the VIP", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	drops(after);
	for (int i = 0; i < LB_DROP_MAX; i++)
		CHECK(after[i].packets == before[i].packets, "drop reason %d counted", i);
	free(ct_all(&n));
	CHECK(n == 0, "%zu conntrack entries, want 0", n);
}

static void truncated_tcp_to_vip(void)
{
	struct lb_counter before[LB_DROP_MAX], after[LB_DROP_MAX];
	struct lb_svc_key k;
	uint64_t m0, m1;
	struct pkt in;
	size_t n;

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	k = add_service(V6, 80, 6, NULL);
	add_endpoint(&k, E6A, 8080, 1);
	drops(before);

	/* Ports and sequence number present, the rest of the TCP header missing. */
	eth_mac(&in, mac_cli, mac_of(C4), 0x0800);
	ip4(&in, C4, V4, 6, 0);
	put16(&in, 40000); put16(&in, 80); put32(&in, 1000); put16(&in, 0);
	in.proto = 6;
	finish(&in);
	m0 = if_counter(if_cli, LB_CTR_MALFORMED);
	expect("ipv4: tcp header of 10 bytes to VIP:80", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	m1 = if_counter(if_cli, LB_CTR_MALFORMED);
	CHECK(m1 == m0 + 1, "malformed counter %llu -> %llu", (unsigned long long)m0,
	      (unsigned long long)m1);

	eth_mac(&in, mac_cli, mac_of(C6), 0x86dd);
	ip6(&in, C6, V6, 6);
	put16(&in, 40000); put16(&in, 80); put32(&in, 1000); put16(&in, 0);
	in.proto = 6;
	finish(&in);
	m0 = if_counter(if_cli, LB_CTR_MALFORMED);
	expect("ipv6: tcp header of 10 bytes to VIP:80", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
	m1 = if_counter(if_cli, LB_CTR_MALFORMED);
	CHECK(m1 == m0 + 1, "malformed counter %llu -> %llu", (unsigned long long)m0,
	      (unsigned long long)m1);

	drops(after);
	for (int i = 0; i < LB_DROP_MAX; i++)
		CHECK(after[i].packets == before[i].packets, "drop reason %d counted", i);
	free(ct_all(&n));
	CHECK(n == 0, "%zu conntrack entries, want 0", n);
}

/* ---- schedulers -------------------------------------------------------------- */

static const char *const eps3[] = { E4A, E4B, E4C };

/*
 * A new flow client:sport -> V4:80 (UDP, or TCP with a SYN): returns the index in
 * eps of the endpoint the output goes to (-1 on failure), after checking the
 * whole output packet.
 */
static int new_flow_p(uint8_t proto, const char *client, uint16_t sport,
		      const char *const *eps, int neps)
{
	const struct tuple c2v = { client, sport, V4, 80 };
	struct pkt in, want;
	char what[96], dst[INET6_ADDRSTRLEN] = "";
	struct run r;
	int idx = -1;

	snprintf(what, sizeof(what), "flow from %s:%u", client, sport);
	from_client(&in, proto, &c2v, TCP_SYN, "sched", false);
	run_pkt(if_cli, &in, &r);
	CHECK(r.err == 0 && r.verdict == VERDICT_REDIR, "%s: verdict %d", what, r.verdict);
	if (r.verdict != VERDICT_REDIR || !r.out.l4)
		return -1;
	inet_ntop(AF_INET, r.out.b + r.out.l3 + 16, dst, sizeof(dst));
	for (int i = 0; i < neps; i++)
		if (!strcmp(dst, eps[i]))
			idx = i;
	CHECK(idx >= 0, "%s: went to %s, not an endpoint", what, dst);
	if (idx < 0)
		return -1;
	{
		const struct tuple c2e = { client, sport, eps[idx], 8080 };

		to_endpoint(&want, proto, &c2e, TCP_SYN, "sched", false);
		CHECK(r.out.len == want.len && !memcmp(r.out.b, want.b, want.len),
		      "%s: output differs from the expected packet to %s", what, eps[idx]);
		check_csums(what, &r.out);
	}
	return idx;
}

static int new_flow(const char *client, uint16_t sport, const char *const *eps, int neps)
{
	return new_flow_p(17, client, sport, eps, neps);
}

static struct lb_svc_key sched_service(enum lb_sched s, const uint32_t *weights)
{
	struct svc_opts so = { .sched = s };
	struct lb_svc_key k;

	reset();
	k = add_service(V4, 80, 17, &so);
	for (int i = 0; i < 3; i++)
		add_endpoint(&k, eps3[i], 8080, weights ? weights[i] : 1);
	return k;
}

static void sched_rr(void)
{
	int seq[9], count[3] = {};

	sched_service(LB_SCHED_RR, NULL);
	for (int i = 0; i < 9; i++) {
		seq[i] = new_flow(C4, 41000 + i, eps3, 3);
		if (seq[i] >= 0)
			count[seq[i]]++;
	}
	printf("#   rr: ");
	for (int i = 0; i < 9; i++)
		printf("%d ", seq[i]);
	printf("\n");
	for (int i = 0; i < 3; i++)
		CHECK(count[i] == 3, "rr: endpoint %s got %d of 9 flows, want 3", eps3[i], count[i]);
	CHECK(seq[0] != seq[1] && seq[1] != seq[2] && seq[0] != seq[2],
	      "rr: the first three flows go to three endpoints");
	for (int i = 3; i < 9; i++)
		CHECK(seq[i] == seq[i - 3], "rr: flow %d went to %d, flow %d to %d: not a rotation",
		      i, seq[i], i - 3, seq[i - 3]);
}

static void sched_wrr(void)
{
	static const uint32_t w[3] = { 1, 2, 3 };
	int count[3] = {}, idx;

	sched_service(LB_SCHED_WRR, w);
	for (int i = 0; i < 6; i++)
		if ((idx = new_flow(C4, 41000 + i, eps3, 3)) >= 0)
			count[idx]++;
	for (int i = 0; i < 3; i++)
		CHECK(count[i] == (int)w[i], "wrr: endpoint %s (weight %u) got %d of 6 flows",
		      eps3[i], w[i], count[i]);
}

static void sched_hash(void)
{
	int first, idx, used[3] = {}, distinct = 0;
	char client[32];

	sched_service(LB_SCHED_HASH, NULL);
	first = new_flow(C4, 42000, eps3, 3);
	for (int i = 1; i < 8; i++) {
		idx = new_flow(C4, 42000 + i * 7, eps3, 3);
		CHECK(idx == first, "hash: %s port %d went to %d, port 42000 to %d", C4,
		      42000 + i * 7, idx, first);
	}
	/* Different client addresses spread over the endpoints. */
	for (int i = 1; i <= 32; i++) {
		snprintf(client, sizeof(client), "198.18.0.%d", 100 + i);
		idx = new_flow(client, 42000, eps3, 3);
		if (idx >= 0 && !used[idx]++)
			distinct++;
	}
	CHECK(distinct > 1, "hash: 32 client addresses all went to one endpoint");
}

static void sched_maglev(void)
{
	int idx[16], again, used[3] = {}, distinct = 0;
	size_t n;

	sched_service(LB_SCHED_MAGLEV, NULL);
	for (int i = 0; i < 16; i++) {
		idx[i] = new_flow(C4, 43000 + i, eps3, 3);
		if (idx[i] >= 0 && !used[idx[i]]++)
			distinct++;
	}
	CHECK(distinct > 1, "maglev: 16 flows all went to one endpoint");
	CHECK(lb_ct_flush(ctx, NULL, &n) == 0 && n == 32, "flushed %zu conntrack entries, want 32",
	      n);
	for (int i = 0; i < 16; i++) {
		again = new_flow(C4, 43000 + i, eps3, 3);
		CHECK(again == idx[i], "maglev: port %d went to %d before the flush, %d after",
		      43000 + i, idx[i], again);
	}
}

/* ---- endpoint states and expiry ------------------------------------------------ */

static const char *const eps2[] = { E4A, E4B };

static void endpoint_drain_and_down(void)
{
	struct lb_svc_key k;
	int a, b, idx;

	reset();
	k = add_service(V4, 80, 17, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	a = new_flow(C4, 44000, eps2, 2);
	if (a < 0)
		return;
	set_endpoint(&k, eps2[a], 8080, LB_EP_DRAIN);
	idx = new_flow(C4, 44000, eps2, 2);
	CHECK(idx == a, "drain: the established flow moved from %d to %d", a, idx);
	for (int i = 1; i <= 3; i++) {
		b = new_flow(C4, 44000 + i, eps2, 2);
		CHECK(b == 1 - a, "drain: new flow %d went to the draining endpoint", i);
	}
	set_endpoint(&k, eps2[a], 8080, LB_EP_DOWN);
	idx = new_flow(C4, 44000, eps2, 2);
	CHECK(idx == 1 - a, "down: the flow stayed on the down endpoint (%d)", idx);
}

static void udp_flow_expires(void)
{
	uint32_t to[LB_TO_MAX] = { [LB_TO_UDP] = 1 };
	struct lb_svc_key k;
	int first, second;
	size_t n;

	reset();
	k = add_service(V4, 80, 17, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	CHECK(lb_timeouts_set(ctx, to) == 0, "udp timeout 1 s");
	first = new_flow(C4, 45000, eps2, 2);
	sleep(2);	/* a bounded wait past the timeout, not a measurement */
	free(ct_all(&n));
	CHECK(n == 0, "%zu live conntrack entries after the timeout, want 0", n);
	second = new_flow(C4, 45000, eps2, 2);
	CHECK(first >= 0 && second == 1 - first,
	      "after expiry the flow is new: rr sends it to the other endpoint (%d, then %d)",
	      first, second);
}

/* lc: a new flow goes to the endpoint with the fewest open flows. */
static void sched_lc(void)
{
	static const char *const two[] = { E4A, E4B };
	const struct tuple c2v = { C4, 47001, V4, 80 };
	struct svc_opts so = { .sched = LB_SCHED_LC };
	struct lb_service_info info;
	struct lb_svc_key k;
	struct pkt in, want;
	int x, y, z;

	reset();
	k = add_service(V4, 80, 6, &so);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	x = new_flow_p(6, C4, 47001, two, 2);
	y = new_flow_p(6, C4, 47002, two, 2);
	CHECK(x >= 0 && y == 1 - x, "lc: the second flow went to %d, the first to %d", y, x);
	if (x < 0)
		return;
	/* The first flow closes: its endpoint has the fewest open flows again. */
	const struct tuple c2e = { C4, 47001, two[x], 8080 };

	from_client(&in, 6, &c2v, TCP_FIN | TCP_ACK, "", false);
	to_endpoint(&want, 6, &c2e, TCP_FIN | TCP_ACK, "", false);
	expect("lc: FIN of the first flow", if_cli, &in, VERDICT_REDIR, &want, NULL);
	if (svc_info(&k, &info) && info.n_eps == 2) {
		CHECK_EQ_U(info.eps[x].active, 0);
		CHECK_EQ_U(info.eps[1 - x].active, 1);
	}
	z = new_flow_p(6, C4, 47003, two, 2);
	CHECK(z == x, "lc: the third flow went to %d, want the idle endpoint %d", z, x);
}

/*
 * lc among many endpoints, by two choices: the busiest endpoint never gets a new
 * flow (whichever other one it is drawn with has fewer), drained and down ones
 * get none, an idle one among busy ones gets new flows until it catches up.
 */
static void sched_lc_two_choices(void)
{
	enum { N = 16, FLOWS = 200, BUSY = 0, DRAINED = 1, DOWN = 2, IDLE = N - 1 };
	struct svc_opts so = { .sched = LB_SCHED_LC };
	char addr[N][INET_ADDRSTRLEN];
	struct lb_service_info info;
	int count[N] = {}, fd, lost = 0;
	struct lb_svc_key k;

	reset();
	k = add_service(V4, 80, 17, &so);
	for (int i = 0; i < N; i++) {
		snprintf(addr[i], sizeof(addr[i]), "198.18.1.%d", 100 + i);
		add_endpoint(&k, addr[i], 8080, 1);
	}
	set_endpoint(&k, addr[DRAINED], 8080, LB_EP_DRAIN);
	set_endpoint(&k, addr[DOWN], 8080, LB_EP_DOWN);
	/* Open flows as the datapath counts them: 1000 on the busiest, 10 on the
	 * others, none on the idle one. */
	fd = lb_map_fd(ctx, LB_MAP_EP_STATE);
	CHECK(fd >= 0, "map %s", LB_MAP_EP_STATE);
	if (fd < 0 || !svc_info(&k, &info))
		return;
	CHECK_EQ_U(info.n_eps, N);
	for (size_t i = 0; i < info.n_eps && i < N; i++) {
		struct lb_ep_state st = { .active = i == BUSY ? 1000 : i == IDLE ? 0 : 10 };

		CHECK(bpf_map_update_elem(fd, &info.eps[i].id, &st, BPF_EXIST) == 0, "set active");
	}
	close(fd);
	lb_service_info_free(&info, 1);
	for (int f = 0; f < FLOWS; f++) {
		const struct tuple c2v = { C4, 50000 + f, V4, 80 };
		char dst[INET6_ADDRSTRLEN] = "";
		struct pkt in;
		struct run r;
		int idx = -1;

		from_client(&in, 17, &c2v, 0, "lc", false);
		run_pkt(if_cli, &in, &r);
		if (r.err || !r.out.l4) {
			lost++;
			continue;
		}
		inet_ntop(AF_INET, r.out.b + r.out.l3 + 16, dst, sizeof(dst));
		for (int i = 0; i < N; i++)
			if (!strcmp(dst, addr[i]))
				idx = i;
		if (idx < 0)
			lost++;
		else
			count[idx]++;
	}
	CHECK(lost == 0, "lc: %d of %d new flows reached no endpoint", lost, FLOWS);
	CHECK(count[BUSY] == 0, "lc: the busiest endpoint got %d new flows", count[BUSY]);
	CHECK(count[DRAINED] == 0 && count[DOWN] == 0, "lc: drained %d, down %d new flows",
	      count[DRAINED], count[DOWN]);
	/* It is in 2 of 13 draws: it catches up with the others (about 25 flows). */
	CHECK(count[IDLE] >= 10, "lc: the idle endpoint got %d of %d new flows", count[IDLE],
	      FLOWS);
}

/* persist: a client's new flows stay on its endpoint while that one is up. */
static void sched_persist(void)
{
	struct svc_opts so = { .sched = LB_SCHED_RR, .persist = 60 };
	struct lb_svc_key k;
	int first, idx;

	reset();
	k = add_service(V4, 80, 17, &so);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	first = new_flow(C4, 48000, eps2, 2);
	for (int i = 1; i <= 4; i++) {
		idx = new_flow(C4, 48000 + i, eps2, 2);
		CHECK(idx == first, "persist: flow %d of %s went to %d, the first to %d", i, C4, idx,
		      first);
		/* Another client in between moves the rr cursor. */
		new_flow(C4B, 48000 + i, eps2, 2);
	}
	if (first < 0)
		return;
	set_endpoint(&k, eps2[first], 8080, LB_EP_DRAIN);
	idx = new_flow(C4, 48010, eps2, 2);
	CHECK(idx == 1 - first, "persist: with its endpoint draining, a new flow went to %d", idx);
}

/* ---- forwarding the FIB cannot finish ------------------------------------------ */

/*
 * Rewritten, then handed to the stack (TC_ACT_OK) unchanged otherwise: MACs and
 * TTL as they came, for the stack to resolve the neighbour or send time exceeded.
 */
static void unresolved_and_ttl(void)
{
	const struct tuple c2v = { C4, 40000, V4, 80 }, c2e = { C4, 40000, "198.18.1.9", 8080 };
	const struct tuple c2a = { C4, 40001, V4, 80 }, a2e = { C4, 40001, E4A, 8080 };
	struct lb_svc_key k;
	struct pkt in, want;

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, "198.18.1.9", 8080, 1);	/* no neighbour entry */
	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	/* Route known, neighbour not: bpf_redirect_neigh resolves it, so the MACs
	 * stay as they came (the kernel fills them) and the TTL goes down. */
	mk(&want, 6, &c2e, mac_cli, mac_of(C4), 63, TCP_SYN, "", false);
	expect("endpoint without a neighbour entry: NATed, redirect_neigh", if_cli, &in,
	       TC_ACT_REDIRECT, &want, NULL);

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	mk(&in, 6, &c2a, mac_cli, mac_of(C4), 1, TCP_SYN, "", false);
	mk(&want, 6, &a2e, mac_cli, mac_of(C4), 1, TCP_SYN, "", false);
	expect("ttl 1: NATed, to the stack for time exceeded", if_cli, &in, TC_ACT_OK, &want,
	       NULL);
}

/*
 * The XDP fast path on the same flow: translated and redirected while the TTL
 * lasts; at TTL 1 passed to TC exactly as it came (found by fuzz_datapath: it was
 * passed rewritten, and TC's conntrack lookup then missed it).
 */
static void xdp_ttl_out_passes_untouched(void)
{
	const struct tuple c2v = { C4, 40002, V4, 80 }, c2e = { C4, 40002, E4A, 8080 };
	int fd = lb_prog_fd(ctx, LB_PROG_XDP);
	struct pkt in, want, out;
	struct xdp_md xctx;
	struct lb_svc_key k;
	LIBBPF_OPTS(bpf_test_run_opts, o);

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	to_endpoint(&want, 6, &c2e, TCP_SYN, "", false);
	expect("the flow's first packet, on tc", if_cli, &in, VERDICT_REDIR, &want, NULL);
	for (int ttl = 64; ttl >= 1; ttl -= 63) {
		mk(&in, 6, &c2v, mac_cli, mac_of(C4), ttl, TCP_ACK, "x", false);
		mk(&want, 6, &c2e, mac_of(E4A), mac_ep, ttl - 1, TCP_ACK, "x", false);
		xctx = (struct xdp_md){ .data_end = in.len, .ingress_ifindex = if_cli };
		o.data_in = in.b;
		o.data_size_in = in.len;
		o.data_out = out.b;
		o.data_size_out = sizeof(out.b);
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
		o.repeat = 1;
		CHECK(fd >= 0 && bpf_prog_test_run_opts(fd, &o) == 0, "xdp test run: %s",
		      strerror(errno));
		out.len = o.data_size_out;
		if (ttl > 1) {
			CHECK(o.retval == XDP_REDIRECT, "ttl %d: xdp verdict %u", ttl, o.retval);
			CHECK(out.len == want.len && !memcmp(out.b, want.b, want.len),
			      "ttl %d: xdp output is not the translated packet", ttl);
		} else {
			CHECK(o.retval == XDP_PASS, "ttl 1: xdp verdict %u, want XDP_PASS", o.retval);
			CHECK(out.len == in.len && !memcmp(out.b, in.b, in.len),
			      "ttl 1: passed to tc changed");
		}
	}
	if (fd >= 0)
		close(fd);
}

/* ---- the next hop cached in a flow's entry --------------------------------------- */

/* The flow's forward entry, straight from lb_ct (with its next-hop cache). */
static bool ct_raw(const struct tuple *t, struct lb_ct *out)
{
	struct lb_ct_key k = ct_key(6, t);
	int fd = lb_map_fd(ctx, LB_MAP_CT);
	bool ok = fd >= 0 && !bpf_map_lookup_elem(fd, &k, out);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Make the flow's cached next hop look learnt LB_NH_MAX_AGE + 1 stamps ago. */
static void nh_age(const struct tuple *t)
{
	struct lb_ct_key k = ct_key(6, t);
	int fd = lb_map_fd(ctx, LB_MAP_CT);
	struct lb_ct v;

	CHECK(fd >= 0 && !bpf_map_lookup_elem(fd, &k, &v), "the flow's entry");
	v.nh_stamp -= LB_NH_MAX_AGE + 1;
	CHECK(!bpf_map_update_elem(fd, &k, &v, BPF_EXIST), "aging the next hop: %s",
	      strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void xdp_run(const struct pkt *in, struct run *r)
{
	struct xdp_md xctx = { .data_end = in->len, .ingress_ifindex = if_cli };
	int fd = lb_prog_fd(ctx, LB_PROG_XDP);
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = in->b, .data_size_in = in->len,
		    .data_out = r->out.b, .data_size_out = sizeof(r->out.b),
		    .ctx_in = &xctx, .ctx_size_in = sizeof(xctx), .repeat = 1);

	memset(r, 0, sizeof(*r));
	r->err = fd >= 0 && !bpf_prog_test_run_opts(fd, &o) ? 0 : -errno;
	r->verdict = (int)o.retval;
	r->out.len = o.data_size_out;
	if (fd >= 0)
		close(fd);
}

/* XDP must redirect in exactly as want. */
static void xdp_expect(const char *what, const struct pkt *in, const struct pkt *want)
{
	struct run r;

	xdp_run(in, &r);
	CHECK(r.err == 0 && r.verdict == XDP_REDIRECT && r.out.len == want->len &&
	      !memcmp(r.out.b, want->b, want->len), "%s: verdict %d, output %s", what, r.verdict,
	      r.out.len == want->len && !memcmp(r.out.b, want->b, want->len) ? "as wanted" :
	      "not the packet wanted");
}

/* The kernel's neighbour entry of E4A: now with mac. */
static bool neigh_e4a(const uint8_t *mac)
{
	const struct dp_log lg = { stdout, "# next_hop_cache: " };

	return !dp_sh(&lg, "ip neigh replace %s lladdr %02x:%02x:%02x:%02x:%02x:%02x dev %s nud permanent",
		      E4A, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], EP_DEV);
}

/*
 * An established packet forwards by the next hop cached in its entry, with no
 * FIB lookup: a neighbour that changes its MAC is not seen while the cache is
 * fresh, and is seen once it is older than LB_NH_MAX_AGE (the bound a route or
 * neighbour change takes).  On tc and on XDP; XDP asks the FIB again for a packet
 * longer than any the FIB let through (its MTU check).
 */
static void next_hop_cache(void)
{
	static const uint8_t moved[6] = { 2, 0, 0, 0, 1, 0x77 };
	const struct tuple c2v = { C4, 40020, V4, 80 }, c2e = { C4, 40020, E4A, 8080 };
	struct pkt in, want;
	struct lb_svc_key k;
	struct lb_ct ct;

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	to_endpoint(&want, 6, &c2e, TCP_SYN, "", false);
	expect("first packet (slow path: nothing cached)", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&c2v, &ct) && ct.nh_ifindex == 0, "the slow path cached a next hop (%u)",
	      ct.nh_ifindex);
	from_client(&in, 6, &c2v, TCP_ACK, "a", false);
	to_endpoint(&want, 6, &c2e, TCP_ACK, "a", false);
	expect("second packet: learns the next hop", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&c2v, &ct) && ct.nh_ifindex == (uint32_t)if_ep &&
	      !memcmp(ct.nh_dmac, mac_of(E4A), 6) && !memcmp(ct.nh_smac, mac_ep, 6),
	      "cached next hop: ifindex %u, want %d, MACs of the endpoint and lbt0", ct.nh_ifindex,
	      if_ep);

	/* tc learnt no MTU (it asks the FIB without a length): XDP's first packet
	 * asks again and caches the IP length the FIB checked. */
	xdp_expect("xdp, the translated packet", &in, &want);
	CHECK(ct_raw(&c2v, &ct) && ct.nh_mtu == want.len - 14,
	      "xdp cached nh_mtu %u, want the IP length %zu", ct.nh_mtu, want.len - 14);

	/* The endpoint's MAC changes: the fresh cache still says the old one. */
	CHECK(neigh_e4a(moved), "neighbour moved");
	expect("tc, cache fresh: the cached MAC, no FIB lookup", if_cli, &in, VERDICT_REDIR,
	       &want, NULL);
	xdp_expect("xdp, cache fresh: the cached MAC", &in, &want);

	/* Older than the bound: asked again, the new MAC goes out and is cached. */
	nh_age(&c2v);
	mk(&want, 6, &c2e, moved, mac_ep, 63, TCP_ACK, "a", false);
	expect("tc, cache stale: the FIB's new MAC", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&c2v, &ct) && !memcmp(ct.nh_dmac, moved, 6), "the new MAC is cached");

	/* XDP: stale => asked (and the IP length the FIB checked becomes nh_mtu). */
	CHECK(neigh_e4a(mac_of(E4A)), "neighbour back");
	nh_age(&c2v);
	to_endpoint(&want, 6, &c2e, TCP_ACK, "a", false);
	xdp_expect("xdp, cache stale: the FIB's MAC", &in, &want);
	CHECK(ct_raw(&c2v, &ct) && ct.nh_mtu == want.len - 14,
	      "xdp cached nh_mtu %u, want the IP length %zu", ct.nh_mtu, want.len - 14);

	/* A longer packet than the FIB checked: asked again even though fresh. */
	CHECK(neigh_e4a(moved), "neighbour moved again");
	from_client(&in, 6, &c2v, TCP_ACK, "a longer payload", false);
	mk(&want, 6, &c2e, moved, mac_ep, 63, TCP_ACK, "a longer payload", false);
	xdp_expect("xdp, longer than nh_mtu: the FIB asked (new MAC)", &in, &want);
	neigh_e4a(mac_of(E4A));
}

/* ---- the next hop cached per endpoint (lb_ep_nh) ---------------------------------- */

/* lb_ep_nh is per CPU: the test runs its packets on one CPU, whose slots it reads. */
static int nh_cpu = -1;

/* CPU nh_cpu's slot of endpoint id: read (write: false) or written (write: true). */
static bool ep_nh_io(uint32_t id, struct lb_ep_nh *nh, bool write)
{
	int fd = lb_map_fd(ctx, LB_MAP_EP_NH), ncpu = libbpf_num_possible_cpus();
	struct lb_ep_nh *v = calloc(ncpu > 0 ? ncpu : 1, sizeof(*v));
	__u32 slot = lb_ep_nh_slot(id);
	bool ok = fd >= 0 && v && nh_cpu >= 0 && nh_cpu < ncpu &&
		  !bpf_map_lookup_elem(fd, &slot, v);

	if (ok && write) {
		v[nh_cpu] = *nh;
		ok = !bpf_map_update_elem(fd, &slot, v, BPF_EXIST);
	} else if (ok) {
		*nh = v[nh_cpu];
	}
	free(v);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The first ok packet's Ethernet destination is mac (a full NAT packet's port is
 * the kernel's choice: the rest is checked by the full NAT tests). */
static void expect_dmac(const char *what, const struct pkt *in, const uint8_t *mac)
{
	struct run r;

	run_pkt(if_cli, in, &r);
	CHECK(r.err == 0 && r.verdict == VERDICT_REDIR && r.out.len > 6 && !memcmp(r.out.b, mac, 6),
	      "%s: verdict %d, destination MAC %s", what, r.verdict,
	      r.out.len > 6 && !memcmp(r.out.b, mac, 6) ? "as wanted" : "another");
}

/*
 * A new flow's first packet takes the next hop toward its endpoint from lb_ep_nh
 * when this CPU asked the FIB the same question (rewritten source and
 * destination, ingress device) within LB_NH_MAX_AGE, and its forward entry goes
 * in with it, at the age it has.  Seen with a neighbour that changes its MAC:
 * a hit sends the old one (no FIB call), a miss the new one.  Any other
 * question misses: another client (DNAT), a stale answer, a slot holding
 * another address (an endpoint id given again, or two ids sharing a slot),
 * another ingress device.  Full NAT asks with the SNAT address: every client
 * hits.  The reply entry never carries the forward direction's next hop.
 */
static void endpoint_next_hop_cache(void)
{
	static const uint8_t moved[6] = { 2, 0, 0, 0, 1, 0x77 };
	const struct tuple a = { C4, 40030, V4, 80 }, a_e = { C4, 40030, E4A, 8080 },
			   b = { C4, 40031, V4, 80 }, b_e = { C4, 40031, E4A, 8080 },
			   b_r = { E4A, 8080, C4, 40031 },
			   c = { C4B, 40032, V4, 80 }, c_e = { C4B, 40032, E4A, 8080 },
			   d = { C4, 40033, V4, 80 }, d_e = { C4, 40033, E4A, 8080 },
			   e = { C4, 40034, V4, 80 }, e_e = { C4, 40034, E4A, 8080 },
			   f = { C4, 40035, V4, 80 }, f_e = { C4, 40035, E4A, 8080 },
			   g = { C4, 40036, V4, 81 }, h = { C4B, 40037, V4, 81 };
	struct svc_opts fnat = { .mode = LB_NAT_FULLNAT, .snat = LB4 };
	struct lb_addr c4 = A(C4), c4b = A(C4B), e4a = A(E4A), e4b = A(E4B), lb4 = A(LB4);
	cpu_set_t was, one;
	struct lb_ep_nh nh, fake;
	struct pkt in, want;
	struct lb_svc_key k;
	struct lb_ct ct;
	uint32_t id = 0, aged;

	CHECK(!sched_getaffinity(0, sizeof(was), &was), "affinity: %s", strerror(errno));
	for (nh_cpu = 0; nh_cpu < CPU_SETSIZE && !CPU_ISSET(nh_cpu, &was); nh_cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(nh_cpu, &one);
	CHECK(!sched_setaffinity(0, sizeof(one), &one), "pinning to CPU %d: %s", nh_cpu,
	      strerror(errno));

	reset();
	k = add_service(V4, 80, 6, NULL);
	add_endpoint(&k, E4A, 8080, 1);

	/* Cold: the FIB answers, after the entry went in; the slot learns it. */
	from_client(&in, 6, &a, TCP_SYN, "", false);
	to_endpoint(&want, 6, &a_e, TCP_SYN, "", false);
	expect("a, nothing cached: the FIB", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&a, &ct) && ct.nh_ifindex == 0, "a's entry has a next hop (%u)", ct.nh_ifindex);
	id = ct.ep_id;
	CHECK(ep_nh_io(id, &nh, false) && nh.nh_ifindex == (uint32_t)if_ep &&
	      nh.ifindex_in == (uint32_t)if_cli && !memcmp(&nh.src, &c4, sizeof(c4)) &&
	      !memcmp(&nh.dst, &e4a, sizeof(e4a)) && !memcmp(nh.nh_dmac, mac_of(E4A), 6) &&
	      !memcmp(nh.nh_smac, mac_ep, 6),
	      "the slot of endpoint %u: the question (client, endpoint, lbc0) and the answer "
	      "(lbt0, the endpoint's MAC): ifindex %u, in %u", id, nh.nh_ifindex, nh.ifindex_in);

	/* The same question: the cached answer (the neighbour's old MAC), no FIB call,
	 * and the entry goes in with it, as old as it is. */
	CHECK(neigh_e4a(moved), "neighbour moved");
	from_client(&in, 6, &b, TCP_SYN, "", false);
	to_endpoint(&want, 6, &b_e, TCP_SYN, "", false);
	expect("b, the same question: the cached next hop", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&b, &ct) && ct.nh_ifindex == (uint32_t)if_ep && ct.nh_stamp == nh.nh_stamp &&
	      !memcmp(ct.nh_dmac, mac_of(E4A), 6) && ct.nh_mtu == 0,
	      "b's forward entry: the slot's next hop and stamp (ifindex %u, stamp %u, want %u)",
	      ct.nh_ifindex, ct.nh_stamp, nh.nh_stamp);
	CHECK(ct_raw(&b_r, &ct) && ct.nh_ifindex == 0, "b's reply entry has a next hop (%u)",
	      ct.nh_ifindex);

	/* Stale: asked again, the new MAC, and the slot refreshed. */
	nh.nh_stamp -= LB_NH_MAX_AGE + 1;
	aged = nh.nh_stamp;
	CHECK(ep_nh_io(id, &nh, true), "aging the slot");
	from_client(&in, 6, &d, TCP_SYN, "", false);
	mk(&want, 6, &d_e, moved, mac_ep, 63, TCP_SYN, "", false);
	expect("d, the slot stale: the FIB", if_cli, &in, VERDICT_REDIR, &want, NULL);
	CHECK(ct_raw(&d, &ct) && ct.nh_ifindex == 0, "d's entry went in with a stale next hop");
	CHECK(ep_nh_io(id, &nh, false) && !memcmp(nh.nh_dmac, moved, 6) &&
	      nh.nh_stamp - aged > LB_NH_MAX_AGE, "the slot refreshed with the new MAC");

	/* Another question misses, whatever the slot holds (a MAC nobody has, to see
	 * a wrong hit): another client, another address, another ingress device. */
	fake = nh;
	memcpy(fake.nh_dmac, mac_other, 6);
	CHECK(ep_nh_io(id, &fake, true), "the slot, poked");
	from_client(&in, 6, &e, TCP_SYN, "", false);
	mk(&want, 6, &e_e, mac_other, mac_ep, 63, TCP_SYN, "", false);
	expect("e, the poked slot answers the same question", if_cli, &in, VERDICT_REDIR, &want,
	       NULL);
	from_client(&in, 6, &c, TCP_SYN, "", false);
	mk(&want, 6, &c_e, moved, mac_ep, 63, TCP_SYN, "", false);
	expect("c, another client (DNAT asks with its address): the FIB", if_cli, &in,
	       VERDICT_REDIR, &want, NULL);
	CHECK(ep_nh_io(id, &nh, false) && !memcmp(&nh.src, &c4b, sizeof(c4b)),
	      "the slot holds the last question");
	fake.dst = e4b;
	CHECK(ep_nh_io(id, &fake, true), "the slot, for another address");
	from_client(&in, 6, &f, TCP_SYN, "", false);
	mk(&want, 6, &f_e, moved, mac_ep, 63, TCP_SYN, "", false);
	expect("f, a slot holding another address: the FIB", if_cli, &in, VERDICT_REDIR, &want,
	       NULL);
	fake.dst = e4a;
	fake.ifindex_in = if_ep;
	CHECK(ep_nh_io(id, &fake, true), "the slot, from another device");
	from_client(&in, 6, &(struct tuple){ C4, 40038, V4, 80 }, TCP_SYN, "", false);
	mk(&want, 6, &(struct tuple){ C4, 40038, E4A, 8080 }, moved, mac_ep, 63, TCP_SYN, "",
	   false);
	expect("a slot learnt from another ingress device: the FIB", if_cli, &in, VERDICT_REDIR,
	       &want, NULL);

	/* Full NAT asks with the SNAT address: a second client hits. */
	CHECK(neigh_e4a(mac_of(E4A)), "neighbour back");
	k = add_service(V4, 81, 6, &fnat);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &g, TCP_SYN, "", false);
	expect_dmac("full NAT, first client: the FIB", &in, mac_of(E4A));
	CHECK(ct_raw(&g, &ct) && ep_nh_io(ct.ep_id, &nh, false) &&
	      !memcmp(&nh.src, &lb4, sizeof(lb4)) && !memcmp(&nh.dst, &e4a, sizeof(e4a)),
	      "full NAT: the slot's question is the SNAT address");
	CHECK(neigh_e4a(moved), "neighbour moved");
	from_client(&in, 6, &h, TCP_SYN, "", false);
	expect_dmac("full NAT, another client: the cached next hop", &in, mac_of(E4A));

	CHECK(neigh_e4a(mac_of(E4A)), "neighbour back");
	CHECK(!sched_setaffinity(0, sizeof(was), &was), "affinity back");
	nh_cpu = -1;
	reset();
}

/* ---- interface counters: an array below LB_IF_CTR_IFINDEX_MAX, a hash above ----------- */

/* Whether map name holds a non-zero per-CPU value under key. */
static bool counted_in(const char *name, const void *key)
{
	int fd = lb_map_fd(ctx, name), ncpu = libbpf_num_possible_cpus();
	struct lb_if_stats *v = calloc(ncpu > 0 ? ncpu : 1, sizeof(*v));
	bool yes = false;

	if (fd >= 0 && v && !bpf_map_lookup_elem(fd, key, v))
		for (int c = 0; c < ncpu; c++)
			yes |= v[c].ctr[LB_CTR_RX].packets != 0;
	free(v);
	if (fd >= 0)
		close(fd);
	return yes;
}

/*
 * A packet on an interface of a small ifindex counts in lb_if_ctr, on one of
 * ifindex 300 in lb_if_stats; lb_if_counters shows both the same way and reset
 * zeroes both.
 */
static void if_counters_array_and_hash(void)
{
	const struct dp_log lg = { stdout, "# if_counters: " };
	const struct tuple t = { C4, 5000, "198.18.7.7", 53 };
	struct lb_if_key hk = { .ifindex = 300, .hook = LB_HOOK_TC_INGRESS };
	uint32_t ai = lb_if_ctr_index(if_cli, LB_HOOK_TC_INGRESS);
	struct pkt in;
	struct run r;

	reset();
	CHECK(lb_if_counters_reset(ctx, 0) == 0, "reset");
	if (dp_sh(&lg, "ip link add lbh0 index 300 type veth peer name lbh1") ||
	    dp_sh(&lg, "ip link set lbh0 up")) {
		CHECK(0, "a veth of ifindex 300");
		return;
	}
	from_client(&in, 17, &t, 0, "q", false);
	run_pkt(if_cli, &in, &r);
	run_pkt(if_cli, &in, &r);
	run_pkt(300, &in, &r);
	CHECK(r.err == 0, "test run on ifindex 300: %s", strerror(-r.err));
	CHECK(if_packets(if_cli, LB_HOOK_TC_INGRESS, LB_CTR_UDP) == 2, "2 packets on %d, got %llu",
	      if_cli, (unsigned long long)if_packets(if_cli, LB_HOOK_TC_INGRESS, LB_CTR_UDP));
	CHECK(if_packets(300, LB_HOOK_TC_INGRESS, LB_CTR_UDP) == 1, "1 packet on 300, got %llu",
	      (unsigned long long)if_packets(300, LB_HOOK_TC_INGRESS, LB_CTR_UDP));
	CHECK(counted_in(LB_MAP_IF_CTR, &ai) && !counted_in(LB_MAP_IF_STATS,
	      &(struct lb_if_key){ .ifindex = if_cli, .hook = LB_HOOK_TC_INGRESS }),
	      "ifindex %d counts in the array only", if_cli);
	CHECK(counted_in(LB_MAP_IF_STATS, &hk), "ifindex 300 counts in the hash");
	CHECK(lb_if_counters_reset(ctx, if_cli) == 0, "reset %d", if_cli);
	CHECK(if_packets(if_cli, LB_HOOK_TC_INGRESS, LB_CTR_RX) == 0 &&
	      if_packets(300, LB_HOOK_TC_INGRESS, LB_CTR_RX) == 1, "reset of one interface");
	CHECK(lb_if_counters_reset(ctx, 0) == 0, "reset all");
	CHECK(if_packets(300, LB_HOOK_TC_INGRESS, LB_CTR_RX) == 0, "reset of all");
	dp_sh(&lg, "ip link del lbh0");
}

/* ---- ICMP errors about balanced flows ------------------------------------------ */

/* An ICMP(v6) error from -> to quoting the IP packet of q (from q->l3 on). */
static void mk_icmp_err(struct pkt *p, const uint8_t *dmac, const uint8_t *smac, const char *from,
			const char *to, uint8_t ttl, uint8_t type, uint8_t code, uint32_t rest,
			const struct pkt *q, size_t qlen)
{
	bool v6 = is_v6(from);

	memset(p, 0, sizeof(*p));
	eth_mac(p, dmac, smac, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(p, from, to, 58);
	else
		ip4(p, from, to, 1, 0);
	set_ttl(p, ttl);
	put8(p, type);
	put8(p, code);
	put16(p, 0);
	put32(p, rest);
	putn(p, q->b + q->l3, qlen ? qlen : q->len - q->l3);
	p->proto = v6 ? 58 : 1;
	finish(p);
}

/* The IP packet of a tuple as some host saw it (MACs do not matter in a quote). */
static void quote_of(struct pkt *q, uint8_t proto, const struct tuple *t, uint8_t flags,
		     const char *payload)
{
	mk(q, proto, t, mac_other, mac_other, 63, flags, payload, false);
}

static void icmp_errors_dnat(bool v6)
{
	const char *c = v6 ? C6 : C4, *vip = v6 ? V6 : V4, *ep = v6 ? E6A : E4A;
	const char *rtr_ep = v6 ? "2001:db8:1::fe" : "198.18.1.254";
	const char *rtr_cli = v6 ? "2001:db8::fd" : "198.18.0.253";
	const struct tuple c2v = { c, 40000, vip, 80 }, c2e = { c, 40000, ep, 8080 };
	const struct tuple e2c = { ep, 8080, c, 40000 }, v2c = { vip, 80, c, 40000 };
	const struct tuple other = { c, 40009, ep, 8080 };
	uint8_t unreach = v6 ? 1 : 3, port_unreach = v6 ? 4 : 3, too_big = v6 ? 2 : 3;
	uint8_t too_big_code = v6 ? 0 : 4, time_exc = v6 ? 3 : 11;
	struct lb_svc_key k;
	struct pkt in, want, q_in, q_out;

	reset();
	k = add_service(vip, 80, 17, NULL);
	add_endpoint(&k, ep, 8080, 1);
	from_client(&in, 17, &c2v, 0, "ping?", false);
	to_endpoint(&want, 17, &c2e, 0, "ping?", false);
	expect("the flow's first packet", if_cli, &in, VERDICT_REDIR, &want, NULL);

	/* The endpoint's port unreachable reaches the client from the VIP. */
	quote_of(&q_in, 17, &c2e, 0, "ping?");
	quote_of(&q_out, 17, &c2v, 0, "ping?");
	mk_icmp_err(&in, mac_ep, mac_of(ep), ep, c, 64, unreach, port_unreach, 0, &q_in, 0);
	mk_icmp_err(&want, mac_of(c), mac_cli, vip, c, 63, unreach, port_unreach, 0, &q_out, 0);
	expect("endpoint's port unreachable: from the VIP, quoting client -> VIP", if_ep, &in,
	       VERDICT_REDIR, &want, NULL);

	/* A router on the endpoint side: the source stays, the quote is translated. */
	mk_icmp_err(&in, mac_ep, mac_other, rtr_ep, c, 64, too_big, too_big_code, 1400, &q_in, 0);
	mk_icmp_err(&want, mac_of(c), mac_cli, rtr_ep, c, 63, too_big, too_big_code, 1400, &q_out,
		    0);
	expect("router's packet too big: quote translated", if_ep, &in, VERDICT_REDIR, &want,
	       NULL);

	/* A router on the client side, about a reply: reaches the endpoint. */
	from_endpoint(&in, 17, &e2c, 0, "pong", false);
	to_client(&want, 17, &v2c, 0, "pong", false);
	expect("the endpoint's reply", if_ep, &in, VERDICT_REDIR, &want, NULL);
	quote_of(&q_in, 17, &v2c, 0, "pong");
	quote_of(&q_out, 17, &e2c, 0, "pong");
	mk_icmp_err(&in, mac_cli, mac_other, rtr_cli, vip, 64, time_exc, 0, 0, &q_in, 0);
	mk_icmp_err(&want, mac_of(ep), mac_ep, rtr_cli, ep, 63, time_exc, 0, 0, &q_out, 0);
	expect("client-side router's time exceeded about a reply: to the endpoint", if_cli, &in,
	       VERDICT_REDIR, &want, NULL);

	/* About no flow of ours: not touched. */
	quote_of(&q_in, 17, &other, 0, "x");
	mk_icmp_err(&in, mac_ep, mac_of(ep), ep, c, 64, unreach, port_unreach, 0, &q_in, 0);
	expect("error about no flow: not ours", if_ep, &in, VERDICT_UNSPEC, NULL, NULL);
}

static void icmp_errors_ipv4_dnat(void) { icmp_errors_dnat(false); }
static void icmp_errors_ipv6_dnat(void) { icmp_errors_dnat(true); }

/* Full NAT, and a TCP quote of only the first 8 bytes (RFC 792 minimum). */
static void icmp_errors_ipv4_fullnat(void)
{
	const struct tuple c2v = { C4, 40000, V4, 80 }, u2v = { C4, 40001, V4, 80 };
	struct svc_opts so = { .mode = LB_NAT_FULLNAT, .snat = LB4 };
	struct lb_svc_key k;
	struct pkt in, q_in, q_out, want;
	struct run r;
	uint16_t port;

	reset();
	k = add_service(V4, 80, 6, &so);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 6, &c2v, TCP_SYN, "", false);
	run_pkt(if_cli, &in, &r);
	CHECK(r.verdict == VERDICT_REDIR && r.out.l4, "first packet: verdict %d", r.verdict);
	if (!r.out.l4)
		return;
	port = get16(&r.out, r.out.l4);

	const struct tuple l2e = { LB4, port, E4A, 8080 };

	quote_of(&q_in, 6, &l2e, TCP_SYN, "");
	quote_of(&q_out, 6, &c2v, TCP_SYN, "");
	mk_icmp_err(&in, mac_ep, mac_of(E4A), E4A, LB4, 64, 3, 3, 0, &q_in, 28);
	mk_icmp_err(&want, mac_of(C4), mac_cli, V4, C4, 63, 3, 3, 0, &q_out, 28);
	expect("full NAT, tcp: endpoint's port unreachable to LB:port reaches the client", if_ep,
	       &in, VERDICT_REDIR, &want, NULL);

	reset();
	k = add_service(V4, 80, 17, &so);
	add_endpoint(&k, E4A, 8080, 1);
	from_client(&in, 17, &u2v, 0, "dgram", false);
	run_pkt(if_cli, &in, &r);
	CHECK(r.verdict == VERDICT_REDIR && r.out.l4, "first packet: verdict %d", r.verdict);
	if (!r.out.l4)
		return;
	port = get16(&r.out, r.out.l4);

	const struct tuple l2eu = { LB4, port, E4A, 8080 };

	quote_of(&q_in, 17, &l2eu, 0, "dgram");
	quote_of(&q_out, 17, &u2v, 0, "dgram");
	mk_icmp_err(&in, mac_ep, mac_of(E4A), E4A, LB4, 64, 3, 3, 0, &q_in, 0);
	mk_icmp_err(&want, mac_of(C4), mac_cli, V4, C4, 63, 3, 3, 0, &q_out, 0);
	expect("full NAT, udp: endpoint's port unreachable reaches the client", if_ep, &in,
	       VERDICT_REDIR, &want, NULL);
}

/*
 * A rewritten UDP checksum that comes to 0 must go out as 0xffff: 0 means "no
 * checksum" in IPv4 and is invalid in IPv6 (receivers drop the datagram).
 * Payloads are searched here so that the rewritten packet sums to exactly that.
 */
static bool csum_zero_payload(const struct tuple *t, bool to_ep, char payload[5])
{
	struct pkt want;

	payload[4] = '\0';
	for (int a = 1; a < 256; a++)
		for (int b = 1; b < 256; b++)
			for (int c = 1; c < 256; c++)
				for (int d = 1; d < 256; d++) {
					payload[0] = a, payload[1] = b, payload[2] = c, payload[3] = d;
					if (to_ep)
						to_endpoint(&want, 17, t, 0, payload, false);
					else
						to_client(&want, 17, t, 0, payload, false);
					if (get16(&want, want.l4 + 6) == 0xffff)
						return true;
				}
	return false;
}

static void udp_checksum_never_becomes_zero(bool v6)
{
	const char *c = v6 ? C6 : C4, *vip = v6 ? V6 : V4, *ep = v6 ? E6A : E4A;
	const struct tuple c2v = { c, 40000, vip, 80 }, c2e = { c, 40000, ep, 8080 };
	const struct tuple e2c = { ep, 8080, c, 40000 }, v2c = { vip, 80, c, 40000 };
	char fwd[5], rev[5];
	struct lb_svc_key k;
	struct pkt in, want;

	reset();
	k = add_service(vip, 80, 17, NULL);
	add_endpoint(&k, ep, 8080, 1);
	CHECK(csum_zero_payload(&c2e, true, fwd) && csum_zero_payload(&v2c, false, rev),
	      "no payload found");
	from_client(&in, 17, &c2v, 0, fwd, false);
	to_endpoint(&want, 17, &c2e, 0, fwd, false);
	CHECK(get16(&in, in.l4 + 6) != 0 && get16(&in, in.l4 + 6) != 0xffff, "input checksum");
	expect("forward: checksum sums to 0, sent as 0xffff", if_cli, &in, VERDICT_REDIR, &want,
	       NULL);
	from_endpoint(&in, 17, &e2c, 0, rev, false);
	to_client(&want, 17, &v2c, 0, rev, false);
	expect("reply: checksum sums to 0, sent as 0xffff", if_ep, &in, VERDICT_REDIR, &want, NULL);
}

static void udp_checksum_never_becomes_zero_ipv4(void) { udp_checksum_never_becomes_zero(false); }
static void udp_checksum_never_becomes_zero_ipv6(void) { udp_checksum_never_becomes_zero(true); }

/* IPv6 with a destination options header before UDP: rewritten around it. */
static void ipv6_extension_header_flow(void)
{
	struct lb_svc_key k;
	struct pkt in, want;

	reset();
	k = add_service(V6, 80, 17, NULL);
	add_endpoint(&k, E6A, 8080, 1);
	eth_mac(&in, mac_cli, mac_of(C6), 0x86dd);
	ip6(&in, C6, V6, 60);
	ip6_opt(&in, 17);
	udp(&in, 40000, 80, "options");
	finish_tx(&in);
	eth_mac(&want, mac_of(E6A), mac_ep, 0x86dd);
	ip6(&want, C6, E6A, 60);
	set_ttl(&want, 63);
	ip6_opt(&want, 17);
	udp(&want, 40000, 8080, "options");
	finish_tx(&want);
	expect("ipv6 dstopts + udp to the VIP", if_cli, &in, VERDICT_REDIR, &want, NULL);
}

/* Removing a service ends its flows; removing an endpoint reschedules them. */
static void removal_ends_flows(void)
{
	const struct tuple c2v = { C4, 49000, V4, 80 };
	struct lb_endpoint e = { .port = htons(8080) };
	struct lb_svc_key k;
	struct pkt in;
	size_t n;
	int x, y;

	reset();
	k = add_service(V4, 80, 17, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	x = new_flow(C4, 49000, eps2, 2);
	if (x < 0)
		return;
	lb_addr_parse(eps2[x], &e.addr, &e.family);
	CHECK(lb_endpoint_del(ctx, &k, &e) == 0, "endpoint del: %s", lb_ctx_errmsg(ctx));
	y = new_flow(C4, 49000, eps2, 2);
	CHECK(y == 1 - x, "after its endpoint was removed the flow went to %d, want %d", y, 1 - x);

	CHECK(lb_service_del(ctx, &k) == 0, "service del: %s", lb_ctx_errmsg(ctx));
	free(ct_all(&n));
	CHECK(n == 0, "%zu conntrack entries after service del, want 0", n);
	from_client(&in, 17, &c2v, 0, "sched", false);
	expect("after service del: not ours", if_cli, &in, VERDICT_UNSPEC, NULL, NULL);
}

/*
 * A flow is alive while packets pass in either direction.  Flow 1: only the
 * client keeps sending; flow 2: only the endpoint does.  After more than the
 * timeout, each flow's quiet direction must still be translated: the endpoint's
 * packet of flow 1 comes from the VIP, the client's packet of flow 2 goes to the
 * same endpoint as before.
 */
static void flow_alive_in_either_direction(void)
{
	uint32_t to[LB_TO_MAX] = { [LB_TO_UDP] = 3 };
	const struct tuple f1 = { C4, 46001, V4, 80 }, f2 = { C4, 46002, V4, 80 };
	struct lb_svc_key k;
	struct pkt in, want;
	int x1, x2;

	reset();
	k = add_service(V4, 80, 17, NULL);
	add_endpoint(&k, E4A, 8080, 1);
	add_endpoint(&k, E4B, 8080, 1);
	CHECK(lb_timeouts_set(ctx, to) == 0, "udp timeout 3 s");
	x1 = new_flow(C4, 46001, eps2, 2);
	x2 = new_flow(C4, 46002, eps2, 2);
	if (x1 < 0 || x2 < 0)
		return;

	const struct tuple e2c1 = { eps2[x1], 8080, C4, 46001 }, e2c2 = { eps2[x2], 8080, C4, 46002 };
	const struct tuple v2c1 = { V4, 80, C4, 46001 }, v2c2 = { V4, 80, C4, 46002 };
	const struct tuple c2e1 = { C4, 46001, eps2[x1], 8080 }, c2e2 = { C4, 46002, eps2[x2], 8080 };

	/* Both endpoints answer once: both flows established. */
	from_endpoint(&in, 17, &e2c1, 0, "r", false);
	to_client(&want, 17, &v2c1, 0, "r", false);
	expect("flow 1: first answer", if_ep, &in, VERDICT_REDIR, &want, NULL);
	from_endpoint(&in, 17, &e2c2, 0, "r", false);
	to_client(&want, 17, &v2c2, 0, "r", false);
	expect("flow 2: first answer", if_ep, &in, VERDICT_REDIR, &want, NULL);
	for (int i = 0; i < 4; i++) {
		sleep(1);	/* packets every second, well inside the 3 s timeout */
		from_client(&in, 17, &f1, 0, "c", false);
		to_endpoint(&want, 17, &c2e1, 0, "c", false);
		expect("flow 1: the client keeps sending", if_cli, &in, VERDICT_REDIR, &want, NULL);
		from_endpoint(&in, 17, &e2c2, 0, "e", false);
		to_client(&want, 17, &v2c2, 0, "e", false);
		expect("flow 2: the endpoint keeps sending", if_ep, &in, VERDICT_REDIR, &want, NULL);
	}
	from_endpoint(&in, 17, &e2c1, 0, "late", false);
	to_client(&want, 17, &v2c1, 0, "late", false);
	expect("flow 1 (alive): the endpoint's packet after 4 s still comes from the VIP", if_ep,
	       &in, VERDICT_REDIR, &want, NULL);
	from_client(&in, 17, &f2, 0, "late", false);
	to_endpoint(&want, 17, &c2e2, 0, "late", false);
	expect("flow 2 (alive): the client's packet after 4 s goes to the same endpoint", if_cli,
	       &in, VERDICT_REDIR, &want, NULL);
}

int main(void)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	err = setup();
	if (err) {
		printf("not ok 1 - private network namespace and pin root with the datapath\n1..1\n");
		teardown();
		return 1;
	}
	RUN(dnat_ipv4_tcp);
	RUN(dnat_ipv4_udp);
	RUN(dnat_ipv4_udp_no_checksum);
	RUN(dnat_ipv6_tcp);
	RUN(dnat_ipv6_udp);
	RUN(fullnat_ipv4_tcp_snat);
	RUN(fullnat_ipv4_udp_snat);
	RUN(fullnat_ipv4_udp_no_checksum);
	RUN(fullnat_ipv4_tcp_snat_ifaddr);
	RUN(fullnat_ipv6_tcp_snat);
	RUN(fullnat_ipv6_udp_snat_ifaddr);
	RUN(fullnat_two_clients_same_port);
	RUN(checksum_complete);
	RUN(drop_no_endpoint);
	RUN(drop_not_allowed);
	RUN(allow_lpm);
	RUN(drop_no_snat_port);
	RUN(not_a_service);
	RUN(truncated_tcp_to_vip);
	RUN(sched_rr);
	RUN(sched_wrr);
	RUN(sched_hash);
	RUN(sched_maglev);
	RUN(sched_lc);
	RUN(sched_lc_two_choices);
	RUN(sched_persist);
	RUN(endpoint_drain_and_down);
	RUN(udp_flow_expires);
	RUN(unresolved_and_ttl);
	RUN(xdp_ttl_out_passes_untouched);
	RUN(next_hop_cache);
	RUN(endpoint_next_hop_cache);
	RUN(if_counters_array_and_hash);
	RUN(icmp_errors_ipv4_dnat);
	RUN(icmp_errors_ipv6_dnat);
	RUN(icmp_errors_ipv4_fullnat);
	RUN(udp_checksum_never_becomes_zero_ipv4);
	RUN(udp_checksum_never_becomes_zero_ipv6);
	RUN(ipv6_extension_header_flow);
	RUN(removal_ends_flows);
	RUN(flow_alive_in_either_direction);
	teardown();
	return tap_done();
}
