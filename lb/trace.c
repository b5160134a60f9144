// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lb_trace(): one packet, described by the caller, run through a private instance of
 * the datapath with BPF_PROG_TEST_RUN, recording what each stage decided.
 *
 * The instance is a second load of lb_datapath.bpf.o, pinned nowhere:
 *  - the rule maps, which the datapath only reads (lb_config, lb_services,
 *    lb_sel, lb_endpoints, lb_allow), are the live ones (bpf_map__reuse_fd);
 *  - the state the datapath reads and writes gets a private map seeded from the
 *    live one with what this packet can touch: the conntrack entry of its tuple and
 *    that entry's peer (the other direction, which lb_ct_alive and lb_ct_track look
 *    up), the affinity entry (client, service), the scheduler state of its service
 *    (lb_svc_state) and of the endpoints involved (lb_ep_state);
 *  - everything else (counters, drops, events, the sweep's timer, chains, lb_jmp,
 *    which libbpf fills with this instance's own lb_tc_slow and lb_tc_icmp) is private
 *    and starts empty.
 * The decisions are read back from the private maps and the output packet; the
 * instance is closed before lb_trace() returns, so nothing live is ever written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* Private state maps: small, only a packet's worth goes in. */
#define TRACE_CT_MAX		1024
#define TRACE_AFF_MAX		256

/* Maps the datapath only reads: the private instance uses the live ones. */
static const char *const shared_maps[] = {
	LB_MAP_CONFIG, LB_MAP_SERVICES, LB_MAP_SEL, LB_MAP_ENDPOINTS, LB_MAP_ALLOW,
	LB_MAP_SVC_EPS,
};

/* Programs the trace never runs (and no other program needs): not loaded. */
static const char *const unused_progs[] = {
	LB_PROG_TC_EGRESS, LB_PROG_GC_ARM, LB_PROG_XDP_CHAINED, LB_PROG_CHAIN_ENTRY,
	LB_PROG_CHAIN_STEP,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the clock of bpf_ktime_get_ns() */
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---------------------------------------------------------------- the packet */

struct tbuf {
	uint8_t *b;
	size_t len, cap;
};

static void put8(struct tbuf *p, uint8_t v)
{
	if (p->len < p->cap)
		p->b[p->len] = v;
	p->len++;
}

static void put16(struct tbuf *p, uint16_t v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

static void put32(struct tbuf *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static void putn(struct tbuf *p, const void *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(p, ((const uint8_t *)d)[i]);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		sum += (uint32_t)d[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void set16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

/*
 * Ethernet + IPv4/IPv6 + TCP (a SYN with the options Linux sends), UDP (a short
 * payload) or an ICMP/ICMPv6 echo request (ping's 56 bytes), checksums right.
 */
static int build_packet(const struct lb_trace_pkt *pkt, const uint8_t dmac[6], uint8_t *out,
			size_t cap, size_t *len)
{
	static const uint8_t smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t syn_opts[20] = {
		2, 4, 0x05, 0xb4,		/* MSS 1460 */
		4, 2,				/* SACK permitted */
		8, 10, 0, 0, 0, 1, 0, 0, 0, 0,	/* timestamps */
		1,				/* NOP */
		3, 3, 7,			/* window scale 7 */
	};
	bool v4 = pkt->family == LB_AF_INET;
	struct tbuf p = { .b = out, .cap = cap };
	size_t l3, l4, l4len;
	uint8_t proto = pkt->proto;
	uint32_t sum = 0;
	size_t csum_off;

	if (!v4 && proto == IPPROTO_ICMP)
		proto = IPPROTO_ICMPV6;
	putn(&p, dmac, 6);
	putn(&p, smac, 6);
	put16(&p, v4 ? ETH_P_IP : ETH_P_IPV6);
	l3 = p.len;
	if (v4) {
		put8(&p, 0x45);
		put8(&p, 0);
		put16(&p, 0);		/* total length, below */
		put16(&p, 1);		/* id */
		put16(&p, 0x4000);	/* DF */
		put8(&p, 64);
		put8(&p, proto);
		put16(&p, 0);		/* checksum, below */
		putn(&p, &pkt->src.a[0], 4);
		putn(&p, &pkt->dst.a[0], 4);
	} else {
		put32(&p, 0x60000000);
		put16(&p, 0);		/* payload length, below */
		put8(&p, proto);
		put8(&p, 64);
		putn(&p, pkt->src.a, 16);
		putn(&p, pkt->dst.a, 16);
	}
	l4 = p.len;
	switch (proto) {
	case IPPROTO_TCP: {
		bool syn = pkt->tcp_flags & 0x02;

		put16(&p, pkt->sport);
		put16(&p, pkt->dport);
		put32(&p, 1);				/* seq */
		put32(&p, pkt->tcp_flags & 0x10 ? 1 : 0);	/* ack */
		put8(&p, (syn ? 10 : 5) << 4);
		put8(&p, pkt->tcp_flags);
		put16(&p, 64240);
		put16(&p, 0);
		put16(&p, 0);
		if (syn)
			putn(&p, syn_opts, sizeof(syn_opts));
		csum_off = 16;
		break;
	}
	case IPPROTO_UDP:
		put16(&p, pkt->sport);
		put16(&p, pkt->dport);
		put16(&p, 8 + 6);
		put16(&p, 0);
		putn(&p, "trace\n", 6);
		csum_off = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		put8(&p, proto == IPPROTO_ICMP ? 8 : 128);	/* echo request */
		put8(&p, 0);
		put16(&p, 0);
		put16(&p, pkt->sport);			/* identifier */
		put16(&p, 1);				/* sequence */
		for (int i = 0; i < 56; i++)
			put8(&p, 0x10 + i);
		csum_off = 2;
		break;
	default:
		return -EINVAL;
	}
	if (p.len > cap)
		return -E2BIG;
	l4len = p.len - l4;
	if (v4) {
		set16(out + l3 + 2, p.len - l3);
		set16(out + l3 + 10, csum_fold(csum_add(0, out + l3, 20)));
		if (proto != IPPROTO_ICMP)
			sum = csum_add(0, out + l3 + 12, 8) + proto + l4len;
	} else {
		set16(out + l3 + 4, l4len);
		sum = csum_add(0, out + l3 + 8, 32) + proto + l4len;
	}
	sum = csum_fold(csum_add(sum, out + l4, l4len));
	if (proto == IPPROTO_UDP && sum == 0)
		sum = 0xffff;
	set16(out + l4 + csum_off, sum);
	*len = p.len;
	return 0;
}

/* The tuple of an IPv4/IPv6 packet behind an Ethernet header; -1 when it is none. */
static int parse_tuple(const uint8_t *b, size_t len, struct lb_ct_key *k, uint8_t *ttl)
{
	uint16_t eth_proto;
	size_t l4;

	memset(k, 0, sizeof(*k));
	if (len < 14)
		return -1;
	eth_proto = b[12] << 8 | b[13];
	if (eth_proto == ETH_P_IP) {
		if (len < 34 || (b[14] >> 4) != 4)
			return -1;
		memcpy(&k->src.a[0], b + 26, 4);
		memcpy(&k->dst.a[0], b + 30, 4);
		k->family = LB_AF_INET;
		k->proto = b[23];
		*ttl = b[22];
		l4 = 14 + (b[14] & 0x0f) * 4;
	} else if (eth_proto == ETH_P_IPV6) {
		if (len < 54)
			return -1;
		memcpy(k->src.a, b + 22, 16);
		memcpy(k->dst.a, b + 38, 16);
		k->family = LB_AF_INET6;
		k->proto = b[20];
		*ttl = b[21];
		l4 = 54;
	} else {
		return -1;
	}
	if ((k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) && l4 + 4 <= len) {
		memcpy(&k->sport, b + l4, 2);
		memcpy(&k->dport, b + l4 + 2, 2);
	}
	return 0;
}

/* ---------------------------------------------------------------- the device */

static int dev_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	memset(mac, 0, 6);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : 0;
	close(fd);
	if (!rc)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

static int route_attr(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == RTA_OIF && !mnl_attr_validate(a, MNL_TYPE_U32))
		*(uint32_t *)data = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWROUTE)
		mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr, data);
	return MNL_CB_OK;
}

/* The interface the kernel routes toward addr (ip route get ADDR): where packets
 * from addr come in, when routing is symmetric.  0 when unknown. */
static unsigned int route_oif(const struct lb_addr *addr, uint8_t family)
{
	char buf[8192];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	uint32_t oif = 0, seq = (uint32_t)time(NULL), portid;
	ssize_t n;

	if (!nl)
		return 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family == LB_AF_INET ? AF_INET : AF_INET6;
	rtm->rtm_dst_len = family == LB_AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, family == LB_AF_INET ? 4 : 16, addr->a);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n > 0)
		mnl_cb_run(buf, n, seq, portid, route_cb, &oif);
out:
	mnl_socket_close(nl);
	return oif;
}

/*
 * The device: the one named; else the one the source is routed through, when our
 * program is on its hook; else the first with our program on the hook; else the one
 * the source is routed through; else lo.
 */
static int pick_dev(struct lb_ctx *ctx, const struct lb_trace_pkt *pkt,
		    struct lb_trace_result *res)
{
	struct lb_attachment *a = NULL;
	size_t n = 0;

	res->attached = false;
	if (lb_attachments(ctx, &a, &n))
		n = 0;
	if (pkt->ifname) {
		if (strlen(pkt->ifname) >= IF_NAMESIZE || !(res->ifindex = if_nametoindex(pkt->ifname))) {
			free(a);
			return lb_set_err(ctx, -ENODEV, "dev %s: no such device", pkt->ifname);
		}
		snprintf(res->ifname, sizeof(res->ifname), "%s", pkt->ifname);
		for (size_t i = 0; i < n; i++)
			if (a[i].ifindex == res->ifindex && a[i].hook == pkt->hook)
				res->attached = true;
	} else {
		unsigned int oif = route_oif(&pkt->src, pkt->family);

		for (size_t i = 0; i < n && oif && !res->ifindex; i++) {
			if (a[i].ifindex == oif && a[i].hook == pkt->hook &&
			    if_indextoname(oif, res->ifname)) {
				res->ifindex = oif;
				res->attached = true;
			}
		}
		for (size_t i = 0; i < n && !res->ifindex; i++) {
			if (a[i].ifindex && a[i].hook == pkt->hook &&
			    if_indextoname(a[i].ifindex, res->ifname)) {
				res->ifindex = a[i].ifindex;
				res->attached = true;
			}
		}
		if (!res->ifindex && oif && if_indextoname(oif, res->ifname))
			res->ifindex = oif;	/* nothing on this hook anywhere */
		if (!res->ifindex) {
			snprintf(res->ifname, sizeof(res->ifname), "lo");
			res->ifindex = if_nametoindex("lo");
			if (!res->ifindex)
				res->ifindex = 1;
		}
	}
	free(a);
	return 0;
}

/* ---------------------------------------------------------------- live state */

struct live {
	int cfg, svcs, eps, ct, aff, svc_state, ep_state;
	struct lb_config config;
};

static void live_close(struct live *l)
{
	int *fds[] = { &l->cfg, &l->svcs, &l->eps, &l->ct, &l->aff, &l->svc_state, &l->ep_state };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int live_open(struct lb_ctx *ctx, struct live *l)
{
	static const char *const names[] = {
		LB_MAP_CONFIG, LB_MAP_SERVICES, LB_MAP_ENDPOINTS, LB_MAP_CT, LB_MAP_AFFINITY,
		LB_MAP_SVC_STATE, LB_MAP_EP_STATE,
	};
	int *fds[] = { &l->cfg, &l->svcs, &l->eps, &l->ct, &l->aff, &l->svc_state, &l->ep_state };
	uint32_t zero = 0;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = lb_map_fd(ctx, names[i]);
		if (*fds[i] < 0) {
			int err = *fds[i];

			*fds[i] = -1;
			live_close(l);
			return LB_MAP_ERR(ctx, err, "map %s", names[i]);
		}
	}
	if (bpf_map_lookup_elem(l->cfg, &zero, &l->config)) {
		int err = -errno;

		live_close(l);
		return lb_set_err(ctx, err, "map %s", LB_MAP_CONFIG);
	}
	return 0;
}

/* As the datapath decides it (lb_abi.h), with the live config. */
static bool expired(const struct lb_config *cfg, uint8_t proto, const struct lb_ct *ct,
		    uint64_t now)
{
	return lb_ct_age_expired(lb_ct_age(ct->last_seen_ns, now),
				 lb_ct_timeout(cfg, proto, ct->state));
}

/* The live service with this id (of the live generation). */
static bool svc_by_id(int fd, uint32_t id, uint8_t gen, struct lb_svc_key *key, struct lb_svc *svc)
{
	struct lb_svc_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.gen == gen && !bpf_map_lookup_elem(fd, &k, svc) && svc->id == id) {
			*key = k;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- private instance */

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

/* Open the object with nothing pinned, the rule maps shared, state maps sized. */
static int instance_open(struct lb_ctx *ctx, enum lb_hook hook, struct bpf_object **out)
{
	const char *run = hook == LB_HOOK_XDP ? LB_PROG_XDP : LB_PROG_TC_INGRESS;
	const char *skip = hook == LB_HOOK_XDP ? LB_PROG_TC_INGRESS : LB_PROG_XDP;
	char path[PATH_MAX];
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct lb_sizes sz = {};
	struct bpf_map *map;
	int err;

	err = lb_find_bpf_obj(ctx, LB_DATAPATH_OBJ, path, sizeof(path));
	if (err)
		return lb_set_err(ctx, err, "BPF object %s not found (set %s)", LB_DATAPATH_OBJ,
				  LB_BPF_DIR_ENV);
	lb_datapath_sizes(ctx, &sz);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return lb_set_err(ctx, -errno, "cannot open %s", path);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		uint32_t size = 0;

		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			goto fail;
		if (in_list(name, shared_maps, sizeof(shared_maps) / sizeof(shared_maps[0]))) {
			int fd = lb_map_fd(ctx, name);

			if (fd < 0) {
				err = LB_MAP_ERR(ctx, fd, "map %s", name);
				goto fail;
			}
			err = bpf_map__reuse_fd(map, fd);
			close(fd);
			if (err) {
				err = lb_set_err(ctx, err, "cannot share map %s", name);
				goto fail;
			}
			continue;
		}
		/* Arrays indexed by service and endpoint ids: as large as the live ones. */
		if (!strcmp(name, LB_MAP_SVC_STATE) || !strcmp(name, LB_MAP_SVC_STATS))
			size = sz.services;
		else if (!strcmp(name, LB_MAP_EP_STATE) || !strcmp(name, LB_MAP_EP_STATS))
			size = sz.endpoints;
		else if (!strcmp(name, LB_MAP_CT))
			size = TRACE_CT_MAX;
		else if (!strcmp(name, LB_MAP_AFFINITY))
			size = TRACE_AFF_MAX;
		if (size && bpf_map__set_max_entries(map, size)) {
			err = lb_set_err(ctx, -EINVAL, "cannot size map %s", name);
			goto fail;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);

		if (!strcmp(name, skip) ||
		    in_list(name, unused_progs, sizeof(unused_progs) / sizeof(unused_progs[0])))
			bpf_program__set_autoload(prog, false);
	}
	if (!bpf_object__find_program_by_name(obj, run)) {
		err = lb_set_err(ctx, -ENOENT, "%s has no program %s", path, run);
		goto fail;
	}
	err = bpf_object__load(obj);
	if (err) {
		if (err != -EPERM)
			err = lb_set_err(ctx, -ENOEXEC,
					 "the kernel refused %s (run with -d for the verifier log)", path);
		goto fail;
	}
	*out = obj;
	return 0;
fail:
	bpf_object__close(obj);
	return err;
}

static int priv_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

/* Copy one element from a live map to the private one, when the live one has it. */
static void seed(int live, int priv, const void *key, void *buf)
{
	if (!bpf_map_lookup_elem(live, key, buf))
		bpf_map_update_elem(priv, key, buf, BPF_ANY);
}

/* Per-CPU counters summed: a buffer of ncpu values of size bytes (8-byte aligned). */
static int percpu_sum(int fd, const void *key, size_t size, uint64_t *sum, size_t nwords)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (size + 7) & ~(size_t)7;
	uint8_t *buf;

	memset(sum, 0, nwords * 8);
	if (ncpu <= 0)
		return -EINVAL;
	buf = calloc(ncpu, stride);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, buf)) {
		free(buf);
		return -errno;
	}
	for (int c = 0; c < ncpu; c++)
		for (size_t w = 0; w < nwords; w++)
			sum[w] += ((uint64_t *)(buf + (size_t)c * stride))[w];
	free(buf);
	return 0;
}

/* ---------------------------------------------------------------- lb_trace */

/* One trace between its stages: the live maps, the live conntrack entries seeded
 * into the private instance, and the instance. */
struct trace {
	struct live l;
	uint64_t now;
	uint32_t gen;			/* the live rule-set generation */
	struct lb_ct seeded;		/* the packet's live entry (HIT, EXPIRED) */
	struct lb_ct_key peer_key;
	struct lb_ct peer;
	bool have_peer;
	struct bpf_object *obj;
	int ct_fd;			/* the instance's conntrack */
};

/* TCP and UDP: the packets that have ports, conntrack entries and services. */
static bool has_ports(const struct lb_trace_pkt *pkt)
{
	return pkt->proto == IPPROTO_TCP || pkt->proto == IPPROTO_UDP;
}

/* Which device, and the packet's bytes. */
static int trace_build(struct lb_ctx *ctx, const struct lb_trace_pkt *pkt,
		       struct lb_trace_result *res)
{
	uint8_t dmac[6] = {};
	size_t len;
	int err;

	if ((pkt->family != LB_AF_INET && pkt->family != LB_AF_INET6) ||
	    (!has_ports(pkt) && pkt->proto != IPPROTO_ICMP && pkt->proto != IPPROTO_ICMPV6) ||
	    (pkt->hook != LB_HOOK_TC_INGRESS && pkt->hook != LB_HOOK_XDP))
		return lb_set_err(ctx, -EINVAL, "cannot trace that packet");
	err = pick_dev(ctx, pkt, res);
	if (err)
		return err;
	if (strcmp(res->ifname, "lo"))
		dev_mac(res->ifname, dmac);
	err = build_packet(pkt, dmac, res->data, sizeof(res->data), &len);
	if (err)
		return lb_set_err(ctx, err, "cannot build the packet");
	res->len = len;
	return 0;
}

/* Conntrack as the live table has it: the packet's entry and its peer. */
static void trace_conntrack(struct trace *t, const struct lb_trace_pkt *pkt,
			    struct lb_trace_result *res)
{
	struct lb_ct_key *k = &res->ct_key;

	k->src = pkt->src;
	k->dst = pkt->dst;
	k->sport = htons(pkt->sport);
	k->dport = htons(pkt->dport);
	k->proto = pkt->proto;
	k->family = pkt->family;
	res->ct = LB_TRACE_CT_MISS;
	if (bpf_map_lookup_elem(t->l.ct, k, &t->seeded))
		return;
	lb_ct_peer_key(k, &t->seeded, &t->peer_key);
	t->have_peer = !bpf_map_lookup_elem(t->l.ct, &t->peer_key, &t->peer);
	res->ct_entry = t->seeded;
	res->ct_age_ns = lb_ct_age(t->seeded.last_seen_ns, t->now);
	res->ct = !expired(&t->l.config, k->proto, &t->seeded, t->now) ||
		  (t->have_peer && !expired(&t->l.config, k->proto, &t->peer, t->now)) ?
		  LB_TRACE_CT_HIT : LB_TRACE_CT_EXPIRED;
}

/* The service the slow path looks up, or the flow's. */
static void trace_service(struct trace *t, const struct lb_trace_pkt *pkt,
			  struct lb_trace_result *res)
{
	lb_svc_key_init(&res->svc_key, &pkt->dst, pkt->family, pkt->dport, pkt->proto);
	res->svc_key.gen = t->gen;
	if (res->ct == LB_TRACE_CT_HIT)
		res->has_svc = svc_by_id(t->l.svcs, t->seeded.svc_id, t->gen, &res->svc_key,
					 &res->svc);
	else
		res->has_svc = !bpf_map_lookup_elem(t->l.svcs, &res->svc_key, &res->svc);
}

/* A new flow of a persist service: the live affinity entry, when within its time. */
static void trace_affinity(struct trace *t, const struct lb_trace_pkt *pkt,
			   struct lb_trace_result *res)
{
	struct lb_aff_key ak = { .client = pkt->src, .svc_id = res->svc.id };
	struct lb_aff a;

	if (!res->has_svc || !res->svc.persist || res->ct == LB_TRACE_CT_HIT)
		return;
	if (!bpf_map_lookup_elem(t->l.aff, &ak, &a) &&
	    lb_aff_fresh(a.last_seen_ns, t->now, res->svc.persist)) {
		res->aff_found = true;
		res->aff_ep_id = a.ep_id;
	}
}

/* The private instance, with the live state this packet can touch. */
static int trace_seed(struct lb_ctx *ctx, struct trace *t, const struct lb_trace_pkt *pkt,
		      struct lb_trace_result *res)
{
	struct lb_aff_key ak = { .client = pkt->src, .svc_id = res->svc.id };
	int svc_state, ep_state, aff, err;
	struct lb_svc_state ss;
	struct lb_ep_state es;
	struct lb_aff a;

	err = instance_open(ctx, pkt->hook, &t->obj);
	if (err)
		return err;
	t->ct_fd = priv_fd(t->obj, LB_MAP_CT);
	if (t->ct_fd < 0)
		return lb_set_err(ctx, t->ct_fd, "map %s", LB_MAP_CT);
	if (res->ct != LB_TRACE_CT_MISS && res->ct != LB_TRACE_CT_NONE) {
		bpf_map_update_elem(t->ct_fd, &res->ct_key, &t->seeded, BPF_ANY);
		if (t->have_peer)
			bpf_map_update_elem(t->ct_fd, &t->peer_key, &t->peer, BPF_ANY);
	}
	svc_state = priv_fd(t->obj, LB_MAP_SVC_STATE);
	ep_state = priv_fd(t->obj, LB_MAP_EP_STATE);
	aff = priv_fd(t->obj, LB_MAP_AFFINITY);
	if (t->seeded.ep_id)	/* a flow that closes lowers its endpoint's count */
		seed(t->l.ep_state, ep_state, &t->seeded.ep_id, &es);
	if (res->has_svc) {
		int list = lb_map_fd(ctx, LB_MAP_SVC_EPS);

		seed(t->l.svc_state, svc_state, &res->svc.id, &ss);
		for (uint32_t i = 0; list >= 0 && i < res->svc.n_eps; i++) {
			struct lb_svc_ep_key lk = { .svc_id = res->svc.id, .idx = i };
			uint32_t id;

			if (!bpf_map_lookup_elem(list, &lk, &id))
				seed(t->l.ep_state, ep_state, &id, &es);
		}
		if (list >= 0)
			close(list);
		if (res->svc.persist)
			seed(t->l.aff, aff, &ak, &a);
	}
	return 0;
}

/* BPF_PROG_TEST_RUN of the hook's program: the verdict and the packet it left. */
static int trace_run(struct lb_ctx *ctx, struct trace *t, const struct lb_trace_pkt *pkt,
		     struct lb_trace_result *res)
{
	bool xdp = pkt->hook == LB_HOOK_XDP;
	struct xdp_md xctx = { .data_end = res->len, .ingress_ifindex = res->ifindex };
	struct __sk_buff sctx = { .ifindex = res->ifindex, .ingress_ifindex = res->ifindex };
	uint8_t out[512];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = res->data, .data_size_in = res->len,
		    .data_out = out, .data_size_out = sizeof(out),
		    .ctx_in = xdp ? (void *)&xctx : (void *)&sctx,
		    .ctx_size_in = xdp ? sizeof(xctx) : sizeof(sctx), .repeat = 1);
	int prog_fd = bpf_program__fd(bpf_object__find_program_by_name(t->obj,
					xdp ? LB_PROG_XDP : LB_PROG_TC_INGRESS));

	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		res->retval = (int)o.retval;
		return lb_set_err(ctx, -errno, "BPF_PROG_TEST_RUN on dev %s", res->ifname);
	}
	res->retval = (int)o.retval;
	res->out_len = o.data_size_out < sizeof(res->out) ? o.data_size_out : sizeof(res->out);
	memcpy(res->out, out, res->out_len);
	res->out_ok = !parse_tuple(out, o.data_size_out, &res->out_tuple, &res->out_ttl);
	return 0;
}

/* What the parser counted (the private lb_if_stats and lb_if_ctr) and the drop reason. */
static void trace_counters(struct trace *t, struct lb_trace_result *res)
{
	int drops = priv_fd(t->obj, LB_MAP_DROPS);
	struct lb_if_counters *v = NULL;
	uint64_t c[2];
	size_t n = 0;

	if (lb__if_counters_read(priv_fd(t->obj, LB_MAP_IF_STATS), priv_fd(t->obj, LB_MAP_IF_CTR),
				 &v, &n))
		n = 0;
	for (size_t e = 0; e < n; e++)
		for (int i = LB_CTR_IPV4; i < LB_CTR_MAX; i++) {
			if (!v[e].ctr[i].packets)
				continue;
			if (i <= LB_CTR_NONIP)
				res->l3_ctr = i;
			else if (res->l4_ctr < 0 || i == LB_CTR_MALFORMED)
				res->l4_ctr = i;
		}
	free(v);
	for (uint32_t i = 1; drops >= 0 && i < LB_DROP_MAX && !res->drop; i++)
		if (!percpu_sum(drops, &i, sizeof(struct lb_counter), c, 2) && c[0])
			res->drop = i;
}

/* The flow the run left in the private conntrack, and its endpoint. */
static void trace_flow(struct trace *t, const struct lb_trace_pkt *pkt,
		       struct lb_trace_result *res)
{
	struct lb_ct after;

	if (has_ports(pkt) && !bpf_map_lookup_elem(t->ct_fd, &res->ct_key, &after)) {
		res->new_flow = res->ct != LB_TRACE_CT_HIT || after.created_ns != t->seeded.created_ns;
		res->flow = after;
		res->ep_id = after.ep_id;
		if (res->new_flow && !res->has_svc)	/* cannot be: the slow path found one */
			res->has_svc = svc_by_id(t->l.svcs, after.svc_id, t->gen, &res->svc_key,
						 &res->svc);
	}
	if (res->ep_id && bpf_map_lookup_elem(t->l.eps, &res->ep_id, &res->ep))
		memset(&res->ep, 0, sizeof(res->ep));
}

int lb_trace(struct lb_ctx *ctx, const struct lb_trace_pkt *pkt, struct lb_trace_result *res)
{
	struct trace t = { .ct_fd = -1 };
	int err;

	memset(res, 0, sizeof(*res));
	res->l3_ctr = res->l4_ctr = -1;
	err = trace_build(ctx, pkt, res);
	if (err)
		return err;
	err = live_open(ctx, &t.l);
	if (err)
		return err;
	t.gen = t.l.config.svc_gen & 1;
	res->svc_gen = t.gen;
	t.now = mono_ns();
	if (has_ports(pkt)) {
		trace_conntrack(&t, pkt, res);
		trace_service(&t, pkt, res);
		trace_affinity(&t, pkt, res);
	}
	err = trace_seed(ctx, &t, pkt, res);
	if (!err)
		err = trace_run(ctx, &t, pkt, res);
	if (!err) {
		trace_counters(&t, res);
		trace_flow(&t, pkt, res);
	}
	bpf_object__close(t.obj);
	live_close(&t.l);
	return err;
}
