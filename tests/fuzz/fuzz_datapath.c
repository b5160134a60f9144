// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The datapath under libFuzzer: mutated packets through lb_tc_ingress and lb_xdp with
 * BPF_PROG_TEST_RUN on the loaded programs (root; the world of nat_test.c, from
 * tests/datapath/harness.h: a private network namespace and pin root, services
 * below).  Flows and their state carry over from one input to the next.
 *
 * An input is up to FUZZ_OPS packets, each four bytes and its mutations:
 *   template  which packet (enum tmpl): a client's TCP/UDP to a service, IPv4 or
 *             IPv6, SYN, data, FIN or RST, with extension headers, fragmented,
 *             VLAN-tagged, an ICMP error quoting a flow, or the raw bytes that follow
 *   port      the client's source port, 40000 + port % 32 (few: flows meet again)
 *   flags     bit 0-1 the hook (tc on the client side, tc on the endpoint side, xdp
 *             on the client side); bit 2 checksums fixed after the mutations;
 *             bit 3 TTL 1; bits 4-7 the payload length / 8
 *   n         mutations: n % 8 pairs (offset, xor) on the packet's bytes
 *
 * Checked for every packet: the verdict is one the program may give; a packet
 * not ours (TC_ACT_UNSPEC, XDP_PASS) leaves unchanged; a forwarded one (tc
 * redirect or to the stack, xdp redirect) has been translated (its addresses or
 * ports changed), never goes to a VIP, and has valid IPv4 header, TCP, UDP and ICMP
 * checksums when the packet that came in had.  For a client's packet forwarded on
 * tc, the endpoint's answer is sent back and must reach the client from the VIP:
 * the reverse translation, exactly.  A template unmutated from the client side gets
 * the verdict its service says (balanced, dropped, not ours), whatever came before.
 * Every FUZZ_CHECK_EVERY inputs and at the end: no more conntrack entries than
 * twice the flows created, lb_ep_state.active summed equals the forward entries
 * marked LB_CT_F_ACTIVE; then conntrack is flushed (active must then sum to 0).
 * At the end the number of packets run (fuzz_datapath: N packets) is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <lb/lb.h>
#include "datapath/pkt.h"
#include "datapath/harness.h"

#define FUZZ_OPS		4
#define T_FEATURES		(16 * 3 * 16 * 2)	/* template, hook, verdict, reply */
#define FUZZ_CHECK_EVERY	2048

#define C4	"198.18.0.1"
#define V4	"198.19.0.10"
#define LB4	"198.18.1.1"
#define C6	"2001:db8::1"
#define V6	"2001:db8:ffff::10"
#define LB6	"2001:db8:1::1"

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_ACK	0x10

static const struct dp_host hosts[] = {
	{ C4,              DP_CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ C6,              DP_CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ "198.18.1.2",    DP_EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
	{ "198.18.1.3",    DP_EP_DEV,  { 2, 0, 0, 0, 1, 0x03 } },
	{ "198.18.1.4",    DP_EP_DEV,  { 2, 0, 0, 0, 1, 0x04 } },
	{ "2001:db8:1::2", DP_EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
	{ "2001:db8:1::3", DP_EP_DEV,  { 2, 0, 0, 0, 1, 0x03 } },
};

static const char *const eps4[] = { "198.18.1.2", "198.18.1.3", "198.18.1.4" };
static const char *const eps6[] = { "2001:db8:1::2", "2001:db8:1::3" };

static struct dp_root dp;
static struct lb_ctx *ctx;
static int tc_fd = -1, xdp_fd = -1, if_cli, if_ep;
static uint8_t mac_cli[6], mac_ep[6];
static uint8_t vip4[4], vip6[16];
static uint64_t packets, inputs, flows_at_flush;
static uint64_t n_fwd, n_shot, n_unspec, n_replies;

/* What the programs did, as coverage for libFuzzer (the BPF code has none of its
 * own): one counter per template, hook, verdict and whether a reply was checked. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t dp_features[T_FEATURES];

/* ---- the world ------------------------------------------------------------ */

static struct lb_addr A(const char *s)
{
	struct lb_addr a = {};
	uint8_t fam;

	lb_addr_parse(s, &a, &fam);
	return a;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_datapath: %s: %s\n", what, lb_ctx_errmsg(ctx));
	abort();
}

static void add_service(const char *vip, uint16_t port, uint8_t proto, enum lb_sched sched,
			const char *snat, uint32_t persist, const char *allow,
			const char *const *eps, size_t n_eps, uint16_t ep_port,
			enum lb_ep_status status)
{
	struct lb_service s = { .sched = sched, .persist = persist };
	struct lb_prefix pfx;
	struct lb_addr v = A(vip);
	uint8_t fam = strchr(vip, ':') ? LB_AF_INET6 : LB_AF_INET;

	lb_svc_key_init(&s.key, &v, fam, port, proto);
	if (snat) {
		s.mode = LB_NAT_FULLNAT;
		s.snat = A(snat);
	}
	if (allow) {
		uint8_t f;

		s.n_allow = 1;
		s.allow = &pfx;
		lb_prefix_parse(allow, &pfx, &f);
	}
	if (lb_service_add(ctx, &s))
		die("service add");
	for (size_t i = 0; i < n_eps; i++) {
		struct lb_endpoint e = { .port = htons(ep_port), .status = status,
					 .weight = 1 + i };

		lb_addr_parse(eps[i], &e.addr, &e.family);
		if (lb_endpoint_add(ctx, &s.key, &e))
			die("endpoint add");
	}
}

static void teardown(void)
{
	dp_root_close(&dp);
}

/* ---- packets ---------------------------------------------------------------- */

enum tmpl {
	T_TCP4_SYN, T_TCP4_FULLNAT, T_UDP4, T_TCP6_FULLNAT, T_UDP6, T_TCP4_DATA,
	T_TCP4_FIN, T_TCP4_RST, T_TCP4_NO_EP, T_TCP4_NOT_ALLOWED, T_ICMP4_ERR,
	T_ICMP6_ERR, T_TCP6_EXT, T_TCP4_FRAG, T_TCP4_VLAN, T_RAW, T_MAX
};

static const uint8_t mac_other[6] = { 2, 0, 0, 0, 9, 9 };

/* A client's TCP or UDP packet to the VIP (or from -> to). */
static void mk(struct pkt *p, const char *from, uint16_t sport, const char *to, uint16_t dport,
	       uint8_t proto, uint8_t flags, size_t payload, uint8_t ext6, uint16_t frag,
	       bool vlan_tag)
{
	static const char bytes[] = "0123456789abcdef0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcdef";
	bool v6 = strchr(from, ':') != NULL;
	char data[sizeof(bytes)];

	memset(p, 0, sizeof(*p));
	snprintf(data, sizeof(data), "%.*s", (int)payload, bytes);
	eth_mac(p, mac_cli, hosts[0].mac, vlan_tag ? 0x8100 : v6 ? 0x86dd : 0x0800);
	if (vlan_tag)
		vlan(p, v6 ? 0x86dd : 0x0800, 7);
	if (v6) {
		ip6(p, from, to, ext6 ? ext6 : proto);
		if (ext6)
			ip6_opt(p, proto);
	} else {
		ip4(p, from, to, proto, frag);
	}
	if (proto == 6) {
		tcp_seq(p, sport, dport, 1000, flags & TCP_ACK ? 2000 : 0, flags);
		putn(p, data, strlen(data));
	} else {
		udp(p, sport, dport, data);
	}
	finish_tx(p);
}

/* An ICMP(v6) error from a router on the endpoint side to the client, quoting the
 * client's flow as the endpoint saw it (DNAT: client -> endpoint 8080). */
static void mk_icmp_err(struct pkt *p, bool v6, uint16_t sport, int ep)
{
	struct pkt q;

	if (v6)
		mk(&q, C6, sport, eps6[ep % 2], 8080, 17, 0, 8, 0, 0, false);
	else
		mk(&q, C4, sport, eps4[ep % 3], 8080, 6, TCP_SYN, 0, 0, 0, false);
	memset(p, 0, sizeof(*p));
	eth_mac(p, mac_ep, mac_other, v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(p, "2001:db8:1::fe", C6, 58);
	else
		ip4(p, "198.18.1.254", C4, 1, 0);
	put8(p, v6 ? 2 : 3);	/* packet too big; unreachable */
	put8(p, v6 ? 0 : 4);	/* fragmentation needed */
	put16(p, 0);
	put32(p, 1400);
	putn(p, q.b + q.l3, q.len - q.l3);
	p->proto = v6 ? 58 : 1;
	finish(p);
}

static void build(struct pkt *p, enum tmpl t, uint16_t sport, size_t payload,
		  const uint8_t *raw, size_t raw_len)
{
	switch (t) {
	case T_TCP4_SYN:	mk(p, C4, sport, V4, 80, 6, TCP_SYN, payload, 0, 0, false); break;
	case T_TCP4_FULLNAT:	mk(p, C4, sport, V4, 81, 6, TCP_SYN, payload, 0, 0, false); break;
	case T_UDP4:		mk(p, C4, sport, V4, 53, 17, 0, payload, 0, 0, false); break;
	case T_TCP6_FULLNAT:	mk(p, C6, sport, V6, 80, 6, TCP_SYN, payload, 0, 0, false); break;
	case T_UDP6:		mk(p, C6, sport, V6, 53, 17, 0, payload, 0, 0, false); break;
	case T_TCP4_DATA:	mk(p, C4, sport, V4, 80, 6, TCP_ACK, payload, 0, 0, false); break;
	case T_TCP4_FIN:
		mk(p, C4, sport, V4, 80, 6, TCP_FIN | TCP_ACK, payload, 0, 0, false);
		break;
	case T_TCP4_RST:	mk(p, C4, sport, V4, 81, 6, TCP_RST, payload, 0, 0, false); break;
	case T_TCP4_NO_EP:	mk(p, C4, sport, V4, 82, 6, TCP_SYN, payload, 0, 0, false); break;
	case T_TCP4_NOT_ALLOWED:
		mk(p, C4, sport, V4, 83, 6, TCP_SYN, payload, 0, 0, false);
		break;
	case T_ICMP4_ERR:	mk_icmp_err(p, false, sport, sport); break;
	case T_ICMP6_ERR:	mk_icmp_err(p, true, sport, sport); break;
	case T_TCP6_EXT:	mk(p, C6, sport, V6, 80, 6, TCP_SYN, payload, 60, 0, false); break;
	case T_TCP4_FRAG:
		mk(p, C4, sport, V4, 80, 6, TCP_SYN, payload, 0, 0x2000, false);
		break;
	case T_TCP4_VLAN:	mk(p, C4, sport, V4, 80, 6, TCP_SYN, payload, 0, 0, true); break;
	default:
		memset(p, 0, sizeof(*p));
		p->len = raw_len < sizeof(p->b) ? raw_len : sizeof(p->b);
		memcpy(p->b, raw, p->len);
		break;
	}
}

/* ---- checks ------------------------------------------------------------------ */

static void fail(const char *what, const struct pkt *in, const struct pkt *out)
{
	fprintf(stderr, "fuzz_datapath: %s\n", what);
	for (int k = 0; k < 2; k++) {
		const struct pkt *p = k ? out : in;

		if (!p)
			continue;
		fprintf(stderr, "%s (%zu bytes):", k ? "out" : "in", p->len);
		for (size_t i = 0; i < p->len && i < 160; i++)
			fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p->b[i]);
		fputc('\n', stderr);
	}
	abort();
}

/* What a packet's headers say, for the checks. */
struct hdrs {
	bool ip, v6, first_frag, l4ok;	/* l4ok: TCP, UDP or ICMP header complete */
	uint8_t proto;
	const uint8_t *src, *dst;
	size_t alen;
	uint16_t sport, dport;
	int csum_ok;			/* 1 valid, 0 invalid, -1 nothing to check */
};

static void read_hdrs(struct pkt *p, struct hdrs *h)
{
	struct pkt c;
	size_t ip_len;

	memset(h, 0, sizeof(*h));
	h->csum_ok = -1;
	if (pkt_parse(p))
		return;
	h->ip = true;
	h->v6 = (p->b[p->l3] >> 4) == 6;
	h->alen = h->v6 ? 16 : 4;
	h->src = p->b + p->l3 + (h->v6 ? 8 : 12);
	h->dst = h->src + h->alen;
	h->proto = p->proto;
	h->first_frag = h->v6 || !((get16(p, p->l3 + 6) & 0x1fff));
	ip_len = h->v6 ? 40 + get16(p, p->l3 + 4) : get16(p, p->l3 + 2);
	if (h->first_frag && (h->proto == 6 || h->proto == 17) && p->l4 + 4 <= p->len) {
		h->sport = get16(p, p->l4);
		h->dport = get16(p, p->l4 + 2);
	}
	h->l4ok = p->l3 + ip_len <= p->len && p->l4 <= p->l3 + ip_len;
	/* The checksums, over the IP length (not the frame's, which may be padded). */
	if (!h->l4ok)
		return;
	c = *p;
	c.len = p->l3 + ip_len;
	h->csum_ok = h->v6 ? 1 : !verify_ip4_csum(&c);
	if (!h->first_frag || (h->v6 && p->proto == 44))
		return;
	if (h->proto == 17 && !h->v6 && p->l4 + 8 <= c.len && get16(p, p->l4 + 6) == 0)
		return;		/* IPv4 UDP without a checksum */
	if (h->proto == 6 || h->proto == 17 || h->proto == 1 || h->proto == 58)
		h->csum_ok = h->csum_ok && !verify_l4_csum(&c, h->proto);
}

static bool is_vip(const struct hdrs *h)
{
	return !memcmp(h->dst, h->v6 ? vip6 : vip4, h->alen);
}

static int run(int fd, bool xdp, int ifindex, const struct pkt *in, struct pkt *out)
{
	int verdict, err;

	err = dp_test_run(fd, xdp, ifindex, in->b, in->len, out->b, sizeof(out->b), &out->len,
			  &verdict);
	if (err)
		return err;
	packets++;
	return verdict;
}

/* Run one packet and check it; true when it was forwarded (out holds it). *verdict:
 * the program's, or -2 when the test run refused the packet. */
static bool run_checked(bool xdp, int ifindex, struct pkt *in, struct pkt *out, int *verdict)
{
	struct hdrs hi, ho;
	bool fwd, same;
	int v = run(xdp ? xdp_fd : tc_fd, xdp, ifindex, in, out);

	*verdict = v < -1 ? -2 : v;
	if (v == -EINVAL || v == -E2BIG)	/* too short or too long for a test run */
		return false;
	if (v < -1)
		fail("BPF_PROG_TEST_RUN failed", in, NULL);
	if (xdp ? v != XDP_PASS && v != XDP_DROP && v != XDP_REDIRECT && v != XDP_TX
		: v != TC_ACT_UNSPEC && v != TC_ACT_OK && v != TC_ACT_SHOT &&
		  v != TC_ACT_REDIRECT)
		fail("verdict outside the allowed set", in, out);
	same = out->len == in->len && !memcmp(out->b, in->b, in->len);
	if ((xdp ? v == XDP_PASS : v == TC_ACT_UNSPEC) && !same)
		fail("not ours, yet changed", in, out);
	fwd = xdp ? v == XDP_REDIRECT || v == XDP_TX
		  : v == TC_ACT_REDIRECT || (v == TC_ACT_OK && !same);
	n_shot += xdp ? v == XDP_DROP : v == TC_ACT_SHOT;
	n_unspec += xdp ? v == XDP_PASS : v == TC_ACT_UNSPEC;
	n_fwd += fwd;
	if (!fwd)
		return false;
	read_hdrs(in, &hi);
	read_hdrs(out, &ho);
	if (!ho.ip)
		fail("forwarded, not IP", in, out);
	if (is_vip(&ho))
		fail("forwarded to a VIP: not translated", in, out);
	if (hi.ip && hi.v6 == ho.v6 && !memcmp(hi.src, ho.src, hi.alen) &&
	    !memcmp(hi.dst, ho.dst, hi.alen) && hi.sport == ho.sport && hi.dport == ho.dport &&
	    hi.proto != 1 && hi.proto != 58)
		fail("forwarded with its addresses and ports as they came", in, out);
	if (hi.csum_ok == 1 && ho.csum_ok == 0)
		fail("valid checksums in, invalid out", in, out);
	return true;
}

/* The endpoint's answer to a client packet that tc forwarded (fwd): it must reach
 * the client from the VIP, ports as the client sent them.  True when it did. */
static bool check_reply(const struct pkt *in, const struct pkt *fwd)
{
	struct pkt q = *fwd, r, out;
	struct hdrs hi, hf, ho;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int v;

	read_hdrs((struct pkt *)in, &hi);
	read_hdrs(&q, &hf);
	if (!hi.ip || !hf.ip || !hf.first_frag || (hf.proto != 6 && hf.proto != 17) ||
	    !hf.sport || !is_vip(&hi))
		return false;
	inet_ntop(hf.v6 ? AF_INET6 : AF_INET, hf.dst, src, sizeof(src));
	inet_ntop(hf.v6 ? AF_INET6 : AF_INET, hf.src, dst, sizeof(dst));
	mk(&r, src, hf.dport, dst, hf.sport, hf.proto, TCP_ACK, 4, 0, 0, false);
	memcpy(r.b, mac_ep, 6);
	if (!run_checked(false, if_ep, &r, &out, &v))
		return false;	/* the flow ended with this packet (RST, FIN) */
	read_hdrs(&out, &ho);
	if (memcmp(ho.src, hi.dst, hi.alen) || memcmp(ho.dst, hi.src, hi.alen) ||
	    ho.sport != hi.dport || ho.dport != hi.sport)
		fail("the endpoint's answer does not reach the client from the VIP", &r, &out);
	n_replies++;
	return true;
}

/* A template as built (no mutation, TTL as it is) from the client side gets what
 * its service says, whatever the flows before it did. */
static void check_clean_verdict(enum tmpl t, int verdict, const struct pkt *in,
				const struct pkt *out)
{
	int want;

	switch (t) {
	case T_TCP4_SYN: case T_TCP4_FULLNAT: case T_UDP4: case T_TCP6_FULLNAT: case T_UDP6:
	case T_TCP6_EXT:
		want = TC_ACT_REDIRECT;
		break;
	case T_TCP4_NO_EP: case T_TCP4_NOT_ALLOWED:
		want = TC_ACT_SHOT;
		break;
	case T_TCP4_VLAN:
		want = TC_ACT_UNSPEC;
		break;
	default:
		return;
	}
	if (verdict != want) {
		fprintf(stderr, "fuzz_datapath: template %d: verdict %d, want %d\n", t, verdict,
			want);
		fail("an unmutated packet not handled as its service says", in, out);
	}
}

static uint64_t flows_created(void)
{
	struct lb_service_info *v = NULL;
	uint64_t sum = 0;
	size_t n = 0;

	if (lb_service_list(ctx, &v, &n))
		die("service list");
	for (size_t i = 0; i < n; i++)
		sum += v[i].stats.flows;
	lb_service_info_free(v, n);
	free(v);
	return sum;
}

static int64_t active_sum(void)
{
	int fd = lb_map_fd(ctx, LB_MAP_EP_STATE);
	struct lb_ep_state st;
	int64_t sum = 0;

	for (__u32 id = 1; fd >= 0 && id < 64; id++)
		if (!bpf_map_lookup_elem(fd, &id, &st))
			sum += st.active;
	if (fd >= 0)
		close(fd);
	return sum;
}

/* Conntrack against the counters, then flushed. */
static void check_state(void)
{
	struct lb_ct_entry *v = NULL;
	uint64_t flows = flows_created() - flows_at_flush;
	int64_t active = active_sum(), marked = 0;
	size_t n = 0;

	if (lb_ct_list(ctx, NULL, &v, &n))
		die("conntrack list");
	for (size_t i = 0; i < n; i++)
		if (!(v[i].ct.flags & LB_CT_F_REPLY) && (v[i].ct.flags & LB_CT_F_ACTIVE))
			marked++;
	free(v);
	if (n > 2 * flows) {
		fprintf(stderr, "fuzz_datapath: %zu conntrack entries for %llu flows created\n", n,
			(unsigned long long)flows);
		abort();
	}
	if (active != marked) {
		fprintf(stderr, "fuzz_datapath: lb_ep_state.active sums to %lld, %lld forward "
			"entries are marked active\n", (long long)active, (long long)marked);
		abort();
	}
	if (lb_ct_flush(ctx, NULL, NULL))
		die("conntrack flush");
	if (active_sum() != 0) {
		fprintf(stderr, "fuzz_datapath: after a flush active sums to %lld\n",
			(long long)active_sum());
		abort();
	}
	flows_at_flush = flows_created();
}

static void at_exit(void)
{
	/* After a crash the state may be anything: only a clean end checks it. */
	if (ctx && inputs) {
		check_state();
		fprintf(stderr, "fuzz_datapath: %llu packets: %llu forwarded (%llu answers "
			"translated back), %llu dropped, %llu not ours\n",
			(unsigned long long)packets, (unsigned long long)n_fwd,
			(unsigned long long)n_replies, (unsigned long long)n_shot,
			(unsigned long long)n_unspec);
	}
	teardown();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct dp_log lg = { stderr, "fuzz_datapath: setup: " };
	uint32_t to[LB_TO_MAX];

	/* A mount namespace of its own: the pin root's bpffs goes with the process, even
	 * when a crash ends it without teardown. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("fuzz_datapath: mount namespace");
		exit(1);
	}
	if (dp_net_setup(&lg, hosts, sizeof(hosts) / sizeof(hosts[0]), NULL, 0, &if_cli, &if_ep,
			 mac_cli, mac_ep) ||
	    dp_root_open(&dp, "lbfuzz", "../bpf", NULL, &lg) ||
	    (tc_fd = lb_prog_fd(dp.ctx, LB_PROG_TC_INGRESS)) < 0 ||
	    (xdp_fd = lb_prog_fd(dp.ctx, LB_PROG_XDP)) < 0) {
		teardown();
		fprintf(stderr, "fuzz_datapath: no private namespace and pin root (root?)\n");
		exit(1);
	}
	ctx = dp.ctx;
	atexit(at_exit);
	inet_pton(AF_INET, V4, vip4);
	inet_pton(AF_INET6, V6, vip6);
	/* Nothing expires during a run: the kernel's sweep never races the checks. */
	for (int i = 0; i < LB_TO_MAX; i++)
		to[i] = 86400 * 30;
	if (lb_timeouts_set(ctx, to))
		die("timeouts");
	add_service(V4, 80, 6, LB_SCHED_RR, NULL, 0, NULL, eps4, 3, 8080, LB_EP_UP);
	add_service(V4, 81, 6, LB_SCHED_MAGLEV, LB4, 0, NULL, eps4, 3, 8080, LB_EP_UP);
	add_service(V4, 53, 17, LB_SCHED_HASH, NULL, 300, NULL, eps4, 2, 5353, LB_EP_UP);
	add_service(V4, 82, 6, LB_SCHED_RR, NULL, 0, NULL, eps4, 1, 8080, LB_EP_DOWN);
	add_service(V4, 83, 6, LB_SCHED_RR, NULL, 0, "198.18.5.0/24", eps4, 1, 8080, LB_EP_UP);
	add_service(V6, 80, 6, LB_SCHED_WRR, LB6, 0, NULL, eps6, 2, 8080, LB_EP_UP);
	add_service(V6, 53, 17, LB_SCHED_LC, NULL, 0, NULL, eps6, 2, 5353, LB_EP_UP);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (int op = 0; op < FUZZ_OPS && off + 4 <= size; op++) {
		enum tmpl t = data[off] % T_MAX;
		uint16_t sport = 40000 + data[off + 1] % 32;
		uint8_t flags = data[off + 2], n = data[off + 3] % 8;
		int hook = (flags & 3) % 3;
		struct pkt in, out;
		bool replied = false, clean = t != T_RAW;
		int verdict;

		off += 4;
		if (t == T_RAW) {	/* the rest of the input is the packet */
			build(&in, t, sport, 0, data + off, size - off);
			off = size;
		} else {
			build(&in, t, sport, (flags >> 4) * 8, NULL, 0);
		}
		if ((flags & 8) && t != T_RAW)
			set_ttl(&in, 1);
		for (; n && off + 2 <= size; n--, off += 2) {
			in.b[data[off] % (in.len ? in.len : 1)] ^= data[off + 1];
			clean &= !data[off + 1];
		}
		if ((flags & 4) && t != T_RAW && !pkt_parse(&in))
			finish(&in);
		if (in.len < 14)
			continue;
		if (run_checked(hook == 2, hook == 1 ? if_ep : if_cli, &in, &out, &verdict) &&
		    hook == 0)
			replied = check_reply(&in, &out);
		if (clean && !(flags & 8) && hook == 0)
			check_clean_verdict(t, verdict, &in, &out);
		dp_features[((t * 3 + hook) * 16 + ((verdict + 2) & 15)) * 2 + replied]++;
	}
	if (++inputs % FUZZ_CHECK_EVERY == 0)
		check_state();
	return 0;
}
