// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attaching the datapath to hooks.  Every attachment is recorded by a pin at
 * <root>/links/<ifname>/<hook>: the bpf_link itself for tcx and XDP (so it outlives
 * the tool), or, for the clsact fallback where the kernel has no link, a pin of the
 * program that stands as the record of our cls_bpf filter.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "ruleset.h"
#include "tcx.h"

static int valid_ifname(struct lb_ctx *ctx, const char *ifname)
{
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') ||
	    !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return lb_set_err(ctx, -EINVAL, "invalid interface name");
	return 0;
}

/* What kind of BPF object an fd refers to: "bpf-link", "bpf-prog", "bpf-map". */
static bool fd_is(int fd, const char *kind)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strcmp(target + (strncmp(target, "anon_inode:", 11) ? 0 : 11), kind);
}

int lb_pin_info_fd(int fd, struct lb_pin_info *pi)
{
	struct bpf_prog_info pinfo = {};
	__u32 len;
	int pfd = fd;

	memset(pi, 0, sizeof(*pi));
	if (fd_is(fd, "bpf-link")) {
		struct bpf_link_info li = {};

		len = sizeof(li);
		if (bpf_obj_get_info_by_fd(fd, &li, &len))
			return -errno;
		pi->is_link = true;
		pi->link_id = li.id;
		pi->link_type = li.type;
		pi->link_ifindex = li.xdp.ifindex;	/* tcx keeps ifindex at the same place */
		pi->prog_id = li.prog_id;
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
		if (pfd < 0)
			return 0;	/* defunct link without a program */
	} else if (!fd_is(fd, "bpf-prog")) {
		return -EINVAL;
	}
	len = sizeof(pinfo);
	if (!bpf_obj_get_info_by_fd(pfd, &pinfo, &len)) {
		pi->prog_id = pinfo.id;
		snprintf(pi->prog_name, sizeof(pi->prog_name), "%s", pinfo.name);
	}
	if (pfd != fd)
		close(pfd);
	return 0;
}

__u32 lb_prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Our clsact filter on that hook: 0 and its prog id, or -ENOENT. */
static int clsact_find(unsigned int ifindex, bool egress, __u32 *prog_id)
{
	struct lb_tc_filter *f = NULL;
	struct lb_nl *nl;
	size_t n = 0;
	int err = lb_nl_open(&nl);

	if (err)
		return err;
	err = lb_tc_filter_list(nl, ifindex, egress, &f, &n);
	lb_nl_close(nl);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (f[i].pref == LB_CLSACT_PREF && f[i].handle == LB_CLSACT_HANDLE &&
		    f[i].prog_id) {
			*prog_id = f[i].prog_id;
			err = 0;
		}
	}
	free(f);
	return err;
}

/* Remove our clsact filter, and the clsact qdisc when nothing else uses it. */
static int clsact_remove(unsigned int ifindex, bool egress)
{
	struct lb_nl *nl;
	int err = lb_nl_open(&nl);

	if (err)
		return err;
	err = lb_tc_filter_del(nl, ifindex, egress, LB_CLSACT_PREF, LB_CLSACT_HANDLE, ETH_P_ALL);
	if (err == -ENOENT || err == -ENODEV)
		err = 0;
	if (!err)
		lb_clsact_release(nl, ifindex);
	lb_nl_close(nl);
	return err;
}

void lb_clsact_release(struct lb_nl *nl, unsigned int ifindex)
{
	struct lb_tc_filter *f = NULL;
	size_t n = 0, left = 0;

	for (int dir = 0; dir < 2; dir++) {
		if (lb_tc_filter_list(nl, ifindex, dir, &f, &n) == 0)
			left += n;
		else
			left++;		/* cannot tell: keep the qdisc */
		free(f);
		f = NULL;
	}
	if (!left)
		lb_tc_clsact_del(nl, ifindex);
}

int lb_clsact_filter_new(struct lb_ctx *ctx, unsigned int ifindex, bool egress, int pref,
			 int prog_fd, const char *prog_name)
{
	struct lb_tc_filter f = {
		.ifindex = ifindex,
		.egress = egress,
		.pref = pref,
		.handle = LB_CLSACT_HANDLE,
		.protocol = ETH_P_ALL,
		.prog_fd = prog_fd,
		.direct_action = true,
	};
	struct lb_nl *nl;
	bool created;
	int err = lb_nl_open(&nl);

	if (err)
		return lb_set_err(ctx, err, "netlink");
	snprintf(f.name, sizeof(f.name), "%s", prog_name);
	err = lb_tc_clsact_add(nl, ifindex, true);
	created = err == 0;
	if (err && err != -EEXIST) {
		lb_set_err(ctx, err, "clsact qdisc: %s", lb_nl_ext_ack(nl));
		goto out;
	}
	err = lb_tc_filter_add(nl, &f, false);
	if (err) {
		lb_set_err(ctx, err, "cls_bpf filter pref %d: %s", pref, lb_nl_ext_ack(nl));
		if (created)
			lb_tc_clsact_del(nl, ifindex);
	}
out:
	lb_nl_close(nl);
	return err;
}

static int xdp_link_create(int prog_fd, unsigned int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);

	return fd < 0 ? -errno : fd;
}

int lb_xdp_link_new(struct lb_ctx *ctx, unsigned int ifindex, enum lb_attach_mode mode,
		    int prog_fd, struct lb_attach_result *res)
{
	int fd;

	res->mode = mode == LB_MODE_GENERIC ? LB_MODE_GENERIC : LB_MODE_NATIVE;
	fd = xdp_link_create(prog_fd, ifindex, res->mode == LB_MODE_NATIVE ?
			     XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
	if (mode == LB_MODE_AUTO && (fd == -EOPNOTSUPP || fd == -EINVAL || fd == -ERANGE)) {
		res->fell_back = true;
		res->fallback_err = fd;
		res->mode = LB_MODE_GENERIC;
		fd = xdp_link_create(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
	}
	if (fd == -EBUSY || fd == -EEXIST)
		return lb_set_err(ctx, fd, "another XDP program is attached there");
	return fd < 0 ? lb_set_err(ctx, fd, "XDP %s attach", lb_mode_name(res->mode)) : fd;
}

/* Create the hook's attachment; returns the fd to pin (link or program). */
static int attach_new(struct lb_ctx *ctx, unsigned int ifindex, const struct lb_attach_opts *o,
		      int prog_fd, struct lb_attach_result *res)
{
	bool egress = o->hook == LB_HOOK_TC_EGRESS;
	int fd, err;

	if (o->hook == LB_HOOK_XDP)
		return lb_xdp_link_new(ctx, ifindex, o->mode, prog_fd, res);

	res->mode = o->mode == LB_MODE_CLSACT ? LB_MODE_CLSACT : LB_MODE_TCX;
	if (res->mode == LB_MODE_TCX) {
		fd = lb_tcx_link_create(prog_fd, ifindex, egress, o->tcx_flags, o->tcx_relative,
					o->tcx_revision);
		if (fd >= 0)
			return fd;
		if (o->mode != LB_MODE_AUTO || fd != -EINVAL)
			return lb_set_err(ctx, fd, "tcx attach");
		res->fell_back = true;
		res->fallback_err = fd;
		res->mode = LB_MODE_CLSACT;
	}
	err = lb_clsact_filter_new(ctx, ifindex, egress, LB_CLSACT_PREF, prog_fd,
				   lb_hook_prog(o->hook));
	return err ? err : dup(prog_fd);
}

/* Undo attach_new() when the record cannot be pinned. */
static void attach_undo(unsigned int ifindex, enum lb_hook hook, enum lb_attach_mode mode,
			int fd)
{
	if (mode == LB_MODE_CLSACT)
		clsact_remove(ifindex, hook == LB_HOOK_TC_EGRESS);
	else
		bpf_link_detach(fd);
}

/* Is the recorded attachment alive?  1 alive, 0 stale (interface gone or replaced). */
static int record_alive(const struct lb_pin_info *pi, unsigned int ifindex, enum lb_hook hook)
{
	__u32 prog_id;

	if (pi->is_link)
		return pi->link_ifindex == ifindex && pi->prog_id;
	return clsact_find(ifindex, hook == LB_HOOK_TC_EGRESS, &prog_id) == 0 &&
	       prog_id == pi->prog_id;
}

static enum lb_attach_mode record_mode(const struct lb_pin_info *pi, unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (!pi->is_link)
		return LB_MODE_CLSACT;
	if (pi->link_type == LB_BPF_LINK_TYPE_TCX)
		return LB_MODE_TCX;
	if (ifindex && bpf_xdp_query(ifindex, 0, &q) == 0 && q.attach_mode == XDP_ATTACHED_SKB)
		return LB_MODE_GENERIC;
	return LB_MODE_NATIVE;
}

static bool mode_fits(enum lb_attach_mode want, enum lb_attach_mode have)
{
	return want == LB_MODE_AUTO || want == have;
}

int lb_attach(struct lb_ctx *ctx, const struct lb_attach_opts *o, struct lb_attach_result *res)
{
	char dir[PATH_MAX], pin[PATH_MAX];
	struct lb_attach_result none;
	struct lb_pin_info pi;
	unsigned int ifindex;
	int prog_fd, fd, err;
	__u32 prog_id;

	lb_clear_err(ctx);
	if (!res)
		res = &none;
	memset(res, 0, sizeof(*res));
	err = valid_ifname(ctx, o->ifname);
	if (err)
		return err;
	if ((unsigned int)o->hook >= LB_HOOK_MAX)
		return lb_set_err(ctx, -EINVAL, "unknown hook");
	if (o->mode != LB_MODE_AUTO &&
	    (o->hook == LB_HOOK_XDP) != (o->mode == LB_MODE_NATIVE || o->mode == LB_MODE_GENERIC))
		return lb_set_err(ctx, -EINVAL, "mode %s does not apply to hook %s",
				  lb_mode_name(o->mode), lb_hook_name(o->hook));
	ifindex = if_nametoindex(o->ifname);
	if (!ifindex)
		return lb_set_err(ctx, -ENODEV, "dev %s", o->ifname);

	err = lb_datapath_load_sized(ctx, o->sizes);
	if (!err && o->hook != LB_HOOK_XDP)
		err = lb__chain_recover(ctx, o->ifname, o->hook);	/* a move of "lb" killed half way */
	if (err)
		return err;
	prog_fd = lb_prog_fd(ctx, lb_hook_prog(o->hook));
	if (prog_fd < 0)
		return lb_set_err(ctx, prog_fd, "program %s", lb_hook_prog(o->hook));

	err = lb_path(ctx, dir, sizeof(dir), LB_DIR_LINKS, o->ifname, NULL);
	if (!err)
		err = lb_path(ctx, pin, sizeof(pin), LB_DIR_LINKS, o->ifname, lb_hook_name(o->hook));
	if (err)
		goto out;

	fd = bpf_obj_get(pin);
	if (fd >= 0) {
		err = lb_pin_info_fd(fd, &pi);
		if (!err && record_alive(&pi, ifindex, o->hook)) {
			res->mode = record_mode(&pi, ifindex);
			if (o->hook == LB_HOOK_XDP && lb_chain_runs(ctx, pi.prog_id)) {
				/* The hook runs a chain: our datapath is its element "lb". */
				close(fd);
				err = lb_chain_add(ctx, &(struct lb_chain_add_opts){
							   .ifname = o->ifname, .hook = o->hook });
				if (err == -EEXIST) {
					lb_clear_err(ctx);
					res->already = true;
					err = 0;
				}
				goto out;
			}
			if (!mode_fits(o->mode, res->mode)) {
				err = lb_set_err(ctx, -EEXIST, "attached in mode %s; detach first",
						 lb_mode_name(res->mode));
			} else if (pi.prog_id == lb_prog_id(prog_fd)) {
				res->already = true;
			} else if (pi.is_link) {
				/* Same hook, newer program: swap in place, no gap. */
				err = bpf_link_update(fd, prog_fd, NULL) ? -errno : 0;
			} else {
				err = lb_set_err(ctx, -EEXIST, "an older program is attached; detach first");
			}
			close(fd);
			goto out;
		}
		close(fd);
		unlink(pin);	/* stale record: the interface went away or was replaced */
	}

	if (o->hook != LB_HOOK_XDP && o->mode != LB_MODE_TCX &&
	    clsact_find(ifindex, o->hook == LB_HOOK_TC_EGRESS, &prog_id) == 0 &&
	    prog_id == lb_prog_id(prog_fd)) {
		/* Our filter with no record: an attach killed before it pinned one
		 * (cls_bpf has no link that would have gone with it).  Adopt it. */
		res->mode = LB_MODE_CLSACT;
		fd = dup(prog_fd);
	} else {
		fd = attach_new(ctx, ifindex, o, prog_fd, res);
	}
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = lb_mkdir_p(dir, 0700);
	if (!err && bpf_obj_pin(fd, pin))
		err = -errno;
	if (err) {
		lb_set_err(ctx, err, "cannot pin %s", pin);
		attach_undo(ifindex, o->hook, res->mode, fd);
	}
	close(fd);
out:
	close(prog_fd);
	return err;
}

static void rmdir_if_empty(struct lb_ctx *ctx, const char *ifname)
{
	char dir[PATH_MAX];

	if (!lb_path(ctx, dir, sizeof(dir), LB_DIR_LINKS, ifname, NULL))
		rmdir(dir);	/* fails harmlessly while other hooks remain */
}

/* No record, but our filter running our program: an attach killed before it pinned
 * the record.  Detach removes that filter; -ENOENT when there is none. */
static int orphan_filter_remove(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook)
{
	unsigned int ifindex = if_nametoindex(ifname);
	int prog_fd = lb_prog_fd(ctx, lb_hook_prog(hook));
	__u32 prog_id, ours = prog_fd >= 0 ? lb_prog_id(prog_fd) : 0;
	int err = -ENOENT;

	if (prog_fd >= 0)
		close(prog_fd);
	if (ifindex && ours && clsact_find(ifindex, hook == LB_HOOK_TC_EGRESS, &prog_id) == 0 &&
	    prog_id == ours)
		err = clsact_remove(ifindex, hook == LB_HOOK_TC_EGRESS);
	return err;
}

int lb_detach(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook)
{
	char pin[PATH_MAX];
	struct lb_pin_info pi;
	int fd, err;

	lb_clear_err(ctx);
	err = valid_ifname(ctx, ifname);
	if (err)
		return err;
	err = lb_path(ctx, pin, sizeof(pin), LB_DIR_LINKS, ifname, lb_hook_name(hook));
	if (!err && hook != LB_HOOK_XDP && if_nametoindex(ifname))
		err = lb__chain_recover(ctx, ifname, hook);	/* a move of "lb" killed half way */
	if (err)
		return err;
	fd = bpf_obj_get(pin);
	if (fd < 0 && errno == ENOENT && hook != LB_HOOK_XDP)
		return orphan_filter_remove(ctx, ifname, hook);
	if (fd < 0)
		return -errno;
	err = lb_pin_info_fd(fd, &pi);
	if (!err && hook == LB_HOOK_XDP && lb_chain_runs(ctx, pi.prog_id)) {
		close(fd);
		return lb_chain_del(ctx, ifname, hook, "lb", 0);
	}
	if (!err) {
		if (pi.is_link) {
			/* Unpin first: killed after it, our fd's release unlinks the
			 * link too, so a record never outlives its attachment. */
			if (unlink(pin) && errno != ENOENT)
				err = -errno;
			/* Detach even if someone else holds an fd to the link. */
			if (!err && bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
				err = -errno;
		} else {
			unsigned int ifindex = if_nametoindex(ifname);
			__u32 prog_id;

			if (ifindex && clsact_find(ifindex, hook == LB_HOOK_TC_EGRESS, &prog_id) == 0 &&
			    prog_id == pi.prog_id)
				err = clsact_remove(ifindex, hook == LB_HOOK_TC_EGRESS);
		}
	}
	close(fd);
	if (err)
		return lb_set_err(ctx, err, "detach");
	if (unlink(pin) && errno != ENOENT)
		return -errno;
	rmdir_if_empty(ctx, ifname);
	return 0;
}

static int cmp_attachment(const void *a, const void *b)
{
	const struct lb_attachment *x = a, *y = b;
	int c = strcmp(x->ifname, y->ifname);

	return c ? c : (int)x->hook - (int)y->hook;
}

int lb_attachments(struct lb_ctx *ctx, struct lb_attachment **out, size_t *n)
{
	struct lb_attachment *v = NULL;
	char links[PATH_MAX], pin[PATH_MAX];
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int err;

	*out = NULL;
	*n = 0;
	err = lb_path(ctx, links, sizeof(links), LB_DIR_LINKS, NULL, NULL);
	if (err)
		return err;
	d = opendir(links);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= IF_NAMESIZE)
			continue;
		for (int h = 0; h < LB_HOOK_MAX; h++) {
			struct lb_attachment *a;
			struct lb_pin_info pi;
			unsigned int ifindex;
			int fd;

			if (lb_path(ctx, pin, sizeof(pin), LB_DIR_LINKS, e->d_name, lb_hook_name(h)))
				continue;
			fd = bpf_obj_get(pin);
			if (fd < 0)
				continue;
			err = lb_pin_info_fd(fd, &pi);
			close(fd);
			if (err)
				continue;
			if (LB_RESERVE(v, cnt, cap)) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			a = &v[cnt++];
			memset(a, 0, sizeof(*a));
			snprintf(a->ifname, sizeof(a->ifname), "%s", e->d_name);
			ifindex = if_nametoindex(e->d_name);
			a->ifindex = ifindex && record_alive(&pi, ifindex, h) ? ifindex : 0;
			a->hook = h;
			a->mode = record_mode(&pi, a->ifindex);
			a->prog_id = pi.prog_id;
			a->link_id = pi.link_id;
			snprintf(a->prog_name, sizeof(a->prog_name), "%s", pi.prog_name);
		}
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_attachment);
	*out = v;
	*n = cnt;
	return 0;
}

int lb_destroy(struct lb_ctx *ctx)
{
	/* links first: nothing may stay attached once its record is gone. */
	static const char *const dirs[] = { LB_DIR_CHAINS, LB_DIR_LINKS, LB_DIR_NTC, LB_DIR_PROGS,
					    LB_DIR_MAPS };
	char path[PATH_MAX];
	struct lb_attachment *a;
	size_t n;
	int err;

	lb_clear_err(ctx);
	lb__svc_cache_drop(ctx);	/* the maps may be replaced */
	/* Chain elements first: a cls_bpf filter holds its program without a link. */
	err = lb_chain_flush_all(ctx);
	if (!err)
		err = lb_attachments(ctx, &a, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int e = lb_detach(ctx, a[i].ifname, a[i].hook);

		if (e && e != -ENOENT)
			err = err ?: e;
	}
	free(a);
	for (size_t i = 0; !err && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		err = lb_path(ctx, path, sizeof(path), dirs[i], NULL, NULL);
		if (!err)
			err = lb_remove_tree(path);
	}
	return err ?: lb__ruleset_discard(ctx);
}
