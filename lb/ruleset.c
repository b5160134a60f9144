// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Save and restore: the whole rule set (services with their endpoints, conntrack
 * timeouts), read at once and replaced at once.
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
		r->eps = malloc((v[i].n_eps ? v[i].n_eps : 1) * sizeof(*r->eps));
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
