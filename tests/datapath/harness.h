/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The world the datapath programs run in, shared by tests/datapath/dp_test.c,
 * tests/datapath/nat_test.c and bench/dp_bench.c:
 *
 *  - a private pin root: mkdtemp("/tmp/<prefix>.XXXXXX") + "/pins", the BPF
 *    objects of this build tree (found from /proc/self/exe), the datapath
 *    loaded with lb_open(LB_OPEN_CREATE | LB_OPEN_WRITE);
 *  - a private network namespace with two veth pairs, the LB's client side
 *    and its endpoint side, permanent neighbours and forwarding on:
 *
 *   clients 198.18.0.0/24  --  lbc0 198.18.0.254  [LB]  lbt0 198.18.1.1  --  endpoints
 *           2001:db8::/64      2001:db8::fe              2001:db8:1::1       2001:db8:1::/64
 *
 * No state of its own: every function works on what the caller passes in.
 * Setup diagnostics go where struct dp_log says (the tests: TAP comments
 * "# setup: " on stdout; the bench: "dp_bench: " on stderr).
 */
#ifndef LB_TESTS_DATAPATH_HARNESS_H
#define LB_TESTS_DATAPATH_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/sched.h>	/* CLONE_NEWNET */
#include <bpf/bpf.h>
#include <lb/lb.h>

int unshare(int flags);	/* glibc, declared in <sched.h> */

#define DP_CLI_DEV	"lbc0"	/* the LB's client-facing interface */
#define DP_EP_DEV	"lbt0"	/* the LB's endpoint-facing interface */

/* Where setup diagnostics go: "<prefix><message>" on f. */
struct dp_log {
	FILE *f;
	const char *prefix;
};

static inline __attribute__((format(printf, 2, 3)))
void dp_logf(const struct dp_log *lg, const char *fmt, ...)
{
	va_list ap;

	fputs(lg->prefix, lg->f);
	va_start(ap, fmt);
	vfprintf(lg->f, fmt, ap);
	va_end(ap);
}

/*
 * One BPF_PROG_TEST_RUN, repeat 1, of a tc program (an skb context) or an XDP one
 * on ifindex: the packet in, the packet out (*out_len bytes), *verdict what the
 * program returned.  0, or -errno when the run itself failed.
 */
static inline int dp_test_run(int prog_fd, bool xdp, int ifindex, const void *in,
			      uint32_t in_len, void *out, uint32_t out_size, size_t *out_len,
			      int *verdict)
{
	struct __sk_buff skb = { .ifindex = ifindex, .ingress_ifindex = ifindex };
	struct xdp_md xctx = { .data_end = in_len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = in_len,
		    .data_out = out, .data_size_out = out_size, .repeat = 1);

	if (xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*out_len = o.data_size_out;
	*verdict = (int)o.retval;
	return 0;
}

/* ---- private pin root ------------------------------------------------------ */

struct dp_root {
	char base[64];		/* the mkdtemp directory; "" when none */
	char root[128];		/* the pin root under base; "" when none */
	char bpf_dir[600];	/* the BPF objects of this build tree */
	struct lb_ctx *ctx;	/* open on root; NULL when none */
};

/* r->bpf_dir = <directory of this executable>/<rel>. */
static inline int dp_root_bpf_dir(struct dp_root *r, const char *rel)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(r->bpf_dir, sizeof(r->bpf_dir), "%s/%s", exe, rel);
	return 0;
}

/* r->base = mkdtemp("/tmp/<prefix>.XXXXXX"). */
static inline int dp_root_base(struct dp_root *r, const char *prefix)
{
	char tmpl[64];

	snprintf(tmpl, sizeof(tmpl), "/tmp/%s.XXXXXX", prefix);
	if (!mkdtemp(tmpl))
		return -errno;
	snprintf(r->base, sizeof(r->base), "%s", tmpl);
	return 0;
}

/* Pin root <base>/<name>, the datapath loaded into it (sizes NULL: defaults). */
static inline int dp_root_load(struct dp_root *r, const char *name, const struct lb_sizes *sizes,
			       const struct dp_log *lg)
{
	struct lb_open_opts o = { .flags = LB_OPEN_CREATE | LB_OPEN_WRITE };
	int err;

	snprintf(r->root, sizeof(r->root), "%s/%s", r->base, name);
	o.pin_root = r->root;
	o.bpf_dir = r->bpf_dir;
	err = lb_open(&r->ctx, &o);
	if (!err)
		err = sizes ? lb_datapath_load_sized(r->ctx, sizes) : lb_datapath_load(r->ctx);
	if (err)
		dp_logf(lg, "%s: %s (%s)\n", r->root, strerror(-err), lb_ctx_errmsg(r->ctx));
	return err;
}

/* Undo dp_root_load(): destroy the datapath, close, unmount and remove the root. */
static inline void dp_root_unload(struct dp_root *r)
{
	if (r->ctx) {
		lb_destroy(r->ctx);
		lb_close(r->ctx);
		r->ctx = NULL;
	}
	if (r->root[0]) {
		umount(r->root);
		rmdir(r->root);
		r->root[0] = '\0';
	}
}

/*
 * The usual case in one call: the objects at <exe dir>/<bpf_rel>, a base
 * /tmp/<prefix>.XXXXXX, pin root <base>/pins with the datapath loaded.
 */
static inline int dp_root_open(struct dp_root *r, const char *prefix, const char *bpf_rel,
			       const struct lb_sizes *sizes, const struct dp_log *lg)
{
	int err = dp_root_bpf_dir(r, bpf_rel);

	if (!err)
		err = dp_root_base(r, prefix);
	if (!err)
		err = dp_root_load(r, "pins", sizes, lg);
	return err;
}

/* Undo everything: the root, then the base.  Safe on a partial or repeated setup. */
static inline void dp_root_close(struct dp_root *r)
{
	dp_root_unload(r);
	if (r->base[0]) {
		rmdir(r->base);
		r->base[0] = '\0';
	}
}

/* ---- private network namespace --------------------------------------------- */

/* system() of a printf-formatted command; 0 or -1 (and a diagnostic). */
static inline __attribute__((format(printf, 2, 3)))
int dp_sh(const struct dp_log *lg, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		dp_logf(lg, "'%s' failed (status %d)\n", cmd, rc);
	return rc ? -1 : 0;
}

static inline int dp_write_file(const struct dp_log *lg, const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), rc;

	if (fd < 0) {
		dp_logf(lg, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	if (rc)
		dp_logf(lg, "%s: %s\n", path, strerror(errno));
	close(fd);
	return rc;
}

static inline int dp_read_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* A host around the LB: a permanent neighbour the FIB resolves to. */
struct dp_host {
	const char *addr;
	const char *dev;
	uint8_t mac[6];
};

/* The MAC of addr in hosts[n], dflt when it is none of them. */
static inline const uint8_t *dp_mac_of(const struct dp_host *hosts, size_t n, const char *addr,
				       const uint8_t *dflt)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hosts[i].addr, addr))
			return hosts[i].mac;
	return dflt;
}

/*
 * Enter a new network namespace and build the world above in it: the veths and
 * addresses, hosts[nhosts] as permanent neighbours, then the caller's extra[nextra]
 * commands, forwarding on.  Out: the ifindex and MAC of lbc0 and lbt0.
 */
static inline int dp_net_setup(const struct dp_log *lg, const struct dp_host *hosts, size_t nhosts,
			       const char *const *extra, size_t nextra,
			       int *if_cli, int *if_ep, uint8_t mac_cli[6], uint8_t mac_ep[6])
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add " DP_CLI_DEV " type veth peer name lbc1",
		"ip link add " DP_EP_DEV " type veth peer name lbt1",
		"ip link set " DP_CLI_DEV " address 02:00:00:00:00:fe",
		"ip link set " DP_EP_DEV " address 02:00:00:00:01:01",
		"ip addr add 198.18.0.254/24 dev " DP_CLI_DEV,
		"ip addr add 2001:db8::fe/64 dev " DP_CLI_DEV " nodad",
		"ip addr add 198.18.1.1/24 dev " DP_EP_DEV,
		"ip addr add 2001:db8:1::1/64 dev " DP_EP_DEV " nodad",
		"ip link set lbc1 up",
		"ip link set lbt1 up",
		"ip link set " DP_CLI_DEV " up",
		"ip link set " DP_EP_DEV " up",
	};

	if (unshare(CLONE_NEWNET)) {
		dp_logf(lg, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (dp_sh(lg, "%s", cmds[i]))
			return -1;
	for (size_t i = 0; i < nhosts; i++) {
		const uint8_t *m = hosts[i].mac;

		if (dp_sh(lg, "ip neigh add %s lladdr %02x:%02x:%02x:%02x:%02x:%02x dev %s nud permanent",
			  hosts[i].addr, m[0], m[1], m[2], m[3], m[4], m[5], hosts[i].dev))
			return -1;
	}
	for (size_t i = 0; i < nextra; i++)
		if (dp_sh(lg, "%s", extra[i]))
			return -1;
	if (dp_write_file(lg, "/proc/sys/net/ipv4/ip_forward", "1") ||
	    dp_write_file(lg, "/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return -1;
	*if_cli = if_nametoindex(DP_CLI_DEV);
	*if_ep = if_nametoindex(DP_EP_DEV);
	if (!*if_cli || !*if_ep || dp_read_mac(DP_CLI_DEV, mac_cli) || dp_read_mac(DP_EP_DEV, mac_ep)) {
		dp_logf(lg, "cannot read %s/%s\n", DP_CLI_DEV, DP_EP_DEV);
		return -1;
	}
	return 0;
}

#endif
