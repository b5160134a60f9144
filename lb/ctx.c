// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Opening a pin root: resolve it, mount bpffs when missing, create the layout,
 * take the writer lock, and check the layout version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "ruleset.h"

#define LB_BPFFS_DEFAULT	"/sys/fs/bpf"

int lb_set_err(struct lb_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	if (ctx) {
		va_start(ap, fmt);
		vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
		va_end(ap);
	}
	return err;
}

void lb_clear_err(struct lb_ctx *ctx)
{
	ctx->errmsg[0] = '\0';
}

const char *lb_ctx_errmsg(const struct lb_ctx *ctx)
{
	return ctx ? ctx->errmsg : "";
}

const char *lb_pin_root(const struct lb_ctx *ctx)
{
	return ctx->root;
}

unsigned int lb_found_abi_version(const struct lb_ctx *ctx)
{
	return ctx ? ctx->found_abi : 0;
}

const char *lb_pin_root_default(const char *override)
{
	const char *env = getenv(LB_PIN_ROOT_ENV);

	if (override && *override)
		return override;
	if (env && *env)
		return env;
	return LB_DEFAULT_PIN_ROOT;
}

int lb_path(const struct lb_ctx *ctx, char *buf, size_t len, const char *a,
	    const char *b, const char *c)
{
	int n = snprintf(buf, len, "%s/%s%s%s%s%s", ctx->root, a, b ? "/" : "", b ? b : "",
			 c ? "/" : "", c ? c : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int lb_reserve(void **v, size_t cnt, size_t *cap, size_t elem)
{
	size_t want = *cap ? *cap * 2 : 16;
	void *nv;

	if (cnt < *cap)
		return 0;
	nv = realloc(*v, want * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = want;
	return 0;
}

int lb_mkdir_p(const char *path, unsigned int mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(tmp, mode) && errno != EEXIST)
				return -errno;
			if (!c)
				break;
			*p = c;
		}
	}
	return 0;
}

int lb_remove_tree(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int err = 0;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR)
			return -errno;
		return unlink(path) ? -errno : 0;
	}
	while ((e = readdir(d))) {
		char sub[PATH_MAX];
		int n;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(sub))
			err = -ENAMETOOLONG;
		else if (e->d_type == DT_DIR)
			err = lb_remove_tree(sub) ?: err;
		else if (unlink(sub) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	if (rmdir(path) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

/* Deepest existing ancestor of path (path itself when it exists). */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) != 0) {
		char *slash = strrchr(buf, '/');

		if (!slash || slash == buf) {
			snprintf(buf, len, "/");
			return;
		}
		*slash = '\0';
	}
}

/*
 * Make sure the root lies on a bpffs.  Below /sys/fs/bpf the standard mount is
 * made; anywhere else a private bpffs is mounted on the root itself, which must be
 * missing or an empty directory (so nothing is ever hidden under a mount).
 */
static int ensure_bpffs(struct lb_ctx *ctx)
{
	const char *mnt = ctx->root;
	char anc[PATH_MAX];
	int err;

	existing_ancestor(ctx->root, anc, sizeof(anc));
	if (is_bpffs(anc))
		return 0;
	if (!strncmp(ctx->root, LB_BPFFS_DEFAULT "/", strlen(LB_BPFFS_DEFAULT) + 1)) {
		mnt = LB_BPFFS_DEFAULT;
		if (strcmp(anc, LB_BPFFS_DEFAULT) || !dir_is_empty(mnt))
			return lb_set_err(ctx, -ENOTDIR, "%s is not a bpf filesystem and cannot be mounted",
					  mnt);
	} else {
		if (!strcmp(anc, ctx->root) && !dir_is_empty(ctx->root))
			return lb_set_err(ctx, -ENOTDIR,
					  "not on a bpf filesystem and not an empty directory");
		err = lb_mkdir_p(ctx->root, 0700);
		if (err)
			return lb_set_err(ctx, err, "cannot create it");
	}
	if (mount("bpf", mnt, "bpf", 0, "mode=0700"))
		return lb_set_err(ctx, -errno, "cannot mount bpffs on %s", mnt);
	snprintf(ctx->mounted, sizeof(ctx->mounted), "%s", mnt);
	return 0;
}

static int create_layout(struct lb_ctx *ctx)
{
	static const char *const dirs[] = { LB_DIR_MAPS, LB_DIR_PROGS, LB_DIR_LINKS };
	char path[PATH_MAX];
	int err = ensure_bpffs(ctx);

	if (err)
		return err;
	err = lb_mkdir_p(ctx->root, 0700);
	for (size_t i = 0; !err && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		err = lb_path(ctx, path, sizeof(path), dirs[i], NULL, NULL);
		if (!err)
			err = lb_mkdir_p(path, 0700);
	}
	return err ? lb_set_err(ctx, err, "cannot create the pin layout") : 0;
}

static int take_lock(struct lb_ctx *ctx, unsigned int timeout_ms)
{
	struct timespec nap = { .tv_nsec = 10 * 1000 * 1000 };
	unsigned int waited = 0;

	while (flock(ctx->root_fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= timeout_ms)
			return -EWOULDBLOCK;
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return 0;
}

/* Read the layout version from the config map; 0 when there is no config map. */
static int read_abi_version(struct lb_ctx *ctx)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), key = 0;
	char path[PATH_MAX];
	unsigned char *val;
	int fd, err;

	err = lb_path(ctx, path, sizeof(path), LB_DIR_MAPS, LB_MAP_CONFIG, NULL);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &info_len) ? -errno : 0;
	if (err || info.value_size < sizeof(__u32)) {
		close(fd);
		return err ? err : -EPROTO;
	}
	/* Its value may grow from one layout to the next (abi_version stays first).
	 * Another map there holds no version: destroy (any layout) still removes it. */
	err = lb_map_info_check(ctx, LB_MAP_CONFIG, &info, true);
	if (err) {
		close(fd);
		return ctx->flags & LB_OPEN_ANY_ABI ? 0 : err;
	}
	val = calloc(1, info.value_size);
	if (!val) {
		close(fd);
		return -ENOMEM;
	}
	err = bpf_map_lookup_elem(fd, &key, val) ? -errno : 0;
	if (!err)
		memcpy(&ctx->found_abi, val, sizeof(__u32));	/* abi_version is first */
	free(val);
	close(fd);
	return err;
}

int lb_open(struct lb_ctx **out, const struct lb_open_opts *opts)
{
	struct lb_open_opts none = {};
	struct lb_ctx *ctx;
	const char *root;
	struct stat st;
	int err;

	*out = NULL;
	if (!opts)
		opts = &none;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	*out = ctx;		/* so the caller can read errmsg even on failure */
	ctx->root_fd = -1;
	ctx->flags = opts->flags;
	root = lb_pin_root_default(opts->pin_root);
	if (root[0] != '/')
		return lb_set_err(ctx, -EINVAL, "pin root must be an absolute path");
	if (strlen(root) >= sizeof(ctx->root) - 64)
		return -ENAMETOOLONG;
	snprintf(ctx->root, sizeof(ctx->root), "%s", root);
	/* Trailing slashes would make two names for one root. */
	for (size_t n = strlen(ctx->root); n > 1 && ctx->root[n - 1] == '/'; n--)
		ctx->root[n - 1] = '\0';
	if (opts->bpf_dir)
		snprintf(ctx->bpf_dir, sizeof(ctx->bpf_dir), "%s", opts->bpf_dir);

	if (stat(ctx->root, &st) != 0) {
		if (errno == EACCES || errno == EPERM)
			return -errno;
		if (!(opts->flags & LB_OPEN_CREATE))
			return -ENOENT;
	} else if (!is_bpffs(ctx->root) && !(opts->flags & LB_OPEN_CREATE)) {
		return lb_set_err(ctx, -ENOENT, "not on a bpf filesystem");
	}
	if (opts->flags & LB_OPEN_CREATE) {
		ctx->created_root = stat(ctx->root, &st) != 0 || !is_bpffs(ctx->root);
		err = create_layout(ctx);
		if (err)
			return err;
	}
	ctx->root_fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->root_fd < 0)
		return -errno;
	if (opts->flags & LB_OPEN_WRITE) {
		err = take_lock(ctx, opts->flags & LB_OPEN_NOWAIT ? 0 :
				    opts->lock_timeout_ms ? opts->lock_timeout_ms : 10000);
		if (err)
			return err;
	}
	err = read_abi_version(ctx);
	if (err)
		return err;
	if (ctx->found_abi && ctx->found_abi != LB_ABI_VERSION && !(opts->flags & LB_OPEN_ANY_ABI))
		return -EPROTO;
	/* A map of another shape under one of our names is never used: lb_map_fd()
	 * checks each map a command opens; a load would reuse every pin, so attach
	 * (and ntc's loads, which create) check them all first. */
	if ((opts->flags & LB_OPEN_CREATE) && !(opts->flags & LB_OPEN_ANY_ABI)) {
		err = lb_map_shapes_check(ctx);
		if (err)
			return err;
	}
	/* Without CREATE there must be a datapath here to work on. */
	if (!ctx->found_abi && !(opts->flags & (LB_OPEN_CREATE | LB_OPEN_ANY_ABI)))
		return lb_set_err(ctx, -ENOENT, "no datapath loaded");
	/* A writer first finishes a rule set change a killed one left half done,
	 * so every writer (and save) starts from a whole rule set.  upgrade and
	 * destroy (any layout) try too, but go on: destroy is the way out of a
	 * record that cannot be finished. */
	if ((opts->flags & LB_OPEN_WRITE) && ctx->found_abi == LB_ABI_VERSION) {
		err = lb__ruleset_finish(ctx);
		if (err && !(opts->flags & LB_OPEN_ANY_ABI))
			return err;
		lb_clear_err(ctx);
	}
	return 0;
}

int lb_abandon(struct lb_ctx *ctx)
{
	static const char *const dirs[] = { LB_DIR_LINKS, LB_DIR_PROGS, LB_DIR_MAPS };
	char path[PATH_MAX];

	if (!ctx || !ctx->created_root)
		return 0;
	/* The root is this command's own: whatever it loaded there goes too. */
	lb_destroy(ctx);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!lb_path(ctx, path, sizeof(path), dirs[i], NULL, NULL) && rmdir(path) &&
		    errno != ENOENT)
			return -errno;	/* something was pinned: keep it all */
	if (ctx->root_fd >= 0) {
		close(ctx->root_fd);
		ctx->root_fd = -1;
	}
	if (ctx->mounted[0] && umount(ctx->mounted))
		return -errno;
	if (!ctx->mounted[0] || !strcmp(ctx->mounted, ctx->root))
		rmdir(ctx->root);
	ctx->created_root = false;
	return 0;
}

void lb_close(struct lb_ctx *ctx)
{
	if (!ctx)
		return;
	lb__svc_cache_drop(ctx);
	if (ctx->root_fd >= 0)
		close(ctx->root_fd);	/* drops the flock */
	free(ctx);
}
