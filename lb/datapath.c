// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading the datapath object: maps are pinned by name below <root>/maps (so a
 * reload reuses them and the rules survive), programs below <root>/progs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

const char *const lb_datapath_progs[LB_DATAPATH_PROGS] = {
	LB_PROG_XDP, LB_PROG_TC_INGRESS, LB_PROG_TC_EGRESS, LB_PROG_TC_SLOW, LB_PROG_TC_ICMP,
	LB_PROG_GC_ARM, LB_PROG_XDP_CHAINED, LB_PROG_CHAIN_ENTRY, LB_PROG_CHAIN_STEP,
};
#define N_PROGS LB_DATAPATH_PROGS
#define datapath_progs lb_datapath_progs

static int exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

int lb_find_bpf_obj(const struct lb_ctx *ctx, const char *name, char *buf, size_t len)
{
	const char *env = getenv(LB_BPF_DIR_ENV);
	char exe[PATH_MAX], dirs[5][PATH_MAX];
	int n = 0;

	if (ctx->bpf_dir[0])
		snprintf(dirs[n++], PATH_MAX, "%s", ctx->bpf_dir);
	if (env && *env)
		snprintf(dirs[n++], PATH_MAX, "%s", env);
	if (exe_dir(exe, sizeof(exe)) == 0) {
		snprintf(dirs[n++], PATH_MAX, "%.*s/../bpf", PATH_MAX - 16, exe);	/* build tree */
		snprintf(dirs[n++], PATH_MAX, "%.*s/../lib/lbkit", PATH_MAX - 16, exe);
	}
	snprintf(dirs[n++], PATH_MAX, "%s", LB_BPF_DIR);
	for (int i = 0; i < n; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static int open_pinned(struct lb_ctx *ctx, const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd, err = lb_path(ctx, path, sizeof(path), dir, name, NULL);

	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int lb_map_fd(struct lb_ctx *ctx, const char *name)
{
	int fd = open_pinned(ctx, LB_DIR_MAPS, name);

	/* One of our names with another shape is never used (one info call). */
	return fd < 0 ? fd : lb_map_fd_checked(ctx, name, fd);
}

int lb_prog_fd(struct lb_ctx *ctx, const char *name)
{
	return open_pinned(ctx, LB_DIR_PROGS, name);
}

bool lb_datapath_loaded(struct lb_ctx *ctx)
{
	for (size_t i = 0; i < N_PROGS; i++) {
		int fd = lb_prog_fd(ctx, datapath_progs[i]);

		if (fd < 0)
			return false;
		close(fd);
	}
	return true;
}

static int write_config(struct lb_ctx *ctx)
{
	struct lb_config cfg = { .abi_version = LB_ABI_VERSION };
	struct timespec now;
	__u32 key = 0;
	int fd = lb_map_fd(ctx, LB_MAP_CONFIG), err;

	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_REALTIME, &now);
	cfg.created_ns = (__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
	err = bpf_map_update_elem(fd, &key, &cfg, BPF_ANY) ? -errno : 0;
	close(fd);
	if (!err)
		ctx->found_abi = LB_ABI_VERSION;
	return err;
}

/* Undo a failed load: drop the pins this load created. */
static void unpin_new(struct lb_ctx *ctx, struct bpf_object *obj, const bool *map_existed)
{
	char path[PATH_MAX];

	lb_unpin_new_maps(obj, map_existed);
	for (size_t i = 0; i < N_PROGS; i++)
		if (!lb_path(ctx, path, sizeof(path), LB_DIR_PROGS, datapath_progs[i], NULL))
			unlink(path);
}

/*
 * Start the conntrack sweep: run lb_gc_arm once.  Its timer then lives in the
 * pinned lb_gc map, with no process holding anything.
 */
int lb_gc_arm(struct lb_ctx *ctx)
{
	unsigned char pkt[64] = { [12] = 0x08 };	/* any frame: the program ignores it */
	int fd = lb_prog_fd(ctx, LB_PROG_GC_ARM), err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	if (fd < 0)
		return lb_set_err(ctx, fd, "program %s", LB_PROG_GC_ARM);
	err = bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
	close(fd);
	if (!err && o.retval)
		err = lb_set_err(ctx, -EINVAL, "conntrack sweep timer not started (step %u)", o.retval);
	return err;
}

static uint32_t map_size(struct lb_ctx *ctx, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = lb_map_fd(ctx, name);
	uint32_t n = 0;

	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
		n = info.max_entries;
	if (fd >= 0)
		close(fd);
	return n;
}

int lb_datapath_sizes(struct lb_ctx *ctx, struct lb_sizes *out)
{
	out->services = map_size(ctx, LB_MAP_SERVICES);
	out->endpoints = map_size(ctx, LB_MAP_ENDPOINTS);
	out->conntrack = map_size(ctx, LB_MAP_CT);
	out->allow = map_size(ctx, LB_MAP_ALLOW);	/* 0 on a root of an older layout */
	out->selection = map_size(ctx, LB_MAP_SEL);	/* likewise */
	return out->services && out->endpoints && out->conntrack ? 0 : -ENOENT;
}

/* Maps sized together: per-service and per-endpoint arrays share the id space. */
int lb_apply_sizes(struct bpf_object *obj, const struct lb_sizes *sz)
{
	static const struct { const char *map; int which; } groups[] = {
		{ LB_MAP_SERVICES, 0 }, { LB_MAP_SVC_STATE, 0 }, { LB_MAP_SVC_STATS, 0 },
		{ LB_MAP_ENDPOINTS, 1 }, { LB_MAP_SVC_EPS, 1 },
		{ LB_MAP_EP_STATE, 1 }, { LB_MAP_EP_STATS, 1 }, { LB_MAP_CT, 2 },
		{ LB_MAP_ALLOW, 3 }, { LB_MAP_HEALTH, 4 }, { LB_MAP_SEL, 5 },
	};
	/* lb_health: an entry per service and per endpoint at most */
	uint32_t health = sz->services || sz->endpoints ?
			  (sz->services ? sz->services : LB_SERVICES_MAX) +
			  (sz->endpoints ? sz->endpoints : LB_ENDPOINTS_MAX) : 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		uint32_t n = groups[i].which == 0 ? sz->services :
			     groups[i].which == 1 ? sz->endpoints :
			     groups[i].which == 2 ? sz->conntrack :
			     groups[i].which == 3 ? sz->allow :
			     groups[i].which == 4 ? health : sz->selection;
		struct bpf_map *m = bpf_object__find_map_by_name(obj, groups[i].map);

		if (n && m && bpf_map__set_max_entries(m, n))
			return -EINVAL;
	}
	return 0;
}

int lb_datapath_load(struct lb_ctx *ctx)
{
	return lb_datapath_load_sized(ctx, NULL);
}

int lb_datapath_load_sized(struct lb_ctx *ctx, const struct lb_sizes *sizes)
{
	char obj_path[PATH_MAX], maps_dir[PATH_MAX], path[PATH_MAX];
	bool map_existed[64] = {};
	struct bpf_object *obj;
	struct bpf_map *map;
	size_t i = 0;
	int err;

	lb__svc_cache_drop(ctx);	/* the maps may be new */
	if (lb_datapath_loaded(ctx)) {
		struct lb_sizes cur;

		if (sizes && !lb_datapath_sizes(ctx, &cur) &&
		    ((sizes->services && sizes->services != cur.services) ||
		     (sizes->endpoints && sizes->endpoints != cur.endpoints) ||
		     (sizes->conntrack && sizes->conntrack != cur.conntrack) ||
		     (sizes->allow && sizes->allow != cur.allow) ||
		     (sizes->selection && sizes->selection != cur.selection)))
			return lb_set_err(ctx, -EEXIST,
					  "table sizes are fixed when first loaded (services %u endpoints %u conntrack %u allow %u selection %u); 'lbattach destroy' starts over",
					  cur.services, cur.endpoints, cur.conntrack, cur.allow,
					  cur.selection);
		return 0;
	}
	err = lb_find_bpf_obj(ctx, LB_DATAPATH_OBJ, obj_path, sizeof(obj_path));
	if (err)
		return lb_set_err(ctx, err, "BPF object %s not found (set %s)", LB_DATAPATH_OBJ,
				  LB_BPF_DIR_ENV);
	err = lb_path(ctx, maps_dir, sizeof(maps_dir), LB_DIR_MAPS, NULL, NULL);
	if (err)
		return err;
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = maps_dir);
	obj = bpf_object__open_file(obj_path, &oopts);
	if (!obj)
		return lb_set_err(ctx, -errno, "cannot open %s", obj_path);

	if (sizes && lb_apply_sizes(obj, sizes)) {
		bpf_object__close(obj);
		return lb_set_err(ctx, -EINVAL, "bad table sizes");
	}
	bpf_object__for_each_map(map, obj) {
		if (i < 64 && !lb_path(ctx, path, sizeof(path), LB_DIR_MAPS, bpf_map__name(map), NULL))
			map_existed[i] = access(path, F_OK) == 0;
		i++;
	}

	err = bpf_object__load(obj);
	if (err == -EPERM) {
		goto fail;
	} else if (err) {
		/* The verifier's EACCES/EINVAL must not read as a permission problem. */
		err = lb_set_err(ctx, -ENOEXEC,
				 "the kernel refused %s (run with -d for the verifier log)", obj_path);
		goto fail;
	}
	for (i = 0; i < N_PROGS; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, datapath_progs[i]);

		err = lb_path(ctx, path, sizeof(path), LB_DIR_PROGS, datapath_progs[i], NULL);
		if (!err && !prog)
			err = lb_set_err(ctx, -ENOENT, "%s has no program %s", obj_path,
					 datapath_progs[i]);
		if (err)
			goto fail;
		unlink(path);
		if (bpf_obj_pin(bpf_program__fd(prog), path)) {
			err = lb_set_err(ctx, -errno, "cannot pin %s", path);
			goto fail;
		}
	}
	{
		/* XDP chains: the step program that lb_chain_next() tail-calls. */
		struct bpf_map *chain = bpf_object__find_map_by_name(obj, LB_MAP_CHAIN);
		struct bpf_program *step = bpf_object__find_program_by_name(obj, LB_PROG_CHAIN_STEP);
		__u32 slot = LB_CHAIN_STEP;
		int step_fd = step ? bpf_program__fd(step) : -1;

		if (!chain || bpf_map_update_elem(bpf_map__fd(chain), &slot, &step_fd, 0)) {
			err = lb_set_err(ctx, chain ? -errno : -ENOENT, "cannot set up %s", LB_MAP_CHAIN);
			goto fail;
		}
	}
	if (ctx->found_abi == 0) {
		err = write_config(ctx);
		if (err) {
			lb_set_err(ctx, err, "cannot write the config map");
			goto fail;
		}
	}
	bpf_object__close(obj);
	return lb_gc_arm(ctx);
fail:
	unpin_new(ctx, obj, map_existed);
	bpf_object__close(obj);
	return err;
}
