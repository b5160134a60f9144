// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reading and flushing conntrack, timeouts and drop counters.  What expired means
 * is the datapath's rule, shared through lb_abi.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* the clock of bpf_ktime_get_ns() */
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int read_config(struct lb_ctx *ctx, struct lb_config *cfg)
{
	uint32_t zero = 0;
	int fd = lb_map_fd(ctx, LB_MAP_CONFIG), err;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, cfg) ? -errno : 0;
	close(fd);
	return err;
}

int lb_timeouts_get(struct lb_ctx *ctx, uint32_t out[LB_TO_MAX])
{
	struct lb_config cfg;
	int err = read_config(ctx, &cfg);

	if (err)
		return err;
	for (int i = 0; i < LB_TO_MAX; i++)
		out[i] = cfg.timeout[i] ? cfg.timeout[i] : lb_timeout_default(i);
	return 0;
}

int lb_timeouts_set(struct lb_ctx *ctx, const uint32_t in[LB_TO_MAX])
{
	uint32_t zero = 0;
	struct lb_config cfg;
	int fd, err = read_config(ctx, &cfg);

	if (err)
		return err;
	for (int i = 0; i < LB_TO_MAX; i++)
		if (in[i])
			cfg.timeout[i] = in[i];
	fd = lb_map_fd(ctx, LB_MAP_CONFIG);
	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) ? -errno : 0;
	close(fd);
	return err;
}

static bool addr_is(const struct lb_addr *a, const struct lb_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static bool ct_is_expired(const struct lb_config *cfg, uint64_t now, const struct lb_ct_key *k,
			  const struct lb_ct *ct)
{
	return lb_ct_age_expired(lb_ct_age(ct->last_seen_ns, now),
				 lb_ct_timeout(cfg, k->proto, ct->state));
}

/* As the datapath's lb_ct_alive(): a flow is dead when both of its entries are. */
static bool ct_flow_expired(int fd, const struct lb_config *cfg, uint64_t now,
			    const struct lb_ct_key *k, const struct lb_ct *ct)
{
	struct lb_ct_key pk;
	struct lb_ct peer;

	if (!ct_is_expired(cfg, now, k, ct))
		return false;
	lb_ct_peer_key(k, ct, &pk);
	return bpf_map_lookup_elem(fd, &pk, &peer) || ct_is_expired(cfg, now, &pk, &peer);
}

static bool ct_match(const struct lb_ct_filter *f, const struct lb_ct_key *k, const struct lb_ct *ct)
{
	if (!f)
		return true;
	if (f->svc_id && ct->svc_id != f->svc_id)
		return false;
	if (f->ep_id && ct->ep_id != f->ep_id)
		return false;
	if (f->has_addr && !addr_is(&k->src, &f->addr) && !addr_is(&k->dst, &f->addr) &&
	    !addr_is(&ct->nat_src, &f->addr) && !addr_is(&ct->nat_dst, &f->addr))
		return false;
	/* The endpoint is where the forward entry sends, where the reply comes from. */
	if (f->has_ep_addr && !addr_is(ct->flags & LB_CT_F_REPLY ? &k->src : &ct->nat_dst,
				       &f->ep_addr))
		return false;
	return true;
}

int lb_ct_list(struct lb_ctx *ctx, const struct lb_ct_filter *f, struct lb_ct_entry **out,
	       size_t *n)
{
	struct lb_ct_key k, next, *prev = NULL;
	struct lb_ct_entry *v = NULL;
	struct lb_config cfg;
	size_t cnt = 0, cap = 0;
	uint64_t now = mono_ns();
	struct lb_ct ct;
	int fd, err;

	*out = NULL;
	*n = 0;
	err = read_config(ctx, &cfg);
	if (err)
		return err;
	fd = lb_map_fd(ctx, LB_MAP_CT);
	if (fd < 0)
		return fd;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct lb_ct_entry *e;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &ct) || !ct_match(f, &k, &ct))
			continue;
		if (ct_flow_expired(fd, &cfg, now, &k, &ct))
			continue;	/* expired: the datapath treats it as gone */
		if (LB_RESERVE(v, cnt, cap)) {
			err = -ENOMEM;
			break;
		}
		e = &v[cnt++];
		e->key = k;
		e->ct = ct;
		e->age_ns = lb_ct_age(ct.last_seen_ns, now);
		e->timeout = lb_ct_timeout(&cfg, k.proto, ct.state);
	}
	close(fd);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * Set each endpoint's open-flow count (the lc scheduler's input) from the table
 * after user space removed flows: the datapath only counts what it sees close.
 */
static int recount_active(struct lb_ctx *ctx, int ct_fd)
{
	struct lb_ct_key k, next, *prev = NULL;
	int st_fd = lb_map_fd(ctx, LB_MAP_EP_STATE), err = 0;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int64_t *active;
	struct lb_ct ct;

	if (st_fd < 0)
		return st_fd;
	if (bpf_obj_get_info_by_fd(st_fd, &info, &len) || !info.max_entries) {
		close(st_fd);
		return -EINVAL;
	}
	active = calloc(info.max_entries, sizeof(*active));
	if (!active) {
		close(st_fd);
		return -ENOMEM;
	}
	while (bpf_map_get_next_key(ct_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(ct_fd, &k, &ct) && !(ct.flags & LB_CT_F_REPLY) &&
		    (ct.flags & LB_CT_F_ACTIVE) && ct.ep_id < info.max_entries)
			active[ct.ep_id]++;
	}
	for (uint32_t id = 1; id < info.max_entries; id++) {
		struct lb_ep_state st;

		if (bpf_map_lookup_elem(st_fd, &id, &st) || st.active == active[id])
			continue;
		st.active = active[id];
		if (bpf_map_update_elem(st_fd, &id, &st, BPF_EXIST))
			err = -errno;
	}
	free(active);
	close(st_fd);
	return err;
}

int lb_ct_flush(struct lb_ctx *ctx, const struct lb_ct_filter *f, size_t *deleted)
{
	struct lb_ct_key k, next, *prev = NULL;
	struct lb_ct_key *doomed = NULL;
	size_t cnt = 0, cap = 0;
	struct lb_config cfg;
	uint64_t now = mono_ns();
	struct lb_ct ct;
	int fd, err = 0;

	if (deleted)
		*deleted = 0;
	if (f && f->expired) {
		err = read_config(ctx, &cfg);
		if (err)
			return err;
	}
	fd = lb_map_fd(ctx, LB_MAP_CT);
	if (fd < 0)
		return fd;
	/* Collect first, delete after: deleting while walking restarts the walk. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &ct) || !ct_match(f, &k, &ct))
			continue;
		if (f && f->expired && !ct_flow_expired(fd, &cfg, now, &k, &ct))
			continue;
		if (LB_RESERVE(doomed, cnt, cap)) {
			err = -ENOMEM;
			break;
		}
		doomed[cnt++] = k;
	}
	for (size_t i = 0; !err && i < cnt; i++)
		if (bpf_map_delete_elem(fd, &doomed[i]) == 0 && deleted)
			(*deleted)++;
	if (!err && cnt)
		err = recount_active(ctx, fd);
	free(doomed);
	close(fd);
	return err;
}

int lb_drops(struct lb_ctx *ctx, struct lb_counter out[LB_DROP_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd, err = 0;
	struct lb_counter *buf;

	memset(out, 0, sizeof(struct lb_counter) * LB_DROP_MAX);
	if (ncpu <= 0)
		return -EINVAL;
	fd = lb_map_fd(ctx, LB_MAP_DROPS);
	if (fd < 0)
		return fd;
	buf = calloc(ncpu, sizeof(*buf));
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (uint32_t r = 0; !err && r < LB_DROP_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, buf)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++) {
			out[r].packets += buf[c].packets;
			out[r].bytes += buf[c].bytes;
		}
	}
	free(buf);
	close(fd);
	return err;
}
