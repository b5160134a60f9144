// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Describing pinned maps: what lbmap list shows and what tests read; the shape a
 * pin under one of our names must have. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/*
 * Our maps as bpf/lib/maps.h defines them (max_entries is chosen at the first load,
 * so it is not part of the shape).  tests/unit/test_maps.c holds this table against
 * the built object.
 */
const struct lb_map_shape lb_map_shapes[] = {
	/* lb_config first: lb_open() checks it before it reads abi_version */
	{ LB_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_config) },
	{ LB_MAP_IF_STATS, BPF_MAP_TYPE_PERCPU_HASH, sizeof(struct lb_if_key),
	  sizeof(struct lb_if_stats) },
	{ LB_MAP_SERVICES, BPF_MAP_TYPE_HASH, sizeof(struct lb_svc_key), sizeof(struct lb_svc) },
	{ LB_MAP_SVC_STATE, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_svc_state) },
	{ LB_MAP_SVC_SEL, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4 },
	{ LB_MAP_ENDPOINTS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_ep) },
	{ LB_MAP_EP_STATE, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_ep_state) },
	{ LB_MAP_SVC_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_obj_stats) },
	{ LB_MAP_EP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_obj_stats) },
	{ LB_MAP_CT, BPF_MAP_TYPE_LRU_HASH, sizeof(struct lb_ct_key), sizeof(struct lb_ct) },
	{ LB_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_counter) },
	{ LB_MAP_JMP, BPF_MAP_TYPE_PROG_ARRAY, 4, 4 },
	{ LB_MAP_GC, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_gc) },
	{ LB_MAP_AFFINITY, BPF_MAP_TYPE_LRU_HASH, sizeof(struct lb_aff_key), sizeof(struct lb_aff) },
	{ LB_MAP_CHAIN, BPF_MAP_TYPE_PROG_ARRAY, 4, 4 },
	{ LB_MAP_CHAIN_CFG, BPF_MAP_TYPE_HASH, 4, sizeof(struct lb_chain_cfg) },
	{ LB_MAP_CHAIN_POS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_chain_pos) },
	{ LB_MAP_CHAIN_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(__u64) },
	{ LB_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0 },
	{ LB_MAP_MONITOR, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_monitor) },
	{ NULL },
};

static const char *type_str(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

int lb_map_shape_check(struct lb_ctx *ctx, const struct lb_map_shape *s, bool any_value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = lb_map_fd(ctx, s->name), err = 0;

	if (fd == -ENOENT)
		return 0;	/* not pinned (yet): nothing here to misuse */
	if (fd < 0)
		return fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = lb_set_err(ctx, -errno, "map %s: no map", s->name);
	else if (info.type != s->type)
		err = lb_set_err(ctx, -EUCLEAN, "map %s: type %s, expected %s", s->name,
				 type_str(info.type), type_str(s->type));
	else if (info.key_size != s->key_size)
		err = lb_set_err(ctx, -EUCLEAN, "map %s: key size %u, expected %u", s->name,
				 info.key_size, s->key_size);
	else if (!any_value_size && info.value_size != s->value_size)
		err = lb_set_err(ctx, -EUCLEAN, "map %s: value size %u, expected %u", s->name,
				 info.value_size, s->value_size);
	close(fd);
	return err;
}

int lb_map_shapes_check(struct lb_ctx *ctx)
{
	for (const struct lb_map_shape *s = lb_map_shapes; s->name; s++) {
		int err = lb_map_shape_check(ctx, s, false);

		if (err)
			return err;
	}
	return 0;
}

/* The kernel publishes the memory it charges for a map in fdinfo. */
static uint64_t fd_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static bool type_per_cpu(unsigned int t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static bool type_is_array(unsigned int t)
{
	return t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

int lb_map_describe(int fd, struct lb_map_desc *d)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	memset(d, 0, sizeof(*d));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	snprintf(d->name, sizeof(d->name), "%s", info.name);
	d->id = info.id;
	d->type = info.type;
	d->key_size = info.key_size;
	d->value_size = info.value_size;
	d->max_entries = info.max_entries;
	d->flags = info.map_flags;
	d->memlock = fd_memlock(fd);
	d->per_cpu = type_per_cpu(info.type);
	if (type_is_array(info.type) || !info.key_size) {
		d->entries = info.max_entries;
	} else {
		void *key = malloc(info.key_size), *next = malloc(info.key_size);
		void *prev = NULL;

		while (key && next && bpf_map_get_next_key(fd, prev, next) == 0) {
			memcpy(key, next, info.key_size);
			prev = key;
			if (++d->entries > info.max_entries)
				break;	/* keys changing under us; do not loop forever */
		}
		free(key);
		free(next);
	}
	return 0;
}

static int cmp_desc(const void *a, const void *b)
{
	return strcmp(((const struct lb_map_desc *)a)->name, ((const struct lb_map_desc *)b)->name);
}

int lb_maps(struct lb_ctx *ctx, struct lb_map_desc **out, size_t *n)
{
	struct lb_map_desc *v = NULL;
	char dir[PATH_MAX];
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int err = lb_path(ctx, dir, sizeof(dir), LB_DIR_MAPS, NULL, NULL);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = lb_map_fd(ctx, e->d_name);
		if (fd < 0)
			continue;	/* not a map pin */
		if (LB_RESERVE(v, cnt, cap)) {
			close(fd);
			err = -ENOMEM;
			break;
		}
		if (lb_map_describe(fd, &v[cnt]) == 0) {
			/* The pin name is the user's handle; the kernel keeps only 15 chars. */
			snprintf(v[cnt].name, sizeof(v[cnt].name), "%.63s", e->d_name);
			cnt++;
		}
		close(fd);
	}
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_desc);
	*out = v;
	*n = cnt;
	return 0;
}
