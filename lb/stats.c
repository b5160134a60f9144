// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading the per-CPU counters: one value per possible CPU, summed here. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static int cmp_if(const void *a, const void *b)
{
	const struct lb_if_counters *x = a, *y = b;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return (int)x->hook - (int)y->hook;
}

/* Add one (ifindex, hook)'s per-CPU values into v[], a new element or the one
 * already there (an interface counted in both maps, across an upgrade). */
static int if_add(struct lb_if_counters **v, size_t *cnt, size_t *cap, unsigned int ifindex,
		  enum lb_hook hook, const struct lb_if_stats *per_cpu, int ncpu)
{
	struct lb_if_counters *c = NULL;

	for (size_t i = 0; i < *cnt && !c; i++)
		if ((*v)[i].ifindex == ifindex && (*v)[i].hook == hook)
			c = &(*v)[i];
	if (!c) {
		if (LB_RESERVE(*v, *cnt, *cap))
			return -ENOMEM;
		c = &(*v)[(*cnt)++];
		memset(c, 0, sizeof(*c));
		c->ifindex = ifindex;
		c->hook = hook;
	}
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (int i = 0; i < LB_CTR_MAX; i++) {
			c->ctr[i].packets += per_cpu[cpu].ctr[i].packets;
			c->ctr[i].bytes += per_cpu[cpu].ctr[i].bytes;
		}
	return 0;
}

static bool all_zero(const struct lb_if_stats *per_cpu, int ncpu)
{
	const uint64_t *w = (const uint64_t *)per_cpu;

	for (size_t i = 0; i < ncpu * sizeof(*per_cpu) / 8; i++)
		if (w[i])
			return false;
	return true;
}

int lb__if_counters_read(int hash_fd, int arr_fd, struct lb_if_counters **out, size_t *n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_if_counters *v = NULL;
	struct lb_if_stats *per_cpu;
	struct lb_if_key key, next, *prev = NULL;
	size_t cnt = 0, cap = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));	/* 8-byte multiple, as the kernel wants */
	if (!per_cpu)
		return -ENOMEM;
	while (hash_fd >= 0 && !err && bpf_map_get_next_key(hash_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(hash_fd, &key, per_cpu))
			continue;	/* deleted meanwhile */
		err = if_add(&v, &cnt, &cap, key.ifindex, key.hook, per_cpu, ncpu);
	}
	/* The array: every slot exists; one that never counted is not listed. */
	for (uint32_t i = 0; arr_fd >= 0 && !err && i < LB_IF_CTR_IFINDEX_MAX * LB_HOOK_MAX; i++) {
		if (bpf_map_lookup_elem(arr_fd, &i, per_cpu) || all_zero(per_cpu, ncpu))
			continue;
		err = if_add(&v, &cnt, &cap, i / LB_HOOK_MAX, i % LB_HOOK_MAX, per_cpu, ncpu);
	}
	free(per_cpu);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_if);
	*out = v;
	*n = cnt;
	return 0;
}

int lb_if_counters(struct lb_ctx *ctx, struct lb_if_counters **out, size_t *n)
{
	int hash_fd = lb_map_fd(ctx, LB_MAP_IF_STATS), arr_fd, err;

	*out = NULL;
	*n = 0;
	if (hash_fd < 0)
		return hash_fd;
	arr_fd = lb_map_fd(ctx, LB_MAP_IF_CTR);
	if (arr_fd < 0) {
		close(hash_fd);
		return arr_fd;
	}
	err = lb__if_counters_read(hash_fd, arr_fd, out, n);
	close(hash_fd);
	close(arr_fd);
	return err;
}

/* Zero the array's slots of ifindex (0: all) that counted anything. */
static int if_ctr_reset(struct lb_ctx *ctx, unsigned int ifindex)
{
	int ncpu = libbpf_num_possible_cpus(), fd, err = 0;
	struct lb_if_stats *per_cpu;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	if (ifindex >= LB_IF_CTR_IFINDEX_MAX)
		return 0;
	fd = lb_map_fd(ctx, LB_MAP_IF_CTR);
	if (fd < 0)
		return fd;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu) {
		close(fd);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < LB_IF_CTR_IFINDEX_MAX * LB_HOOK_MAX; i++) {
		if (ifindex && i / LB_HOOK_MAX != ifindex)
			continue;
		if (bpf_map_lookup_elem(fd, &i, per_cpu) || all_zero(per_cpu, ncpu))
			continue;
		memset(per_cpu, 0, ncpu * sizeof(*per_cpu));
		if (bpf_map_update_elem(fd, &i, per_cpu, BPF_ANY) && !err)
			err = -errno;
	}
	free(per_cpu);
	close(fd);
	return err;
}

int lb_if_counters_reset(struct lb_ctx *ctx, unsigned int ifindex)
{
	struct lb_if_key key, next, *prev = NULL;
	int fd = lb_map_fd(ctx, LB_MAP_IF_STATS), err = 0;

	if (fd < 0)
		return fd;
	/* Deleting the current key would restart the walk: step first, then delete. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (prev && (!ifindex || prev->ifindex == ifindex) &&
		    bpf_map_delete_elem(fd, prev) && errno != ENOENT)
			err = -errno;
		key = next;
		prev = &key;
	}
	if (prev && (!ifindex || prev->ifindex == ifindex) &&
	    bpf_map_delete_elem(fd, prev) && errno != ENOENT)
		err = -errno;
	close(fd);
	return if_ctr_reset(ctx, ifindex) ?: err;
}
