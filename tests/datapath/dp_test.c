// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Datapath tests: packets built here run through the loaded programs with
 * BPF_PROG_TEST_RUN against the real pinned maps of a private pin root.  Verdicts,
 * output bytes and counter deltas are asserted exactly.
 */
#include <errno.h>
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

#define LO_IFINDEX	1	/* test runs on TC use the loopback device */

static struct dp_root dp;	/* the private pin root */
static struct lb_ctx *ctx;	/* dp.ctx once set up */
static int prog_fd[LB_HOOK_MAX];

static int setup(void)
{
	static const char *const progs[LB_HOOK_MAX] = {
		[LB_HOOK_XDP] = LB_PROG_XDP,
		[LB_HOOK_TC_INGRESS] = LB_PROG_TC_INGRESS,
		[LB_HOOK_TC_EGRESS] = LB_PROG_TC_EGRESS,
	};
	const struct dp_log lg = { stdout, "# setup: " };
	/* The objects of this build tree: tests/datapath/../../bpf */
	int err = dp_root_open(&dp, "lbdp", "../bpf", NULL, &lg);

	if (err)
		return err;
	ctx = dp.ctx;
	for (int h = 0; h < LB_HOOK_MAX; h++) {
		prog_fd[h] = lb_prog_fd(ctx, progs[h]);
		if (prog_fd[h] < 0)
			return prog_fd[h];
	}
	return 0;
}

static void teardown(void)
{
	for (int h = 0; h < LB_HOOK_MAX; h++)
		if (prog_fd[h] > 0)
			close(prog_fd[h]);
	ctx = NULL;
	dp_root_close(&dp);
}

static int counters(unsigned int ifindex, enum lb_hook hook, struct lb_counter *out)
{
	struct lb_if_counters *v;
	size_t n;
	int err = lb_if_counters(ctx, &v, &n);

	memset(out, 0, sizeof(struct lb_counter) * LB_CTR_MAX);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		if (v[i].ifindex == ifindex && v[i].hook == hook)
			memcpy(out, v[i].ctr, sizeof(v[i].ctr));
	free(v);
	return 0;
}

struct run {
	int err;
	__u32 retval;
	uint8_t out[2048];
	__u32 out_len;
};

static void run_prog(enum lb_hook hook, const struct pkt *p, struct run *r)
{
	struct xdp_md xctx = { .data_end = p->len, .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = p->b, .data_size_in = p->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out),
		    .repeat = 1);

	if (hook == LB_HOOK_XDP) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	r->err = bpf_prog_test_run_opts(prog_fd[hook], &o) ? -errno : 0;
	r->retval = o.retval;
	r->out_len = o.data_size_out;
}

/*
 * Run p through every hook and check: the verdict hands the packet on, the bytes
 * come out unchanged, and exactly the counters in want[] moved, by one packet and
 * p->len bytes each.
 */
static void expect_counts(const char *what, const struct pkt *p, unsigned int hooks,
			  const enum lb_ctr *want, int nwant)
{
	for (int h = 0; h < LB_HOOK_MAX; h++) {
		if (!(hooks & (1u << h)))
			continue;
		struct lb_counter before[LB_CTR_MAX], after[LB_CTR_MAX];
		__u32 verdict = h == LB_HOOK_XDP ? XDP_PASS : (__u32)TC_ACT_UNSPEC;
		struct run r;

		CHECK(counters(LO_IFINDEX, h, before) == 0, "%s: read counters", what);
		run_prog(h, p, &r);
		CHECK(r.err == 0, "%s %s: test run: %s", what, lb_hook_name(h), strerror(-r.err));
		CHECK(r.retval == verdict, "%s %s: verdict %d, want %d", what, lb_hook_name(h),
		      (int)r.retval, (int)verdict);
		CHECK(r.out_len == p->len && !memcmp(r.out, p->b, p->len),
		      "%s %s: packet changed (%u bytes out, %zu in)", what, lb_hook_name(h),
		      r.out_len, p->len);
		CHECK(counters(LO_IFINDEX, h, after) == 0, "%s: read counters", what);
		for (int c = 0; c < LB_CTR_MAX; c++) {
			__u64 dp = after[c].packets - before[c].packets;
			__u64 db = after[c].bytes - before[c].bytes;
			bool wanted = false;

			for (int i = 0; i < nwant; i++)
				wanted |= want[i] == (enum lb_ctr)c;
			CHECK(dp == (wanted ? 1u : 0u) && db == (wanted ? p->len : 0),
			      "%s %s: counter %s moved by %llu packets %llu bytes", what,
			      lb_hook_name(h), lb_ctr_name(c), (unsigned long long)dp,
			      (unsigned long long)db);
		}
	}
}

#define ALL_HOOKS	((1u << LB_HOOK_MAX) - 1)
#define XDP_ONLY	(1u << LB_HOOK_XDP)

#define EXPECT_ON(hooks, what, p, ...)						\
	do {									\
		const enum lb_ctr w_[] = { LB_CTR_RX, __VA_ARGS__ };		\
		expect_counts(what, p, hooks, w_, sizeof(w_) / sizeof(w_[0]));	\
	} while (0)
#define EXPECT(what, p, ...) EXPECT_ON(ALL_HOOKS, what, p, __VA_ARGS__)

/*
 * The kernel's skb test run refuses a packet whose ethertype says IP but whose IP
 * header is cut (-EINVAL), so those cases can only run on XDP.
 */

#define C4 "198.18.0.1"
#define V4 "198.19.0.10"
#define C6 "2001:db8::1"
#define V6 "2001:db8:1::10"

static void ipv4_tcp_udp_icmp(void)
{
	struct pkt p = {};

	eth(&p, 0x0800); ip4(&p, C4, V4, 6, 0); tcp(&p, 40000, 80, 0x02); finish(&p);
	CHECK(verify_l4_csum(&p, 6) == 0, "builder makes valid TCP checksums");
	EXPECT("ipv4 tcp syn", &p, LB_CTR_IPV4, LB_CTR_TCP);
	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0); udp(&p, 40000, 53, "query"); finish(&p);
	EXPECT("ipv4 udp", &p, LB_CTR_IPV4, LB_CTR_UDP);
	eth(&p, 0x0800); ip4(&p, C4, V4, 1, 0); icmp_echo(&p, 8, 1, 1); finish(&p);
	EXPECT("ipv4 icmp echo", &p, LB_CTR_IPV4, LB_CTR_ICMP);
	eth(&p, 0x0800); ip4(&p, C4, V4, 47, 0); put32(&p, 0); finish(&p);
	EXPECT("ipv4 gre", &p, LB_CTR_IPV4, LB_CTR_L4_OTHER);
}

static void ipv4_fragments(void)
{
	struct pkt p = {};

	/* First fragment (MF, offset 0) carries the UDP header. */
	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0x2000); udp(&p, 40000, 53, "first"); finish(&p);
	EXPECT("ipv4 first fragment", &p, LB_CTR_IPV4, LB_CTR_UDP);
	/* A later fragment has no L4 header even when its bytes look like one. */
	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0x0010); put32(&p, 0xdeadbeef); finish(&p);
	EXPECT("ipv4 later fragment", &p, LB_CTR_IPV4, LB_CTR_FRAG);
}

static void ipv6_tcp_udp_icmp(void)
{
	struct pkt p = {};

	eth(&p, 0x86dd); ip6(&p, C6, V6, 6); tcp(&p, 40000, 80, 0x02); finish(&p);
	CHECK(verify_l4_csum(&p, 6) == 0, "builder makes valid TCP/IPv6 checksums");
	EXPECT("ipv6 tcp syn", &p, LB_CTR_IPV6, LB_CTR_TCP);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 17); udp(&p, 40000, 53, "q6"); finish(&p);
	EXPECT("ipv6 udp", &p, LB_CTR_IPV6, LB_CTR_UDP);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 58); icmp_echo(&p, 128, 1, 1); finish(&p);
	EXPECT("ipv6 icmp echo", &p, LB_CTR_IPV6, LB_CTR_ICMPV6);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 50); put32(&p, 0x1000); put32(&p, 1); finish(&p);
	EXPECT("ipv6 esp", &p, LB_CTR_IPV6, LB_CTR_L4_OTHER);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 59); finish(&p);
	EXPECT("ipv6 no next header", &p, LB_CTR_IPV6, LB_CTR_L4_OTHER);
}

static void ipv6_extension_headers(void)
{
	struct pkt p = {};

	eth(&p, 0x86dd); ip6(&p, C6, V6, 0);
	ip6_opt(&p, 60); ip6_opt(&p, 43); ip6_opt(&p, 17); udp(&p, 1, 2, "ext"); finish(&p);
	EXPECT("ipv6 hop-by-hop, dstopts, routing, udp", &p, LB_CTR_IPV6, LB_CTR_UDP);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 44); ip6_frag(&p, 6, 0, 1); tcp(&p, 1, 80, 0x10);
	finish(&p);
	EXPECT("ipv6 first fragment tcp", &p, LB_CTR_IPV6, LB_CTR_TCP);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 44); ip6_frag(&p, 6, 100, 0); put32(&p, 0);
	finish(&p);
	EXPECT("ipv6 later fragment", &p, LB_CTR_IPV6, LB_CTR_FRAG);
	/* More extension headers than the parser walks: L4 not guessed. */
	eth(&p, 0x86dd); ip6(&p, C6, V6, 60);
	for (int i = 0; i < 7; i++)
		ip6_opt(&p, 60);
	finish(&p);
	EXPECT("ipv6 eight option headers", &p, LB_CTR_IPV6, LB_CTR_L4_OTHER);
}

static void non_ip_and_vlan(void)
{
	struct pkt p = {};

	eth(&p, 0x0806);
	for (int i = 0; i < 28; i++)
		put8(&p, i);
	EXPECT("arp", &p, LB_CTR_NONIP);
	eth(&p, 0x8100); vlan(&p, 0x0800, 100); ip4(&p, C4, V4, 17, 0); udp(&p, 1, 2, "v");
	finish(&p);
	EXPECT("vlan ipv4 udp", &p, LB_CTR_IPV4, LB_CTR_UDP);
	eth(&p, 0x88a8); vlan(&p, 0x8100, 10); vlan(&p, 0x86dd, 20); ip6(&p, C6, V6, 6);
	tcp(&p, 1, 2, 0x02); finish(&p);
	EXPECT("qinq ipv6 tcp", &p, LB_CTR_IPV6, LB_CTR_TCP);
}

static void malformed_ipv4(void)
{
	struct pkt p = {}, full = {};

	eth(&full, 0x0800); ip4(&full, C4, V4, 6, 0); tcp(&full, 1, 80, 0x02); finish(&full);
	p = full;
	p.len = 14;
	EXPECT_ON(XDP_ONLY, "ipv4 ethertype, no header", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p.len = 14 + 10;
	EXPECT_ON(XDP_ONLY, "ipv4 header cut at 10 bytes", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p.len = 14 + 20 + 10;
	EXPECT("tcp header cut at 10 bytes", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p = full;
	p.b[14] = 0x44;		/* ihl 4 */
	EXPECT("ipv4 ihl 4", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p = full;
	p.b[14] = 0x65;		/* version 6 under ethertype IPv4 */
	EXPECT("ipv4 bad version", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p = full;
	p.b[14] = 0x4f;		/* ihl 15: options run past the end */
	EXPECT("ipv4 options past the end", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p = full;
	set16(&p, 16, 10);	/* tot_len below the header length */
	EXPECT("ipv4 tot_len < ihl", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	p = full;
	p.b[14 + 20 + 12] = 0x30;	/* doff 3 */
	EXPECT("tcp doff 3", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0); put32(&p, 0); finish(&p);
	EXPECT("udp header cut at 4 bytes", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
	eth(&p, 0x0800); ip4(&p, C4, V4, 1, 0); put32(&p, 0x08000000); finish(&p);
	EXPECT("icmp header cut at 4 bytes", &p, LB_CTR_IPV4, LB_CTR_MALFORMED);
}

static void malformed_ipv6_and_l2(void)
{
	struct pkt p = {};

	eth(&p, 0x86dd); ip6(&p, C6, V6, 6); p.len -= 8;
	EXPECT_ON(XDP_ONLY, "ipv6 header cut", &p, LB_CTR_IPV6, LB_CTR_MALFORMED);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 0); put32(&p, 0x11050000);	/* hdrlen 5: 48 bytes */
	put32(&p, 0);
	EXPECT("ipv6 option header past the end", &p, LB_CTR_IPV6, LB_CTR_MALFORMED);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 0); put16(&p, 0x1100);
	EXPECT("ipv6 option header cut", &p, LB_CTR_IPV6, LB_CTR_MALFORMED);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 6); p.b[14] = 0x40;	/* version 4 */
	tcp(&p, 1, 2, 2);
	EXPECT("ipv6 bad version", &p, LB_CTR_IPV6, LB_CTR_MALFORMED);
	eth(&p, 0x86dd); ip6(&p, C6, V6, 17); put32(&p, 0);
	EXPECT("ipv6 udp cut", &p, LB_CTR_IPV6, LB_CTR_MALFORMED);
	eth(&p, 0x8100); put16(&p, 1);
	EXPECT("vlan tag cut", &p, LB_CTR_NONIP, LB_CTR_MALFORMED);
}

static void unknown_interface_gets_own_entry(void)
{
	struct lb_counter before[LB_CTR_MAX], after[LB_CTR_MAX];
	struct pkt p = {};
	struct run r;

	/* Egress packets land under (ifindex, tc-egress), never under ingress. */
	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0); udp(&p, 1, 2, "x"); finish(&p);
	counters(LO_IFINDEX, LB_HOOK_TC_INGRESS, before);
	run_prog(LB_HOOK_TC_EGRESS, &p, &r);
	counters(LO_IFINDEX, LB_HOOK_TC_INGRESS, after);
	CHECK(r.err == 0, "run");
	CHECK_EQ_U(after[LB_CTR_RX].packets, before[LB_CTR_RX].packets);
}

static void reset_zeroes(void)
{
	struct lb_counter c[LB_CTR_MAX];
	struct pkt p = {};
	struct run r;

	eth(&p, 0x0800); ip4(&p, C4, V4, 17, 0); udp(&p, 1, 2, "x"); finish(&p);
	run_prog(LB_HOOK_TC_INGRESS, &p, &r);
	counters(LO_IFINDEX, LB_HOOK_TC_INGRESS, c);
	CHECK(c[LB_CTR_RX].packets > 0, "counted");
	CHECK(lb_if_counters_reset(ctx, 0) == 0, "reset");
	counters(LO_IFINDEX, LB_HOOK_TC_INGRESS, c);
	CHECK_EQ_U(c[LB_CTR_RX].packets, 0);
	run_prog(LB_HOOK_TC_INGRESS, &p, &r);
	counters(LO_IFINDEX, LB_HOOK_TC_INGRESS, c);
	CHECK_EQ_U(c[LB_CTR_RX].packets, 1);
	CHECK_EQ_U(c[LB_CTR_UDP].bytes, p.len);
}

int main(void)
{
	int err = setup();

	if (err) {
		printf("not ok 1 - load the datapath into a private pin root\n1..1\n");
		teardown();
		return 1;
	}
	RUN(ipv4_tcp_udp_icmp);
	RUN(ipv4_fragments);
	RUN(ipv6_tcp_udp_icmp);
	RUN(ipv6_extension_headers);
	RUN(non_ip_and_vlan);
	RUN(malformed_ipv4);
	RUN(malformed_ipv6_and_l2);
	RUN(unknown_interface_gets_own_entry);
	RUN(reset_zeroes);
	teardown();
	return tap_done();
}
