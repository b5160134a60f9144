// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Services and endpoints.  Every command checks everything first and writes
 * after, in an order that keeps the datapath consistent at each step: an
 * endpoint slot is filled before anything points at it, a selection table is
 * built whole in a fresh inner map and swapped in with one update.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* The maps a service command touches, opened together. */
struct svc_maps {
	int svc, sel, state, stats, ep, ep_state, ep_stats;
};

static void svc_maps_close(struct svc_maps *m)
{
	int *fds = (int *)m;

	for (size_t i = 0; i < sizeof(*m) / sizeof(int); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int svc_maps_open(struct lb_ctx *ctx, struct svc_maps *m)
{
	static const char *const names[] = {
		LB_MAP_SERVICES, LB_MAP_SVC_SEL, LB_MAP_SVC_STATE, LB_MAP_SVC_STATS,
		LB_MAP_ENDPOINTS, LB_MAP_EP_STATE, LB_MAP_EP_STATS,
	};
	int *fds = (int *)m;

	for (size_t i = 0; i < sizeof(*m) / sizeof(int); i++)
		fds[i] = -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fds[i] = lb_map_fd(ctx, names[i]);
		if (fds[i] < 0) {
			int err = fds[i];

			svc_maps_close(m);
			return lb_set_err(ctx, err == -ENOENT ? -ENOENT : err,
					  "map %s: not loaded (attach the datapath first)", names[i]);
		}
	}
	return 0;
}

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Zero one element of a per-CPU array (a fresh id starts from 0). */
static int percpu_zero(int fd, uint32_t id, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err;

	if (ncpu <= 0)
		return -EINVAL;
	zero = calloc(ncpu, (value_size + 7) & ~7ul);
	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(fd, &id, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return err;
}

/*
 * A fresh service or endpoint id starts from zero: its per-CPU counters and its
 * shared state (scheduler cursor, open flows) are cleared before anything points
 * at it.
 */
static int reset_id(int stats_fd, int state_fd, uint32_t id, size_t state_size)
{
	uint64_t zero[4] = {};
	int err = percpu_zero(stats_fd, id, sizeof(struct lb_obj_stats));

	if (!err && state_size <= sizeof(zero) && bpf_map_update_elem(state_fd, &id, zero, BPF_ANY))
		err = -errno;
	return err;
}

/* Sum a per-CPU value made of u64 words. */
static int percpu_sum(int fd, const void *key, size_t value_size, void *out)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (value_size + 7) & ~7ul, words = value_size / 8;
	uint64_t *buf, *sum = out;
	int err = 0;

	memset(out, 0, value_size);
	if (ncpu <= 0)
		return -EINVAL;
	buf = calloc(ncpu, stride);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, buf))
		err = -errno;
	for (int c = 0; !err && c < ncpu; c++)
		for (size_t w = 0; w < words; w++)
			sum[w] += buf[c * stride / 8 + w];
	free(buf);
	return err;
}

static int svc_lookup(const struct svc_maps *m, const struct lb_svc_key *k, struct lb_svc *v)
{
	return bpf_map_lookup_elem(m->svc, k, v) ? -errno : 0;
}

static int ep_lookup(const struct svc_maps *m, uint32_t id, struct lb_ep *ep)
{
	return bpf_map_lookup_elem(m->ep, &id, ep) ? -errno : 0;
}

/* Name an endpoint for Maglev: address, port, family; stable across rebuilds. */
static void ep_name(const struct lb_ep *ep, uint8_t name[20])
{
	memset(name, 0, 20);
	memcpy(name, ep->addr.a, 16);
	memcpy(name + 16, &ep->port, 2);
	name[18] = ep->family;
}

/*
 * Build v's selection table from its up endpoints in a new inner map and swap it
 * in.  v->sel_len is set for the caller to store.
 */
static int sel_rebuild(struct lb_ctx *ctx, const struct svc_maps *m, struct lb_svc *v)
{
	uint32_t ids[LB_SVC_EPS_MAX], weights[LB_SVC_EPS_MAX], *tbl = NULL, *idx = NULL;
	uint8_t names[LB_SVC_EPS_MAX][20];
	size_t n = 0, len = 0;
	int inner = -1, err = 0;

	for (uint32_t i = 0; i < v->n_eps && i < LB_SVC_EPS_MAX; i++) {
		struct lb_ep ep;

		if (ep_lookup(m, v->eps[i], &ep) || ep.status != LB_EP_UP || !ep.weight)
			continue;
		ids[n] = v->eps[i];
		weights[n] = ep.weight;
		ep_name(&ep, names[n]);
		n++;
	}
	tbl = calloc(LB_SEL_MAX + 1, sizeof(*tbl));
	idx = calloc(LB_SEL_MAX, sizeof(*idx));
	if (!tbl || !idx) {
		err = -ENOMEM;
		goto out;
	}
	if (n) {
		switch (v->sched) {
		case LB_SCHED_RR:
		case LB_SCHED_LC:	/* lc scans eps[]; the table serves as a fallback */
			for (size_t i = 0; i < n; i++)
				idx[i] = i;
			len = n;
			break;
		case LB_SCHED_WRR:
		case LB_SCHED_RANDOM:
			len = lb_wrr_build(weights, n, idx, LB_SEL_MAX);
			break;
		default:
			len = v->maglev_size;
			err = lb_maglev_build((const uint8_t (*)[20])names, weights, n, len, idx);
			if (err)
				goto out;
		}
	}
	tbl[0] = len;
	for (size_t i = 0; i < len; i++)
		tbl[i + 1] = ids[idx[i]];

	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_INNER_MAP);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_sel", sizeof(uint32_t), sizeof(uint32_t),
			       len + 1, &copts);
	if (inner < 0) {
		err = lb_set_err(ctx, -errno, "cannot create a selection table of %zu entries",
				 len + 1);
		goto out;
	}
	for (uint32_t i = 0; i <= len; i++) {
		if (bpf_map_update_elem(inner, &i, &tbl[i], BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	if (bpf_map_update_elem(m->sel, &v->id, &inner, BPF_ANY)) {
		err = lb_set_err(ctx, -errno, "cannot install the selection table");
		goto out;
	}
	v->sel_len = len;
out:
	if (inner >= 0)
		close(inner);	/* the outer map holds it now */
	free(tbl);
	free(idx);
	return err;
}

/* Open the maps and read service k: the start of every endpoint command. */
static int ep_begin(struct lb_ctx *ctx, const struct lb_svc_key *k, struct svc_maps *m,
		    struct lb_svc *v)
{
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, m);
	if (err)
		return err;
	err = svc_lookup(m, k, v);
	if (err) {
		svc_maps_close(m);
		return lb_set_err(ctx, err, "no such service");
	}
	return 0;
}

/* Swap in v's new selection table, then v itself. */
static int svc_commit(struct lb_ctx *ctx, const struct svc_maps *m, const struct lb_svc_key *k,
		      struct lb_svc *v)
{
	int err = sel_rebuild(ctx, m, v);

	if (!err && bpf_map_update_elem(m->svc, k, v, BPF_EXIST))
		err = -errno;
	return err;
}

static int check_service(struct lb_ctx *ctx, const struct lb_service *s)
{
	const struct lb_svc_key *k = &s->key;

	if (k->family != LB_AF_INET && k->family != LB_AF_INET6)
		return lb_set_err(ctx, -EINVAL, "unknown address family");
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return lb_set_err(ctx, -EINVAL, "protocol must be tcp or udp");
	if (!k->port)
		return lb_set_err(ctx, -EINVAL, "port 0");
	if ((unsigned int)s->sched >= LB_SCHED_MAX)
		return lb_set_err(ctx, -EINVAL, "unknown scheduler");
	if (s->mode != LB_NAT_DNAT && s->mode != LB_NAT_FULLNAT)
		return lb_set_err(ctx, -EINVAL, "unknown NAT mode");
	if (s->maglev_size && (!lb_is_prime(s->maglev_size) || s->maglev_size > LB_SEL_MAX ||
			       s->maglev_size < 7))
		return lb_set_err(ctx, -EINVAL, "maglev table size %u: must be a prime from 7 to %u",
				  s->maglev_size, LB_SEL_MAX);
	if (s->n_allow > LB_SVC_ALLOW_MAX)
		return lb_set_err(ctx, -EINVAL, "at most %d allow prefixes", LB_SVC_ALLOW_MAX);
	for (uint32_t i = 0; i < s->n_allow; i++)
		if (s->allow[i].prefix_len > (k->family == LB_AF_INET ? 32u : 128u) ||
		    (k->family == LB_AF_INET && (s->allow[i].addr.a[1] || s->allow[i].addr.a[2] ||
						 s->allow[i].addr.a[3])))
			return lb_set_err(ctx, -EINVAL, "allow prefix of the wrong family");
	if (s->mode == LB_NAT_FULLNAT && !s->snat_ifaddr && k->family == LB_AF_INET &&
	    (s->snat.a[1] || s->snat.a[2] || s->snat.a[3]))
		return lb_set_err(ctx, -EINVAL, "snat address of the wrong family");
	return 0;
}

/* Copy the configuration of s into the map value v (ids and endpoints stay). */
static void svc_config(struct lb_svc *v, const struct lb_service *s)
{
	v->sched = s->sched;
	v->mode = s->mode;
	v->family = s->key.family;
	v->flags = s->mode == LB_NAT_FULLNAT && s->snat_ifaddr ? LB_SVC_F_SNAT_IFADDR : 0;
	v->persist = s->persist;
	v->snat = s->mode == LB_NAT_FULLNAT && !s->snat_ifaddr ? s->snat : (struct lb_addr){};
	v->maglev_size = s->maglev_size ? s->maglev_size : LB_MAGLEV_DEFAULT;
	v->n_allow = s->n_allow;
	memset(v->allow, 0, sizeof(v->allow));
	memcpy(v->allow, s->allow, s->n_allow * sizeof(s->allow[0]));
}

static int alloc_svc_id(const struct svc_maps *m, uint32_t *id)
{
	uint32_t max = map_max_entries(m->state);
	struct lb_svc_key k, next, *prev = NULL;
	uint8_t *used = calloc(max ? max : 1, 1);
	struct lb_svc v;

	if (!used)
		return -ENOMEM;
	while (bpf_map_get_next_key(m->svc, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(m->svc, &k, &v) && v.id < max)
			used[v.id] = 1;
	}
	for (uint32_t i = 1; i < max; i++) {
		if (!used[i]) {
			*id = i;
			free(used);
			return 0;
		}
	}
	free(used);
	return -ENOSPC;
}

/* Check a service's configuration and open the maps: the start of add and set. */
static int svc_begin(struct lb_ctx *ctx, const struct lb_service *s, struct svc_maps *m)
{
	int err;

	lb_clear_err(ctx);
	err = check_service(ctx, s);
	return err ? err : svc_maps_open(ctx, m);
}

int lb_service_add(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_svc v = {};
	struct svc_maps m;
	int err = svc_begin(ctx, s, &m);

	if (err)
		return err;
	if (svc_lookup(&m, &s->key, &v) == 0) {
		err = -EEXIST;
		goto out;
	}
	memset(&v, 0, sizeof(v));
	err = alloc_svc_id(&m, &v.id);
	if (err) {
		lb_set_err(ctx, err, "no free service id (the service table is full)");
		goto out;
	}
	svc_config(&v, s);
	err = reset_id(m.stats, m.state, v.id, sizeof(struct lb_svc_state));
	if (!err)
		err = sel_rebuild(ctx, &m, &v);	/* an empty table to start with */
	if (!err && bpf_map_update_elem(m.svc, &s->key, &v, BPF_NOEXIST)) {
		err = -errno;
		bpf_map_delete_elem(m.sel, &v.id);
		if (err == -E2BIG || err == -ENOMEM)
			lb_set_err(ctx, -ENOSPC, "the service table is full");
	}
out:
	svc_maps_close(&m);
	return err;
}

int lb_service_set(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_svc v;
	struct svc_maps m;
	int err = svc_begin(ctx, s, &m);

	if (err)
		return err;
	err = svc_lookup(&m, &s->key, &v);
	if (!err) {
		svc_config(&v, s);
		err = svc_commit(ctx, &m, &s->key, &v);
	}
	svc_maps_close(&m);
	return err;
}

static int free_endpoint(const struct svc_maps *m, uint32_t id)
{
	struct lb_ep none = {};

	return bpf_map_update_elem(m->ep, &id, &none, BPF_ANY) ? -errno : 0;
}

/* Forget the persistence entries of a service, so a reused id starts clean. */
static void affinity_flush(struct lb_ctx *ctx, uint32_t svc_id)
{
	struct lb_aff_key k, next, *prev = NULL;
	int fd = lb_map_fd(ctx, LB_MAP_AFFINITY);

	if (fd < 0)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (prev && prev->svc_id == svc_id)
			bpf_map_delete_elem(fd, prev);
		k = next;
		prev = &k;
	}
	if (prev && prev->svc_id == svc_id)
		bpf_map_delete_elem(fd, prev);
	close(fd);
}

static int service_del(struct lb_ctx *ctx, const struct svc_maps *m, const struct lb_svc_key *k)
{
	struct lb_ct_filter f = {};
	struct lb_svc v;
	int err = svc_lookup(m, k, &v);

	if (err)
		return err;
	/* New flows stop first; then the table, endpoints and flows go. */
	if (bpf_map_delete_elem(m->svc, k))
		return -errno;
	bpf_map_delete_elem(m->sel, &v.id);
	for (uint32_t i = 0; i < v.n_eps && i < LB_SVC_EPS_MAX; i++)
		free_endpoint(m, v.eps[i]);
	f.svc_id = v.id;
	affinity_flush(ctx, v.id);
	return lb_ct_flush(ctx, &f, NULL);
}

int lb_service_del(struct lb_ctx *ctx, const struct lb_svc_key *k)
{
	struct svc_maps m;
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, &m);
	if (err)
		return err;
	err = service_del(ctx, &m, k);
	svc_maps_close(&m);
	return err;
}

int lb_service_flush(struct lb_ctx *ctx)
{
	struct lb_svc_key k, next;
	struct svc_maps m;
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, &m);
	if (err)
		return err;
	/* Deleting while walking restarts the walk: always take the first key. */
	while (!err && bpf_map_get_next_key(m.svc, NULL, &next) == 0) {
		k = next;
		err = service_del(ctx, &m, &k);
	}
	svc_maps_close(&m);
	return err;
}

static void fill_info(const struct svc_maps *m, const struct lb_svc_key *k, const struct lb_svc *v,
		      struct lb_service_info *info)
{
	memset(info, 0, sizeof(*info));
	info->svc.key = *k;
	info->svc.sched = v->sched;
	info->svc.mode = v->mode;
	info->svc.snat_ifaddr = v->flags & LB_SVC_F_SNAT_IFADDR;
	info->svc.snat = v->snat;
	info->svc.persist = v->persist;
	info->svc.maglev_size = v->maglev_size;
	info->svc.n_allow = v->n_allow;
	memcpy(info->svc.allow, v->allow, sizeof(v->allow));
	info->id = v->id;
	info->sel_len = v->sel_len;
	percpu_sum(m->stats, &v->id, sizeof(info->stats), &info->stats);
	for (uint32_t i = 0; i < v->n_eps && i < LB_SVC_EPS_MAX; i++) {
		struct lb_endpoint_info *e = &info->eps[info->n_eps];
		struct lb_ep_state st = {};
		struct lb_ep ep;
		uint32_t id = v->eps[i];

		if (ep_lookup(m, id, &ep))
			continue;
		e->id = id;
		e->ep.addr = ep.addr;
		e->ep.port = ep.port;
		e->ep.family = ep.family;
		e->ep.status = ep.status;
		e->ep.weight = ep.weight;
		if (!bpf_map_lookup_elem(m->ep_state, &id, &st))
			e->active = st.active > 0 ? st.active : 0;
		percpu_sum(m->ep_stats, &id, sizeof(e->stats), &e->stats);
		info->n_eps++;
	}
}

int lb_service_get(struct lb_ctx *ctx, const struct lb_svc_key *k, struct lb_service_info *out)
{
	struct svc_maps m;
	struct lb_svc v;
	int err;

	err = svc_maps_open(ctx, &m);
	if (err)
		return err;
	err = svc_lookup(&m, k, &v);
	if (!err)
		fill_info(&m, k, &v, out);
	svc_maps_close(&m);
	return err;
}

static int cmp_info(const void *a, const void *b)
{
	const struct lb_svc_key *x = &((const struct lb_service_info *)a)->svc.key;
	const struct lb_svc_key *y = &((const struct lb_service_info *)b)->svc.key;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(&x->vip, &y->vip, sizeof(x->vip));
	if (c)
		return c;
	if (x->port != y->port)
		return ntohs(x->port) - ntohs(y->port);
	return x->proto - y->proto;
}

int lb_service_list(struct lb_ctx *ctx, struct lb_service_info **out, size_t *n)
{
	struct lb_service_info *v = NULL;
	struct lb_svc_key k, next, *prev = NULL;
	size_t cnt = 0, cap = 0;
	struct svc_maps m;
	struct lb_svc val;
	int err;

	*out = NULL;
	*n = 0;
	err = svc_maps_open(ctx, &m);
	if (err)
		return err;
	while (bpf_map_get_next_key(m.svc, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (svc_lookup(&m, &k, &val))
			continue;
		if (LB_RESERVE(v, cnt, cap)) {
			err = -ENOMEM;
			break;
		}
		fill_info(&m, &k, &val, &v[cnt++]);
	}
	svc_maps_close(&m);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_info);
	*out = v;
	*n = cnt;
	return 0;
}

/* Index in v->eps of the endpoint with e's address and port, or -1. */
static int find_ep(const struct svc_maps *m, const struct lb_svc *v, const struct lb_endpoint *e)
{
	for (uint32_t i = 0; i < v->n_eps && i < LB_SVC_EPS_MAX; i++) {
		struct lb_ep ep;

		if (!ep_lookup(m, v->eps[i], &ep) && ep.port == e->port &&
		    !memcmp(&ep.addr, &e->addr, sizeof(ep.addr)))
			return i;
	}
	return -1;
}

static int alloc_ep_id(const struct svc_maps *m, uint32_t *id)
{
	uint32_t max = map_max_entries(m->ep);

	for (uint32_t i = 1; i < max; i++) {
		struct lb_ep ep;

		if (!ep_lookup(m, i, &ep) && !ep.svc_id) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static int check_endpoint(struct lb_ctx *ctx, const struct lb_svc *v, const struct lb_endpoint *e)
{
	if (e->family != v->family)
		return lb_set_err(ctx, -EAFNOSUPPORT, "endpoint family differs from the service's");
	if (!e->port)
		return lb_set_err(ctx, -EINVAL, "port 0");
	if ((unsigned int)e->status > LB_EP_DOWN)
		return lb_set_err(ctx, -EINVAL, "unknown state");
	if (e->weight > 65535)
		return lb_set_err(ctx, -EINVAL, "weight above 65535");
	return 0;
}

static void ep_value(struct lb_ep *ep, const struct lb_endpoint *e, uint32_t svc_id)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr = e->addr;
	ep->port = e->port;
	ep->family = e->family;
	ep->status = e->status;
	ep->weight = e->weight;
	ep->svc_id = svc_id;
}

int lb_endpoint_add(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct svc_maps m;
	struct lb_svc v;
	struct lb_ep ep;
	uint32_t id;
	int err = ep_begin(ctx, k, &m, &v);

	if (err)
		return err;
	err = check_endpoint(ctx, &v, e);
	if (err)
		goto out;
	if (find_ep(&m, &v, e) >= 0) {
		err = -EEXIST;
		goto out;
	}
	if (v.n_eps >= LB_SVC_EPS_MAX) {
		err = lb_set_err(ctx, -ENOSPC, "a service has at most %d endpoints", LB_SVC_EPS_MAX);
		goto out;
	}
	err = alloc_ep_id(&m, &id);
	if (err) {
		lb_set_err(ctx, err, "the endpoint table is full");
		goto out;
	}
	ep_value(&ep, e, v.id);
	err = reset_id(m.ep_stats, m.ep_state, id, sizeof(struct lb_ep_state));
	if (!err)
		err = bpf_map_update_elem(m.ep, &id, &ep, BPF_ANY) ? -errno : 0;
	if (err)
		goto out;
	v.eps[v.n_eps++] = id;
	err = svc_commit(ctx, &m, k, &v);
	if (err)
		free_endpoint(&m, id);	/* the service never pointed at it */
out:
	svc_maps_close(&m);
	return err;
}

int lb_endpoint_set(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct lb_ep ep, old;
	struct svc_maps m;
	struct lb_svc v;
	int err = ep_begin(ctx, k, &m, &v), i;

	if (err)
		return err;
	err = check_endpoint(ctx, &v, e);
	if (err)
		goto out;
	i = find_ep(&m, &v, e);
	if (i < 0) {
		err = lb_set_err(ctx, -ENOENT, "no such endpoint in the service");
		goto out;
	}
	err = ep_lookup(&m, v.eps[i], &old);
	if (err)
		goto out;
	ep_value(&ep, e, v.id);
	if (bpf_map_update_elem(m.ep, &v.eps[i], &ep, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	err = svc_commit(ctx, &m, k, &v);
	if (err) {
		bpf_map_update_elem(m.ep, &v.eps[i], &old, BPF_ANY);
		goto out;
	}
	if (e->status == LB_EP_DOWN) {
		/* Down: its flows go; their next packets are scheduled anew. */
		struct lb_ct_filter f = { .ep_id = v.eps[i] };

		err = lb_ct_flush(ctx, &f, NULL);
	}
out:
	svc_maps_close(&m);
	return err;
}

int lb_endpoint_del(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct lb_ct_filter f = {};
	struct svc_maps m;
	struct lb_svc v;
	uint32_t id;
	int err = ep_begin(ctx, k, &m, &v), i;

	if (err)
		return err;
	i = find_ep(&m, &v, e);
	if (i < 0) {
		err = lb_set_err(ctx, -ENOENT, "no such endpoint in the service");
		goto out;
	}
	id = v.eps[i];
	memmove(&v.eps[i], &v.eps[i + 1], (v.n_eps - i - 1) * sizeof(v.eps[0]));
	v.eps[--v.n_eps] = 0;
	err = svc_commit(ctx, &m, k, &v);
	if (err)
		goto out;
	f.ep_id = id;
	lb_ct_flush(ctx, &f, NULL);
	free_endpoint(&m, id);
out:
	svc_maps_close(&m);
	return err;
}
