// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dp_bench - cost per packet of the lbkit datapath, measured with
 * BPF_PROG_TEST_RUN side by side with the floor (lb_trivial.bpf.o: trivial_tc,
 * trivial_xdp) in one run.  Not a test: it asserts nothing about time; it
 * checks verdicts only so that a number never describes the wrong path.
 *
 * Methods (column "method"):
 *   repeat   kernel-reported opts.duration (ns per repeat), repeat=200000,
 *            median of 5 runs.  Only valid when the program leaves the packet as
 *            it found it: BPF_PROG_TEST_RUN does NOT restore the input between
 *            repeats (checked below), so a forwarded packet (rewritten, TTL - 1)
 *            would miss conntrack from the second repeat on.
 *   hot      forwarded packets: TTL 255, repeat=250 x 800 calls, a ping-pong
 *            conntrack entry so every repeat is a real hit + rewrite + FIB +
 *            redirect (see pingpong()); median call per run, median of 5 runs.
 *   single   kernel-reported opts.duration with repeat=1 (one run of the
 *            program on a fresh copy of the input, timer overhead included),
 *            median over 20000 calls per run, median of 5 runs.
 *   syscall  clock_gettime around bpf_prog_test_run_opts with repeat=1: per
 *            call, syscall included (skb/xdp_buff setup, copy in, free).
 * "+floor" is the difference from the floor program of the same hook measured
 * the same way.
 *
 * World: a private network namespace (unshare) with two veth pairs and
 * permanent neighbours, as tests/datapath/nat_test.c builds it, so the FIB
 * resolves and forwarded packets get TC_ACT_REDIRECT / XDP_REDIRECT; private
 * pin roots under /tmp, removed at exit (also on failure and on signals).
 *
 * Build: $(CC) $(CFLAGS) -Itests -o bench/dp_bench bench/dp_bench.c lb/liblb.a $(LDLIBS)
 * Run:   bench/dp_bench [csv-path]     (root; make bench does both)
 *        The cost by ablation (phase_ablate()) goes to ablation.csv beside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <lb/lb.h>
#include "datapath/pkt.h"
#include "datapath/harness.h"

#define CLI_DEV		DP_CLI_DEV
#define EP_DEV		DP_EP_DEV
#define C4		"198.18.0.1"
#define V4		"198.19.0.10"
#define V4DROP		"198.19.0.20"	/* service without endpoints */
#define NOTSVC4		"198.18.1.50"	/* an address that is no service */
#define E4A		"198.18.1.2"
#define EPS_NET		"198.18.64.0/18"	/* endpoints of phase_eps(), routed via E4A */
#define C6		"2001:db8::1"
#define V6		"2001:db8:ffff::10"
#define E6A		"2001:db8:1::2"

#define TCP_SYN		0x02
#define TCP_ACK		0x10

#define REPEAT		200000
#define RUNS		5
#define SINGLE_CALLS	20000
#define NEWFLOW_CALLS	4000
#define HOT_REPEAT	250	/* TTL 255 allows 254 forwards of one packet */
#define HOT_CALLS	800	/* x HOT_REPEAT = 200000 packets per run on tc */
#define HOT_CALLS_XDP	200	/* 50000 on xdp: an XDP test run costs ~3 ms per call
				   outside the program (the dispatcher update) */
#define LIBLB_SVC_MAX	1000000	/* services added through lb_service_add (all of them: ids are
				   found from a hint, O(1) per add); beyond, written directly */

static struct dp_root dp;	/* base: one per run; root: the current pins<root_seq> */
static struct lb_ctx *ctx;	/* dp.ctx while a root is open */
static int root_seq;
static int if_cli, if_ep;
static uint8_t mac_cli[6], mac_ep[6];
static int tc_fd = -1, xdp_fd = -1, ftc_fd = -1, fxdp_fd = -1;
static int ref_tc = -1, ref_xdp = -1;	/* the scale rows' reference flow (scale_rows()) */
static struct pkt ref_ack;
static struct bpf_object *trivial, *refobj;
static int rtc_fd = -1, rxdp_fd = -1, ref_map = -1;	/* bench/ref.bpf.c */

static const struct dp_host hosts[] = {
	{ C4,  CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ C6,  CLI_DEV, { 2, 0, 0, 0, 0, 0x01 } },
	{ E4A, EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
	{ E6A, EP_DEV,  { 2, 0, 0, 0, 1, 0x02 } },
};
static const uint8_t mac_other[6] = { 2, 0, 0, 0, 0, 0x99 };

/* ---- results --------------------------------------------------------------- */

struct row {
	char name[48];
	const char *hook, *method;
	double ns, floor;
	bool ok;		/* every run gave the expected verdict */
	char note[64];
};
static struct row rows[128];
static long m_nproc;
static char m_kernel[65], m_date[32];
static int nrows;

static void add_row(const char *name, const char *hook, const char *method, double ns,
		    double floor, bool ok, const char *note)
{
	struct row *r;

	if (nrows >= (int)(sizeof(rows) / sizeof(rows[0])))
		return;
	r = &rows[nrows++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->hook = hook;
	r->method = method;
	r->ns = ns;
	r->floor = floor;
	r->ok = ok;
	snprintf(r->note, sizeof(r->note), "%s", note ? note : "");
	printf("  %-30s %-4s %-8s %8.1f %8.1f %s%s\n", r->name, r->hook, r->method, r->ns,
	       r->ns - r->floor, r->ok ? "" : "VERDICT MISMATCH ", r->note);
	fflush(stdout);
}

/* ---- setup and teardown ---------------------------------------------------- */

static int setup_net(void)
{
	/* The VIPs resolve toward lbt0 too: the ping-pong entries (see pingpong()). */
	static const char *const vip_routes[] = {
		"ip route add " V4 "/32 dev " EP_DEV,
		"ip -6 route add " V6 "/128 dev " EP_DEV,
		"ip neigh add " V4 " lladdr 02:00:00:00:01:10 dev " EP_DEV " nud permanent",
		"ip neigh add " V6 " lladdr 02:00:00:00:01:10 dev " EP_DEV " nud permanent",
		/* The endpoints of the large services (phase_eps()), behind E4A. */
		"ip route add " EPS_NET " via " E4A,
	};
	const struct dp_log lg = { stderr, "dp_bench: " };

	return dp_net_setup(&lg, hosts, sizeof(hosts) / sizeof(hosts[0]),
			    vip_routes, sizeof(vip_routes) / sizeof(vip_routes[0]),
			    &if_cli, &if_ep, mac_cli, mac_ep);
}

static void close_root(void)
{
	if (tc_fd >= 0)
		close(tc_fd);
	if (xdp_fd >= 0)
		close(xdp_fd);
	tc_fd = xdp_fd = -1;
	ctx = NULL;
	dp_root_unload(&dp);
}

/* A fresh private pin root with the datapath loaded (sizes NULL: defaults). */
static int open_root(const struct lb_sizes *sizes)
{
	const struct dp_log lg = { stderr, "dp_bench: " };
	char name[16];
	int err;

	close_root();
	snprintf(name, sizeof(name), "pins%d", root_seq++);
	err = dp_root_load(&dp, name, sizes, &lg);
	if (err)
		return err;
	ctx = dp.ctx;
	tc_fd = lb_prog_fd(ctx, LB_PROG_TC_INGRESS);
	xdp_fd = lb_prog_fd(ctx, LB_PROG_XDP);
	return tc_fd < 0 ? tc_fd : xdp_fd < 0 ? xdp_fd : 0;
}

static void teardown(void)
{
	close_root();
	if (ref_tc >= 0)
		close(ref_tc);
	if (ref_xdp >= 0)
		close(ref_xdp);
	ref_tc = ref_xdp = -1;
	if (trivial) {
		bpf_object__close(trivial);
		trivial = NULL;
	}
	if (refobj) {
		bpf_object__close(refobj);
		refobj = NULL;
	}
	dp_root_close(&dp);
	/* The namespace and its veths go when the process exits. */
}

static void on_signal(int sig)
{
	teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int load_floor(void)
{
	char path[700];
	struct bpf_program *p;
	int err;

	snprintf(path, sizeof(path), "%s/lb_trivial.bpf.o", dp.bpf_dir);
	trivial = bpf_object__open_file(path, NULL);
	if (!trivial) {
		fprintf(stderr, "dp_bench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	err = bpf_object__load(trivial);
	if (err) {
		fprintf(stderr, "dp_bench: load %s: %s\n", path, strerror(-err));
		return -1;
	}
	p = bpf_object__find_program_by_name(trivial, "trivial_tc");
	ftc_fd = p ? bpf_program__fd(p) : -1;
	p = bpf_object__find_program_by_name(trivial, "trivial_xdp");
	fxdp_fd = p ? bpf_program__fd(p) : -1;
	return ftc_fd < 0 || fxdp_fd < 0 ? -1 : 0;
}

/*
 * The reference of a stateful balancer (bench/ref.bpf.c): header parse, one
 * 40-byte-key hash lookup, a redirect.  Its flows map gets each measured flow.
 */
static int load_ref(void)
{
	char path[700];
	struct bpf_program *p;
	struct bpf_map *m;
	int err;

	snprintf(path, sizeof(path), "%s/../bench/ref.bpf.o", dp.bpf_dir);
	refobj = bpf_object__open_file(path, NULL);
	if (!refobj) {
		fprintf(stderr, "dp_bench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	err = bpf_object__load(refobj);
	if (err) {
		fprintf(stderr, "dp_bench: load %s: %s\n", path, strerror(-err));
		return -1;
	}
	p = bpf_object__find_program_by_name(refobj, "ref_tc");
	rtc_fd = p ? bpf_program__fd(p) : -1;
	p = bpf_object__find_program_by_name(refobj, "ref_xdp");
	rxdp_fd = p ? bpf_program__fd(p) : -1;
	m = bpf_object__find_map_by_name(refobj, "ref_flows");
	ref_map = m ? bpf_map__fd(m) : -1;
	return rtc_fd < 0 || rxdp_fd < 0 || ref_map < 0 ? -1 : 0;
}

/* The reference's entry for p's flow: its 40-byte key, redirected to the endpoint side. */
static int ref_flow(const struct pkt *p)
{
	struct {
		uint32_t src[4], dst[4];
		uint16_t sport, dport;
		uint8_t proto, family;
		uint16_t pad;
	} k = {};
	uint32_t ifindex = if_ep;
	bool v6 = (p->b[p->l3] >> 4) == 6;

	_Static_assert(sizeof(k) == sizeof(struct lb_ct_key), "the reference key is lb_ct_key's size");
	memcpy(k.src, p->b + p->l3 + (v6 ? 8 : 12), v6 ? 16 : 4);
	memcpy(k.dst, p->b + p->l3 + (v6 ? 24 : 16), v6 ? 16 : 4);
	memcpy(&k.sport, p->b + p->l4, 2);
	memcpy(&k.dport, p->b + p->l4 + 2, 2);
	k.proto = p->proto;
	k.family = v6 ? 10 : 2;
	return bpf_map_update_elem(ref_map, &k, &ifindex, BPF_ANY) ? -errno : 0;
}

/* ---- packets and configuration --------------------------------------------- */

static bool is_v6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

static const uint8_t *mac_of(const char *addr)
{
	return dp_mac_of(hosts, sizeof(hosts) / sizeof(hosts[0]), addr, mac_other);
}

/* A client packet as it arrives on lbc0: TTL 64, full checksums. */
static uint8_t mk_ttl = 64;

static void mk(struct pkt *p, uint8_t proto, const char *src, uint16_t sport, const char *dst,
	       uint16_t dport, uint8_t flags, const char *payload)
{
	bool v6 = is_v6(src);

	memset(p, 0, sizeof(*p));
	eth_mac(p, mac_cli, mac_of(src), v6 ? 0x86dd : 0x0800);
	if (v6)
		ip6(p, src, dst, proto);
	else
		ip4(p, src, dst, proto, 0);
	set_ttl(p, mk_ttl);
	if (proto == 6) {
		tcp_seq(p, sport, dport, 1000, flags & TCP_ACK ? 2000 : 0, flags);
		putn(p, payload, strlen(payload));
	} else {
		udp(p, sport, dport, payload);
	}
	finish_tx(p);
}

static struct lb_addr A(const char *s)
{
	struct lb_addr a = {};
	uint8_t fam;

	lb_addr_parse(s, &a, &fam);
	return a;
}

static int add_service_proto(const char *vip, uint16_t port, uint8_t proto, const char *ep,
			     uint16_t ep_port, struct lb_svc_key *out)
{
	struct lb_service s = {};
	struct lb_addr a = A(vip);
	int err;

	lb_svc_key_init(&s.key, &a, is_v6(vip) ? LB_AF_INET6 : LB_AF_INET, port, proto);
	err = lb_service_add(ctx, &s);
	if (!err && ep) {
		struct lb_endpoint e = { .port = htons(ep_port), .status = LB_EP_UP, .weight = 1 };

		lb_addr_parse(ep, &e.addr, &e.family);
		err = lb_endpoint_add(ctx, &s.key, &e);
	}
	if (err)
		fprintf(stderr, "dp_bench: service %s:%u: %s (%s)\n", vip, port, strerror(-err),
			lb_ctx_errmsg(ctx));
	if (out)
		*out = s.key;
	return err;
}

static int add_service(const char *vip, uint16_t port, const char *ep, uint16_t ep_port,
		       struct lb_svc_key *out)
{
	return add_service_proto(vip, port, 6, ep, ep_port, out);
}

/* ---- running --------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* One BPF_PROG_TEST_RUN; *dur: kernel ns per repeat; *wall: ns around the call. */
static int run(int fd, bool xdp, const struct pkt *p, int ifindex, uint32_t repeat,
	       uint32_t *dur, uint64_t *wall, int *verdict)
{
	struct __sk_buff skb = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	struct xdp_md xctx = { .data_end = p->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = p->len,
		    .repeat = repeat);
	uint64_t t0;
	int rc;

	if (xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	t0 = now_ns();
	rc = bpf_prog_test_run_opts(fd, &o);
	if (wall)
		*wall = now_ns() - t0;
	if (rc)
		return -errno;
	if (dur)
		*dur = o.duration;
	*verdict = (int)o.retval;
	return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Method repeat: median over RUNS of the kernel's ns per repeat. */
static double m_repeat(int fd, bool xdp, const struct pkt *p, int ifindex, int want, bool *ok)
{
	double per[RUNS];
	uint32_t dur = 0;
	int v = 0;

	*ok = true;
	for (int r = 0; r < RUNS; r++) {
		if (run(fd, xdp, p, ifindex, REPEAT, &dur, NULL, &v) || v != want)
			*ok = false;
		per[r] = dur;
	}
	return median(per, RUNS);
}

/*
 * Method hot: forwarded packets.  repeat=HOT_REPEAT on a packet with TTL 255 whose
 * flow has a ping-pong entry (pingpong()), so every repeat is a conntrack hit that
 * really rewrites and forwards; per run the median over HOT_CALLS calls of the
 * kernel's ns per repeat, median of RUNS.
 */
/* One run of method hot: the median call, not the mean, so that a call an interrupt
 * or the other CPU's load (shared caches, the host) hit does not move it. */
static double hot_run(int fd, bool xdp, const struct pkt *p, int ifindex, int want, bool *ok)
{
	static double calls[HOT_CALLS];
	int n = xdp ? HOT_CALLS_XDP : HOT_CALLS, v = 0;
	uint32_t dur = 0;

	for (int i = 0; i < n; i++) {
		if (run(fd, xdp, p, ifindex, HOT_REPEAT, &dur, NULL, &v) || v != want)
			*ok = false;
		calls[i] = dur;
	}
	return median(calls, n);
}

static double m_hot(int fd, bool xdp, const struct pkt *p, int ifindex, int want, bool *ok)
{
	double per[RUNS];

	*ok = true;
	for (int r = 0; r < RUNS; r++)
		per[r] = hot_run(fd, xdp, p, ifindex, want, ok);
	return median(per, RUNS);
}

/*
 * Methods single and syscall from the same calls (repeat=1): median per run of
 * the kernel's duration and of the wall time around the syscall, median of RUNS.
 * gen(p, run, i) builds call i's packet (NULL: always p as given); between runs
 * between() is called when set.
 */
typedef void (*gen_fn)(struct pkt *p, int run, int i);

static void m_single(int fd, bool xdp, struct pkt *p, int ifindex, int want, int calls,
		     gen_fn gen, void (*between)(void), double *single, double *sys, bool *ok)
{
	double k[RUNS], w[RUNS], *kd = malloc(calls * sizeof(double)),
	       *wd = malloc(calls * sizeof(double));
	uint32_t dur = 0;
	uint64_t wall = 0;
	int v = 0;

	*single = *sys = 0;
	*ok = kd && wd;
	for (int r = 0; r < RUNS && kd && wd; r++) {
		if (between)
			between();
		for (int i = 0; i < calls; i++) {
			if (gen)
				gen(p, r, i);
			if (run(fd, xdp, p, ifindex, 1, &dur, &wall, &v) || v != want)
				*ok = false;
			kd[i] = dur;
			wd[i] = wall;
		}
		k[r] = median(kd, calls);
		w[r] = median(wd, calls);
	}
	if (kd && wd) {
		*single = median(k, RUNS);
		*sys = median(w, RUNS);
	}
	free(kd);
	free(wd);
}

/* ---- cases ----------------------------------------------------------------- */

static double floor_hot[2], floor_rep[2], floor_single[2], floor_sys[2];	/* [0] tc, [1] xdp */

static void gen_syn4(struct pkt *p, int r, int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.%d.%d", 2 + r, 1 + i / 60000);
	mk(p, 6, src, 1024 + i % 60000, V4, 80, TCP_SYN, "");
}

/* V4:80's allow list: 9,999 /32s in 198.18.128.0/17 and 198.18.0.0/17, which holds
 * every source of gen_syn4; or none. */
#define ALLOW_LIST	10000
static int allow_list(bool on)
{
	struct lb_prefix *v = calloc(ALLOW_LIST, sizeof(*v));
	struct lb_addr vip = A(V4);
	struct lb_svc_key k;
	uint8_t fam;
	int err;

	if (!v)
		return -1;
	lb_svc_key_init(&k, &vip, LB_AF_INET, 80, 6);
	for (int i = 0; i < ALLOW_LIST - 1; i++) {
		char s[32];

		snprintf(s, sizeof(s), "198.18.%d.%d/32", 128 + i / 256, i % 256);
		lb_prefix_parse(s, &v[i], &fam);
	}
	lb_prefix_parse("198.18.0.0/17", &v[ALLOW_LIST - 1], &fam);
	err = on ? lb_service_allow_add(ctx, &k, v, ALLOW_LIST) :
	      lb_service_allow_del(ctx, &k, v, ALLOW_LIST);
	if (err)
		fprintf(stderr, "allow list: %s (%s)\n", strerror(-err), lb_ctx_errmsg(ctx));
	free(v);
	return err;
}

static void flush_ct(void)
{
	size_t n;

	lb_ct_flush(ctx, NULL, &n);
}

static uint64_t drops_of(enum lb_drop reason)
{
	struct lb_counter c[LB_DROP_MAX] = {};

	return lb_drops(ctx, c) ? 0 : c[reason].packets;
}

/*
 * BPF_PROG_TEST_RUN runs every repeat on the same buffer: after the first, the
 * packet is client -> ep:port with TTL - 1.  A second entry for that tuple that
 * rewrites back to vip:80 makes the packet go back and forth, so every repeat does
 * the work of an established packet (lookup, real rewrite, FIB, TTL, redirect).
 */
static int pingpong(const char *client, uint16_t sport, const char *vip, const char *ep,
		    uint16_t ep_port)
{
	int fd = lb_map_fd(ctx, LB_MAP_CT), err;
	struct lb_ct_key k = {}, kb;
	struct lb_ct a, b;

	if (fd < 0)
		return fd;
	k.src = A(client);
	k.dst = A(vip);
	k.sport = htons(sport);
	k.dport = htons(80);
	k.proto = 6;
	k.family = is_v6(client) ? LB_AF_INET6 : LB_AF_INET;
	err = bpf_map_lookup_elem(fd, &k, &a) ? -errno : 0;
	if (!err) {
		kb = k;
		kb.dst = A(ep);
		kb.dport = htons(ep_port);
		b = a;
		b.nat_dst = k.dst;
		b.nat_dport = k.dport;
		b.state = LB_CT_EST;
		err = bpf_map_update_elem(fd, &kb, &b, BPF_ANY) ? -errno : 0;
	}
	close(fd);
	if (err)
		fprintf(stderr, "dp_bench: ping-pong entry %s: %s\n", client, strerror(-err));
	return err;
}

/* Established TCP flow client -> vip:80: SYN once (must be redirected), then ACKs
 * with TTL 255 and a ping-pong entry. */
static bool establish(const char *client, const char *vip, uint16_t sport, struct pkt *ack)
{
	struct pkt syn;
	int v = -100;

	mk_ttl = 64;
	mk(&syn, 6, client, sport, vip, 80, TCP_SYN, "");
	if (run(tc_fd, false, &syn, if_cli, 1, NULL, NULL, &v) || v != TC_ACT_REDIRECT) {
		fprintf(stderr, "dp_bench: SYN %s -> %s: verdict %d, want %d (redirect)\n",
			client, vip, v, TC_ACT_REDIRECT);
		return false;
	}
	mk_ttl = 255;
	mk(ack, 6, client, sport, vip, 80, TCP_ACK, "x");
	mk_ttl = 64;
	return pingpong(client, sport, vip, is_v6(client) ? E6A : E4A, 8080) == 0;
}

/* One BPF_PROG_TEST_RUN with repeat=1, the output packet into out. */
static int run_out(int fd, bool xdp, const struct pkt *p, int ifindex, struct pkt *out, int *verdict)
{
	return dp_test_run(fd, xdp, ifindex, p->b, p->len, out->b, sizeof(out->b), &out->len,
			   verdict);
}

/*
 * The XDP fast path rewrites with its own checksum code: for an established flow
 * its output must be the TC path's, byte for byte (TC's is checked exactly by
 * tests/datapath/nat_test), with valid checksums.  TCP and UDP, IPv4 and IPv6; the
 * first packet of each flow goes through TC to create it.
 */
static int check_xdp_same(void)
{
	static const struct { const char *c, *v, *e; uint8_t proto; } f[] = {
		{ C4, V4, E4A, 6 }, { C6, V6, E6A, 6 }, { C4, V4, E4A, 17 }, { C6, V6, E6A, 17 },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		struct pkt p, t, x;
		int vt = 0, vx = 0, v = 0;

		if (f[i].proto == 17 && add_service_proto(f[i].v, 53, 17, f[i].e, 5353, NULL))
			return -1;
		mk(&p, f[i].proto, f[i].c, 41000, f[i].v, f[i].proto == 17 ? 53 : 80,
		   f[i].proto == 6 ? TCP_ACK : 0, "check");
		if (run_out(tc_fd, false, &p, if_cli, &t, &v) || v != TC_ACT_REDIRECT ||
		    run_out(tc_fd, false, &p, if_cli, &t, &vt) || run_out(xdp_fd, true, &p, if_cli, &x, &vx)) {
			fprintf(stderr, "dp_bench: xdp check %zu: test run failed\n", i);
			return -1;
		}
		t.proto = x.proto = f[i].proto;
		if (vt != TC_ACT_REDIRECT || vx != XDP_REDIRECT || t.len != x.len ||
		    memcmp(t.b, x.b, t.len) || pkt_parse(&x) ||
		    (!is_v6(f[i].c) && verify_ip4_csum(&x)) || verify_l4_csum(&x, f[i].proto)) {
			fprintf(stderr, "dp_bench: xdp check %s %s: verdicts %d/%d, lengths %zu/%zu, "
				"same bytes %d\n", f[i].proto == 6 ? "tcp" : "udp", f[i].c, vt, vx,
				t.len, x.len, t.len == x.len && !memcmp(t.b, x.b, t.len));
			bad++;
		}
	}
	printf("  # check: xdp output == tc output, valid checksums (tcp4 tcp6 udp4 udp6): %s\n",
	       bad ? "NO" : "yes");
	return bad ? -1 : 0;
}

/* DP_BENCH_QUICK set: only the floor and the established flows, method hot
 * (seconds, for trying changes; make bench never sets it); DP_BENCH_QUICK=tc:
 * tc only (an XDP test run costs milliseconds per call outside the program). */
static bool quick, quick_tc;
/* The established tcp4 tc rows' cost over the floor (hot) and in ns (single), for
 * the new-flow ratios. */
static double est_tc4_plus, est_tc4_single;

static void est_rows(const char *name, struct pkt *ack, const char *note)
{
	char ref_name[48], ratio[64];
	double s, w, r;
	bool ok, rok;

	snprintf(ref_name, sizeof(ref_name), "reference %s", name + strlen("established "));
	rok = ref_flow(ack) == 0;
	r = m_hot(rtc_fd, false, ack, if_cli, TC_ACT_REDIRECT, &ok);
	add_row(ref_name, "tc", "hot", r, floor_hot[0], ok && rok, "hash lookup + redirect");
	s = m_hot(tc_fd, false, ack, if_cli, TC_ACT_REDIRECT, &ok);
	snprintf(ratio, sizeof(ratio), "%.2fx reference%s%s", s / r, note ? "; " : "", note ?: "");
	add_row(name, "tc", "hot", s, floor_hot[0], ok, ratio);
	if (!strcmp(name, "established tcp4")) {
		est_tc4_plus = s - floor_hot[0];
		/* One packet per call, as a new flow is measured (cold caches). */
		m_single(tc_fd, false, ack, if_cli, TC_ACT_REDIRECT, SINGLE_CALLS, NULL, NULL,
			 &est_tc4_single, &w, &ok);
		if (quick)
			add_row(name, "tc", "single", est_tc4_single, 0, ok, "floor: see below");
	}
	if (quick && quick_tc)
		return;
	r = m_hot(rxdp_fd, true, ack, if_cli, XDP_REDIRECT, &ok);
	add_row(ref_name, "xdp", "hot", r, floor_hot[1], ok && rok, "hash lookup + redirect");
	s = m_hot(xdp_fd, true, ack, if_cli, XDP_REDIRECT, &ok);
	snprintf(ratio, sizeof(ratio), "%.2fx reference%s%s", s / r, note ? "; " : "", note ?: "");
	add_row(name, "xdp", "hot", s, floor_hot[1], ok, ratio);
	if (quick)
		return;

	if (!strcmp(name, "established tcp4"))
		add_row(name, "tc", "single", est_tc4_single, floor_single[0], ok, note);
	else {
		m_single(tc_fd, false, ack, if_cli, TC_ACT_REDIRECT, SINGLE_CALLS, NULL, NULL, &s,
			 &w, &ok);
		add_row(name, "tc", "single", s, floor_single[0], ok, note);
	}
	m_single(xdp_fd, true, ack, if_cli, XDP_REDIRECT, SINGLE_CALLS, NULL, NULL, &s, &w, &ok);
	add_row(name, "xdp", "single", s, floor_single[1], ok, note);
}

/*
 * DP_BENCH_SPIN=SECONDS (quick mode): after the rows, run the established flow
 * hot for that long, for a profiler to watch (perf record -C <cpu>);
 * DP_BENCH_SPIN_CASE = tc4 (default) | tc6 | xdp4 | xdp6.
 */
static void spin(struct pkt *ack4, struct pkt *ack6)
{
	const char *c = getenv("DP_BENCH_SPIN_CASE") ?: "tc4";
	double secs = getenv("DP_BENCH_SPIN") ? atof(getenv("DP_BENCH_SPIN")) : 0;
	bool xdp = !strncmp(c, "xdp", 3);
	struct pkt *p = strchr(c, '6') ? ack6 : ack4;
	uint64_t end = now_ns() + secs * 1e9, n = 0;
	int v = 0;

	if (secs <= 0)
		return;
	printf("  # spinning %s for %.0f s on CPU %ld\n", c, secs, m_nproc > 1 ? m_nproc - 1 : 0);
	fflush(stdout);
	while (now_ns() < end) {
		run(xdp ? xdp_fd : tc_fd, xdp, p, if_cli, HOT_REPEAT, NULL, NULL, &v);
		n += HOT_REPEAT;
	}
	printf("  # spun %llu packets, last verdict %d\n", (unsigned long long)n, v);
}

/*
 * New flows: a SYN through the slow path, a fresh source each call (method
 * single); the note gives its cost over the floor against the established tcp4
 * tc row's (target: 3x).
 */
static void newflow_row(struct pkt *p)
{
	char note[64] = "";
	double s, w;
	bool ok;

	m_single(tc_fd, false, p, if_cli, TC_ACT_REDIRECT, NEWFLOW_CALLS, gen_syn4, flush_ct,
		 &s, &w, &ok);
	/* Over the floor, against the established tcp4 tc row measured the same way
	 * (single: one packet per call) and against its hot figure. */
	if (est_tc4_plus > 0 && est_tc4_single > floor_single[0])
		snprintf(note, sizeof(note), "%.1fx est. tcp4 tc single, %.1fx hot (+floor)",
			 (s - floor_single[0]) / (est_tc4_single - floor_single[0]),
			 (s - floor_single[0]) / est_tc4_plus);
	add_row("new flow tcp4 (SYN)", "tc", "single", s, floor_single[0], ok, note);
	add_row("new flow tcp4 (SYN)", "tc", "syscall", w, floor_sys[0], ok,
		"per call, syscall incl.");
}

static int phase_basic(void)
{
	struct pkt p, ack4, ack6;
	double s, w, x;
	bool ok;
	int v = 0;
	uint64_t d0;

	if (open_root(NULL))
		return -1;
	if (add_service(V4, 80, E4A, 8080, NULL) || add_service(V6, 80, E6A, 8080, NULL) ||
	    add_service(V4DROP, 80, NULL, 0, NULL))
		return -1;

	/* (a) floor */
	mk(&p, 6, C4, 40000, V4, 80, TCP_ACK, "x");
	if (quick) {
		floor_hot[0] = m_hot(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, &ok);
		add_row("floor", "tc", "hot", floor_hot[0], floor_hot[0], ok, NULL);
		if (!quick_tc) {
			floor_hot[1] = m_hot(fxdp_fd, true, &p, if_cli, XDP_PASS, &ok);
			add_row("floor", "xdp", "hot", floor_hot[1], floor_hot[1], ok, NULL);
		}
		if ((!quick_tc && check_xdp_same()) ||
		    !establish(C4, V4, 40000, &ack4) || !establish(C6, V6, 40000, &ack6))
			return -1;
		est_rows("established tcp4", &ack4, NULL);
		est_rows("established tcp6", &ack6, NULL);
		m_single(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, SINGLE_CALLS, NULL, NULL,
			 &floor_single[0], &floor_sys[0], &ok);
		add_row("floor", "tc", "single", floor_single[0], floor_single[0], ok, NULL);
		newflow_row(&p);
		spin(&ack4, &ack6);
		return 0;
	}
	floor_rep[0] = m_repeat(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, &ok);
	add_row("floor", "tc", "repeat", floor_rep[0], floor_rep[0], ok, NULL);
	floor_rep[1] = m_repeat(fxdp_fd, true, &p, if_cli, XDP_PASS, &ok);
	add_row("floor", "xdp", "repeat", floor_rep[1], floor_rep[1], ok, NULL);
	floor_hot[0] = m_hot(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, &ok);
	add_row("floor", "tc", "hot", floor_hot[0], floor_hot[0], ok, NULL);
	floor_hot[1] = m_hot(fxdp_fd, true, &p, if_cli, XDP_PASS, &ok);
	add_row("floor", "xdp", "hot", floor_hot[1], floor_hot[1], ok, NULL);
	m_single(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, SINGLE_CALLS, NULL, NULL,
		 &floor_single[0], &floor_sys[0], &ok);
	add_row("floor", "tc", "single", floor_single[0], floor_single[0], ok, NULL);
	add_row("floor", "tc", "syscall", floor_sys[0], floor_sys[0], ok, "per call, syscall incl.");
	m_single(fxdp_fd, true, &p, if_cli, XDP_PASS, SINGLE_CALLS, NULL, NULL,
		 &floor_single[1], &floor_sys[1], &ok);
	add_row("floor", "xdp", "single", floor_single[1], floor_single[1], ok, NULL);

	/* (b) not ours: UDP to an address that is no service: tail call, service miss. */
	mk(&p, 17, C4, 5353, NOTSVC4, 53, 0, "query");
	x = m_repeat(tc_fd, false, &p, if_cli, TC_ACT_UNSPEC, &ok);
	add_row("not ours (udp4, no service)", "tc", "repeat", x, floor_rep[0], ok, NULL);
	m_single(tc_fd, false, &p, if_cli, TC_ACT_UNSPEC, SINGLE_CALLS, NULL, NULL, &s, &w, &ok);
	add_row("not ours (udp4, no service)", "tc", "single", s, floor_single[0], ok, NULL);

	/* (f) dropped: service without endpoints. */
	d0 = drops_of(LB_DROP_NO_ENDPOINT);
	mk(&p, 6, C4, 40001, V4DROP, 80, TCP_SYN, "");
	x = m_repeat(tc_fd, false, &p, if_cli, TC_ACT_SHOT, &ok);
	ok = ok && drops_of(LB_DROP_NO_ENDPOINT) - d0 == (uint64_t)RUNS * REPEAT;
	add_row("drop (no endpoint)", "tc", "repeat", x, floor_rep[0], ok, NULL);
	m_single(tc_fd, false, &p, if_cli, TC_ACT_SHOT, SINGLE_CALLS, NULL, NULL, &s, &w, &ok);
	add_row("drop (no endpoint)", "tc", "single", s, floor_single[0], ok, NULL);

	/* (c), (d) established flows. */
	if (check_xdp_same())
		return -1;
	if (!establish(C4, V4, 40000, &ack4) || !establish(C6, V6, 40000, &ack6))
		return -1;
	/* The input is not restored between repeats: the second repeat sees the
	 * rewritten packet, misses conntrack and is "not ours".  Shown once, on a
	 * flow of its own (no ping-pong entry). */
	mk(&p, 6, C4, 40002, V4, 80, TCP_SYN, "");
	run(tc_fd, false, &p, if_cli, 1, NULL, NULL, &v);
	mk(&p, 6, C4, 40002, V4, 80, TCP_ACK, "x");
	run(tc_fd, false, &p, if_cli, 1, NULL, NULL, &v);
	printf("  # check: established ACK repeat=1 verdict %d", v);
	run(tc_fd, false, &p, if_cli, 2, NULL, NULL, &v);
	printf(", repeat=2 verdict %d (%s)\n", v, v == TC_ACT_REDIRECT ?
	       "input restored per repeat" : "input NOT restored per repeat: hence method hot");
	est_rows("established tcp4", &ack4, NULL);
	est_rows("established tcp6", &ack6, NULL);

	/* (e) new flows: SYN through the slow path, fresh source each call. */
	newflow_row(&p);
	/* The same with an allow list of 10,000 prefixes: one LPM lookup more. */
	if (allow_list(true))
		return -1;
	m_single(tc_fd, false, &p, if_cli, TC_ACT_REDIRECT, NEWFLOW_CALLS, gen_syn4, flush_ct,
		 &s, &w, &ok);
	add_row("new flow tcp4, 10k allow list", "tc", "single", s, floor_single[0], ok,
		NULL);
	if (allow_list(false))
		return -1;

	/* The reference flow of the scale rows (scale_rows()): the new-flow runs
	 * flushed conntrack, so it is established again. */
	if (!establish(C4, V4, 40010, &ref_ack))
		return -1;
	ref_tc = dup(tc_fd);
	ref_xdp = dup(xdp_fd);
	return 0;
}

/* Services beyond the first: liblb up to LIBLB_SVC_MAX, the rest written directly. */
static int add_services(int have, int want, uint32_t *next_id)
{
	int fd = lb_map_fd(ctx, LB_MAP_SERVICES), err = 0;
	enum { CHUNK = 4096 };
	static struct lb_svc_key keys[CHUNK];
	static struct lb_svc vals[CHUNK];
	uint64_t t0 = now_ns();
	int n = 0, via_lib = 0;

	if (fd < 0)
		return fd;
	for (int i = have; i < want && !err; i++) {
		int j = i + 256;	/* 198.19.1.0 on: clear of V4 */
		struct lb_addr a = { .a = { htonl(0xc6130000u | (j & 0xffff)) } };
		uint16_t port = 1000 + (j >> 16);

		if (i < LIBLB_SVC_MAX) {
			struct lb_service s = {};

			lb_svc_key_init(&s.key, &a, LB_AF_INET, port, 6);
			err = lb_service_add(ctx, &s);
			via_lib++;
			continue;
		}
		memset(&vals[n], 0, sizeof(vals[n]));
		lb_svc_key_init(&keys[n], &a, LB_AF_INET, port, 6);
		vals[n].id = (*next_id)++;
		vals[n].family = LB_AF_INET;
		vals[n].sched = LB_SCHED_RR;
		if (++n == CHUNK || i + 1 == want) {
			__u32 cnt = n;

			err = bpf_map_update_batch(fd, keys, vals, &cnt, NULL) ? -errno : 0;
			n = 0;
		}
	}
	close(fd);
	if (err)
		fprintf(stderr, "dp_bench: adding services: %s\n", strerror(-err));
	else
		printf("  # services %d -> %d: %d via lb_service_add, %d written directly, %.1f s\n",
		       have, want, via_lib, want - have - via_lib, (now_ns() - t0) / 1e9);
	return err;
}

/* Synthetic live flows (one entry each, EST, last seen now), src 10.x.y.z. */
static int fill_ct(int have, int want)
{
	int fd = lb_map_fd(ctx, LB_MAP_CT), err = 0, n = 0;
	enum { CHUNK = 8192 };
	static struct lb_ct_key keys[CHUNK];
	static struct lb_ct vals[CHUNK];
	uint64_t t0 = now_ns(), now = now_ns();

	if (fd < 0)
		return fd;
	for (int i = have; i < want && !err; i++) {
		struct lb_ct_key *k = &keys[n];
		struct lb_ct *c = &vals[n];

		memset(k, 0, sizeof(*k));
		memset(c, 0, sizeof(*c));
		k->src.a[0] = htonl(0x0a000000u | (i >> 8));
		k->dst = A(V4);
		k->sport = htons(1024 + (i & 0xff));
		k->dport = htons(80);
		k->proto = 6;
		k->family = LB_AF_INET;
		c->nat_src = k->src;
		c->nat_sport = k->sport;
		c->nat_dst = A(E4A);
		c->nat_dport = htons(8080);
		c->state = LB_CT_EST;
		c->svc_id = 1;
		c->ep_id = 1;
		c->created_ns = c->last_seen_ns = now;
		if (++n == CHUNK || i + 1 == want) {
			__u32 cnt = n;

			err = bpf_map_update_batch(fd, keys, vals, &cnt, NULL) ? -errno : 0;
			n = 0;
		}
	}
	close(fd);
	if (err)
		fprintf(stderr, "dp_bench: filling conntrack: %s\n", strerror(-err));
	else
		printf("  # conntrack +%d synthetic entries, %.1f s\n", want - have,
		       (now_ns() - t0) / 1e9);
	return err;
}

/*
 * The reference: the established tcp4 flow of the basic phase's root, whose programs
 * (and through them its maps) stay alive after the root is removed.  Each scale row
 * is measured in turns with it, and its "vs first" compares the row's ratio to the
 * reference with the first row's: a machine that slows down or speeds up between
 * rows (others' load on shared CPUs) moves both alike.
 */
static void scale_rows(const char *name, struct pkt *ack, double base_ratio[2])
{
	static const char *const hooks[2] = { "tc", "xdp" };
	double cur[RUNS], ratio[RUNS], s, q;
	char note[64];
	bool ok;

	for (int h = 0; h < 2; h++) {
		int fd = h ? xdp_fd : tc_fd, rfd = h ? ref_xdp : ref_tc;
		int want = h ? XDP_REDIRECT : TC_ACT_REDIRECT;

		ok = true;
		for (int r = 0; r < RUNS; r++) {
			double ref = rfd >= 0 ? hot_run(rfd, h, &ref_ack, if_cli, want, &ok) : 0;

			cur[r] = hot_run(fd, h, ack, if_cli, want, &ok);
			ratio[r] = ref > 0 ? cur[r] / ref : 0;
		}
		s = median(cur, RUNS);
		q = median(ratio, RUNS);
		note[0] = '\0';
		if (base_ratio[h] <= 0)
			base_ratio[h] = q;
		else if (q > 0)
			snprintf(note, sizeof(note), "%+.1f%% vs first", 100 * (q - base_ratio[h]) / base_ratio[h]);
		add_row(name, hooks[h], "hot", s, floor_hot[h], ok, note);
	}
}

static int phase_scale(void)
{
	/* A service reserves 16 selection slots even with no endpoint: 100,000 of them
	 * need 1.6M (the default is 1M). */
	const struct lb_sizes big = { .services = 131072, .endpoints = 16384, .conntrack = 2200000,
				      .selection = 1u << 21 };
	static const int svcs[] = { 1, 10000, 100000 }, flows[] = { 1000, 100000, 1000000 };
	double base_s[2] = { 0, 0 }, base_f[2] = { 0, 0 };	/* first rows' ratios */
	struct pkt ack;
	uint32_t next_id = LIBLB_SVC_MAX + 1;
	int have = 1;
	char name[48];

	/* (g) services: fresh root with lbattach-size tables. */
	if (open_root(&big) || add_service(V4, 80, E4A, 8080, NULL) ||
	    !establish(C4, V4, 40000, &ack))
		return -1;
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		if (add_services(have, svcs[i], &next_id))
			return -1;
		have = svcs[i];
		snprintf(name, sizeof(name), "est tcp4, %d services", svcs[i]);
		scale_rows(name, &ack, base_s);
	}

	/* (g) conntrack: another fresh root, one service, N entries in lb_ct. */
	if (open_root(&big) || add_service(V4, 80, E4A, 8080, NULL) ||
	    !establish(C4, V4, 40000, &ack))
		return -1;
	have = 3;	/* the flow's two entries and its ping-pong entry */
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		if (fill_ct(have, flows[i]))
			return -1;
		have = flows[i];
		snprintf(name, sizeof(name), "est tcp4, %dk ct entries", flows[i] / 1000);
		scale_rows(name, &ack, base_f);
	}
	return 0;
}

/*
 * (h) new-flow cost against the number of endpoints of the service, for every
 * scheduler.  Per scheduler: first one service of LB_SVC_EPS_MAX endpoints loaded
 * alone with lb_ruleset_restore (its wall time is the load row, ns); then four
 * services of 8, 64, 1,024 and 4,096 endpoints (weights 1, 2, 3) on their own
 * VIPs, measured in turns: each run takes the median of NEWFLOW_CALLS SYNs from
 * fresh sources to each service, the order rotating from run to run, and the
 * note is the median over the runs of each size's ratio to the 8-endpoint
 * service of the same run, so that the shared machine's drift cancels.
 */
static const int eps_sizes[] = { 8, 64, 1024, LB_SVC_EPS_MAX };
#define EPS_SIZES	(sizeof(eps_sizes) / sizeof(eps_sizes[0]))

static char eps_vip[32];

static void gen_syn_eps(struct pkt *p, int r, int i)
{
	char src[32];

	snprintf(src, sizeof(src), "198.18.%d.%d", 2 + r, 1 + i / 60000);
	mk(p, 6, src, 1024 + i % 60000, eps_vip, 80, TCP_SYN, "");
}

static void eps_vip_of(size_t size_idx)
{
	snprintf(eps_vip, sizeof(eps_vip), "198.19.1.%zu", size_idx + 1);
}

/* Add service eps_vip with n endpoints to rs; its key in *k. */
static int eps_service(struct lb_ruleset *rs, enum lb_sched sched, int n, struct lb_svc_key *k)
{
	struct lb_ruleset_svc *r = lb_ruleset_add(rs);
	struct lb_addr a = A(eps_vip);

	if (!r)
		return -ENOMEM;
	lb_svc_key_init(k, &a, LB_AF_INET, 80, 6);
	r->svc.key = *k;
	r->svc.sched = sched;
	for (int i = 0; i < n; i++) {
		struct lb_endpoint *e = lb_ruleset_ep_add(r);
		char ep[32];

		if (!e)
			return -ENOMEM;
		snprintf(ep, sizeof(ep), "198.18.%d.%d", 64 + i / 250, 1 + i % 250);
		lb_addr_parse(ep, &e->addr, &e->family);
		e->port = htons(8080);
		e->weight = 1 + i % 3;
	}
	return 0;
}

static int eps_restore(struct lb_ruleset *rs, const char *what)
{
	int err = lb_ruleset_restore(ctx, rs, NULL);

	lb_ruleset_free(rs);
	if (err)
		fprintf(stderr, "dp_bench: restore %s: %s (%s)\n", what, strerror(-err),
			lb_ctx_errmsg(ctx));
	return err;
}

/* One run: the median kernel ns of calls new flows to eps_vip. */
static double newflow_run(int r, int calls, bool *ok)
{
	double *kd = malloc(calls * sizeof(double)), m;
	uint32_t dur = 0;
	uint64_t wall = 0;
	struct pkt p;
	int v = 0;

	if (!kd) {
		*ok = false;
		return 0;
	}
	flush_ct();
	for (int i = 0; i < calls; i++) {
		gen_syn_eps(&p, r, i);
		if (run(tc_fd, false, &p, if_cli, 1, &dur, &wall, &v) || v != TC_ACT_REDIRECT)
			*ok = false;
		kd[i] = dur;
	}
	m = median(kd, calls);
	free(kd);
	return m;
}

static int phase_eps(void)
{
	static const enum lb_sched scheds[] = {
		LB_SCHED_RR, LB_SCHED_WRR, LB_SCHED_RANDOM, LB_SCHED_HASH, LB_SCHED_MAGLEV, LB_SCHED_LC,
	};
	/* A restore builds the new rule set beside the live one: Maglev's four sizes
	 * (about 700,000 slots) and the next load row's 524,287 at once. */
	const struct lb_sizes room = { .endpoints = 65536, .selection = 1u << 22 };
	char name[48], note[64];

	if (open_root(&room))
		return -1;
	for (size_t si = 0; si < sizeof(scheds) / sizeof(scheds[0]); si++) {
		const char *sn = lb_sched_name(scheds[si]);
		double ns[EPS_SIZES][RUNS], ratio[EPS_SIZES][RUNS];
		struct lb_svc_key keys[EPS_SIZES];
		struct lb_service_info info;
		struct lb_ruleset rs = {};
		bool ok[EPS_SIZES];
		uint64_t t0, t1;

		/* The load row: one service of LB_SVC_EPS_MAX, alone. */
		eps_vip_of(EPS_SIZES - 1);
		if (eps_service(&rs, scheds[si], LB_SVC_EPS_MAX, &keys[0]))
			return -1;
		t0 = now_ns();
		if (eps_restore(&rs, sn))
			return -1;
		t1 = now_ns();
		if (lb_service_get(ctx, &keys[0], &info))
			return -1;
		snprintf(name, sizeof(name), "load %s, %d eps", sn, LB_SVC_EPS_MAX);
		snprintf(note, sizeof(note), "restore %.0f ms; table %u KiB", (t1 - t0) / 1e6,
			 (info.sel_len + 1) * 4 / 1024);
		lb_service_info_free(&info, 1);
		add_row(name, "-", "wall", (double)(t1 - t0), 0, true, note);

		/* The four sizes side by side, measured in turns. */
		memset(&rs, 0, sizeof(rs));
		for (size_t ni = 0; ni < EPS_SIZES; ni++) {
			eps_vip_of(ni);
			if (eps_service(&rs, scheds[si], eps_sizes[ni], &keys[ni]))
				return -1;
			ok[ni] = true;
		}
		if (eps_restore(&rs, sn))
			return -1;
		for (int r = 0; r < RUNS; r++) {
			for (size_t t = 0; t < EPS_SIZES; t++) {
				size_t ni = (t + r) % EPS_SIZES;

				eps_vip_of(ni);
				ns[ni][r] = newflow_run(r, NEWFLOW_CALLS, &ok[ni]);
			}
			for (size_t ni = 0; ni < EPS_SIZES; ni++)
				ratio[ni][r] = ns[0][r] > 0 ? ns[ni][r] / ns[0][r] : 0;
		}
		for (size_t ni = 0; ni < EPS_SIZES; ni++) {
			note[0] = '\0';
			if (ni)
				snprintf(note, sizeof(note), "%+.1f%% vs 8 eps, same runs",
					 100 * (median(ratio[ni], RUNS) - 1));
			snprintf(name, sizeof(name), "new flow, %s, %d eps", sn, eps_sizes[ni]);
			add_row(name, "tc", "single", median(ns[ni], RUNS), floor_single[0], ok[ni],
				note);
		}
	}
	return 0;
}

/* ---- cost by ablation ------------------------------------------------------ */

/*
 * The per-packet cost of each part of the path (DP_BENCH_ABLATE, and make
 * bench): make builds the datapath once more per part with that part left out
 * (bpf/lib/ablate.h; build/bench/ablate/<part>/).  The whole build and each of
 * those are loaded in turn, ABLATE_ROUNDS rounds with the order rotated from
 * round to round, each round a fresh load, and measured alike: an established
 * tcp4 flow on tc and on xdp (method hot, one run) and new tcp4 flows on tc
 * (method single: RUNS runs of NEWFLOW_CALLS, as the new-flow row).  A part costs
 * the whole build's best round minus the best round of the build without it: one
 * load of the same build runs an established tc packet in ~115 ns or in ~150 ns,
 * whichever it gets (where the JIT and the maps land, we think), so a median of a
 * few rounds mixes the two, and the best round is the cost of the code.  A part
 * that has no effect on a measure is not measured there.
 */
#define ABLATE_ROUNDS	7

static const struct abl_part {
	const char *name;	/* NULL: the whole path */
	const char *what;
	bool est, newflow;	/* measured on an established flow, on a new one */
} abl_parts[] = {
	{ NULL,       "the whole path",					true,  true },
	{ "ifcount",  "interface counters (per-CPU array)",		true,  true },
	{ "clock",    "conntrack clock (jiffies x tick + offset)",	true,  true },
	{ "objstats", "service and endpoint counters",			true,  true },
	{ "l4csum",   "L4 checksum update (inline)",			true,  true },
	{ "ttlmac",   "TTL check and decrement, MACs",			true,  true },
	{ "expiry",   "conntrack timeout check",			true,  false },
	{ "track",    "conntrack state tracking",			true,  false },
	{ "nhcache",  "next-hop cache (negative: what it saves)",	true,  false },
	{ "select",   "scheduler (rr)",					false, true },
	{ "ctinsert", "both conntrack inserts",				false, true },
	{ "fib",      "next hop of a new flow (cached per endpoint)",	false, true },
	{ "epnh",     "next-hop cache per endpoint (negative: what it saves)", false, true },
};
#define ABL_PARTS	(sizeof(abl_parts) / sizeof(abl_parts[0]))
enum { ABL_TC, ABL_XDP, ABL_NEW, ABL_MEASURES };
static const char *const abl_measure[ABL_MEASURES] = {
	"established tcp4 tc", "established tcp4 xdp", "new flow tcp4 tc" };

/* One round of one build: its measures into ns[], false when a verdict was wrong. */
static bool abl_round(const struct abl_part *pt, double ns[ABL_MEASURES])
{
	char whole[sizeof(dp.bpf_dir)];
	struct pkt ack;
	bool ok = true;
	int err;

	snprintf(whole, sizeof(whole), "%s", dp.bpf_dir);
	if (pt->name && snprintf(dp.bpf_dir, sizeof(dp.bpf_dir), "%s/../bench/ablate/%s", whole,
				 pt->name) >= (int)sizeof(dp.bpf_dir)) {
		snprintf(dp.bpf_dir, sizeof(dp.bpf_dir), "%s", whole);
		fprintf(stderr, "dp_bench: ablation %s: path too long\n", pt->name);
		return false;
	}
	err = open_root(NULL);
	snprintf(dp.bpf_dir, sizeof(dp.bpf_dir), "%s", whole);
	if (err || add_service(V4, 80, E4A, 8080, NULL)) {
		fprintf(stderr, "dp_bench: ablation %s: loading failed (make the ablation builds)\n",
			pt->name ?: "whole");
		return false;
	}
	if (pt->est) {
		if (!establish(C4, V4, 40000, &ack))
			return false;
		ns[ABL_TC] = hot_run(tc_fd, false, &ack, if_cli, TC_ACT_REDIRECT, &ok);
		ns[ABL_XDP] = hot_run(xdp_fd, true, &ack, if_cli, XDP_REDIRECT, &ok);
	}
	if (pt->newflow) {
		struct pkt p;
		double sys;
		bool nok;

		m_single(tc_fd, false, &p, if_cli, TC_ACT_REDIRECT, NEWFLOW_CALLS, gen_syn4,
			 flush_ct, &ns[ABL_NEW], &sys, &nok);
		ok = ok && nok;
	}
	return ok;
}

/* DP_BENCH_ABLATE=part,part...: only those parts (and the whole build). */
static bool abl_wanted(const struct abl_part *pt)
{
	const char *only = getenv("DP_BENCH_ABLATE");
	size_t n = pt->name ? strlen(pt->name) : 0;

	if (!pt->name || !only || !strcmp(only, "1") || !*only)
		return true;
	for (const char *c = only; (c = strstr(c, pt->name)); c += n)
		if ((c == only || c[-1] == ',') && (c[n] == ',' || !c[n]))
			return true;
	return false;
}

/* A results file, its first line naming the machine; NULL (said) when it cannot be
 * written. */
static FILE *csv_open(const char *path, const char *what, const char *machine)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fprintf(stderr, "dp_bench: %s: %s\n", path, strerror(errno));
	else
		fprintf(f, "# lbkit dp_bench%s: %s\n", what, machine);
	return f;
}

static int write_ablation_csv(const char *path, const char *machine, double best[][ABL_MEASURES])
{
	FILE *f = csv_open(path, " ablation", machine);

	if (!f)
		return -1;
	fprintf(f, "# each part's cost = ns per packet of the whole build - of the build without "
		"the part (bpf/lib/ablate.h), best of %d rounds (each a fresh load) in rotated order; established: "
		"method hot (one run of %d calls x %d repeats on tc, %d on xdp); new flow: method "
		"single (median of %d calls x %d runs); whole: ns per packet of the whole build\n",
		ABLATE_ROUNDS, HOT_CALLS, HOT_REPEAT, HOT_CALLS_XDP, NEWFLOW_CALLS, RUNS);
	fprintf(f, "part,what,est_tcp4_tc_ns,est_tcp4_xdp_ns,new_tcp4_tc_ns,nproc,kernel,date\n");
	for (size_t i = 0; i < ABL_PARTS; i++) {
		if (!abl_wanted(&abl_parts[i]))
			continue;
		fprintf(f, "%s,\"%s\"", abl_parts[i].name ?: "whole", abl_parts[i].what);
		for (int m = 0; m < ABL_MEASURES; m++) {
			bool has = m == ABL_NEW ? abl_parts[i].newflow : abl_parts[i].est;
			double v = i ? best[0][m] - best[i][m] : best[0][m];

			if (has)
				fprintf(f, ",%.1f", v);
			else
				fprintf(f, ",");
		}
		fprintf(f, ",%ld,%s,%s\n", m_nproc, m_kernel, m_date);
	}
	fclose(f);
	return 0;
}

static int phase_ablate(const char *csv, const char *machine)
{
	static double ns[ABL_PARTS][ABLATE_ROUNDS][ABL_MEASURES];
	double best[ABL_PARTS][ABL_MEASURES] = {}, col[ABLATE_ROUNDS];
	bool ok[ABL_PARTS];
	char note[64];

	printf("  # cost by ablation: %zu builds x %d rounds\n", ABL_PARTS, ABLATE_ROUNDS);
	fflush(stdout);
	for (size_t i = 0; i < ABL_PARTS; i++)
		ok[i] = true;
	for (int r = 0; r < ABLATE_ROUNDS; r++)
		for (size_t j = 0; j < ABL_PARTS; j++) {
			size_t i = (j + r) % ABL_PARTS;

			if (!abl_wanted(&abl_parts[i]))
				continue;
			if (!abl_round(&abl_parts[i], ns[i][r])) {
				ok[i] = false;
				fprintf(stderr, "dp_bench: ablation %s round %d: a verdict was wrong\n",
					abl_parts[i].name ?: "whole", r);
			}
			/* Every round's figures: the spread behind the best round. */
			printf("  # round %d %-9s tc %6.1f  xdp %6.1f  new %7.1f\n", r,
			       abl_parts[i].name ?: "whole", ns[i][r][ABL_TC], ns[i][r][ABL_XDP],
			       ns[i][r][ABL_NEW]);
			fflush(stdout);
		}
	close_root();
	for (size_t i = 0; i < ABL_PARTS; i++)
		for (int m = 0; m < ABL_MEASURES; m++) {
			for (int r = 0; r < ABLATE_ROUNDS; r++)
				col[r] = ns[i][r][m];
			qsort(col, ABLATE_ROUNDS, sizeof(col[0]), cmp_dbl);
			best[i][m] = col[0];
		}
	for (int m = 0; m < ABL_MEASURES; m++)
		for (size_t i = 0; i < ABL_PARTS; i++) {
			bool has = m == ABL_NEW ? abl_parts[i].newflow : abl_parts[i].est;
			char name[48];

			if (!has || !abl_wanted(&abl_parts[i]))
				continue;
			snprintf(name, sizeof(name), "ablation: %s%s", i ? "without " : "whole",
				 i ? abl_parts[i].name : "");
			if (i)
				snprintf(note, sizeof(note), "%+.1f ns: %s", best[0][m] - best[i][m],
					 abl_parts[i].what);
			else
				snprintf(note, sizeof(note), "%s", abl_measure[m]);
			add_row(name, m == ABL_XDP ? "xdp" : "tc", m == ABL_NEW ? "single" : "hot",
				best[i][m], 0, ok[i], note);
		}
	for (size_t i = 0; i < ABL_PARTS; i++)
		if (!ok[i])
			return -1;
	return write_ablation_csv(csv, machine, best);
}

/* ---- output ---------------------------------------------------------------- */

static void print_table(void)
{
	printf("\n  %-30s %-4s %-8s %8s %8s  %s\n", "case", "hook", "method", "ns/pkt", "+floor",
	       "note");
	for (int i = 0; i < nrows; i++)
		printf("  %-30s %-4s %-8s %8.1f %8.1f  %s%s\n", rows[i].name, rows[i].hook,
		       rows[i].method, rows[i].ns, rows[i].ns - rows[i].floor,
		       rows[i].ok ? "" : "VERDICT MISMATCH ", rows[i].note);
}

static int write_csv(const char *path, const char *machine)
{
	FILE *f = csv_open(path, "", machine);

	if (!f)
		return -1;
	fprintf(f, "# repeat: kernel ns/repeat, repeat=%d, median of %d runs; hot: kernel ns/repeat, "
		"repeat=%d x %d calls on tc, %d on xdp (TTL 255, ping-pong conntrack entry), median call, median of %d runs; scale rows measured in turns with a reference flow, 'vs first' from the ratios to it; single: kernel ns, "
		"repeat=1, median of %d calls x %d runs; syscall: wall ns per call, syscall incl.\n",
		REPEAT, RUNS, HOT_REPEAT, HOT_CALLS, HOT_CALLS_XDP, RUNS, SINGLE_CALLS, RUNS);
	fprintf(f, "case,hook,method,ns_per_pkt,plus_floor,verdict_ok,note,nproc,kernel,date\n");
	for (int i = 0; i < nrows; i++)
		fprintf(f, "\"%s\",%s,%s,%.1f,%.1f,%d,\"%s\",%ld,%s,%s\n", rows[i].name,
			rows[i].hook, rows[i].method, rows[i].ns, rows[i].ns - rows[i].floor,
			rows[i].ok, rows[i].note, m_nproc, m_kernel, m_date);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *csv = argc > 1 ? argv[1] : "bench/results/datapath.csv";
	char machine[256], date[32], abl_csv[512];
	unsigned long mask;
	struct utsname u;
	time_t t = time(NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 1;

	if (geteuid()) {
		fprintf(stderr, "dp_bench: needs root\n");
		return 1;
	}
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	snprintf(machine, sizeof(machine), "nproc=%ld kernel=%s date=%s", ncpu, u.release, date);
	m_nproc = ncpu;
	/* The breakdown goes beside the main results: <dir of csv>/ablation.csv. */
	snprintf(abl_csv, sizeof(abl_csv), "%.*sablation.csv",
		 strrchr(csv, '/') ? (int)(strrchr(csv, '/') - csv + 1) : 0, csv);
	snprintf(m_kernel, sizeof(m_kernel), "%s", u.release);
	snprintf(m_date, sizeof(m_date), "%s", date);
	printf("dp_bench: %s\n", machine);
	/* The objects of this build tree: bench/../bpf */
	if (dp_root_bpf_dir(&dp, "../bpf"))
		return 1;
	/* One CPU for all of it: no migrations between runs. */
	mask = 1UL << (ncpu > 1 ? ncpu - 1 : 0);
	syscall(SYS_sched_setaffinity, 0, sizeof(mask), &mask);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	libbpf_set_print(NULL);
	if (setup_net() || dp_root_base(&dp, "lbbench")) {
		fprintf(stderr, "dp_bench: setup failed\n");
		return 1;
	}
	atexit(teardown);
	printf("  %-30s %-4s %-8s %8s %8s  %s\n", "case", "hook", "method", "ns/pkt", "+floor",
	       "note");
	quick = getenv("DP_BENCH_QUICK") != NULL;
	quick_tc = quick && !strcmp(getenv("DP_BENCH_QUICK"), "tc");
	if (getenv("DP_BENCH_EPS")) {
		/* Only the endpoint-count rows (phase_eps()), with the floor they need. */
		struct pkt p;
		bool ok;
		double w;

		mk(&p, 6, C4, 40000, V4, 80, TCP_ACK, "x");
		if (load_floor() == 0) {
			m_single(ftc_fd, false, &p, if_cli, TC_ACT_UNSPEC, SINGLE_CALLS, NULL, NULL,
				 &floor_single[0], &w, &ok);
			add_row("floor", "tc", "single", floor_single[0], floor_single[0], ok, NULL);
			rc = phase_eps() ? 1 : 0;
		}
	} else if (getenv("DP_BENCH_ABLATE")) {
		/* Only the cost by ablation. */
		rc = load_floor() == 0 && phase_ablate(abl_csv, machine) == 0 ? 0 : 1;
	} else if (load_floor() == 0 && load_ref() == 0 && phase_basic() == 0 &&
		   (quick || (phase_scale() == 0 && phase_eps() == 0 &&
			      phase_ablate(abl_csv, machine) == 0))) {
		rc = 0;
	}
	close_root();
	print_table();
	if (nrows && write_csv(csv, machine) == 0)
		printf("\nwrote %s\n", csv);
	if (rc)
		fprintf(stderr, "dp_bench: stopped early (see above)\n");
	return rc;
}
