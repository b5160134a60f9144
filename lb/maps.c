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
	{ LB_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_config) },
	{ LB_MAP_IF_STATS, BPF_MAP_TYPE_PERCPU_HASH, sizeof(struct lb_if_key),
	  sizeof(struct lb_if_stats) },
	{ LB_MAP_IF_CTR, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_if_stats) },
	{ LB_MAP_SERVICES, BPF_MAP_TYPE_HASH, sizeof(struct lb_svc_key), sizeof(struct lb_svc) },
	{ LB_MAP_SVC_STATE, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_svc_state) },
	{ LB_MAP_SEL, BPF_MAP_TYPE_ARRAY, 4, 4 },
	{ LB_MAP_SVC_EPS, BPF_MAP_TYPE_HASH, sizeof(struct lb_svc_ep_key), 4 },
	{ LB_MAP_ENDPOINTS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_ep) },
	{ LB_MAP_EP_STATE, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_ep_state) },
	{ LB_MAP_SVC_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_obj_stats) },
	{ LB_MAP_EP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_obj_stats) },
	{ LB_MAP_CT, BPF_MAP_TYPE_HASH, sizeof(struct lb_ct_key), sizeof(struct lb_ct) },
	{ LB_MAP_EP_NH, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_ep_nh) },
	{ LB_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_counter) },
	{ LB_MAP_JMP, BPF_MAP_TYPE_PROG_ARRAY, 4, 4 },
	{ LB_MAP_GC, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_gc) },
	{ LB_MAP_AFFINITY, BPF_MAP_TYPE_LRU_HASH, sizeof(struct lb_aff_key), sizeof(struct lb_aff) },
	{ LB_MAP_ALLOW, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct lb_allow_key), sizeof(struct lb_allow) },
	{ LB_MAP_CHAIN, BPF_MAP_TYPE_PROG_ARRAY, 4, 4 },
	{ LB_MAP_CHAIN_CFG, BPF_MAP_TYPE_HASH, 4, sizeof(struct lb_chain_cfg) },
	{ LB_MAP_CHAIN_POS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct lb_chain_pos) },
	{ LB_MAP_CHAIN_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(__u64) },
	{ LB_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0 },
	{ LB_MAP_MONITOR, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct lb_monitor) },
	{ LB_MAP_HEALTH, BPF_MAP_TYPE_HASH, sizeof(struct lb_health_key), sizeof(struct lb_health) },
	{ NULL },
};

static const char *type_str(unsigned int type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

static const struct lb_map_shape *shape_of(const char *name)
{
	for (const struct lb_map_shape *s = lb_map_shapes; s->name; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

int lb_map_info_check(struct lb_ctx *ctx, const char *name, const struct bpf_map_info *info,
		      bool any_value_size)
{
	const struct lb_map_shape *s = shape_of(name);

	if (!s)
		return 0;
	if (info->type != s->type)
		return lb_set_err(ctx, -EUCLEAN, "map %s: type %s, expected %s", name,
				  type_str(info->type), type_str(s->type));
	if (info->key_size != s->key_size)
		return lb_set_err(ctx, -EUCLEAN, "map %s: key size %u, expected %u", name,
				  info->key_size, s->key_size);
	if (!any_value_size && info->value_size != s->value_size)
		return lb_set_err(ctx, -EUCLEAN, "map %s: value size %u, expected %u", name,
				  info->value_size, s->value_size);
	return 0;
}

int lb_map_fd_checked(struct lb_ctx *ctx, const char *name, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	/* Another layout's maps differ by design: only upgrade and destroy open those. */
	if ((ctx->flags & LB_OPEN_ANY_ABI) || !shape_of(name))
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	if (!err)
		err = lb_map_info_check(ctx, name, &info, false);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int lb_map_shapes_check(struct lb_ctx *ctx)
{
	for (const struct lb_map_shape *s = lb_map_shapes; s->name; s++) {
		int fd = lb_map_fd(ctx, s->name);

		if (fd == -ENOENT)
			continue;	/* not pinned (yet): nothing here to misuse */
		if (fd < 0)
			return fd;
		close(fd);
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
		if (fd == -EUCLEAN) {
			err = fd;	/* one of our names with another shape: named, not listed */
			break;
		}
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
