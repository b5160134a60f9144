// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Describing pinned maps: what lbmap list shows and what tests read. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

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
