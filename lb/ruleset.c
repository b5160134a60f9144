// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Save and restore: the whole rule set (services with their endpoints, conntrack
 * timeouts), read at once and replaced at once; and apply (lbctl -b, further
 * below): the rule set changed by its difference only.
 *
 * A restore writes the new set aside, under the spare generation of lb_services
 * (struct lb_svc_key.gen != lb_config.svc_gen & 1), where the datapath does not
 * look; then one update of lb_config bumps svc_gen (and sets the timeouts), which
 * switches every service at once: lb_tc_slow reads svc_gen once per new flow, so a
 * flow is scheduled by the old set or the new one, never by a mix.  After an RCU
 * grace period no program still uses the old set, and it is removed.  Tracked
 * flows keep working: conntrack holds their addresses.
 *
 * Both sets live side by side until the switch, with their own ids, so both must
 * fit in the tables; that is checked before anything is written.  A writer that
 * dies half way leaves spare-generation services (never live, or the old set not
 * yet removed) and maybe orphan tables and endpoint slots: the next restore
 * removes them first, and so does lb_service_flush().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "ruleset.h"

/* Element n of *arr, zeroed, n incremented.  The array doubles: when n is 0 or
 * a power of two, it is full. */
static void *append(void **arr, size_t *n, size_t size)
{
	char *v = *arr;

	if (!(*n & (*n - 1))) {
		v = realloc(v, (*n ? *n * 2 : 1) * size);
		if (!v)
			return NULL;
		*arr = v;
	}
	memset(v + *n * size, 0, size);
	return v + (*n)++ * size;
}

/* Room for n elements that append() can grow: a power of two at least n (append
 * counts on it, reallocating only when n is 0 or a power of two). */
static void *alloc_appendable(size_t n, size_t size)
{
	size_t cap = 1;

	while (cap < n)
		cap *= 2;
	return malloc(cap * size);
}

struct lb_ruleset_svc *lb_ruleset_add(struct lb_ruleset *rs)
{
	return append((void **)&rs->svcs, &rs->n, sizeof(rs->svcs[0]));
}

struct lb_endpoint *lb_ruleset_ep_add(struct lb_ruleset_svc *r)
{
	return append((void **)&r->eps, &r->n_eps, sizeof(r->eps[0]));
}

void lb_ruleset_free(struct lb_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; rs->svcs && i < rs->n; i++) {
		free(rs->svcs[i].svc.allow);
		free(rs->svcs[i].eps);
	}
	free(rs->svcs);
	rs->svcs = NULL;
	rs->n = 0;
}

/* The prefixes of service id out of the list of all (sorted by id): a malloc'd copy. */
static int allow_of(const struct lb_allow_entry *all, size_t n_all, uint32_t id,
		    struct lb_service *s)
{
	size_t lo = 0, hi = n_all, cnt = 0;

	while (lo < hi) {	/* the first entry of id */
		size_t mid = lo + (hi - lo) / 2;

		if (all[mid].svc_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + cnt < n_all && all[lo + cnt].svc_id == id)
		cnt++;
	s->n_allow = cnt;
	s->allow = NULL;
	if (!cnt)
		return 0;
	s->allow = malloc(cnt * sizeof(*s->allow));
	if (!s->allow)
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++)
		s->allow[i] = all[lo + i].pfx;
	return 0;
}

int lb_ruleset_get(struct lb_ctx *ctx, struct lb_ruleset *out)
{
	struct lb_service_info *v = NULL;
	struct lb_allow_entry *allow = NULL;
	size_t n = 0, n_allow = 0;
	int err;

	memset(out, 0, sizeof(*out));
	lb_clear_err(ctx);
	err = lb_service_list(ctx, &v, &n);
	if (!err)
		err = lb_service_allow_list(ctx, NULL, &allow, &n_allow);
	if (!err)
		err = lb_timeouts_get(ctx, out->timeout);
	for (size_t i = 0; !err && i < n; i++) {
		struct lb_ruleset_svc *r = lb_ruleset_add(out);

		if (!r) {
			err = -ENOMEM;
			break;
		}
		r->svc = v[i].svc;
		err = allow_of(allow, n_allow, v[i].id, &r->svc);
		if (err)
			break;
		r->eps = alloc_appendable(v[i].n_eps, sizeof(*r->eps));
		if (!r->eps) {
			err = -ENOMEM;
			break;
		}
		r->n_eps = v[i].n_eps;
		for (size_t j = 0; j < v[i].n_eps; j++)
			r->eps[j] = v[i].eps[j].ep;
	}
	lb_service_info_free(v, n);
	free(v);
	free(allow);
	if (err)
		lb_ruleset_free(out);
	return err;
}

static bool same_key(const struct lb_svc_key *a, const struct lb_svc_key *b)
{
	return !memcmp(&a->vip, &b->vip, sizeof(a->vip)) && a->port == b->port &&
	       a->proto == b->proto && a->family == b->family;
}

static int cmp_key(const void *a, const void *b)
{
	const struct lb_svc_key *x = *(const struct lb_svc_key *const *)a;
	const struct lb_svc_key *y = *(const struct lb_svc_key *const *)b;
	int c = memcmp(&x->vip, &y->vip, sizeof(x->vip));

	if (c)
		return c;
	if (x->family != y->family)
		return x->family - y->family;
	if (x->port != y->port)
		return x->port - y->port;
	return x->proto - y->proto;
}

/* Everything about the new set that does not depend on the maps. */
static int check_ruleset(struct lb_ctx *ctx, const struct lb_ruleset *rs, size_t *n_eps,
			 size_t *n_allow)
{
	const struct lb_svc_key **keys;
	int err = 0;

	*n_eps = 0;
	*n_allow = 0;
	for (int i = 0; i < LB_TO_MAX; i++)
		if (rs->timeout[i] > 86400 * 30)
			return lb_set_err(ctx, -EINVAL, "timeout %s: above 30 days",
					  lb_timeout_name(i) ? lb_timeout_name(i) : "?");
	for (size_t i = 0; i < rs->n; i++) {
		const struct lb_ruleset_svc *r = &rs->svcs[i];

		err = lb_service_check(ctx, &r->svc);
		if (err)
			return err;
		if (r->n_eps > LB_SVC_EPS_MAX)
			return lb_set_err(ctx, -ENOSPC, "a service has at most %d endpoints",
					  LB_SVC_EPS_MAX);
		for (size_t j = 0; j < r->n_eps; j++) {
			err = lb_endpoint_check(ctx, &r->svc, &r->eps[j]);
			if (err)
				return err;
			for (size_t l = 0; l < j; l++)
				if (r->eps[l].port == r->eps[j].port &&
				    !memcmp(&r->eps[l].addr, &r->eps[j].addr, sizeof(r->eps[j].addr)))
					return lb_set_err(ctx, -EEXIST, "an endpoint listed twice");
		}
		*n_eps += r->n_eps;
		*n_allow += r->svc.allow ? r->svc.n_allow : 0;
	}
	/* Each service once: sort pointers to the keys, compare neighbours. */
	keys = malloc((rs->n ? rs->n : 1) * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++)
		keys[i] = &rs->svcs[i].svc.key;
	qsort(keys, rs->n, sizeof(*keys), cmp_key);
	for (size_t i = 1; i < rs->n && !err; i++)
		if (same_key(keys[i - 1], keys[i]))
			err = lb_set_err(ctx, -EEXIST, "a service listed twice");
	free(keys);
	return err;
}

/* The services of one generation of lb_services: keys and how many endpoints. */
struct gen_list {
	size_t n, cap, eps, allow;
	struct lb_svc_key *keys;
};

static int list_gens(int fd, struct gen_list g[2])
{
	struct lb_svc_key k, next, *prev = NULL;
	struct lb_svc v;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct gen_list *l;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		l = &g[k.gen & 1];
		if (LB_RESERVE(l->keys, l->n, l->cap))
			return -ENOMEM;
		l->keys[l->n++] = k;
		l->eps += v.n_eps;
		l->allow += v.n_allow;
	}
	return 0;
}

/* Forget the persistence entries of the services whose id is marked in ids[]:
 * their ids are free now, and a service that gets one again starts clean. */
static void affinity_forget(struct lb_ctx *ctx, const uint8_t *ids, uint32_t max)
{
	struct lb_aff_key k, next, *prev = NULL;
	int fd = lb_map_fd(ctx, LB_MAP_AFFINITY);

	if (fd < 0)
		return;
	/* Delete the previous key once past it: deleting the current one would
	 * restart the walk. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (prev && prev->svc_id < max && ids[prev->svc_id])
			bpf_map_delete_elem(fd, prev);
		k = next;
		prev = &k;
	}
	if (prev && prev->svc_id < max && ids[prev->svc_id])
		bpf_map_delete_elem(fd, prev);
	close(fd);
}

/* Wait until no BPF program can still be running with what it read before. */
static void rcu_wait(void)
{
	/* lb_sync_rcu() failing at both of its ways: wait far longer than a grace
	 * period takes. */
	if (lb_sync_rcu())
		usleep(200000);
}

/* Remove the services of list l (keys with their generation); mark their ids. */
static int remove_list(struct lb_ctx *ctx, struct lb__svc_maps *w, const struct gen_list *l,
		       uint8_t *ids, uint32_t max, const struct lb_restore_opts *opts)
{
	int err = 0;

	for (size_t i = 0; i < l->n; i++) {
		uint32_t id = 0;
		int e = lb__svc_remove(ctx, w, &l->keys[i], &id);

		if (e && e != -ENOENT && !err)
			err = e;
		if (!e && id < max)
			ids[id] = 1;
		if (opts && opts->progress)
			opts->progress(LB_RESTORE_REMOVE, i + 1, l->n, opts->cookie);
	}
	return err;
}

int lb_ruleset_restore(struct lb_ctx *ctx, const struct lb_ruleset *rs,
		       const struct lb_restore_opts *opts)
{
	struct gen_list g[2] = {}, written = {};
	struct lb__svc_maps *w = NULL;
	uint32_t svc_gen, live, spare, cap_s, cap_e, cap_a, zero = 0, max_ids;
	struct lb_config cfg;
	size_t new_eps, new_allow;
	uint8_t *ids = NULL;
	int err, cfg_fd = -1;

	lb_clear_err(ctx);
	err = check_ruleset(ctx, rs, &new_eps, &new_allow);
	if (err)
		return err;
	err = lb__svc_gen(ctx, &svc_gen);
	if (!err)
		err = lb__svc_maps_open(ctx, &w);
	if (err)
		return err;
	live = svc_gen & 1;
	spare = live ^ 1;
	err = list_gens(lb__svc_fd(w), g);
	if (err)
		goto out;

	/* Both sets live side by side until the switch: they must fit together. */
	lb__svc_capacity(w, &cap_s, &cap_e, &cap_a);
	if (g[live].n + rs->n > cap_s || g[live].eps + new_eps > cap_e) {
		err = lb_set_err(ctx, -ENOSPC,
				 "the new rule set (%zu services, %zu endpoints) does not fit beside the live one (%zu, %zu) until the switch: the tables hold %u services and %u endpoints",
				 rs->n, new_eps, g[live].n, g[live].eps, cap_s, cap_e);
		goto out;
	}
	if (g[live].allow + new_allow > cap_a) {
		err = lb_set_err(ctx, -ENOSPC,
				 "the new rule set's %zu allowed prefixes do not fit beside the live one's %zu until the switch: the allow table holds %u",
				 new_allow, g[live].allow, cap_a);
		goto out;
	}
	max_ids = cap_s + 1;
	ids = calloc(max_ids, 1);
	cfg_fd = lb_map_fd(ctx, LB_MAP_CONFIG);
	if (!ids || cfg_fd < 0) {
		err = !ids ? -ENOMEM : cfg_fd;
		goto out;
	}

	/* What an interrupted restore left in the spare generation goes first. */
	err = remove_list(ctx, w, &g[spare], ids, max_ids, NULL);
	if (!err)
		err = lb__svc_orphans(ctx, w);
	if (err)
		goto out;
	if (g[spare].n)
		affinity_forget(ctx, ids, max_ids);	/* before the new set reuses the ids */

	/* The new set, aside. */
	for (size_t i = 0; i < rs->n; i++) {
		struct lb_svc_key k = rs->svcs[i].svc.key;

		err = lb__svc_write(ctx, w, &rs->svcs[i], spare);
		if (err)
			goto undo;
		k.gen = spare;
		memset(k.pad, 0, sizeof(k.pad));
		if (LB_RESERVE(written.keys, written.n, written.cap)) {
			uint32_t id;

			lb__svc_remove(ctx, w, &k, &id);
			err = -ENOMEM;
			goto undo;
		}
		written.keys[written.n++] = k;
		if (opts && opts->progress)
			opts->progress(LB_RESTORE_WRITE, i + 1, rs->n, opts->cookie);
	}

	/* The switch: one update of lb_config, generation and timeouts together. */
	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg)) {
		err = -errno;
		goto undo;
	}
	cfg.svc_gen = svc_gen + 1;
	memcpy(cfg.timeout, rs->timeout, sizeof(cfg.timeout));
	if (bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_EXIST)) {
		err = lb_set_err(ctx, -errno, "cannot switch to the new rule set");
		goto undo;
	}

	/* No packet still uses the old set after a grace period: remove it. */
	rcu_wait();
	memset(ids, 0, max_ids);
	err = remove_list(ctx, w, &g[live], ids, max_ids, opts);
	affinity_forget(ctx, ids, max_ids);
	lb__svc_allow_forget(w, ids, max_ids);
	if (!err)
		err = lb__svc_health_restore(ctx, rs);
	if (err)
		lb_set_err(ctx, err, "switched to the new rule set, but removing the old one failed (the next restore or 'service flush' removes the rest)");
	goto out;

undo:
	/* Before the switch: the live set never changed; take back what was written. */
	{
		uint8_t *none = calloc(max_ids, 1);

		if (none) {
			remove_list(ctx, w, &written, none, max_ids, NULL);
			lb__svc_allow_forget(w, none, max_ids);
		}
		free(none);
	}
out:
	if (cfg_fd >= 0)
		close(cfg_fd);
	free(ids);
	free(g[0].keys);
	free(g[1].keys);
	free(written.keys);
	lb__svc_maps_close(w);
	return err;
}

/*
 * Apply: the live set made into a target by changing only what differs, so the
 * services and endpoints a change does not touch keep their ids, counters and
 * scheduler state (restore above gives every service a fresh id instead).
 *
 * The changes are many map updates, not one switch, so a writer killed half way
 * would leave a mix.  Before the first change the target is pinned whole as
 * <root>/ruleset-target (LB_PIN_TARGET), an array map filled before it is pinned,
 * so the pin is there complete or not at all; it is removed after the last
 * change.  lb_open() for writing, under the lock, finds a record left behind and
 * applies it again (lb__ruleset_finish()): the difference is computed afresh from
 * what is live, so a second run does only what the first did not.
 */
#define LB_PIN_TARGET	"ruleset-target"
#define TARGET_MAGIC	0x6c627274	/* "lbrt" */

/*
 * The record: the target as one byte string cut into the elements of an array
 * map (RECORD_CHUNK bytes each): a struct target_head, then per service a struct
 * target_svc followed by its prefixes (struct lb_prefix) and its endpoints
 * (struct lb_endpoint).  Lengths are checked when read back.
 */
#define RECORD_CHUNK	4096

struct target_head {
	uint32_t magic;
	uint32_t abi;		/* LB_ABI_VERSION of the writer */
	uint32_t n;		/* services */
	uint32_t timeout[LB_TO_MAX];
	uint64_t bytes;		/* the whole string, this head included */
};

struct target_svc {
	struct lb_service svc;	/* allow: meaningless */
	uint32_t n_allow, n_eps;
};

static size_t svc_allow_n(const struct lb_service *s)
{
	return s->allow ? s->n_allow : 0;
}

/* A rule set's services sorted by key, for find_svc(). */
struct svc_sorted {
	size_t n;
	const struct lb_ruleset_svc **v;
};

static int by_key(const void *a, const void *b)
{
	const struct lb_svc_key *x = &(*(const struct lb_ruleset_svc *const *)a)->svc.key;
	const struct lb_svc_key *y = &(*(const struct lb_ruleset_svc *const *)b)->svc.key;

	return cmp_key(&x, &y);
}

static int svc_sort(const struct lb_ruleset *rs, struct svc_sorted *out)
{
	out->n = rs->n;
	out->v = malloc((rs->n ? rs->n : 1) * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < rs->n; i++)
		out->v[i] = &rs->svcs[i];
	qsort(out->v, rs->n, sizeof(*out->v), by_key);
	return 0;
}

static const struct lb_ruleset_svc *find_svc(const struct svc_sorted *s, const struct lb_svc_key *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lb_svc_key *m = &s->v[mid]->svc.key;
		int c = cmp_key(&k, &m);

		if (!c)
			return s->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static const struct lb_endpoint *find_ep(const struct lb_ruleset_svc *r, const struct lb_endpoint *e)
{
	for (size_t j = 0; r && j < r->n_eps; j++)
		if (r->eps[j].port == e->port && !memcmp(&r->eps[j].addr, &e->addr, sizeof(e->addr)))
			return &r->eps[j];
	return NULL;
}

/* A service's check as lb_health stores it: its none is the default, no entry. */
static struct lb_check svc_check(const struct lb_service *s)
{
	struct lb_check c = s->check;

	if (c.type == LB_CHECK_NONE)
		c.type = LB_CHECK_INHERIT;
	return c;
}

/* The configuration as lb_services and lb_health store it (svc_config() in
 * service.c): what it does not store (an snat address without full NAT, maglev
 * size 0, a service's check none rather than no check) is no difference.  The
 * allow list is compared apart (allow_diff()). */
static bool same_config(const struct lb_service *a, const struct lb_service *b)
{
	bool nat = a->mode == LB_NAT_FULLNAT;
	struct lb_check ca = svc_check(a), cb = svc_check(b);

	if (a->sched != b->sched || a->mode != b->mode || a->persist != b->persist ||
	    (a->maglev_size ?: LB_MAGLEV_DEFAULT) != (b->maglev_size ?: LB_MAGLEV_DEFAULT) ||
	    memcmp(&ca, &cb, sizeof(ca)))
		return false;
	if (nat && (a->snat_ifaddr != b->snat_ifaddr ||
		    (!a->snat_ifaddr && memcmp(&a->snat, &b->snat, sizeof(a->snat)))))
		return false;
	return true;
}

static bool same_ep(const struct lb_endpoint *a, const struct lb_endpoint *b)
{
	return a->weight == b->weight && a->status == b->status &&
	       !memcmp(&a->check, &b->check, sizeof(a->check));
}

static bool same_timeouts(const uint32_t *a, const uint32_t *b)
{
	/* 0 in a target keeps the live value (lb_timeouts_set()) */
	for (int i = 0; i < LB_TO_MAX; i++)
		if (b[i] && a[i] != b[i])
			return false;
	return true;
}

/* A service's prefixes (allow NULL: none), sorted, in a malloc'd copy. */
static int allow_sorted(const struct lb_service *s, struct lb_prefix **out, size_t *n)
{
	*n = s && s->allow ? s->n_allow : 0;
	*out = malloc((*n ? *n : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (*n)
		memcpy(*out, s->allow, *n * sizeof(**out));
	qsort(*out, *n, sizeof(**out), lb__prefix_cmp);
	return 0;
}

/* The prefixes of f's list that t's has not (del) and of t's that f's has not
 * (add), malloc'd, sorted; f NULL: t's whole list is added. */
struct allow_delta {
	struct lb_prefix *del, *add;
	size_t n_del, n_add;
};

static int allow_diff(const struct lb_service *f, const struct lb_service *t,
		      struct allow_delta *d)
{
	struct lb_prefix *a = NULL, *b = NULL;
	size_t na, nb, i = 0, j = 0;
	int err;

	memset(d, 0, sizeof(*d));
	err = allow_sorted(f, &a, &na);
	if (!err)
		err = allow_sorted(t, &b, &nb);
	if (!err) {
		d->del = malloc((na ? na : 1) * sizeof(*d->del));
		d->add = malloc((nb ? nb : 1) * sizeof(*d->add));
		if (!d->del || !d->add)
			err = -ENOMEM;
	}
	while (!err && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : lb__prefix_cmp(&a[i], &b[j]);

		if (c < 0)
			d->del[d->n_del++] = a[i++];
		else if (c > 0)
			d->add[d->n_add++] = b[j++];
		else
			i++, j++;
	}
	free(a);
	free(b);
	return err;
}

static void allow_delta_free(struct allow_delta *d)
{
	free(d->del);
	free(d->add);
	memset(d, 0, sizeof(*d));
}

int lb__ruleset_diff(const struct lb_ruleset *from, const struct lb_ruleset *to,
		     int (*fn)(void *cookie, const struct lb__change *c), void *cookie)
{
	struct svc_sorted f_idx = {}, t_idx = {};
	struct allow_delta d = {};
	int n = 0, err;

	err = svc_sort(from, &f_idx);
	if (!err)
		err = svc_sort(to, &t_idx);
	if (err)
		goto out;
#define CHANGE(...) do {							\
		n++;								\
		if (fn && (err = fn(cookie, &(struct lb__change){ __VA_ARGS__ })))	\
			goto out;						\
	} while (0)
	for (size_t i = 0; i < from->n; i++)
		if (!find_svc(&t_idx, &from->svcs[i].svc.key))
			CHANGE(.kind = LB__SVC_DEL, .svc = &from->svcs[i].svc);
	for (size_t i = 0; i < to->n; i++) {
		const struct lb_ruleset_svc *t = &to->svcs[i], *f = find_svc(&f_idx, &t->svc.key);

		if (!f)
			continue;
		for (size_t j = 0; j < f->n_eps; j++)
			if (!find_ep(t, &f->eps[j]))
				CHANGE(.kind = LB__EP_DEL, .svc = &t->svc, .ep = &f->eps[j]);
		err = allow_diff(&f->svc, &t->svc, &d);
		if (err)
			goto out;
		if (d.n_del)
			CHANGE(.kind = LB__ALLOW_DEL, .svc = &t->svc, .pfx = d.del, .n_pfx = d.n_del);
		allow_delta_free(&d);
	}
	for (size_t i = 0; i < to->n; i++) {
		const struct lb_ruleset_svc *t = &to->svcs[i], *f = find_svc(&f_idx, &t->svc.key);

		if (!f)
			continue;
		if (!same_config(&f->svc, &t->svc))
			CHANGE(.kind = LB__SVC_SET, .svc = &t->svc);
		for (size_t j = 0; j < t->n_eps; j++) {
			const struct lb_endpoint *e = find_ep(f, &t->eps[j]);

			if (e && !same_ep(e, &t->eps[j]))
				CHANGE(.kind = LB__EP_SET, .svc = &t->svc, .ep = &t->eps[j]);
		}
	}
	for (size_t i = 0; i < to->n; i++) {
		const struct lb_ruleset_svc *t = &to->svcs[i], *f = find_svc(&f_idx, &t->svc.key);

		if (!f)
			CHANGE(.kind = LB__SVC_ADD, .svc = &t->svc, .whole = t);	/* with its list */
		for (size_t j = 0; j < t->n_eps; j++)
			if (!find_ep(f, &t->eps[j]))
				CHANGE(.kind = LB__EP_ADD, .svc = &t->svc, .ep = &t->eps[j]);
		if (!f)
			continue;
		err = allow_diff(&f->svc, &t->svc, &d);
		if (err)
			goto out;
		if (d.n_add)
			CHANGE(.kind = LB__ALLOW_ADD, .svc = &t->svc, .pfx = d.add, .n_pfx = d.n_add);
		allow_delta_free(&d);
	}
	if (!same_timeouts(from->timeout, to->timeout))
		CHANGE(.kind = LB__TIMEOUTS, .timeout = to->timeout);
#undef CHANGE
out:
	allow_delta_free(&d);
	free(f_idx.v);
	free(t_idx.v);
	return err ? err : n;
}

struct live_apply {
	struct lb_ctx *ctx;
	const struct lb_service *added;	/* written whole: its EP_ADDs are done */
};

/*
 * A new service with its endpoints in one go, as restore writes them (ids, slots and
 * table in a few batches; lb_service_add and an lb_endpoint_add each would cost
 * their own map reads and writes), then its check settings.
 */
static int add_whole(struct lb_ctx *ctx, const struct lb_ruleset_svc *r)
{
	struct lb__svc_maps *w = NULL;
	uint32_t gen;
	int err = lb__svc_gen(ctx, &gen);

	if (!err)
		err = lb__svc_maps_open(ctx, &w);
	if (!err)
		err = lb__svc_write(ctx, w, r, gen & 1);
	lb__svc_maps_close(w);
	return err ? err : lb__svc_health_set(ctx, r);
}

/* One change, on the live maps (cookie: struct live_apply). */
static int change_live(void *cookie, const struct lb__change *c)
{
	struct live_apply *a = cookie;
	struct lb_ctx *ctx = a->ctx;
	struct lb_service s;
	int err;

	switch (c->kind) {
	case LB__SVC_DEL: return lb_service_del(ctx, &c->svc->key);
	case LB__EP_DEL: return lb_endpoint_del(ctx, &c->svc->key, c->ep);
	case LB__ALLOW_DEL: return lb_service_allow_del(ctx, &c->svc->key, c->pfx, c->n_pfx);
	case LB__SVC_SET:
		/* the configuration only: allow NULL keeps the list, which
		 * ALLOW_DEL and ALLOW_ADD change by their difference */
		s = *c->svc;
		s.allow = NULL;
		return lb_service_set(ctx, &s);
	case LB__EP_SET: return lb_endpoint_set(ctx, &c->svc->key, c->ep);
	case LB__SVC_ADD:
		if (!c->whole)
			return lb_service_add(ctx, c->svc);
		err = add_whole(ctx, c->whole);
		a->added = err ? NULL : c->svc;
		return err == -EEXIST ? lb_set_err(ctx, err, "service add: already exists") : err;
	case LB__EP_ADD:
		if (c->svc == a->added)
			return 0;
		return lb_endpoint_add(ctx, &c->svc->key, c->ep);
	case LB__ALLOW_ADD: return lb_service_allow_add(ctx, &c->svc->key, c->pfx, c->n_pfx);
	case LB__TIMEOUTS: return lb_timeouts_set(ctx, c->timeout);
	}
	return -EINVAL;
}

/* Make from (the live set) into to; dry: only count.  The number of changes, or
 * a negative errno at the first failure. */
static int apply_diff(struct lb_ctx *ctx, const struct lb_ruleset *from,
		      const struct lb_ruleset *to, bool dry)
{
	struct live_apply a = { .ctx = ctx };

	return lb__ruleset_diff(from, to, dry ? NULL : change_live, &a);
}

/* Pin the record of rs: a new array map, filled, then pinned. */
static int target_pin(struct lb_ctx *ctx, const struct lb_ruleset *rs)
{
	struct target_head h = { .magic = TARGET_MAGIC, .abi = LB_ABI_VERSION, .n = rs->n };
	size_t bytes = sizeof(h), at = 0, chunks;
	char path[PATH_MAX], *buf;
	int fd, err;

	err = lb_path(ctx, path, sizeof(path), LB_PIN_TARGET, NULL, NULL);
	if (err)
		return err;
	for (size_t i = 0; i < rs->n; i++)
		bytes += sizeof(struct target_svc) +
			 svc_allow_n(&rs->svcs[i].svc) * sizeof(struct lb_prefix) +
			 rs->svcs[i].n_eps * sizeof(struct lb_endpoint);
	chunks = (bytes + RECORD_CHUNK - 1) / RECORD_CHUNK;
	if (chunks >= UINT32_MAX)
		return -E2BIG;
	buf = calloc(chunks, RECORD_CHUNK);
	if (!buf)
		return -ENOMEM;
	h.bytes = bytes;
	memcpy(h.timeout, rs->timeout, sizeof(h.timeout));
	memcpy(buf, &h, sizeof(h));
	at = sizeof(h);
	for (size_t i = 0; i < rs->n; i++) {
		const struct lb_ruleset_svc *r = &rs->svcs[i];
		struct target_svc ts = { .svc = r->svc, .n_allow = svc_allow_n(&r->svc),
					 .n_eps = r->n_eps };

		ts.svc.allow = NULL;
		memcpy(buf + at, &ts, sizeof(ts));
		at += sizeof(ts);
		if (ts.n_allow)
			memcpy(buf + at, r->svc.allow, ts.n_allow * sizeof(struct lb_prefix));
		at += ts.n_allow * sizeof(struct lb_prefix);
		if (r->n_eps)
			memcpy(buf + at, r->eps, r->n_eps * sizeof(struct lb_endpoint));
		at += r->n_eps * sizeof(struct lb_endpoint);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_rs_target", sizeof(uint32_t), RECORD_CHUNK,
			    chunks, NULL);
	if (fd < 0) {
		free(buf);
		return lb_set_err(ctx, -errno, "cannot create the record of the new rule set");
	}
	for (uint32_t k = 0; !err && k < chunks; k++)
		err = bpf_map_update_elem(fd, &k, buf + (size_t)k * RECORD_CHUNK, BPF_ANY) ?
		      -errno : 0;
	if (!err && bpf_obj_pin(fd, path))
		err = lb_set_err(ctx, -errno, "cannot pin %s", path);
	close(fd);
	free(buf);
	return err;
}

/* Read the record at path into rs: -ENOENT when there is none. */
static int target_read(struct lb_ctx *ctx, const char *path, struct lb_ruleset *rs)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	struct target_head h;
	size_t at, total;
	char *buf = NULL;
	int fd, err = 0;

	memset(rs, 0, sizeof(*rs));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	total = (size_t)info.max_entries * RECORD_CHUNK;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != RECORD_CHUNK || !info.max_entries)
		goto bad;
	buf = malloc(total);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t k = 0; !err && k < info.max_entries; k++)
		err = bpf_map_lookup_elem(fd, &k, buf + (size_t)k * RECORD_CHUNK) ? -errno : 0;
	if (err)
		goto out;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != TARGET_MAGIC || h.abi != LB_ABI_VERSION || h.bytes > total ||
	    h.bytes < sizeof(h))
		goto bad;
	memcpy(rs->timeout, h.timeout, sizeof(rs->timeout));
	at = sizeof(h);
	for (uint32_t i = 0; !err && i < h.n; i++) {
		struct lb_ruleset_svc *r;
		struct target_svc ts;
		size_t pb, eb;

		if (h.bytes - at < sizeof(ts))
			goto bad;
		memcpy(&ts, buf + at, sizeof(ts));
		at += sizeof(ts);
		pb = (size_t)ts.n_allow * sizeof(struct lb_prefix);
		eb = (size_t)ts.n_eps * sizeof(struct lb_endpoint);
		if (h.bytes - at < pb || h.bytes - at - pb < eb)
			goto bad;
		r = lb_ruleset_add(rs);
		if (!r) {
			err = -ENOMEM;
			break;
		}
		r->svc = ts.svc;
		r->svc.allow = NULL;
		r->svc.n_allow = ts.n_allow;
		if (pb && !(r->svc.allow = malloc(pb)))
			err = -ENOMEM;
		else if (pb)
			memcpy(r->svc.allow, buf + at, pb);
		at += pb;
		if (!err && eb && !(r->eps = alloc_appendable(ts.n_eps, sizeof(*r->eps))))
			err = -ENOMEM;
		else if (!err && eb) {
			memcpy(r->eps, buf + at, eb);
			r->n_eps = ts.n_eps;
		}
		at += eb;
	}
	if (!err && at != h.bytes)
		goto bad;
	goto out;
bad:
	err = lb_set_err(ctx, -EUCLEAN, "%s: not a rule set record of these tools", path);
out:
	if (err)
		lb_ruleset_free(rs);	/* allow and eps pointers are NULL or malloc'd */
	free(buf);
	close(fd);
	return err;
}

/*
 * The live set (live: as read now) made into rs.  first: a new change, whose
 * record is pinned before the first map update; a refusal half way takes back
 * what was done and the record goes.  Else the record is there already (a
 * change being finished): it stays when this fails too.
 */
static int apply_recorded(struct lb_ctx *ctx, const struct lb_ruleset *live,
			  const struct lb_ruleset *rs, bool first)
{
	char path[PATH_MAX], why[256];
	int err = lb_path(ctx, path, sizeof(path), LB_PIN_TARGET, NULL, NULL);

	if (err)
		return err;
	err = apply_diff(ctx, live, rs, true);
	if (err < 0 || (err == 0 && first))
		return err;	/* nothing to change: no record either */
	if (err && first) {
		err = target_pin(ctx, rs);
		if (err)
			return err;
	}
	err = apply_diff(ctx, live, rs, false);
	if (err < 0 && !first)
		return err;
	if (err < 0) {
		struct lb_ruleset now;

		snprintf(why, sizeof(why), "%s", lb_ctx_errmsg(ctx));
		if (!lb_ruleset_get(ctx, &now)) {
			apply_diff(ctx, &now, live, false);
			lb_ruleset_free(&now);
		}
		lb_set_err(ctx, err, "%s", why);
	}
	if (unlink(path) && errno != ENOENT && err >= 0)
		err = lb_set_err(ctx, -errno, "cannot remove %s", path);
	return err < 0 ? err : 0;
}

int lb_ruleset_apply(struct lb_ctx *ctx, const struct lb_ruleset *rs)
{
	struct lb__svc_maps *w = NULL;
	struct lb_ruleset live;
	uint32_t cap_s, cap_e, cap_a;
	size_t n_eps, n_allow;
	int err;

	lb_clear_err(ctx);
	err = check_ruleset(ctx, rs, &n_eps, &n_allow);
	if (!err)
		err = lb__svc_maps_open(ctx, &w);
	if (err)
		return err;
	/* Removals come first: the tables must hold the new set alone. */
	lb__svc_capacity(w, &cap_s, &cap_e, &cap_a);
	lb__svc_maps_close(w);
	if (rs->n > cap_s || n_eps > cap_e)
		return lb_set_err(ctx, -ENOSPC,
				  "the new rule set (%zu services, %zu endpoints) does not fit: the tables hold %u services and %u endpoints",
				  rs->n, n_eps, cap_s, cap_e);
	if (n_allow > cap_a)
		return lb_set_err(ctx, -ENOSPC,
				  "the new rule set's %zu allowed prefixes do not fit: the allow table holds %u",
				  n_allow, cap_a);
	err = lb_ruleset_get(ctx, &live);
	if (err)
		return err;
	err = apply_recorded(ctx, &live, rs, true);
	lb_ruleset_free(&live);
	return err;
}

int lb__ruleset_finish(struct lb_ctx *ctx)
{
	struct lb_ruleset rs, live;
	char path[PATH_MAX], why[256];
	int err = lb_path(ctx, path, sizeof(path), LB_PIN_TARGET, NULL, NULL);

	if (err)
		return err;
	err = target_read(ctx, path, &rs);
	if (err == -ENOENT)
		return 0;
	if (err)
		goto fail;
	err = lb_ruleset_get(ctx, &live);
	if (!err) {
		err = apply_recorded(ctx, &live, &rs, false);
		lb_ruleset_free(&live);
	}
	lb_ruleset_free(&rs);
	if (!err)
		return 0;
fail:
	snprintf(why, sizeof(why), "%s", *lb_ctx_errmsg(ctx) ? lb_ctx_errmsg(ctx) : strerror(-err));
	return lb_set_err(ctx, err, "%s: an interrupted rule set change cannot be finished (%s); removing that pin gives it up",
			  path, why);
}

int lb__ruleset_discard(struct lb_ctx *ctx)
{
	char path[PATH_MAX];
	int err = lb_path(ctx, path, sizeof(path), LB_PIN_TARGET, NULL, NULL);

	if (!err && unlink(path) && errno != ENOENT)
		err = -errno;
	return err;
}
