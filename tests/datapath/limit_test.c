// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chain programs under BPF_PROG_TEST_RUN: the examples (examples/ratelimit.bpf.o,
 * examples/connlimit.bpf.o) and the test programs (tests/progs/stamp.bpf.o,
 * tests/progs/foreign.bpf.o), loaded with libbpf into a private pin root that
 * also holds the datapath, so that they share its lb_chain as "lbattach chain add"
 * would have them.  Verdicts, output bytes, map entries and counters are asserted
 * exactly, on XDP and on tc.
 *
 * The rate limiter runs at 1 packet/s: a bucket refills one packet per second, far
 * more than a test case takes, so no case depends on how fast it runs.
 */
#include <errno.h>
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

#define LO_IFINDEX	1	/* XDP test runs need a real device: loopback */

#define A4	"198.18.0.1"	/* sources */
#define B4	"198.18.0.2"
#define A6	"2001:db8::1"
#define B6	"2001:db8::2"
#define D4	"198.19.0.10"	/* destinations */
#define D6	"2001:db8:1::10"

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_ACK	0x10

/* The layouts of the programs' maps, as user space writes and reads them. */
struct rl_config {
	__u64 rate_pps;
	__u64 burst;
};
struct rl_key {
	struct lb_addr addr;
	__u8 family;
	__u8 pad[3];
};
struct cl_config {
	__u32 limit;
};
struct cl_flow {
	struct lb_addr saddr, daddr;
	__be16 sport, dport;
	__u8 family;
	__u8 pad[3];
};
struct cl_src {
	struct lb_addr addr;
	__u8 family;
	__u8 pad[3];
};
/* Packed: it is read in place in packet bytes, at any alignment. */
struct stamp_payload {
	__be32 seq;
	__u8 n;
	__u8 ids[15];
} __attribute__((packed));

enum hook { XDP, TC };
static const char *const hook_name[] = { "xdp", "tc" };
static const __u32 v_pass[] = { XDP_PASS, (__u32)TC_ACT_UNSPEC };
static const __u32 v_drop[] = { XDP_DROP, TC_ACT_SHOT };

static struct dp_root dp;
static struct bpf_object *o_rl, *o_cl, *o_stamp, *o_foreign;

static int libbpf_warn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* <build tree>/<rel>, loaded with its maps pinned in the private root. */
static struct bpf_object *load_obj(const char *rel)
{
	char path[700], pins[200];
	struct bpf_object *obj;

	snprintf(path, sizeof(path), "%s/../%s", dp.bpf_dir, rel);
	snprintf(pins, sizeof(pins), "%s/maps", dp.root);
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = pins);
	obj = bpf_object__open_file(path, &o);
	if (!obj) {
		printf("# setup: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (bpf_object__load(obj)) {
		printf("# setup: load %s: %s\n", path, strerror(errno));
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

static int setup(void)
{
	const struct dp_log lg = { stdout, "# setup: " };
	/* The objects of this build tree: tests/datapath/../../bpf */
	int err = dp_root_open(&dp, "lblimit", "../bpf", NULL, &lg);

	if (err)
		return err;
	libbpf_set_print(libbpf_warn);
	o_rl = load_obj("examples/ratelimit.bpf.o");
	o_cl = load_obj("examples/connlimit.bpf.o");
	o_stamp = load_obj("tests/progs/stamp.bpf.o");
	o_foreign = load_obj("tests/progs/foreign.bpf.o");
	return o_rl && o_cl && o_stamp && o_foreign ? 0 : -1;
}

static void teardown(void)
{
	bpf_object__close(o_rl);
	bpf_object__close(o_cl);
	bpf_object__close(o_stamp);
	bpf_object__close(o_foreign);
	dp_root_close(&dp);
}

static int prog(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

static int map(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

/* The program "<base>_xdp" or "<base>_tc". */
static int prog_on(struct bpf_object *obj, const char *base, enum hook h)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_%s", base, hook_name[h]);
	return prog(obj, name);
}

struct run {
	int err;
	__u32 retval;
	struct pkt out;		/* l3, l4 copied from the input */
};

static void run_fd(int fd, bool xdp, const struct pkt *p, struct run *r)
{
	struct xdp_md xctx = { .data_end = p->len, .ingress_ifindex = LO_IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = p->b, .data_size_in = p->len,
		    .data_out = r->out.b, .data_size_out = sizeof(r->out.b),
		    .repeat = 1);

	if (xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	r->err = bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
	r->retval = o.retval;
	r->out.len = o.data_size_out;
	r->out.l3 = p->l3;
	r->out.l4 = p->l4;
	r->out.proto = p->proto;
}

/* Run p and check the verdict; the packet must come out unchanged. */
static void expect(int fd, enum hook h, const struct pkt *p, __u32 want, const char *what)
{
	struct run r;

	run_fd(fd, h == XDP, p, &r);
	CHECK(r.err == 0, "%s %s: test run: %s", what, hook_name[h], strerror(-r.err));
	CHECK(r.retval == want, "%s %s: verdict %d, want %d", what, hook_name[h],
	      (int)r.retval, (int)want);
	CHECK(r.out.len == p->len && !memcmp(r.out.b, p->b, p->len), "%s %s: packet changed",
	      what, hook_name[h]);
}

/* Sum of word w of a per-CPU map's element key (values of nwords __u64). */
static __u64 percpu(int fd, __u32 key, int nwords, int w)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v = calloc((size_t)ncpu * nwords, sizeof(*v)), sum = 0;

	if (!v || ncpu <= 0 || bpf_map_lookup_elem(fd, &key, v)) {
		printf("#   percpu read of map fd %d failed\n", fd);
		free(v);
		return ~0ULL;
	}
	for (int c = 0; c < ncpu; c++)
		sum += v[c * nwords + w];
	free(v);
	return sum;
}

/* Delete every element of a hash map; the number of elements it had. */
static int map_clear(int fd)
{
	__u8 key[128];
	int n = 0;

	while (n < 100000 && !bpf_map_get_next_key(fd, NULL, key)) {
		if (bpf_map_delete_elem(fd, key))
			return -1;
		n++;
	}
	return n;
}

static int map_count(int fd)
{
	__u8 key[128], next[128];
	int n = 0;
	void *prev = NULL;

	while (n < 100000 && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

static void addr_of(const char *s, __u8 *family, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a) == 1)
		*family = LB_AF_INET;
	else if (inet_pton(AF_INET6, s, a) == 1)
		*family = LB_AF_INET6;
}

/* ---- packets ----------------------------------------------------------------- */

static void ip_hdr(struct pkt *p, const char *src, const char *dst, uint8_t proto)
{
	if (strchr(src, ':')) {
		eth(p, 0x86dd);
		ip6(p, src, dst, proto);
	} else {
		eth(p, 0x0800);
		ip4(p, src, dst, proto, 0);
	}
}

static void udp_pkt(struct pkt *p, const char *src, const char *dst)
{
	ip_hdr(p, src, dst, 17);
	udp(p, 40000, 53, "query");
	finish(p);
}

static void tcp_pkt(struct pkt *p, const char *src, const char *dst, uint16_t sport,
		    uint8_t flags)
{
	ip_hdr(p, src, dst, 6);
	tcp(p, sport, 80, flags);
	finish(p);
}

/* A stamp packet: UDP to dport, payload seq | n | ids[15] with ids[i] = i < n ? 10 + i : 0. */
static void stamp_pkt(struct pkt *p, const char *src, const char *dst, uint16_t dport,
		      uint32_t seq, uint8_t n)
{
	ip_hdr(p, src, dst, 17);
	p->proto = 17;
	put16(p, 40000);
	put16(p, dport);
	put16(p, 8 + sizeof(struct stamp_payload));
	put16(p, 0);
	put32(p, seq);
	put8(p, n);
	for (int i = 0; i < 15; i++)
		put8(p, i < n ? 10 + i : 0);
	finish(p);
}

static const struct stamp_payload *payload_of(const struct pkt *p)
{
	return (const void *)(p->b + p->l4 + 8);
}

/* ---- rate limiter ------------------------------------------------------------ */

static void rl_set(__u64 rate, __u64 burst)
{
	struct rl_config c = { rate, burst };
	__u32 zero = 0;

	CHECK(bpf_map_update_elem(map(o_rl, "rl_config"), &zero, &c, 0) == 0, "set rl_config");
}

static void rl_layouts(void)
{
	struct bpf_map *m;

	m = bpf_object__find_map_by_name(o_rl, "rl_config");
	CHECK(m && bpf_map__value_size(m) == sizeof(struct rl_config), "rl_config value size");
	m = bpf_object__find_map_by_name(o_rl, "rl_buckets");
	CHECK(m && bpf_map__key_size(m) == sizeof(struct rl_key) && bpf_map__value_size(m) == 8,
	      "rl_buckets layout");
	m = bpf_object__find_map_by_name(o_rl, "rl_stats");
	CHECK(m && bpf_map__value_size(m) == 16, "rl_stats layout");
	/* Shared with the datapath through the pin, as in a chain. */
	m = bpf_object__find_map_by_name(o_rl, "lb_chain");
	CHECK(m && bpf_map__max_entries(m) == LB_CHAIN_SLOTS, "lb_chain map");
}

static void rl_burst_then_drop(void)
{
	int buckets = map(o_rl, "rl_buckets"), stats = map(o_rl, "rl_stats");

	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_rl, "ratelimit", h);
		__u64 passed = percpu(stats, 0, 2, 0), dropped = percpu(stats, 0, 2, 1);
		struct pkt a = {}, av = {}, b = {}, c = {};
		struct rl_bucket_probe { __u64 tat; } v;
		struct rl_key k = {};

		map_clear(buckets);
		rl_set(1, 5);
		udp_pkt(&a, A4, D4);
		/* The same source behind a VLAN tag shares its bucket. */
		eth(&av, 0x8100); vlan(&av, 0x0800, 7); ip4(&av, A4, D4, 17, 0);
		udp(&av, 1, 2, "v"); finish(&av);
		udp_pkt(&b, A6, D6);
		tcp_pkt(&c, B4, D4, 1234, TCP_SYN);

		for (int i = 0; i < 4; i++)
			expect(fd, h, &a, v_pass[h], "source A within burst");
		expect(fd, h, &av, v_pass[h], "source A (VLAN) 5th packet");
		expect(fd, h, &a, v_drop[h], "source A 6th packet");
		expect(fd, h, &av, v_drop[h], "source A (VLAN) 7th packet");
		/* Other sources have their own buckets, IPv6 too. */
		for (int i = 0; i < 5; i++)
			expect(fd, h, &b, v_pass[h], "source A6 within burst");
		expect(fd, h, &b, v_drop[h], "source A6 6th packet");
		expect(fd, h, &c, v_pass[h], "source B4 first packet");
		expect(fd, h, &a, v_drop[h], "source A still limited");

		CHECK_EQ_U(percpu(stats, 0, 2, 0) - passed, 11);
		CHECK_EQ_U(percpu(stats, 0, 2, 1) - dropped, 4);
		CHECK_EQ_U(map_count(buckets), 3);
		addr_of(A4, &k.family, &k.addr);
		CHECK(bpf_map_lookup_elem(buckets, &k, &v) == 0, "bucket of %s", A4);
		addr_of(A6, &k.family, &k.addr);
		CHECK(bpf_map_lookup_elem(buckets, &k, &v) == 0, "bucket of %s", A6);
		CHECK_EQ_U(k.family, LB_AF_INET6);

		/* A new configuration applies to known sources at once. */
		rl_set(0, 0);
		expect(fd, h, &a, v_pass[h], "source A, no limit");
	}
}

static void rl_burst_zero_is_rate(void)
{
	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_rl, "ratelimit", h);
		struct pkt a = {};

		map_clear(map(o_rl, "rl_buckets"));
		rl_set(1, 0);	/* burst: one second's worth, 1 */
		udp_pkt(&a, A4, D4);
		expect(fd, h, &a, v_pass[h], "first packet");
		expect(fd, h, &a, v_drop[h], "second packet");
	}
}

static void rl_rate_zero_passes_all(void)
{
	int buckets = map(o_rl, "rl_buckets"), stats = map(o_rl, "rl_stats");

	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_rl, "ratelimit", h);
		__u64 passed = percpu(stats, 0, 2, 0), dropped = percpu(stats, 0, 2, 1);
		struct pkt a = {};

		map_clear(buckets);
		rl_set(0, 5);
		udp_pkt(&a, A4, D4);
		for (int i = 0; i < 50; i++)
			expect(fd, h, &a, v_pass[h], "no limit");
		CHECK_EQ_U(percpu(stats, 0, 2, 0) - passed, 50);
		CHECK_EQ_U(percpu(stats, 0, 2, 1) - dropped, 0);
		CHECK_EQ_U(map_count(buckets), 0);
	}
}

static void rl_non_ip_passes_uncounted(void)
{
	int stats = map(o_rl, "rl_stats");
	__u64 passed = percpu(stats, 0, 2, 0);
	struct pkt p = {}, cut = {};

	rl_set(1, 1);
	eth(&p, 0x0806);
	for (int i = 0; i < 28; i++)
		put8(&p, i);
	for (int h = XDP; h <= TC; h++)
		for (int i = 0; i < 3; i++)
			expect(prog_on(o_rl, "ratelimit", h), h, &p, v_pass[h], "arp");
	/* An IPv4 header cut short is not judged (XDP only: tc refuses such input). */
	udp_pkt(&cut, A4, D4);
	cut.len = 14 + 12;
	expect(prog(o_rl, "ratelimit_xdp"), XDP, &cut, XDP_PASS, "cut ipv4 header");
	CHECK_EQ_U(percpu(stats, 0, 2, 0) - passed, 0);
	rl_set(0, 0);
}

/* ---- connection limiter ------------------------------------------------------ */

static void cl_set(__u32 limit)
{
	struct cl_config c = { limit };
	__u32 zero = 0;

	CHECK(bpf_map_update_elem(map(o_cl, "cl_config"), &zero, &c, 0) == 0, "set cl_config");
}

/* Open connections of src in cl_count; -1 when it has no entry. */
static long long cl_open(const char *src)
{
	struct cl_src k = {};
	__u32 n;

	addr_of(src, &k.family, &k.addr);
	if (bpf_map_lookup_elem(map(o_cl, "cl_count"), &k, &n))
		return -1;
	return n;
}

static bool cl_has_flow(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	struct cl_flow k = {};
	struct { __u64 opened_ns; } v;

	addr_of(src, &k.family, &k.saddr);
	addr_of(dst, &k.family, &k.daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	return bpf_map_lookup_elem(map(o_cl, "cl_flows"), &k, &v) == 0;
}

static void cl_reset(void)
{
	map_clear(map(o_cl, "cl_flows"));
	map_clear(map(o_cl, "cl_count"));
}

static void cl_layouts(void)
{
	struct bpf_map *m;

	m = bpf_object__find_map_by_name(o_cl, "cl_config");
	CHECK(m && bpf_map__value_size(m) == sizeof(struct cl_config), "cl_config value size");
	m = bpf_object__find_map_by_name(o_cl, "cl_flows");
	CHECK(m && bpf_map__key_size(m) == sizeof(struct cl_flow) && bpf_map__value_size(m) == 8,
	      "cl_flows layout");
	m = bpf_object__find_map_by_name(o_cl, "cl_count");
	CHECK(m && bpf_map__key_size(m) == sizeof(struct cl_src) && bpf_map__value_size(m) == 4,
	      "cl_count layout");
	m = bpf_object__find_map_by_name(o_cl, "cl_stats");
	CHECK(m && bpf_map__value_size(m) == 16, "cl_stats layout");
}

static void cl_limit_per_source(void)
{
	int stats = map(o_cl, "cl_stats");

	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_cl, "connlimit", h);
		__u64 passed = percpu(stats, 0, 2, 0), dropped = percpu(stats, 0, 2, 1);
		struct pkt p = {};

		cl_reset();
		cl_set(2);
		tcp_pkt(&p, A4, D4, 40001, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A syn 1");
		tcp_pkt(&p, A4, D4, 40002, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A syn 2");
		tcp_pkt(&p, A4, D4, 40003, TCP_SYN);
		expect(fd, h, &p, v_drop[h], "A syn 3 over the limit");
		CHECK_EQ_U(cl_open(A4), 2);
		CHECK(!cl_has_flow(A4, D4, 40003, 80), "a refused SYN is not remembered");
		tcp_pkt(&p, A4, D4, 40001, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A syn 1 retransmitted");
		CHECK_EQ_U(cl_open(A4), 2);
		tcp_pkt(&p, A4, D4, 40003, TCP_SYN);
		expect(fd, h, &p, v_drop[h], "A syn 3 retransmitted, still over the limit");
		/* Not SYNs: everything else goes on, even for a refused connection. */
		tcp_pkt(&p, A4, D4, 40003, TCP_ACK);
		expect(fd, h, &p, v_pass[h], "A ack of a refused connection");
		tcp_pkt(&p, A4, D4, 40005, TCP_SYN | TCP_ACK);
		expect(fd, h, &p, v_pass[h], "A syn-ack");
		udp_pkt(&p, A4, D4);
		expect(fd, h, &p, v_pass[h], "A udp");
		CHECK_EQ_U(cl_open(A4), 2);

		/* Another source has its own count, IPv6 too. */
		tcp_pkt(&p, A6, D6, 40001, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A6 syn 1");
		tcp_pkt(&p, A6, D6, 40002, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A6 syn 2");
		tcp_pkt(&p, A6, D6, 40003, TCP_SYN);
		expect(fd, h, &p, v_drop[h], "A6 syn 3");
		CHECK_EQ_U(cl_open(A6), 2);

		/* FIN frees a slot, once. */
		tcp_pkt(&p, A4, D4, 40001, TCP_FIN | TCP_ACK);
		expect(fd, h, &p, v_pass[h], "A fin 1");
		CHECK_EQ_U(cl_open(A4), 1);
		expect(fd, h, &p, v_pass[h], "A fin 1 again");
		CHECK_EQ_U(cl_open(A4), 1);
		CHECK(!cl_has_flow(A4, D4, 40001, 80), "closed flow forgotten");
		tcp_pkt(&p, A4, D4, 40003, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A syn 3 after a fin");
		tcp_pkt(&p, A4, D4, 40004, TCP_SYN);
		expect(fd, h, &p, v_drop[h], "A syn 4 at the limit");
		/* RST frees a slot too; one of an unknown flow frees nothing. */
		tcp_pkt(&p, A4, D4, 40099, TCP_RST);
		expect(fd, h, &p, v_pass[h], "A rst of an unknown flow");
		CHECK_EQ_U(cl_open(A4), 2);
		tcp_pkt(&p, A4, D4, 40002, TCP_RST);
		expect(fd, h, &p, v_pass[h], "A rst 2");
		CHECK_EQ_U(cl_open(A4), 1);
		tcp_pkt(&p, A4, D4, 40004, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "A syn 4 after a rst");
		CHECK_EQ_U(cl_open(A4), 2);
		CHECK_EQ_U(cl_open(A6), 2);

		CHECK(cl_has_flow(A4, D4, 40003, 80) && cl_has_flow(A4, D4, 40004, 80),
		      "open flows of A remembered");
		CHECK(cl_has_flow(A6, D6, 40001, 80), "open flow of A6 remembered");
		CHECK_EQ_U(map_count(map(o_cl, "cl_flows")), 4);
		CHECK_EQ_U(percpu(stats, 0, 2, 0) - passed, 7);
		CHECK_EQ_U(percpu(stats, 0, 2, 1) - dropped, 4);
	}
}

static void cl_limit_zero_counts_only(void)
{
	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_cl, "connlimit", h);
		struct pkt p = {};

		cl_reset();
		cl_set(0);
		for (int i = 0; i < 20; i++) {
			tcp_pkt(&p, B4, D4, 41000 + i, TCP_SYN);
			expect(fd, h, &p, v_pass[h], "syn, no limit");
		}
		CHECK_EQ_U(cl_open(B4), 20);
		/* A limit set now counts the connections already open. */
		cl_set(20);
		tcp_pkt(&p, B4, D4, 42000, TCP_SYN);
		expect(fd, h, &p, v_drop[h], "syn at a new limit");
	}
	cl_set(0);
}

static void cl_headers(void)
{
	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_cl, "connlimit", h);
		struct pkt p = {};

		cl_reset();
		cl_set(1);
		/* IPv6 extension headers before TCP are walked. */
		tcp_pkt(&p, B6, D6, 40001, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "ipv6 syn");
		eth(&p, 0x86dd); ip6(&p, B6, D6, 0); ip6_opt(&p, 60); ip6_opt(&p, 6);
		tcp(&p, 40002, 80, TCP_SYN); finish(&p);
		expect(fd, h, &p, v_drop[h], "ipv6 syn behind hop-by-hop and dstopts");
		eth(&p, 0x86dd); ip6(&p, B6, D6, 44); ip6_frag(&p, 6, 0, 1);
		tcp(&p, 40003, 80, TCP_SYN); finish(&p);
		expect(fd, h, &p, v_drop[h], "ipv6 syn in a first fragment");
		/* VLAN tags are skipped. */
		tcp_pkt(&p, B4, D4, 40001, TCP_SYN);
		expect(fd, h, &p, v_pass[h], "ipv4 syn");
		eth(&p, 0x88a8); vlan(&p, 0x8100, 10); vlan(&p, 0x0800, 20);
		ip4(&p, B4, D4, 6, 0); tcp(&p, 40002, 80, TCP_SYN); finish(&p);
		expect(fd, h, &p, v_drop[h], "qinq ipv4 syn");
		/* A later fragment carries no TCP header: not looked at. */
		eth(&p, 0x0800); ip4(&p, B4, D4, 6, 0x0010); tcp(&p, 40003, 80, TCP_SYN);
		finish(&p);
		expect(fd, h, &p, v_pass[h], "later ipv4 fragment");
		CHECK_EQ_U(cl_open(B4), 1);
		CHECK_EQ_U(cl_open(B6), 1);
	}
	cl_set(0);
}

/* ---- stamp programs ---------------------------------------------------------- */

static __u64 seen(int id)
{
	__u32 k = id;
	__u64 v = ~0ULL;

	bpf_map_lookup_elem(map(o_stamp, "stamp_seen"), &k, &v);
	return v;
}

/* The output is the input with n = n + 1 and ids[n] = id, checksum as expected. */
static void check_stamped(const struct pkt *in, const struct run *r, int id, const char *what)
{
	const struct stamp_payload *pi = payload_of(in), *po = payload_of(&r->out);
	struct pkt want = *in;

	CHECK(r->out.len == in->len, "%s: length %u, want %zu", what, (unsigned)r->out.len,
	      in->len);
	if (r->out.len != in->len || pi->n >= 15)
		return;
	CHECK_EQ_U(po->n, pi->n + 1);
	CHECK_EQ_U(po->ids[pi->n], id);
	CHECK(po->seq == pi->seq, "%s: seq changed", what);
	/* Nothing else but the checksum changed. */
	((struct stamp_payload *)(want.b + want.l4 + 8))->n = pi->n + 1;
	((struct stamp_payload *)(want.b + want.l4 + 8))->ids[pi->n] = id;
	set16(&want, want.l4 + 6, get16(&r->out, r->out.l4 + 6));
	CHECK(!memcmp(want.b, r->out.b, want.len), "%s: other bytes changed", what);
	if ((in->b[in->l3] >> 4) == 4)
		CHECK(get16(&r->out, r->out.l4 + 6) == 0, "%s: ipv4 udp checksum %#x, want 0",
		      what, get16(&r->out, r->out.l4 + 6));
	else
		CHECK(verify_l4_csum(&r->out, 17) == 0 && get16(&r->out, r->out.l4 + 6) != 0,
		      "%s: ipv6 udp checksum %#x not valid", what, get16(&r->out, r->out.l4 + 6));
}

static void stamp_ipv4_bytes(void)
{
	struct pkt p = {};
	struct run r, r2;
	__u64 s1 = seen(1), s2 = seen(2);

	stamp_pkt(&p, A4, D4, 9999, 5, 0);
	CHECK(get16(&p, p.l4 + 6) != 0, "input has a checksum");
	run_fd(prog(o_stamp, "stamp1_xdp"), true, &p, &r);
	CHECK(r.err == 0 && r.retval == XDP_PASS, "stamp1_xdp: err %d verdict %u", r.err,
	      r.retval);
	check_stamped(&p, &r, 1, "stamp1_xdp");
	CHECK_EQ_U(payload_of(&r.out)->ids[0], 1);
	CHECK_EQ_U(payload_of(&r.out)->n, 1);
	CHECK_EQ_U(get16(&r.out, r.out.l4 + 6), 0);
	/* The next program appends. */
	run_fd(prog(o_stamp, "stamp2_tc"), false, &r.out, &r2);
	CHECK(r2.err == 0 && r2.retval == (__u32)TC_ACT_UNSPEC, "stamp2_tc: err %d verdict %d",
	      r2.err, (int)r2.retval);
	check_stamped(&r.out, &r2, 2, "stamp2_tc");
	CHECK_EQ_U(seen(1) - s1, 1);
	CHECK_EQ_U(seen(2) - s2, 1);
}

static void stamp_ipv6_checksum(void)
{
	static const char *const progs[] = { "stamp1_xdp", "stamp2_tc", "stamp3_xdp", "stamp4_tc",
					     "stamp1_tc", "stamp2_xdp" };
	static const int ids[] = { 1, 2, 3, 4, 1, 2 };
	struct pkt p = {};
	struct run r;

	/* Each step stamps at the next n, odd and even positions, on both hooks. */
	stamp_pkt(&p, A6, D6, 9999, 1000, 0);
	CHECK(verify_l4_csum(&p, 17) == 0, "input checksum valid");
	for (int i = 0; i < 6; i++) {
		bool xdp = strstr(progs[i], "xdp") != NULL;

		run_fd(prog(o_stamp, progs[i]), xdp, &p, &r);
		CHECK(r.err == 0 && r.retval == (xdp ? XDP_PASS : (__u32)TC_ACT_UNSPEC),
		      "%s: err %d verdict %d", progs[i], r.err, (int)r.retval);
		check_stamped(&p, &r, ids[i], progs[i]);
		p = r.out;
	}
	for (int i = 0; i < 6; i++)
		CHECK_EQ_U(payload_of(&p)->ids[i], ids[i]);
	/* Another packet, stamped at an odd position. */
	stamp_pkt(&p, B6, D6, 9999, 0, 7);
	run_fd(prog(o_stamp, "stamp1_xdp"), true, &p, &r);
	check_stamped(&p, &r, 1, "stamp1_xdp at n 7");
}

static void stamp_leaves_others_alone(void)
{
	struct pkt full = {}, other = {}, cut = {};
	__u64 s1 = seen(1);

	stamp_pkt(&full, A4, D4, 9999, 3, 15);
	stamp_pkt(&other, A4, D4, 9998, 3, 0);
	stamp_pkt(&cut, A4, D4, 9999, 3, 0);
	cut.len -= 1;		/* payload one byte short */
	set16(&cut, cut.l3 + 2, cut.len - cut.l3);
	set16(&cut, cut.l4 + 4, cut.len - cut.l4);
	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_stamp, "stamp1", h);

		expect(fd, h, &full, v_pass[h], "n = 15: full");
		expect(fd, h, &other, v_pass[h], "port 9998");
		expect(fd, h, &cut, v_pass[h], "19-byte payload");
	}
	CHECK_EQ_U(seen(1) - s1, 2);	/* only the full ones were stamp packets */
}

static void drop_verdicts(void)
{
	int drops = map(o_stamp, "stamp_drops");
	__u64 d0 = percpu(drops, 0, 1, 0), s9 = seen(9);
	struct pkt p = {};
	struct run r;

	for (int h = XDP; h <= TC; h++) {
		int fd = prog_on(o_stamp, "drop", h);

		stamp_pkt(&p, A4, D4, 9999, 7, 1);
		run_fd(fd, h == XDP, &p, &r);
		CHECK(r.err == 0 && r.retval == v_drop[h], "%s seq 7: verdict %d",
		      hook_name[h], (int)r.retval);
		stamp_pkt(&p, A4, D4, 9999, 57, 0);
		run_fd(fd, h == XDP, &p, &r);
		CHECK(r.err == 0 && r.retval == v_drop[h], "%s seq 57: verdict %d",
		      hook_name[h], (int)r.retval);
		stamp_pkt(&p, A4, D4, 9999, 8, 1);
		run_fd(fd, h == XDP, &p, &r);
		CHECK(r.err == 0 && r.retval == v_pass[h], "%s seq 8: verdict %d",
		      hook_name[h], (int)r.retval);
		check_stamped(&p, &r, 9, "drop seq 8");
		stamp_pkt(&p, A6, D6, 9999, 50, 0);
		run_fd(fd, h == XDP, &p, &r);
		CHECK(r.err == 0 && r.retval == v_pass[h], "%s seq 50: verdict %d",
		      hook_name[h], (int)r.retval);
		check_stamped(&p, &r, 9, "drop seq 50");
	}
	CHECK_EQ_U(percpu(drops, 0, 1, 0) - d0, 4);
	CHECK_EQ_U(seen(9) - s9, 8);
}

static void foreign_stamps_and_passes(void)
{
	struct bpf_map_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b);
	int fd = prog(o_foreign, "foreign_xdp");
	__u64 s7 = seen(7);
	struct pkt p = {};
	struct run r;

	/* It knows nothing of chains: no lb_chain map in the object. */
	CHECK(!bpf_object__find_map_by_name(o_foreign, "lb_chain"), "foreign has lb_chain");
	stamp_pkt(&p, A4, D4, 9999, 1, 2);
	run_fd(fd, true, &p, &r);
	CHECK(r.err == 0 && r.retval == XDP_PASS, "verdict %d", (int)r.retval);
	check_stamped(&p, &r, 7, "foreign ipv4");
	stamp_pkt(&p, A6, D6, 9999, 1, 3);
	run_fd(fd, true, &p, &r);
	CHECK(r.err == 0 && r.retval == XDP_PASS, "verdict %d", (int)r.retval);
	check_stamped(&p, &r, 7, "foreign ipv6");
	/* Its stamp_seen is stamp.bpf.o's, through the pin. */
	CHECK_EQ_U(seen(7) - s7, 2);
	CHECK(!bpf_obj_get_info_by_fd(map(o_foreign, "stamp_seen"), &a, &la) &&
	      !bpf_obj_get_info_by_fd(map(o_stamp, "stamp_seen"), &b, &lb) && a.id == b.id,
	      "one stamp_seen map");
}

/*
 * The XDP chain of the datapath runs the stamp programs in lb_chain order: lay out
 * a chain by hand (lb_abi.h, "XDP chains") and run lb_chain_entry.
 */
static void chain_runs_in_order(void)
{
	static const char *const order[] = { "stamp3_xdp", "stamp1_xdp", "drop_xdp", "stamp2_xdp" };
	static const int want[] = { 3, 1, 9, 2 };
	struct lb_chain_cfg cfg = { .base = 1, .len = 4, .region = { 0, 1 }, .revision = 1 };
	int chain = lb_map_fd(dp.ctx, LB_MAP_CHAIN), cfgs = lb_map_fd(dp.ctx, LB_MAP_CHAIN_CFG);
	int entry = lb_prog_fd(dp.ctx, LB_PROG_CHAIN_ENTRY);
	__u32 ifindex = LO_IFINDEX;
	struct pkt p = {};
	struct run r;

	CHECK(chain >= 0 && cfgs >= 0 && entry >= 0, "datapath chain maps and entry program");
	if (chain < 0 || cfgs < 0 || entry < 0)
		goto out;
	for (__u32 i = 0; i < 4; i++) {
		__u32 slot = cfg.base + i;
		int fd = prog(o_stamp, order[i]);

		CHECK(bpf_map_update_elem(chain, &slot, &fd, 0) == 0, "lb_chain[%u] = %s: %s",
		      slot, order[i], strerror(errno));
	}
	CHECK(bpf_map_update_elem(cfgs, &ifindex, &cfg, 0) == 0, "lb_chain_cfg");

	stamp_pkt(&p, A4, D4, 9999, 8, 0);
	run_fd(entry, true, &p, &r);
	CHECK(r.err == 0 && r.retval == XDP_PASS, "seq 8: verdict %d", (int)r.retval);
	CHECK_EQ_U(payload_of(&r.out)->n, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_U(payload_of(&r.out)->ids[i], want[i]);
	/* drop_xdp ends the chain for seq 7, after 3 and 1 stamped. */
	stamp_pkt(&p, A4, D4, 9999, 7, 0);
	run_fd(entry, true, &p, &r);
	CHECK(r.err == 0 && r.retval == XDP_DROP, "seq 7: verdict %d", (int)r.retval);
	CHECK_EQ_U(payload_of(&r.out)->n, 2);
	CHECK(payload_of(&r.out)->ids[0] == 3 && payload_of(&r.out)->ids[1] == 1, "ids 3,1");

	/* Unwrapped, a foreign program's XDP_PASS ends the chain: why lbattach wraps it. */
	{
		__u32 slot = 2;
		int fd = prog(o_foreign, "foreign_xdp");

		CHECK(bpf_map_update_elem(chain, &slot, &fd, 0) == 0, "lb_chain[2] = foreign");
		stamp_pkt(&p, A4, D4, 9999, 8, 0);
		run_fd(entry, true, &p, &r);
		CHECK(r.err == 0 && r.retval == XDP_PASS, "verdict %d", (int)r.retval);
		CHECK_EQ_U(payload_of(&r.out)->n, 2);
		CHECK(payload_of(&r.out)->ids[0] == 3 && payload_of(&r.out)->ids[1] == 7,
		      "ids 3,7");
	}
	bpf_map_delete_elem(cfgs, &ifindex);
	for (__u32 slot = 1; slot <= 4; slot++)
		bpf_map_delete_elem(chain, &slot);
out:
	if (chain >= 0)
		close(chain);
	if (cfgs >= 0)
		close(cfgs);
	if (entry >= 0)
		close(entry);
}

int main(void)
{
	if (setup()) {
		printf("not ok 1 - load the datapath and the chain programs into a private pin root\n"
		       "1..1\n");
		teardown();
		return 1;
	}
	RUN(rl_layouts);
	RUN(rl_burst_then_drop);
	RUN(rl_burst_zero_is_rate);
	RUN(rl_rate_zero_passes_all);
	RUN(rl_non_ip_passes_uncounted);
	RUN(cl_layouts);
	RUN(cl_limit_per_source);
	RUN(cl_limit_zero_counts_only);
	RUN(cl_headers);
	RUN(stamp_ipv4_bytes);
	RUN(stamp_ipv6_checksum);
	RUN(stamp_leaves_others_alone);
	RUN(drop_verdicts);
	RUN(foreign_stamps_and_passes);
	RUN(chain_runs_in_order);
	teardown();
	return tap_done();
}
