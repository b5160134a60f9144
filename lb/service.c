// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Services and endpoints.  Every command checks everything first and writes
 * after, in an order that keeps the datapath consistent at each step: an
 * endpoint slot is filled before anything points at it, a selection table is
 * built whole in free slots of lb_sel and the service's value that names it is
 * replaced after (space.c finds the slots).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "ruleset.h"
#include "health.h"
#include "space.h"

/* The maps a service command touches, opened together. */
struct svc_maps {
	int svc, sel, state, stats, ep, ep_state, ep_stats, allow;
	int health;		/* -1 where a pin root has none: nothing is checked */
	int eps;
	struct lb_ctx *ctx;	/* its svc_cache: the free ids and slots */
	bool cached;		/* the fds are the cache's: close leaves them open */
};
#define SVC_MAPS_FDS	(offsetof(struct svc_maps, ctx) / sizeof(int))

/*
 * What a writer keeps while it holds the root's lock (a whole -b batch): the maps,
 * opened once, and what space.c read of the free ids and slots.  Nobody else
 * writes meanwhile, so both stay true.  A reader keeps neither.
 */
struct lb__svc_cache {
	int fd[SVC_MAPS_FDS];
	struct lb__space *space;
	int health_empty;	/* lb_health holds no entry: 1, 0, -1 not known */
};

void lb__svc_cache_drop(struct lb_ctx *ctx)
{
	struct lb__svc_cache *c = ctx->svc_cache;

	if (!c)
		return;
	for (size_t i = 0; i < SVC_MAPS_FDS; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
	lb__space_free(c->space);
	free(c);
	ctx->svc_cache = NULL;
}

static struct lb__svc_cache *svc_cache(struct lb_ctx *ctx)
{
	if (!ctx->svc_cache) {
		ctx->svc_cache = calloc(1, sizeof(*ctx->svc_cache));
		if (!ctx->svc_cache)
			return NULL;
		for (size_t i = 0; i < SVC_MAPS_FDS; i++)
			ctx->svc_cache->fd[i] = -1;
		ctx->svc_cache->health_empty = -1;
	}
	return ctx->svc_cache;
}

/*
 * lb_health (fd) holds no entry, so that every lookup there would miss: asked once
 * per writer, which alone adds entries (health_written), once per call otherwise.
 * The kernel answers by walking every bucket of the hash, which is as long as a
 * few thousand lookups: never once per service.
 */
static bool health_empty(struct lb_ctx *ctx, int fd)
{
	struct lb__svc_cache *c = ctx->flags & LB_OPEN_WRITE ? svc_cache(ctx) : NULL;
	bool empty;

	if (fd < 0)
		return true;
	if (c && c->health_empty >= 0)
		return c->health_empty;
	empty = lb__health_empty(fd);
	if (c)
		c->health_empty = empty;
	return empty;
}

/* An entry may have been added: not known to be empty any more. */
static void health_written(struct lb_ctx *ctx)
{
	if (ctx->svc_cache)
		ctx->svc_cache->health_empty = 0;
}

/* Which of them a command opens (each open is a path walk and a close). */
enum {
	M_SVC = 1, M_SEL = 2, M_STATE = 4, M_STATS = 8, M_EP = 16, M_EP_STATE = 32,
	M_EP_STATS = 64, M_ALLOW = 128, M_HEALTH = 256, M_EPS = 512,
	M_SVC_ADD = M_SVC | M_SEL | M_STATE | M_STATS | M_ALLOW | M_HEALTH,
	/* set, del, endpoint set and del */
	M_CHANGE = M_SVC | M_SEL | M_STATE | M_EP | M_ALLOW | M_HEALTH | M_EPS,
	M_EP_ADD = M_CHANGE | M_EP_STATE | M_EP_STATS,
	M_READ = M_SVC | M_STATS | M_EP | M_EP_STATE | M_EP_STATS | M_HEALTH | M_EPS,
};

static void svc_maps_close(struct svc_maps *m)
{
	int *fds = (int *)m;

	if (m->cached)
		return;
	for (size_t i = 0; i < SVC_MAPS_FDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Another writer may change what a reader saw: it reads again next time. */
	if (m->ctx && m->ctx->svc_cache) {
		lb__space_free(m->ctx->svc_cache->space);
		m->ctx->svc_cache->space = NULL;
	}
}

static int svc_maps_open(struct lb_ctx *ctx, struct svc_maps *m, unsigned int which)
{
	static const char *const names[] = {
		LB_MAP_SERVICES, LB_MAP_SEL, LB_MAP_SVC_STATE, LB_MAP_SVC_STATS,
		LB_MAP_ENDPOINTS, LB_MAP_EP_STATE, LB_MAP_EP_STATS, LB_MAP_ALLOW, LB_MAP_HEALTH,
		LB_MAP_SVC_EPS,
	};
	struct lb__svc_cache *c = ctx->flags & LB_OPEN_WRITE ? svc_cache(ctx) : NULL;
	int *fds = (int *)m;

	_Static_assert(sizeof(names) / sizeof(names[0]) == SVC_MAPS_FDS, "a name per map");
	for (size_t i = 0; i < SVC_MAPS_FDS; i++)
		fds[i] = c ? c->fd[i] : -1;
	m->ctx = ctx;
	m->cached = false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(which & (1u << i)) || fds[i] >= 0)
			continue;
		fds[i] = lb_map_fd(ctx, names[i]);
		if (fds[i] < 0 && (1u << i) == M_HEALTH && fds[i] == -ENOENT)
			continue;	/* optional: see struct svc_maps */
		if (fds[i] < 0) {
			int err = fds[i];

			if (!c)
				svc_maps_close(m);
			return LB_MAP_ERR(ctx, err, "map %s: not loaded (attach the datapath first)",
					  names[i]);
		}
		if (c)
			c->fd[i] = fds[i];
	}
	m->cached = c != NULL;
	return 0;
}

static uint32_t map_max_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Write cnt keys and values of these sizes: one batch call, element by element
 * where the kernel has no batch updates for the map's type. */
static int batch_write(int fd, const void *keys, size_t key_size, const void *vals,
		       size_t val_size, uint32_t cnt)
{
	uint32_t done = cnt;
	int err = 0;

	if (cnt && bpf_map_update_batch(fd, keys, vals, &done, NULL)) {
		err = -errno;
		if (err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */) {
			err = 0;
			for (uint32_t i = 0; !err && i < cnt; i++)
				if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
							(const char *)vals + i * val_size, BPF_ANY))
					err = -errno;
		}
	}
	return err;
}

/*
 * Fresh service or endpoint ids start from zero: their per-CPU counters and their
 * shared state (scheduler cursor, open flows) are cleared before anything points
 * at them, in one batch each.
 */
static int reset_ids(int stats_fd, int state_fd, const uint32_t *ids, uint32_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t stride = (sizeof(struct lb_obj_stats) + 7) & ~7ul;
	uint32_t *keys = malloc((n + 1) * sizeof(*keys)), cnt = n + 1;
	uint64_t *vals = calloc(n + 1, sizeof(*vals));
	void *zero = ncpu > 0 ? calloc((size_t)ncpu * (n ? n : 1), stride) : NULL;
	int err = 0;

	_Static_assert(sizeof(struct lb_svc_state) == 8 && sizeof(struct lb_ep_state) == 8,
		       "state values are one u64: the hint fits element 0");
	if (!keys || !vals || !zero) {
		err = ncpu <= 0 ? -EINVAL : -ENOMEM;
		goto out;
	}
	if (!n)
		goto out;
	err = batch_write(stats_fd, ids, sizeof(*ids), zero, stride * ncpu, n);
	/* The ids' state, then element 0: where the next free-id scan starts. */
	memcpy(keys, ids, n * sizeof(*keys));
	keys[n] = 0;
	vals[n] = (uint64_t)ids[n - 1] + 1;
	if (!err && bpf_map_update_batch(state_fd, keys, vals, &cnt, NULL) && cnt < n)
		err = -errno;	/* the hint alone may fail */
out:
	free(keys);
	free(vals);
	free(zero);
	return err;
}

static int reset_id(int stats_fd, int state_fd, uint32_t id)
{
	return reset_ids(stats_fd, state_fd, &id, 1);
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


/* Write ids[0..n) at indexes from.. of service svc_id's endpoint list. */
static int eps_write(const struct svc_maps *m, uint32_t svc_id, uint32_t from,
		     const uint32_t *ids, uint32_t n)
{
	struct lb_svc_ep_key *keys = malloc((n ? n : 1) * sizeof(*keys));
	int err;

	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		keys[i] = (struct lb_svc_ep_key){ .svc_id = svc_id, .idx = from + i };
	err = batch_write(m->eps, keys, sizeof(*keys), ids, sizeof(*ids), n);
	free(keys);
	return err;
}

/* Drop indexes from..to-1 of service svc_id's endpoint list. */
static void eps_trim(const struct svc_maps *m, uint32_t svc_id, uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i++) {
		struct lb_svc_ep_key k = { .svc_id = svc_id, .idx = i };

		bpf_map_delete_elem(m->eps, &k);
	}
}

/*
 * The endpoints of one service as a command read them (ep_read): their ids from
 * lb_svc_eps and their slots, so that the rebuild which follows does not read
 * them again.  On the heap (ep_cache_new): 180 KiB at LB_SVC_EPS_MAX.
 */
struct ep_cache {
	uint32_t n;			/* the service's n_eps */
	uint32_t id[LB_SVC_EPS_MAX];	/* its list, in order */
	bool ok[LB_SVC_EPS_MAX];	/* ep[i] holds slot id[i] */
	struct lb_ep ep[LB_SVC_EPS_MAX];
};

static struct ep_cache *ep_cache_new(void)
{
	return calloc(1, sizeof(struct ep_cache));
}

static int ep_read(const struct svc_maps *m, const struct lb_svc *v, struct ep_cache *c);

/* The free ids and slots, as space.c read them (once per writer). */
static int space_get(const struct svc_maps *m, struct lb__space **out)
{
	struct lb__svc_cache *c = svc_cache(m->ctx);
	int err = 0;

	if (!c)
		return -ENOMEM;
	if (!c->space)
		err = lb__space_new(m->svc, m->sel, map_max_entries(m->sel),
				    map_max_entries(m->state), &c->space);
	*out = c->space;
	return err;
}

/* Write tbl[0..len) into lb_sel at free slots, room for this scheduler's table:
 * *off. */
static int sel_write(struct lb_ctx *ctx, const struct svc_maps *m, uint8_t sched,
		     const uint32_t *tbl, uint32_t len, uint32_t *off)
{
	uint32_t room = lb_sel_room(sched, len), *keys;
	struct lb__space *sp;
	int err = space_get(m, &sp);

	if (!err)
		err = lb__space_take(sp, room, off);
	if (err == -ENOSPC)
		return lb_set_err(ctx, err,
				  "no room for a selection table of %u slots: %u of lb_sel's %u are in use (attach with a larger 'selection')",
				  room, lb__space_in_use(sp), map_max_entries(m->sel));
	if (err || !len)
		return err;
	keys = malloc(len * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < len; i++)
		keys[i] = *off + i;
	err = batch_write(m->sel, keys, sizeof(*keys), tbl, sizeof(*tbl), len);
	free(keys);
	return err;
}

/*
 * Build v's selection table from its up endpoints in free slots of lb_sel;
 * v->sel_off and v->sel_len name it for the caller to store.  c, when given,
 * holds the endpoint slots already read.
 */
static int sel_rebuild(struct lb_ctx *ctx, const struct svc_maps *m, struct lb_svc *v,
		       const struct ep_cache *c)
{
	uint32_t *ids = NULL, *weights = NULL, *tbl = NULL, *idx = NULL, n_eps;
	uint8_t (*names)[20] = NULL;
	struct ep_cache *own = NULL;
	size_t n = 0, len = 0, cap;
	uint32_t off;
	int err = 0;

	if (!c) {
		c = own = ep_cache_new();
		err = own ? ep_read(m, v, own) : -ENOMEM;
		if (err)
			goto out;
	}
	n_eps = c->n;
	ids = malloc((n_eps ? n_eps : 1) * sizeof(*ids));
	weights = malloc((n_eps ? n_eps : 1) * sizeof(*weights));
	names = malloc((n_eps ? n_eps : 1) * sizeof(*names));
	if (!ids || !weights || !names) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n_eps; i++) {
		const struct lb_ep *ep = &c->ep[i];

		if (!c->ok[i] || !lb_ep_usable(ep))
			continue;
		ids[n] = c->id[i];
		weights[n] = ep->weight;
		ep_name(ep, names[n]);
		n++;
	}
	/*
	 * As large as this scheduler's table can be, not LB_SEL_MAX each time: a
	 * quarter megabyte zeroed per command made bulk loads page-fault bound.
	 */
	cap = v->sched == LB_SCHED_RR || v->sched == LB_SCHED_LC ? LB_SVC_EPS_MAX :
	      v->sched == LB_SCHED_WRR || v->sched == LB_SCHED_RANDOM ? LB_WRR_MAX :
	      lb_maglev_size(v->maglev_size, n_eps);
	tbl = malloc((cap ? cap : 1) * sizeof(*tbl));
	idx = malloc((cap ? cap : 1) * sizeof(*idx));
	if (!tbl || !idx) {
		err = -ENOMEM;
		goto out;
	}
	if (n) {
		switch (v->sched) {
		case LB_SCHED_RR:
		case LB_SCHED_LC:	/* lc picks two of the table (sched.h) */
			for (size_t i = 0; i < n; i++)
				idx[i] = i;
			len = n;
			break;
		case LB_SCHED_WRR:
		case LB_SCHED_RANDOM:
			len = lb_wrr_build(weights, n, idx, LB_WRR_MAX);
			break;
		default:
			len = cap;
			err = lb_maglev_build((const uint8_t (*)[20])names, weights, n, len, idx);
			if (err)
				goto out;
		}
	}
	for (size_t i = 0; i < len; i++)
		tbl[i] = ids[idx[i]];
	err = sel_write(ctx, m, v->sched, tbl, len, &off);
	if (err)
		goto out;
	v->sel_off = off;
	v->sel_len = len;
out:
	free(own);
	free(ids);
	free(weights);
	free(names);
	free(tbl);
	free(idx);
	return err;
}

/* Open the maps and read service k: the start of every endpoint command. */
static int ep_begin(struct lb_ctx *ctx, const struct lb_svc_key *k, struct svc_maps *m,
		    struct lb_svc *v, unsigned int which)
{
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, m, which);
	if (err)
		return err;
	err = svc_lookup(m, k, v);
	if (err) {
		svc_maps_close(m);
		return lb_set_err(ctx, err, "no such service");
	}
	return 0;
}

/*
 * rr and lc: an endpoint that joins up with a weight goes to the end of the table
 * (the table is the up endpoints in list order).  Their slices have room
 * (lb_sel_room), so the id is written in the first slot past the length, where
 * no reader looks until the service's value says the new length.
 * 0: done (v->sel_len follows); 1: rebuild instead (another scheduler, no room).
 */
static int sel_append(const struct svc_maps *m, struct lb_svc *v, const struct lb_ep *ep,
		      uint32_t id)
{
	uint32_t slot = v->sel_off + v->sel_len;

	if (v->sched != LB_SCHED_RR && v->sched != LB_SCHED_LC)
		return 1;
	if (!lb_ep_usable(ep))
		return 0;	/* not in the table: it stays as it is */
	if (!v->sel_off || v->sel_len >= lb_sel_room(v->sched, v->sel_len) ||
	    bpf_map_update_elem(m->sel, &slot, &id, BPF_ANY))
		return 1;
	v->sel_len++;
	return 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Health into the endpoint slots: LB_EP_F_SICK on each endpoint whose check says
 * down, unless that is every endpoint the operator has up (with a weight): then
 * the service fails open and all of them serve, as if unchecked (the service's
 * entry counts the times).  Slots whose flag changes are written here, in c too;
 * *changed says the selection table must follow.
 */
static int health_apply(const struct svc_maps *m, const struct lb_svc_key *k,
			const struct lb_svc *v, struct ep_cache *c, bool *changed)
{
	bool sick[LB_SVC_EPS_MAX] = {}, panic;
	uint32_t cand = 0, nsick = 0;
	struct lb_health_key hk;
	struct lb_health sh, eh;
	int fd;

	*changed = false;
	if (m->health < 0)
		return 0;
	/* No entry at all (nothing is checked): no lookup per endpoint. */
	fd = health_empty(m->ctx, m->health) ? -1 : m->health;
	lb__health_key(&hk, k, NULL, 0);
	lb__health_get(fd, &hk, &sh);
	for (uint32_t i = 0; i < c->n; i++) {
		const struct lb_ep *e = &c->ep[i];
		uint8_t type;

		if (!c->ok[i])
			continue;
		lb__health_key(&hk, k, &e->addr, e->port);
		lb__health_get(fd, &hk, &eh);
		type = eh.check.type ? eh.check.type : sh.check.type;
		sick[i] = type > LB_CHECK_NONE && eh.state == LB_HEALTH_DOWN;
		if (e->status == LB_EP_UP && e->weight) {
			cand++;
			nsick += sick[i];
		}
	}
	panic = cand && nsick == cand;
	for (uint32_t i = 0; i < c->n; i++) {
		uint32_t want = sick[i] && !panic ? LB_EP_F_SICK : 0;
		struct lb_ep ep = c->ep[i];

		if (!c->ok[i] || (ep.flags & LB_EP_F_SICK) == want)
			continue;
		ep.flags = (ep.flags & ~LB_EP_F_SICK) | want;
		if (bpf_map_update_elem(m->ep, &c->id[i], &ep, BPF_ANY))
			return -errno;
		c->ep[i] = ep;
		*changed = true;
	}
	if (panic != !!sh.panic) {
		lb__health_key(&hk, k, NULL, 0);
		sh.panic = panic;
		sh.panics += panic;
		sh.change_ns = realtime_ns();
		bpf_map_update_elem(m->health, &hk, &sh, BPF_ANY);
	}
	return 0;
}

/* Swap in v's new selection table, then v itself; health first decides which
 * endpoints are in it.  c: the slots when read already. */
static int svc_commit(struct lb_ctx *ctx, const struct svc_maps *m, const struct lb_svc_key *k,
		      struct lb_svc *v, struct ep_cache *c)
{
	struct ep_cache *own = NULL;
	bool changed;
	int err = 0;

	if (!c) {
		c = own = ep_cache_new();
		err = own ? ep_read(m, v, own) : -ENOMEM;
	}
	if (!err)
		err = health_apply(m, k, v, c, &changed);
	if (!err)
		err = sel_rebuild(ctx, m, v, c);

	if (!err && bpf_map_update_elem(m->svc, k, v, BPF_EXIST))
		err = -errno;
	free(own);
	return err;
}

/* ------------------------------------------------------------------ allow lists */

/*
 * The allowed sources of every service are entries of one LPM trie, lb_allow,
 * keyed by (service id, prefix); struct lb_svc.n_allow counts a service's entries
 * and is what makes the datapath look (0: every source).  A change writes new
 * entries before the count says they are there and removes entries after it says
 * they are gone, so a list being changed allows the old prefixes or the new ones
 * (during a replace, both), and one going to or from empty never denies everyone.
 */
int lb__prefix_cmp(const void *a, const void *b)
{
	const struct lb_prefix *x = a, *y = b;
	int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));

	return c ? c : (int)x->prefix_len - (int)y->prefix_len;
}

static const char *prefix_str(const struct lb_prefix *p, uint8_t family, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", lb_addr_str(&p->addr, family, a, sizeof(a)), p->prefix_len);
	return buf;
}

/* Prefixes of family with no bits past their length, each once. */
static int check_prefixes(struct lb_ctx *ctx, uint8_t family, const struct lb_prefix *p, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct lb_prefix *sorted;
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		struct lb_prefix m;

		if (p[i].prefix_len > (family == LB_AF_INET ? 32u : 128u) ||
		    !lb_addr_fits(&p[i].addr, family))
			return lb_set_err(ctx, -EINVAL, "allow %s: not of the service's family",
					  prefix_str(&p[i], LB_AF_INET6, buf, sizeof(buf)));
		m = p[i];
		lb_prefix_mask(&m);
		if (memcmp(&m.addr, &p[i].addr, sizeof(m.addr)))
			return lb_set_err(ctx, -EINVAL, "allow %s: bits set past the prefix length",
					  prefix_str(&p[i], family, buf, sizeof(buf)));
	}
	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, p, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), lb__prefix_cmp);
	for (size_t i = 1; i < n && !err; i++)
		if (!lb__prefix_cmp(&sorted[i - 1], &sorted[i]))
			err = lb_set_err(ctx, -EINVAL, "allow %s: listed twice",
					 prefix_str(&sorted[i], family, buf, sizeof(buf)));
	free(sorted);
	return err;
}

static void allow_key(struct lb_allow_key *k, uint32_t id, const struct lb_prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = LB_ALLOW_KEY_BITS(p->prefix_len);
	k->svc_id = id;
	k->src = p->addr;
}

/* p is an entry of service id itself, not only inside a shorter one: a lookup
 * finds the longest entry up to p's length, which says its own length. */
static bool allow_has(int fd, uint32_t id, const struct lb_prefix *p)
{
	struct lb_allow_key k;
	struct lb_allow r;

	allow_key(&k, id, p);
	return !bpf_map_lookup_elem(fd, &k, &r) && r.prefix_len == p->prefix_len;
}

static void allow_remove(int fd, uint32_t id, const struct lb_prefix *p, size_t n)
{
	struct lb_allow_key k;

	for (size_t i = 0; i < n; i++) {
		allow_key(&k, id, &p[i]);
		bpf_map_delete_elem(fd, &k);
	}
}

/* Add entries of service id for p[0..n): all, or none and an error naming why. */
static int allow_write(struct lb_ctx *ctx, int fd, uint32_t id, uint8_t family,
		       const struct lb_prefix *p, size_t n)
{
	struct lb_allow r = { .action = LB_ALLOW_PASS };
	char buf[INET6_ADDRSTRLEN + 8];
	struct lb_allow_key k;

	for (size_t i = 0; i < n; i++) {
		int err;

		allow_key(&k, id, &p[i]);
		r.prefix_len = p[i].prefix_len;
		if (!bpf_map_update_elem(fd, &k, &r, BPF_NOEXIST))
			continue;
		err = -errno;
		allow_remove(fd, id, p, i);
		if (err == -EEXIST)
			return lb_set_err(ctx, err, "allow %s: already in the list",
					  prefix_str(&p[i], family, buf, sizeof(buf)));
		if (err == -ENOSPC || err == -E2BIG || err == -ENOMEM)
			return lb_set_err(ctx, -ENOSPC, "the allow table is full (%u prefixes of all services)",
					  map_max_entries(fd));
		return lb_set_err(ctx, err, "cannot write the allow list");
	}
	return 0;
}

/*
 * The entries of lb_allow whose service id is marked in ids[0..max) (ids NULL:
 * every entry), or whose id is not marked with keep (orphans): keys only.
 */
static int allow_keys(int fd, const uint8_t *ids, uint32_t max, bool keep,
		      struct lb_allow_key **out, size_t *n)
{
	struct lb_allow_key k, next, *prev = NULL, *v = NULL;
	size_t cnt = 0, cap = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		bool marked = next.svc_id < max && ids && ids[next.svc_id];

		k = next;
		prev = &k;
		if (ids && marked == keep)
			continue;
		if (LB_RESERVE(v, cnt, cap)) {
			free(v);
			return -ENOMEM;
		}
		v[cnt++] = k;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Remove every entry of the services marked in ids[] (keep false), or of those not
 * marked (keep true): one walk of the trie, then the deletes. */
static int allow_forget(int fd, const uint8_t *ids, uint32_t max, bool keep)
{
	struct lb_allow_key *v;
	size_t n;
	int err = allow_keys(fd, ids, max, keep, &v, &n);

	for (size_t i = 0; !err && i < n; i++)
		bpf_map_delete_elem(fd, &v[i]);
	if (!err)
		free(v);
	return err;
}

static int allow_forget_id(int fd, uint32_t id)
{
	uint8_t *ids = calloc((size_t)id + 1, 1);
	int err;

	if (!ids)
		return -ENOMEM;
	ids[id] = 1;
	err = allow_forget(fd, ids, id + 1, false);
	free(ids);
	return err;
}

/* The prefixes of service id: *out malloc'd, sorted. */
static int allow_read(int fd, uint32_t id, struct lb_prefix **out, size_t *n)
{
	uint8_t *ids = calloc((size_t)id + 1, 1);
	struct lb_allow_key *k = NULL;
	struct lb_prefix *v = NULL;
	size_t cnt = 0;
	int err = ids ? 0 : -ENOMEM;

	if (!err) {
		ids[id] = 1;
		err = allow_keys(fd, ids, id + 1, false, &k, &cnt);
	}
	if (!err && !(v = malloc((cnt ? cnt : 1) * sizeof(*v))))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < cnt; i++)
		v[i] = (struct lb_prefix){ .addr = k[i].src, .prefix_len = k[i].prefixlen - 32 };
	if (!err)
		qsort(v, cnt, sizeof(*v), lb__prefix_cmp);
	free(ids);
	free(k);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int check_service(struct lb_ctx *ctx, const struct lb_service *s)
{
	const struct lb_svc_key *k = &s->key;

	if (k->family != LB_AF_INET && k->family != LB_AF_INET6)
		return lb_set_err(ctx, -EINVAL, "unknown address family");
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return lb_set_err(ctx, -EINVAL, "protocol must be tcp or udp");
	if (!lb_addr_fits(&k->vip, k->family)) {
		char buf[INET6_ADDRSTRLEN];

		return lb_set_err(ctx, -EINVAL, "VIP %s is an IPv6 address, the family inet",
				  lb_addr_str(&k->vip, LB_AF_INET6, buf, sizeof(buf)));
	}
	if (lb_addr_not_unicast(&k->vip, k->family)) {
		char buf[INET6_ADDRSTRLEN];

		return lb_set_err(ctx, -EINVAL, "VIP %s is %s",
				  lb_addr_str(&k->vip, k->family, buf, sizeof(buf)),
				  lb_addr_not_unicast(&k->vip, k->family));
	}
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
	if (s->allow) {
		int err = check_prefixes(ctx, k->family, s->allow, s->n_allow);

		if (err)
			return err;
	}
	if (s->mode == LB_NAT_FULLNAT && !s->snat_ifaddr && !lb_addr_fits(&s->snat, k->family))
		return lb_set_err(ctx, -EINVAL, "snat address of the wrong family");
	return lb__check_valid(ctx, &s->check);
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
}

/*
 * Free ids are found by a scan that starts where the last allocation stopped:
 * ids 0 mean "none" and are never used, so element 0 of lb_svc_state (rr_cursor)
 * and of lb_ep_state (active) holds that position, pinned with the maps and
 * written by reset_id().  It is only a hint: the scan checks every id it takes
 * and wraps around, so adding in a row costs a lookup or two per id, not a walk
 * of the whole table.
 */
static uint32_t hint_get(int fd)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	if (bpf_map_lookup_elem(fd, &zero, &v) || v < 1 || v > UINT32_MAX)
		return 1;
	return v;
}

/* A free service id (space.c), looked for from the hint on (reset_id moves it). */
static int alloc_svc_id(const struct svc_maps *m, uint32_t *id)
{
	struct lb__space *sp;
	int err = space_get(m, &sp);

	if (err)
		return err;
	return lb__space_id_take(sp, lb__space_id_next(sp) ?: hint_get(m->state), id);
}

/* Give back an id taken by alloc_svc_id that no service holds (any more). */
static void put_svc_id(const struct svc_maps *m, uint32_t id)
{
	struct lb__space *sp;

	if (!space_get(m, &sp))
		lb__space_id_put(sp, id);
}

/* Check a service's configuration and open the maps: the start of add and set. */
static int svc_begin(struct lb_ctx *ctx, const struct lb_service *s, struct svc_maps *m,
		     unsigned int which)
{
	int err;

	lb_clear_err(ctx);
	err = check_service(ctx, s);
	return err ? err : svc_maps_open(ctx, m, which);
}

/* A service's own check settings into lb_health. */
static int svc_health_put(const struct svc_maps *m, const struct lb_svc_key *k,
			  const struct lb_check *c)
{
	struct lb_health_key hk;

	lb__health_key(&hk, k, NULL, 0);
	health_written(m->ctx);
	return lb__health_put(m->health, &hk, c);
}

static int ep_health_put(const struct svc_maps *m, const struct lb_svc_key *k,
			 const struct lb_endpoint *e)
{
	struct lb_health_key hk;

	lb__health_key(&hk, k, &e->addr, e->port);
	health_written(m->ctx);
	return lb__health_put(m->health, &hk, &e->check);
}

/* The key of s names its generation (lb_service_add: the live one). */
static int service_add_gen(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_svc v = {};
	struct svc_maps m;
	int err = svc_begin(ctx, s, &m, M_SVC_ADD);

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
	err = reset_id(m.stats, m.state, v.id);
	if (!err && s->allow) {
		err = allow_write(ctx, m.allow, v.id, s->key.family, s->allow, s->n_allow);
		v.n_allow = err ? 0 : s->n_allow;
	}
	if (!err)
		err = sel_rebuild(ctx, &m, &v, NULL);	/* an empty table to start with */
	if (!err)
		err = svc_health_put(&m, &s->key, &s->check);
	if (!err && bpf_map_update_elem(m.svc, &s->key, &v, BPF_NOEXIST)) {
		err = -errno;
		put_svc_id(&m, v.id);
		if (err == -E2BIG || err == -ENOMEM)
			lb_set_err(ctx, -ENOSPC, "the service table is full");
	}
	if (err && v.n_allow)
		allow_remove(m.allow, v.id, s->allow, s->n_allow);
out:
	svc_maps_close(&m);
	return err;
}

/* pfx[0..n) without the prefixes of the sorted list not[0..m): into out. */
static size_t prefixes_minus(const struct lb_prefix *pfx, size_t n, const struct lb_prefix *not,
			     size_t m, struct lb_prefix *out)
{
	size_t cnt = 0;

	for (size_t i = 0; i < n; i++)
		if (!bsearch(&pfx[i], not, m, sizeof(*not), lb__prefix_cmp))
			out[cnt++] = pfx[i];
	return cnt;
}

/* service set with a list: the configuration and the list s->allow replaces. */
static int allow_replace(struct lb_ctx *ctx, const struct svc_maps *m, const struct lb_svc_key *k,
			 struct lb_svc *v, const struct lb_service *s)
{
	struct lb_prefix *cur = NULL, *want = NULL, *add = NULL, *del = NULL;
	size_t n_cur = 0, n_add, n_del, n = s->n_allow;
	int err = allow_read(m->allow, v->id, &cur, &n_cur);

	if (err)
		return err;
	want = malloc((n ? n : 1) * sizeof(*want));
	add = malloc((n ? n : 1) * sizeof(*add));
	del = malloc((n_cur ? n_cur : 1) * sizeof(*del));
	if (!want || !add || !del) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(want, s->allow, n * sizeof(*want));
	qsort(want, n, sizeof(*want), lb__prefix_cmp);
	n_add = prefixes_minus(s->allow, n, cur, n_cur, add);
	n_del = prefixes_minus(cur, n_cur, want, n, del);
	err = allow_write(ctx, m->allow, v->id, s->key.family, add, n_add);
	if (err)
		goto out;
	svc_config(v, s);
	v->n_allow = n;
	err = svc_commit(ctx, m, k, v, NULL);
	if (err)
		allow_remove(m->allow, v->id, add, n_add);
	else
		allow_remove(m->allow, v->id, del, n_del);
out:
	free(cur);
	free(want);
	free(add);
	free(del);
	return err;
}

static int service_set_gen(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_svc v;
	struct svc_maps m;
	int err = svc_begin(ctx, s, &m, M_CHANGE);

	if (err)
		return err;
	err = svc_lookup(&m, &s->key, &v);
	if (!err)
		err = svc_health_put(&m, &s->key, &s->check);
	if (!err && s->allow)
		err = allow_replace(ctx, &m, &s->key, &v, s);
	else if (!err) {
		svc_config(&v, s);
		err = svc_commit(ctx, &m, &s->key, &v, NULL);
	}
	svc_maps_close(&m);
	return err;
}

static int free_endpoint(const struct svc_maps *m, uint32_t id)
{
	struct lb_ep none = {};
	struct lb__space *sp;

	if (bpf_map_update_elem(m->ep, &id, &none, BPF_ANY))
		return -errno;
	if (!space_get(m, &sp))
		lb__space_ep_put(sp, id);
	return 0;
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

/*
 * Remove service k (value v): its entry first, so that new flows stop, then its
 * endpoint slots and its list.  Its id and slots are free once no entry names them.
 */
static int svc_unlink(const struct svc_maps *m, const struct lb_svc_key *k, const struct lb_svc *v)
{
	struct ep_cache *c = ep_cache_new();
	int err = c ? ep_read(m, v, c) : -ENOMEM;

	if (!err && bpf_map_delete_elem(m->svc, k))
		err = -errno;
	if (!err) {
		put_svc_id(m, v->id);
		for (uint32_t i = 0; i < c->n; i++)
			if (c->id[i])
				free_endpoint(m, c->id[i]);
		eps_trim(m, v->id, 0, v->n_eps);
	}
	free(c);
	return err;
}

/* purge: its allow entries go too (flush leaves them all to orphans_sweep). */
static int service_del(struct lb_ctx *ctx, const struct svc_maps *m, const struct lb_svc_key *k,
		       bool purge)
{
	struct lb_ct_filter f = {};
	struct lb_svc v;
	int err = svc_lookup(m, k, &v);

	if (err)
		return err;
	/* New flows stop first; then the table, endpoints and flows go. */
	err = svc_unlink(m, k, &v);
	if (err)
		return err;
	if (purge && v.n_allow)
		allow_forget_id(m->allow, v.id);
	f.svc_id = v.id;
	affinity_flush(ctx, v.id);
	lb__health_forget(m->health, k, NULL, 0, true);
	return lb_ct_flush(ctx, &f, NULL);
}

static int service_del_gen(struct lb_ctx *ctx, const struct lb_svc_key *k)
{
	struct svc_maps m;
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, &m, M_CHANGE);
	if (err)
		return err;
	err = service_del(ctx, &m, k, true);
	svc_maps_close(&m);
	return err;
}

static int orphans_sweep(const struct svc_maps *m);

int lb_service_flush(struct lb_ctx *ctx)
{
	struct lb_svc_key k, next;
	struct svc_maps m;
	int err;

	lb_clear_err(ctx);
	err = svc_maps_open(ctx, &m, M_CHANGE);
	if (err)
		return err;
	/* Deleting while walking restarts the walk: always take the first key.  Both
	 * generations go, so does what a restore left half done (orphans_sweep). */
	while (!err && bpf_map_get_next_key(m.svc, NULL, &next) == 0) {
		k = next;
		err = service_del(ctx, &m, &k, false);
	}
	if (!err)
		err = orphans_sweep(&m);
	svc_maps_close(&m);
	return err;
}

/* info from k and v; c is room to read the endpoints in.  info->eps is malloc'd.
 * hfd: lb_health, or -1 when it is empty. */
static int fill_info(const struct svc_maps *m, int hfd, const struct lb_svc_key *k,
		     const struct lb_svc *v, struct ep_cache *c, struct lb_service_info *info)
{
	struct lb_health_key hk;
	struct lb_health sh, eh;
	int err;

	memset(info, 0, sizeof(*info));
	info->svc.key = *k;
	info->svc.key.gen = 0;	/* callers name services without a generation */
	info->svc.sched = v->sched;
	info->svc.mode = v->mode;
	info->svc.snat_ifaddr = v->flags & LB_SVC_F_SNAT_IFADDR;
	info->svc.snat = v->snat;
	info->svc.persist = v->persist;
	info->svc.maglev_size = v->maglev_size;
	info->svc.n_allow = v->n_allow;	/* the prefixes: lb_service_allow_list */
	info->id = v->id;
	info->sel_len = v->sel_len;
	lb__health_key(&hk, k, NULL, 0);
	lb__health_get(hfd, &hk, &sh);
	info->svc.check = sh.check;
	info->panic = sh.panic;
	info->panics = sh.panics;
	info->panic_ns = sh.change_ns;
	percpu_sum(m->stats, &v->id, sizeof(info->stats), &info->stats);
	err = ep_read(m, v, c);
	if (err)
		return err;
	info->eps = calloc(c->n ? c->n : 1, sizeof(*info->eps));
	if (!info->eps)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->n; i++) {
		struct lb_endpoint_info *e = &info->eps[info->n_eps];
		struct lb_ep_state st = {};
		struct lb_ep ep = c->ep[i];
		uint32_t id = c->id[i];

		if (!c->ok[i])
			continue;
		e->id = id;
		e->ep.addr = ep.addr;
		e->ep.port = ep.port;
		e->ep.family = ep.family;
		e->ep.status = ep.status;
		e->ep.weight = ep.weight;
		lb__health_key(&hk, k, &ep.addr, ep.port);
		lb__health_get(hfd, &hk, &eh);
		e->ep.check = eh.check;
		e->health = (struct lb_health_info){
			.state = eh.state, .last = eh.last, .ok_run = eh.ok_run,
			.fail_run = eh.fail_run, .last_ns = eh.last_ns, .change_ns = eh.change_ns,
		};
		memcpy(e->health.reason, eh.reason, sizeof(e->health.reason));
		e->check = eh.check.type ? eh.check.type :
			   sh.check.type ? sh.check.type : LB_CHECK_NONE;
		e->sick = ep.flags & LB_EP_F_SICK;
		/* as counted: a negative count would be a bug to see, not hide */
		if (!bpf_map_lookup_elem(m->ep_state, &id, &st))
			e->active = st.active;
		percpu_sum(m->ep_stats, &id, sizeof(e->stats), &e->stats);
		info->n_eps++;
	}
	return 0;
}

void lb_service_info_free(struct lb_service_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].eps);
		v[i].eps = NULL;
		v[i].n_eps = 0;
	}
}

static int service_get_gen(struct lb_ctx *ctx, const struct lb_svc_key *k,
			   struct lb_service_info *out)
{
	struct ep_cache *c;
	struct svc_maps m;
	struct lb_svc v;
	int err;

	memset(out, 0, sizeof(*out));
	err = svc_maps_open(ctx, &m, M_READ);
	if (err)
		return err;
	c = ep_cache_new();
	err = c ? svc_lookup(&m, k, &v) : -ENOMEM;
	if (!err)
		err = fill_info(&m, health_empty(ctx, m.health) ? -1 : m.health, k, &v, c, out);
	if (err)
		lb_service_info_free(out, 1);
	free(c);
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
	struct ep_cache *c;
	struct svc_maps m;
	struct lb_svc val;
	uint32_t gen;
	int err, hfd;

	*out = NULL;
	*n = 0;
	err = lb__svc_gen(ctx, &gen);
	if (!err)
		err = svc_maps_open(ctx, &m, M_READ);
	if (err)
		return err;
	c = ep_cache_new();
	if (!c)
		err = -ENOMEM;
	hfd = health_empty(ctx, m.health) ? -1 : m.health;
	while (!err && bpf_map_get_next_key(m.svc, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (k.gen != (gen & 1))
			continue;	/* a restore being built, or left half done */
		if (svc_lookup(&m, &k, &val))
			continue;
		if (LB_RESERVE(v, cnt, cap)) {
			err = -ENOMEM;
			break;
		}
		err = fill_info(&m, hfd, &k, &val, c, &v[cnt++]);
	}
	free(c);
	svc_maps_close(&m);
	if (err) {
		lb_service_info_free(v, cnt);
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_info);
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * Read v's endpoint list and their slots into c.  Ids given out in a row lie
 * close together, so when they span few more slots than there are endpoints one
 * batch lookup reads them all.  An index missing from the list (a writer killed
 * half way) reads as id 0, not ok.
 */
#define EP_SPAN_MIN	256
static int ep_read(const struct svc_maps *m, const struct lb_svc *v, struct ep_cache *c)
{
	uint32_t n = v->n_eps < LB_SVC_EPS_MAX ? v->n_eps : LB_SVC_EPS_MAX, lo = UINT32_MAX, hi = 0;
	uint32_t span = n * 2 > EP_SPAN_MIN ? n * 2 : EP_SPAN_MIN;

	c->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct lb_svc_ep_key k = { .svc_id = v->id, .idx = i };

		if (bpf_map_lookup_elem(m->eps, &k, &c->id[i]))
			c->id[i] = 0;
		lo = c->id[i] < lo ? c->id[i] : lo;
		hi = c->id[i] > hi ? c->id[i] : hi;
	}
	if (n > 1 && lo >= 1 && hi - lo < span) {
		struct lb_ep *slots = malloc(span * sizeof(*slots));
		uint32_t *keys = malloc(span * sizeof(*keys)), start = lo - 1, cnt = hi - lo + 1, next;
		bool ok = slots && keys &&
			  !bpf_map_lookup_batch(m->ep, &start, &next, keys, slots, &cnt, NULL) &&
			  cnt == hi - lo + 1;

		for (uint32_t i = 0; ok && i < n; i++) {
			c->ok[i] = true;
			c->ep[i] = slots[c->id[i] - lo];
		}
		free(slots);
		free(keys);
		if (ok)
			return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		c->ok[i] = c->id[i] && !ep_lookup(m, c->id[i], &c->ep[i]);
	return 0;
}

/* Index in v's list of the endpoint with e's address and port, or -1; c gets
 * every slot of the service (read once, reused by the rebuild). */
static int find_ep(const struct svc_maps *m, const struct lb_svc *v, const struct lb_endpoint *e,
		   struct ep_cache *c)
{
	ep_read(m, v, c);
	for (uint32_t i = 0; i < c->n; i++)
		if (c->ok[i] && c->ep[i].port == e->port &&
		    !memcmp(&c->ep[i].addr, &e->addr, sizeof(e->addr)))
			return i;
	return -1;
}

/* A free endpoint slot (svc_id 0), from the hint on; a lookup past the end of the
 * array fails, which is where the scan wraps to 1. */
/* A free endpoint id (space.c), looked for from the hint on (reset_id moves it). */
static int alloc_ep_id(const struct svc_maps *m, uint32_t *id)
{
	struct lb__space *sp;
	int err = space_get(m, &sp);

	if (err)
		return err;
	return lb__space_ep_take(sp, m->ep, lb__space_ep_next(sp) ?: hint_get(m->ep_state), id);
}

static int check_endpoint(struct lb_ctx *ctx, const struct lb_svc *v, const struct lb_endpoint *e)
{
	if (e->family != v->family)
		return lb_set_err(ctx, -EAFNOSUPPORT, "endpoint family differs from the service's");
	if (!lb_addr_fits(&e->addr, e->family)) {
		char buf[INET6_ADDRSTRLEN];

		return lb_set_err(ctx, -EINVAL, "endpoint %s is an IPv6 address, the family inet",
				  lb_addr_str(&e->addr, LB_AF_INET6, buf, sizeof(buf)));
	}
	if (lb_addr_not_unicast(&e->addr, e->family)) {
		char buf[INET6_ADDRSTRLEN];

		return lb_set_err(ctx, -EINVAL, "endpoint %s is %s",
				  lb_addr_str(&e->addr, e->family, buf, sizeof(buf)),
				  lb_addr_not_unicast(&e->addr, e->family));
	}
	if (!e->port)
		return lb_set_err(ctx, -EINVAL, "port 0");
	if ((unsigned int)e->status > LB_EP_DOWN)
		return lb_set_err(ctx, -EINVAL, "unknown state");
	if (e->weight > 65535)
		return lb_set_err(ctx, -EINVAL, "weight above 65535");
	return lb__check_valid(ctx, &e->check);
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

static int endpoint_add_gen(struct lb_ctx *ctx, const struct lb_svc_key *k,
			    const struct lb_endpoint *e)
{
	struct ep_cache *c = NULL;
	bool changed = false;
	struct svc_maps m;
	struct lb_svc v;
	struct lb_ep ep;
	uint32_t id;
	int err = ep_begin(ctx, k, &m, &v, M_EP_ADD);

	if (err)
		return err;
	err = check_endpoint(ctx, &v, e);
	if (err)
		goto out;
	c = ep_cache_new();
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	if (find_ep(&m, &v, e, c) >= 0) {
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
	err = reset_id(m.ep_stats, m.ep_state, id);
	if (!err)
		err = bpf_map_update_elem(m.ep, &id, &ep, BPF_ANY) ? -errno : 0;
	/* The list's new last index, beyond n_eps until the service is written. */
	if (!err)
		err = eps_write(&m, v.id, v.n_eps, &id, 1);
	if (err) {
		free_endpoint(&m, id);
		goto out;
	}
	c->ok[v.n_eps] = true;
	c->ep[v.n_eps] = ep;
	c->id[v.n_eps] = id;
	c->n = ++v.n_eps;
	/* Its settings (and what a former endpoint of this name left: the state) may
	 * change which endpoints serve: then the whole table. */
	err = ep_health_put(&m, k, e);
	if (!err)
		err = health_apply(&m, k, &v, c, &changed);
	if (!err && !changed && sel_append(&m, &v, &c->ep[v.n_eps - 1], id) == 0)
		err = bpf_map_update_elem(m.svc, k, &v, BPF_EXIST) ? -errno : 0;
	else if (!err)
		err = svc_commit(ctx, &m, k, &v, c);
	if (err) {
		/* the service never pointed at it */
		eps_trim(&m, v.id, v.n_eps - 1, v.n_eps);
		free_endpoint(&m, id);
	}
out:
	free(c);
	svc_maps_close(&m);
	return err;
}

static int endpoint_set_gen(struct lb_ctx *ctx, const struct lb_svc_key *k,
			    const struct lb_endpoint *e)
{
	struct ep_cache *c = NULL;
	struct lb_ep ep, old;
	struct svc_maps m;
	struct lb_svc v;
	int err = ep_begin(ctx, k, &m, &v, M_CHANGE), i;

	if (err)
		return err;
	err = check_endpoint(ctx, &v, e);
	if (err)
		goto out;
	c = ep_cache_new();
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	i = find_ep(&m, &v, e, c);
	if (i < 0) {
		err = lb_set_err(ctx, -ENOENT, "no such endpoint in the service");
		goto out;
	}
	old = c->ep[i];
	ep_value(&ep, e, v.id);
	ep.flags = old.flags;
	err = ep_health_put(&m, k, e);
	if (err)
		goto out;
	if (bpf_map_update_elem(m.ep, &c->id[i], &ep, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	c->ep[i] = ep;
	err = svc_commit(ctx, &m, k, &v, c);
	if (err) {
		bpf_map_update_elem(m.ep, &c->id[i], &old, BPF_ANY);
		goto out;
	}
	if (e->status == LB_EP_DOWN) {
		/* Down: its flows go; their next packets are scheduled anew. */
		struct lb_ct_filter f = { .ep_id = c->id[i] };

		err = lb_ct_flush(ctx, &f, NULL);
	}
out:
	free(c);
	svc_maps_close(&m);
	return err;
}

static int endpoint_del_gen(struct lb_ctx *ctx, const struct lb_svc_key *k,
			    const struct lb_endpoint *e)
{
	struct lb_ct_filter f = {};
	struct ep_cache *c = NULL;
	struct svc_maps m;
	struct lb_svc v;
	uint32_t id;
	int err = ep_begin(ctx, k, &m, &v, M_CHANGE), i;

	if (err)
		return err;
	c = ep_cache_new();
	if (!c) {
		err = -ENOMEM;
		goto out;
	}
	i = find_ep(&m, &v, e, c);
	if (i < 0) {
		err = lb_set_err(ctx, -ENOENT, "no such endpoint in the service");
		goto out;
	}
	id = c->id[i];
	memmove(&c->id[i], &c->id[i + 1], (c->n - i - 1) * sizeof(c->id[0]));
	memmove(&c->ok[i], &c->ok[i + 1], (c->n - i - 1) * sizeof(c->ok[0]));
	memmove(&c->ep[i], &c->ep[i + 1], (c->n - i - 1) * sizeof(c->ep[0]));
	c->n = --v.n_eps;
	/* The list closes up (its last index stays until the service is written). */
	err = eps_write(&m, v.id, i, &c->id[i], c->n - i);
	if (!err)
		err = svc_commit(ctx, &m, k, &v, c);
	if (err) {
		memmove(&c->id[i + 1], &c->id[i], (c->n - i) * sizeof(c->id[0]));
		c->id[i] = id;
		eps_write(&m, v.id, i, &c->id[i], c->n + 1 - i);
		goto out;
	}
	eps_trim(&m, v.id, v.n_eps, v.n_eps + 1);
	f.ep_id = id;
	lb_ct_flush(ctx, &f, NULL);
	free_endpoint(&m, id);
	lb__health_forget(m.health, k, &e->addr, e->port, false);
out:
	free(c);
	svc_maps_close(&m);
	return err;
}

/* ------------------------------------------------------------------ generations */

/*
 * lb_services holds two generations of the rule set (struct lb_svc_key.gen): the
 * live one, lb_config.svc_gen & 1, and the spare one, where a restore builds the
 * next rule set (ruleset.c).  The public functions name services without a
 * generation and act on the live one.
 */
int lb__svc_gen(struct lb_ctx *ctx, uint32_t *svc_gen)
{
	uint32_t zero = 0;
	struct lb_config cfg;
	int fd = lb_map_fd(ctx, LB_MAP_CONFIG), err;

	if (fd < 0)
		return LB_MAP_ERR(ctx, fd, "map %s: not loaded (attach the datapath first)",
				  LB_MAP_CONFIG);
	err = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	close(fd);
	if (!err)
		*svc_gen = cfg.svc_gen;
	return err;
}

/* k in the live generation. */
static int live_key(struct lb_ctx *ctx, const struct lb_svc_key *k, struct lb_svc_key *out)
{
	uint32_t gen;
	int err;

	lb_clear_err(ctx);
	err = lb__svc_gen(ctx, &gen);
	if (err)
		return err;
	*out = *k;
	out->gen = gen & 1;
	memset(out->pad, 0, sizeof(out->pad));
	return 0;
}

int lb_service_add(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_service l = *s;
	int err = live_key(ctx, &s->key, &l.key);

	return err ? err : service_add_gen(ctx, &l);
}

int lb_service_set(struct lb_ctx *ctx, const struct lb_service *s)
{
	struct lb_service l = *s;
	int err = live_key(ctx, &s->key, &l.key);

	return err ? err : service_set_gen(ctx, &l);
}

int lb_service_del(struct lb_ctx *ctx, const struct lb_svc_key *k)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : service_del_gen(ctx, &l);
}

int lb_service_get(struct lb_ctx *ctx, const struct lb_svc_key *k, struct lb_service_info *out)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : service_get_gen(ctx, &l, out);
}

int lb_endpoint_add(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : endpoint_add_gen(ctx, &l, e);
}

int lb_endpoint_set(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : endpoint_set_gen(ctx, &l, e);
}

int lb_endpoint_del(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_endpoint *e)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : endpoint_del_gen(ctx, &l, e);
}

/* allow add and del on k (with its generation): everything checked, then written. */
static int allow_change_gen(struct lb_ctx *ctx, const struct lb_svc_key *k,
			    const struct lb_prefix *p, size_t n, bool add)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct svc_maps m;
	struct lb_svc v;
	int err = ep_begin(ctx, k, &m, &v, M_SVC | M_ALLOW);

	if (err)
		return err;
	err = check_prefixes(ctx, k->family, p, n);
	for (size_t i = 0; !err && !add && i < n; i++)
		if (!allow_has(m.allow, v.id, &p[i]))
			err = lb_set_err(ctx, -ENOENT, "allow %s: not in the list",
					 prefix_str(&p[i], k->family, buf, sizeof(buf)));
	if (!err && add)
		err = allow_write(ctx, m.allow, v.id, k->family, p, n);
	if (!err) {
		/* entries before the count on add, after it on del */
		v.n_allow = add ? v.n_allow + n : v.n_allow > n ? v.n_allow - n : 0;
		err = bpf_map_update_elem(m.svc, k, &v, BPF_EXIST) ? -errno : 0;
		if (err && add)
			allow_remove(m.allow, v.id, p, n);
		else if (!err && !add)
			allow_remove(m.allow, v.id, p, n);
	}
	svc_maps_close(&m);
	return err;
}

int lb_service_allow_add(struct lb_ctx *ctx, const struct lb_svc_key *k,
			 const struct lb_prefix *pfx, size_t n)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : allow_change_gen(ctx, &l, pfx, n, true);
}

int lb_service_allow_del(struct lb_ctx *ctx, const struct lb_svc_key *k,
			 const struct lb_prefix *pfx, size_t n)
{
	struct lb_svc_key l;
	int err = live_key(ctx, k, &l);

	return err ? err : allow_change_gen(ctx, &l, pfx, n, false);
}

static int cmp_allow_entry(const void *a, const void *b)
{
	const struct lb_allow_entry *x = a, *y = b;

	if (x->svc_id != y->svc_id)
		return x->svc_id < y->svc_id ? -1 : 1;
	return lb__prefix_cmp(&x->pfx, &y->pfx);
}

int lb_service_allow_list(struct lb_ctx *ctx, const struct lb_svc_key *key,
			  struct lb_allow_entry **out, size_t *n)
{
	struct lb_svc_key k, next, *prev = NULL;
	struct lb_allow_key *keys = NULL;
	struct lb_allow_entry *v = NULL;
	uint8_t *ids = NULL;
	uint32_t gen, max;
	struct svc_maps m;
	struct lb_svc val;
	size_t cnt = 0;
	int err;

	*out = NULL;
	*n = 0;
	lb_clear_err(ctx);
	err = lb__svc_gen(ctx, &gen);
	if (!err)
		err = svc_maps_open(ctx, &m, M_SVC | M_STATE | M_ALLOW);
	if (err)
		return err;
	max = map_max_entries(m.state);
	ids = calloc(max ? max : 1, 1);
	if (!ids) {
		err = -ENOMEM;
		goto out;
	}
	if (key) {
		err = live_key(ctx, key, &k);
		if (!err && svc_lookup(&m, &k, &val))
			err = lb_set_err(ctx, -ENOENT, "no such service");
		if (!err && val.id < max)
			ids[val.id] = 1;
	} else {
		while (bpf_map_get_next_key(m.svc, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (k.gen == (gen & 1) && !svc_lookup(&m, &k, &val) && val.id < max)
				ids[val.id] = 1;
		}
	}
	if (!err)
		err = allow_keys(m.allow, ids, max, false, &keys, &cnt);
	if (!err && !(v = malloc((cnt ? cnt : 1) * sizeof(*v))))
		err = -ENOMEM;
	if (err)
		goto out;
	for (size_t i = 0; i < cnt; i++)
		v[i] = (struct lb_allow_entry){ .svc_id = keys[i].svc_id,
			.pfx = { .addr = keys[i].src, .prefix_len = keys[i].prefixlen - 32 } };
	qsort(v, cnt, sizeof(*v), cmp_allow_entry);
	*out = v;
	*n = cnt;
out:
	free(ids);
	free(keys);
	svc_maps_close(&m);
	return err;
}

int lb_service_check(struct lb_ctx *ctx, const struct lb_service *s)
{
	lb_clear_err(ctx);
	return check_service(ctx, s);
}

int lb_endpoint_check(struct lb_ctx *ctx, const struct lb_service *s, const struct lb_endpoint *e)
{
	struct lb_svc v = { .family = s->key.family };

	lb_clear_err(ctx);
	return check_endpoint(ctx, &v, e);
}

/* ------------------------------------------------------------------ raw entries */

/* The service with this id, in any generation: 0, or -ENOENT. */
static int svc_by_id(const struct svc_maps *m, uint32_t id, struct lb_svc_key *k,
		     struct lb_svc *v)
{
	struct lb_svc_key next, *prev = NULL;

	while (bpf_map_get_next_key(m->svc, prev, &next) == 0) {
		*k = next;
		prev = k;
		if (!bpf_map_lookup_elem(m->svc, k, v) && v->id == id)
			return 0;
	}
	return -ENOENT;
}

/* An lb_services entry as lb_service_add() would write it: the service's own
 * checks, the value's family its key's, an id of its own. */
static int svc_entry_check(struct lb_ctx *ctx, const struct lb_svc_key *k, const struct lb_svc *v)
{
	struct lb_service s = {
		.key = *k, .sched = v->sched, .mode = v->mode,
		.snat_ifaddr = v->flags & LB_SVC_F_SNAT_IFADDR, .snat = v->snat,
		.persist = v->persist, .maglev_size = v->maglev_size,
	};
	struct lb_svc_key other;
	struct lb_svc ov;
	struct svc_maps m;
	uint32_t max, room;
	int err;

	if (k->gen > 1)
		return lb_set_err(ctx, -EINVAL, "gen %u: a generation is 0 or 1", k->gen);
	if (k->pad[0] || k->pad[1] || k->pad[2])
		return lb_set_err(ctx, -EINVAL, "the key's pad is not 0");
	err = check_service(ctx, &s);
	if (err)
		return err;
	if (v->family != k->family)
		return lb_set_err(ctx, -EINVAL, "family %u, the key's is %u", v->family, k->family);
	if (v->flags & ~LB_SVC_F_SNAT_IFADDR)
		return lb_set_err(ctx, -EINVAL, "flags %#x: unknown flags", v->flags);
	if (v->n_eps > LB_SVC_EPS_MAX)
		return lb_set_err(ctx, -EINVAL, "n_eps %u: at most %d endpoints", v->n_eps,
				  LB_SVC_EPS_MAX);
	err = svc_maps_open(ctx, &m, M_SVC | M_SEL | M_STATE | M_ALLOW);
	if (err)
		return err;
	max = map_max_entries(m.state);
	room = lb_sel_room(v->sched, v->sel_len);
	if (!v->id || v->id >= max)
		err = lb_set_err(ctx, -EINVAL, "id %u out of range 1..%u", v->id, max - 1);
	else if ((v->sel_off || v->sel_len) &&
		 (!v->sel_off || (uint64_t)v->sel_off + room > map_max_entries(m.sel)))
		/* 0 and 0: no table (the next change of the service builds one) */
		err = lb_set_err(ctx, -EINVAL, "sel_off %u, sel_len %u: not a slice of %s's %u slots",
				 v->sel_off, v->sel_len, LB_MAP_SEL, map_max_entries(m.sel));
	else if (!svc_by_id(&m, v->id, &other, &ov) && memcmp(&other, k, sizeof(other))) {
		char buf[INET6_ADDRSTRLEN];

		err = lb_set_err(ctx, -EINVAL, "id %u is the service %s port %u's", v->id,
				 lb_addr_str(&other.vip, other.family, buf, sizeof(buf)),
				 ntohs(other.port));
	} else {
		/* n_allow is what makes the datapath look: it counts the entries there */
		struct lb_prefix *p;
		size_t cnt;

		err = allow_read(m.allow, v->id, &p, &cnt);
		if (!err) {
			free(p);
			if (cnt != v->n_allow)
				err = lb_set_err(ctx, -EINVAL, "n_allow %u: %s holds %zu prefixes of id %u",
						 v->n_allow, LB_MAP_ALLOW, cnt, v->id);
		}
	}
	svc_maps_close(&m);
	return err;
}

/* An lb_endpoints slot: free (svc_id 0), or an endpoint its service could take.  A
 * slot whose service is gone is what an interrupted restore leaves (orphans_sweep
 * removes it): the endpoint must still be one of its own family. */
static int ep_entry_check(struct lb_ctx *ctx, uint32_t id, const struct lb_ep *ep)
{
	struct lb_endpoint e = {
		.addr = ep->addr, .port = ep->port, .family = ep->family, .status = ep->status,
		.weight = ep->weight,
	};
	struct lb_svc_key k;
	struct svc_maps m;
	struct lb_svc v;
	int err;

	if (!ep->svc_id)
		return 0;	/* a free slot: nothing reads it */
	if (ep->flags & ~LB_EP_F_SICK)
		return lb_set_err(ctx, -EINVAL, "flags %#x: unknown flags", ep->flags);
	if (!id)
		return lb_set_err(ctx, -EINVAL, "id 0 is never an endpoint");
	err = svc_maps_open(ctx, &m, M_SVC);
	if (err)
		return err;
	if (svc_by_id(&m, ep->svc_id, &k, &v)) {
		if (ep->family != LB_AF_INET && ep->family != LB_AF_INET6) {
			svc_maps_close(&m);
			return lb_set_err(ctx, -EINVAL, "unknown address family");
		}
		v.family = ep->family;
	}
	svc_maps_close(&m);
	return check_endpoint(ctx, &v, &e);
}

/* An lb_allow entry as lb_service_allow_add() writes it: a prefix of its service's
 * family, its own length in the value, the action allow. */
static int allow_entry_check(struct lb_ctx *ctx, const struct lb_allow_key *k,
			     const struct lb_allow *r)
{
	struct lb_prefix p = { .addr = k->src, .prefix_len = k->prefixlen - 32 };
	struct lb_svc_key sk;
	struct svc_maps m;
	struct lb_svc v;
	int err;

	if (k->prefixlen < 32 || k->prefixlen > LB_ALLOW_KEY_BITS(128))
		return lb_set_err(ctx, -EINVAL, "prefixlen %u: 32 (the service id) and 0 to 128",
				  k->prefixlen);
	if (r->action != LB_ALLOW_PASS || r->pad)
		return lb_set_err(ctx, -EINVAL, "action %u: the only action is %d (allow), pad 0",
				  r->action, LB_ALLOW_PASS);
	if (r->prefix_len != p.prefix_len)
		return lb_set_err(ctx, -EINVAL, "prefix_len %u: the key's is %u", r->prefix_len,
				  p.prefix_len);
	err = svc_maps_open(ctx, &m, M_SVC);
	if (err)
		return err;
	err = svc_by_id(&m, k->svc_id, &sk, &v);
	svc_maps_close(&m);
	if (err)
		return lb_set_err(ctx, -EINVAL, "svc_id %u: no such service", k->svc_id);
	return check_prefixes(ctx, v.family, &p, 1);
}

/* An lb_sel slot: an endpoint id (0: none), or in slot 0 where the next table is
 * looked for. */
static int sel_entry_check(struct lb_ctx *ctx, uint32_t slot, uint32_t v)
{
	struct svc_maps m;
	uint32_t max;
	int err = svc_maps_open(ctx, &m, M_SEL | M_EP);

	if (err)
		return err;
	max = slot ? map_max_entries(m.ep) : map_max_entries(m.sel);
	if (v >= max)
		err = lb_set_err(ctx, -EINVAL, slot ? "endpoint id %u out of range 0..%u" :
				 "slot 0 holds where free slots are looked for: %u beyond 0..%u",
				 v, max - 1);
	svc_maps_close(&m);
	return err;
}

int lb_map_entry_check(struct lb_ctx *ctx, const char *map, const void *key, const void *value)
{
	lb_clear_err(ctx);
	if (!strcmp(map, LB_MAP_ALLOW))
		return allow_entry_check(ctx, key, value);
	if (!strcmp(map, LB_MAP_SERVICES))
		return svc_entry_check(ctx, key, value);
	if (!strcmp(map, LB_MAP_ENDPOINTS)) {
		uint32_t id;

		memcpy(&id, key, sizeof(id));
		return ep_entry_check(ctx, id, value);
	}
	if (!strcmp(map, LB_MAP_SEL)) {
		uint32_t slot, v;

		memcpy(&slot, key, sizeof(slot));
		memcpy(&v, value, sizeof(v));
		return sel_entry_check(ctx, slot, v);
	}
	if (!strcmp(map, LB_MAP_CONFIG)) {
		const struct lb_config *cfg = value;

		if (cfg->abi_version != LB_ABI_VERSION)
			return lb_set_err(ctx, -EINVAL,
					  "abi_version %u: the layout is %u ('lbattach upgrade' changes it)",
					  cfg->abi_version, LB_ABI_VERSION);
	}
	return 0;
}

/* ------------------------------------------------------------------ restore steps */

struct lb__svc_maps {
	struct svc_maps m;
};

int lb__svc_maps_open(struct lb_ctx *ctx, struct lb__svc_maps **out)
{
	struct lb__svc_maps *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	err = svc_maps_open(ctx, &w->m, M_SVC_ADD | M_EP_ADD);
	if (err) {
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

void lb__svc_maps_close(struct lb__svc_maps *w)
{
	if (!w)
		return;
	svc_maps_close(&w->m);
	free(w);
}

int lb__svc_fd(const struct lb__svc_maps *w)
{
	return w->m.svc;
}

void lb__svc_capacity(const struct lb__svc_maps *w, uint32_t *services, uint32_t *endpoints,
		      uint32_t *allow)
{
	uint32_t ids = map_max_entries(w->m.state), keys = map_max_entries(w->m.svc);
	uint32_t eps = map_max_entries(w->m.ep);

	ids = ids ? ids - 1 : 0;
	*services = ids < keys ? ids : keys;
	*endpoints = eps ? eps - 1 : 0;
	*allow = map_max_entries(w->m.allow);
}

int lb__svc_allow_forget(struct lb__svc_maps *w, const uint8_t *ids, uint32_t max)
{
	return allow_forget(w->m.allow, ids, max, false);
}

int lb__svc_write(struct lb_ctx *ctx, struct lb__svc_maps *w, const struct lb_ruleset_svc *r,
		  uint8_t gen)
{
	const struct svc_maps *m = &w->m;
	struct lb_svc_key k = r->svc.key;
	struct ep_cache *c;
	bool changed;
	struct lb_svc v = {};
	int err = check_service(ctx, &r->svc);

	if (err)
		return err;
	if (r->n_eps > LB_SVC_EPS_MAX)
		return lb_set_err(ctx, -ENOSPC, "a service has at most %d endpoints", LB_SVC_EPS_MAX);
	k.gen = gen;
	memset(k.pad, 0, sizeof(k.pad));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = alloc_svc_id(m, &v.id);
	if (err) {
		lb_set_err(ctx, err, "no free service id (the service table is full)");
		goto out;
	}
	svc_config(&v, &r->svc);
	err = reset_id(m->stats, m->state, v.id);
	if (!err && r->svc.allow) {
		err = allow_write(ctx, m->allow, v.id, k.family, r->svc.allow, r->svc.n_allow);
		v.n_allow = err ? 0 : r->svc.n_allow;
	}
	/* The endpoint slots first: nothing points at them until the service exists.
	 * Their ids, then their counters, state and slots in one batch each. */
	for (size_t i = 0; !err && i < r->n_eps; i++) {
		err = check_endpoint(ctx, &v, &r->eps[i]);
		if (err)
			break;
		err = alloc_ep_id(m, &c->id[i]);
		if (err) {
			lb_set_err(ctx, err, "the endpoint table is full");
			break;
		}
		ep_value(&c->ep[i], &r->eps[i], v.id);
		c->ok[i] = true;
		c->n = ++v.n_eps;
	}
	if (!err)
		err = reset_ids(m->ep_stats, m->ep_state, c->id, c->n);
	if (!err)
		err = batch_write(m->ep, c->id, sizeof(c->id[0]), c->ep, sizeof(c->ep[0]), c->n);
	/* Flags from the state kept by name; the settings follow the switch
	 * (lb__svc_health_restore), so a refused restore changes none. */
	if (!err)
		err = health_apply(m, &k, &v, c, &changed);
	if (!err)
		err = eps_write(m, v.id, 0, c->id, c->n);
	if (!err)
		err = sel_rebuild(ctx, m, &v, c);
	if (!err && bpf_map_update_elem(m->svc, &k, &v, BPF_NOEXIST)) {
		err = -errno;
		put_svc_id(m, v.id);
		if (err == -E2BIG || err == -ENOMEM)
			lb_set_err(ctx, -ENOSPC, "the service table is full");
	}
	if (err) {
		for (uint32_t i = 0; i < c->n; i++)
			free_endpoint(m, c->id[i]);
		eps_trim(m, v.id, 0, c->n);
		if (v.n_allow)
			allow_remove(m->allow, v.id, r->svc.allow, r->svc.n_allow);
	}
out:
	free(c);
	return err;
}

int lb__svc_remove(struct lb_ctx *ctx, struct lb__svc_maps *w, const struct lb_svc_key *k,
		   uint32_t *id)
{
	const struct svc_maps *m = &w->m;
	struct lb_svc v;
	int err = svc_lookup(m, k, &v);

	if (err)
		return err;
	err = svc_unlink(m, k, &v);
	if (!err)
		*id = v.id;
	return err;
}

int lb__svc_orphans(struct lb_ctx *ctx, struct lb__svc_maps *w)
{
	return orphans_sweep(&w->m);
}

/*
 * What no lb_services entry owns: an endpoint slot with an owner (svc_id) whose service does
 * not list it.  Only a writer that died half way leaves such things; freeing them
 * under the writer lock is safe, as nothing points at them.
 */
struct orphans {
	const uint8_t *used;	/* listed by a service */
	uint32_t max;
	uint32_t *ids;		/* slots with an owner, listed by none */
	size_t n, cap;
	int err;
};

static void note_orphan(uint32_t id, const struct lb_ep *ep, void *arg)
{
	struct orphans *o = arg;

	if (!id || !ep->svc_id || (id < o->max && o->used[id]) || o->err)
		return;
	if (LB_RESERVE(o->ids, o->n, o->cap))
		o->err = -ENOMEM;
	else
		o->ids[o->n++] = id;
}

static int orphans_sweep(const struct svc_maps *m)
{
	uint32_t max_s = map_max_entries(m->state), max_e = map_max_entries(m->ep);
	struct lb_svc_key k, next, *prev = NULL;
	uint8_t *svc_used = calloc(max_s + 1, 1), *ep_used = calloc(max_e + 1, 1);
	uint32_t *n_eps = calloc(max_s + 1, sizeof(*n_eps));
	struct lb_svc_ep_key lk, lnext, *lprev = NULL;
	struct ep_cache *c = ep_cache_new();
	struct orphans o = { .used = ep_used, .max = max_e };
	struct lb_svc v;
	int err = 0;

	if (!svc_used || !ep_used || !n_eps || !c) {
		err = -ENOMEM;
		goto out;
	}
	while (bpf_map_get_next_key(m->svc, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (svc_lookup(m, &k, &v))
			continue;
		if (v.id < max_s) {
			svc_used[v.id] = v.n_allow ? 2 : 1;
			n_eps[v.id] = v.n_eps;
		}
		ep_read(m, &v, c);
		for (uint32_t i = 0; i < c->n; i++)
			if (c->id[i] < max_e)
				ep_used[c->id[i]] = 1;
	}
	/* List entries of no service, or beyond its end (the previous key goes once
	 * past it: deleting the current one would restart the walk). */
	while (bpf_map_get_next_key(m->eps, lprev, &lnext) == 0) {
		if (lprev && (lprev->svc_id >= max_s || lprev->idx >= n_eps[lprev->svc_id]))
			bpf_map_delete_elem(m->eps, lprev);
		lk = lnext;
		lprev = &lk;
	}
	if (lprev && (lprev->svc_id >= max_s || lprev->idx >= n_eps[lprev->svc_id]))
		bpf_map_delete_elem(m->eps, lprev);
	for (uint32_t id = 1; id < max_s; id++)
		svc_used[id] = svc_used[id] == 2;	/* now: its allow entries are its own */
	err = allow_forget(m->allow, svc_used, max_s, true);
	if (err)
		goto out;
	/* Slots with an owner that lists them not: collected, then freed. */
	err = lb__ep_slots_walk(m->ep, note_orphan, &o);
	err = err ? err : o.err;
	for (size_t i = 0; !err && i < o.n; i++)
		free_endpoint(m, o.ids[i]);
out:
	free(c);
	free(n_eps);
	free(svc_used);
	free(ep_used);
	free(o.ids);
	return err;
}

/* ------------------------------------------------------------------ health */

int lb__svc_health_refresh(struct lb_ctx *ctx, const struct lb_svc_key *k)
{
	struct ep_cache *c;
	struct lb_svc_key l;
	struct svc_maps m;
	struct lb_svc v;
	bool changed;
	int err = live_key(ctx, k, &l);

	if (!err)
		err = ep_begin(ctx, &l, &m, &v, M_CHANGE);
	if (err)
		return err;
	c = ep_cache_new();
	err = c ? ep_read(&m, &v, c) : -ENOMEM;
	if (!err)
		err = health_apply(&m, &l, &v, c, &changed);
	if (!err && changed)
		err = svc_commit(ctx, &m, &l, &v, c);
	free(c);
	svc_maps_close(&m);
	return err;
}

/*
 * After a restore's switch: the new set's check settings into lb_health, the
 * services whose settings changed refreshed, and the entries of names the new set
 * no longer has removed.
 */
/* The check settings of r and its endpoints into lb_health (fd); the service's
 * health follows when they changed.  get_fd: -1 while fd is known to be empty. */
static int svc_health_set(struct lb_ctx *ctx, int fd, int *get_fd, const struct lb_ruleset_svc *r)
{
	struct lb_health_key hk;
	bool touched = false;
	int err = 0;

	lb__health_key(&hk, &r->svc.key, NULL, 0);
	if (lb__health_differs(*get_fd, &hk, &r->svc.check)) {
		touched = true;
		err = lb__health_put(fd, &hk, &r->svc.check);
	}
	for (size_t j = 0; !err && j < r->n_eps; j++) {
		lb__health_key(&hk, &r->svc.key, &r->eps[j].addr, r->eps[j].port);
		if (lb__health_differs(*get_fd, &hk, &r->eps[j].check)) {
			touched = true;
			err = lb__health_put(fd, &hk, &r->eps[j].check);
		}
	}
	if (touched) {
		*get_fd = fd;	/* maybe not empty any more */
		health_written(ctx);
	}
	if (!err && touched)
		err = lb__svc_health_refresh(ctx, &r->svc.key);
	return err;
}

int lb__svc_health_set(struct lb_ctx *ctx, const struct lb_ruleset_svc *r)
{
	int fd = lb_map_fd(ctx, LB_MAP_HEALTH), get_fd, err;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	get_fd = health_empty(ctx, fd) ? -1 : fd;
	err = svc_health_set(ctx, fd, &get_fd, r);
	close(fd);
	return err;
}

int lb__svc_health_restore(struct lb_ctx *ctx, const struct lb_ruleset *rs)
{
	int fd = lb_map_fd(ctx, LB_MAP_HEALTH), get_fd, err = 0;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	get_fd = health_empty(ctx, fd) ? -1 : fd;
	for (size_t i = 0; !err && i < rs->n; i++)
		err = svc_health_set(ctx, fd, &get_fd, &rs->svcs[i]);
	if (!err)
		lb__health_sweep(ctx, fd);
	close(fd);
	return err;
}
