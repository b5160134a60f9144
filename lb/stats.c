// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading the per-CPU counters: one value per possible CPU, summed here. */
#include <errno.h>
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

int lb_if_counters(struct lb_ctx *ctx, struct lb_if_counters **out, size_t *n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_if_counters *v = NULL;
	struct lb_if_stats *per_cpu;
	struct lb_if_key key, next, *prev = NULL;
	size_t cnt = 0, cap = 0;
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	fd = lb_map_fd(ctx, LB_MAP_IF_STATS);
	if (fd < 0)
		return fd;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));	/* 8-byte multiple, as the kernel wants */
	if (!per_cpu) {
		close(fd);
		return -ENOMEM;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct lb_if_counters *c;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, per_cpu))
			continue;	/* deleted meanwhile */
		if (LB_RESERVE(v, cnt, cap)) {
			err = -ENOMEM;
			break;
		}
		c = &v[cnt++];
		memset(c, 0, sizeof(*c));
		c->ifindex = key.ifindex;
		c->hook = key.hook;
		for (int cpu = 0; cpu < ncpu; cpu++)
			for (int i = 0; i < LB_CTR_MAX; i++) {
				c->ctr[i].packets += per_cpu[cpu].ctr[i].packets;
				c->ctr[i].bytes += per_cpu[cpu].ctr[i].bytes;
			}
	}
	free(per_cpu);
	close(fd);
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
	return err;
}
