// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ntc's filter records in the pin root: the programs of a cls_bpf filter ntc added,
 * pinned below <root>/ntc/<ifname>/<ingress|egress>/<pref>/<handle>/.  See lb.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "internal.h"

/* bpffs refuses names with dots: these cannot clash with a pref, all digits. */
#define NTC_STAGING	"new"		/* programs of a filter being added */
#define NTC_ASIDE	"old"		/* the record a replace swaps out */

static const char *hook_word(bool egress)
{
	return egress ? "egress" : "ingress";
}

/* <root>/ntc/<ifname>/<hook>, or <root>/ntc/<ifname>/<hook>/<leaf>, into buf. */
static int rec_path(const struct lb_ctx *ctx, char *buf, size_t len, const char *ifname,
		    bool egress, const char *leaf)
{
	int n;

	if (!leaf)
		n = snprintf(buf, len, "%s/%s/%s/%s", ctx->root, LB_DIR_NTC, ifname,
			     hook_word(egress));
	else
		n = snprintf(buf, len, "%s/%s/%s/%s/%s", ctx->root, LB_DIR_NTC, ifname,
			     hook_word(egress), leaf);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int lb_ntc_hook_dir(struct lb_ctx *ctx, const char *ifname, bool egress, char *buf,
		    size_t len)
{
	if (!ctx || !ifname || !buf)
		return -EINVAL;
	return rec_path(ctx, buf, len, ifname, egress, NULL);
}

void lb_ntc_rmdir_empty(struct lb_ctx *ctx, const char *ifname, bool egress)
{
	char path[PATH_MAX];
	char *slash;

	if (!ctx || !ifname || rec_path(ctx, path, sizeof(path), ifname, egress, NULL))
		return;
	for (int i = 0; i < 3; i++) {
		if (rmdir(path))
			return;
		slash = strrchr(path, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
}

int lb_ntc_stage(struct lb_ctx *ctx, const char *ifname, bool egress, char *buf,
		 size_t len)
{
	int err;

	if (!ctx || !ifname || !buf)
		return -EINVAL;
	err = rec_path(ctx, buf, len, ifname, egress, NTC_STAGING);
	return err ?: lb_remove_tree(buf);
}

int lb_ntc_record(struct lb_ctx *ctx, const char *ifname, bool egress, uint16_t pref,
		  uint32_t handle)
{
	char staging[PATH_MAX], aside[PATH_MAX], pdir[PATH_MAX], rec[PATH_MAX], leaf[32];
	int err;

	if (!ctx || !ifname)
		return -EINVAL;
	snprintf(leaf, sizeof(leaf), "%u", pref);
	err = rec_path(ctx, staging, sizeof(staging), ifname, egress, NTC_STAGING);
	err = err ?: rec_path(ctx, aside, sizeof(aside), ifname, egress, NTC_ASIDE);
	err = err ?: rec_path(ctx, pdir, sizeof(pdir), ifname, egress, leaf);
	if (err || snprintf(rec, sizeof(rec), "%s/%#x", pdir, handle) >= (int)sizeof(rec))
		return -ENAMETOOLONG;
	if (mkdir(pdir, 0700) && errno != EEXIST)
		return -errno;
	lb_remove_tree(aside);
	if (rename(rec, aside) && errno != ENOENT)
		return -errno;
	if (rename(staging, rec)) {
		err = -errno;
		rename(aside, rec);
		return err;
	}
	return lb_remove_tree(aside);
}

/* The id of the program pinned at path (or of a pinned link's); 0 for anything else. */
static uint32_t pinned_prog_id(const char *path)
{
	struct lb_pin_info pi;
	int fd = bpf_obj_get(path);
	uint32_t id;

	if (fd < 0)
		return 0;
	id = lb_pin_info_fd(fd, &pi) ? 0 : pi.prog_id;
	close(fd);
	return id;
}

/* A record dir is live when the filter pref/handle exists and runs one of its pins. */
static bool record_live(const char *dir, uint16_t pref, uint32_t handle,
			const struct lb_tc_filter *fs, size_t n)
{
	struct dirent **names;
	bool live = false;
	uint32_t id = 0;
	int k;

	for (size_t i = 0; i < n && !id; i++)
		if (fs[i].pref == pref && fs[i].handle == handle)
			id = fs[i].prog_id;
	if (!id)
		return false;
	k = scandir(dir, &names, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		char path[PATH_MAX];

		if (!live && names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) < (int)sizeof(path))
			live = pinned_prog_id(path) == id;
		free(names[i]);
	}
	if (k >= 0)
		free(names);
	return live;
}

/* A pref or handle directory's name: a number in 1..max (handles as "0x1"). */
static bool parse_num(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 0);
	return !*end && !errno && *v && *v <= max;
}

int lb_ntc_prune(struct lb_ctx *ctx, struct lb_nl *nl, const char *ifname, bool egress)
{
	struct lb_tc_filter *fs = NULL;
	struct dirent **prefs;
	char hook[PATH_MAX];
	unsigned int ifindex;
	size_t n = 0;
	int k, err;

	if (!ctx || !nl || !ifname)
		return -EINVAL;
	err = rec_path(ctx, hook, sizeof(hook), ifname, egress, NULL);
	if (err)
		return err;
	ifindex = if_nametoindex(ifname);
	if (ifindex) {
		err = lb_tc_filter_list(nl, ifindex, egress, &fs, &n);
		if (err)
			return err;
	}
	k = scandir(hook, &prefs, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		const char *pname = prefs[i]->d_name;
		struct dirent **handles;
		char pdir[PATH_MAX];
		unsigned long pref, handle;
		int m;

		if (!strcmp(pname, ".") || !strcmp(pname, "..") ||
		    snprintf(pdir, sizeof(pdir), "%s/%s", hook, pname) >= (int)sizeof(pdir))
			goto next;
		if (!parse_num(pname, 0xffff, &pref) || prefs[i]->d_type != DT_DIR) {
			lb_remove_tree(pdir);
			goto next;
		}
		m = scandir(pdir, &handles, NULL, alphasort);
		for (int j = 0; j < m; j++) {
			const char *hname = handles[j]->d_name;
			char hdir[PATH_MAX];

			if (strcmp(hname, ".") && strcmp(hname, "..") &&
			    snprintf(hdir, sizeof(hdir), "%s/%s", pdir, hname) < (int)sizeof(hdir) &&
			    (!parse_num(hname, 0xffffffffUL, &handle) ||
			     !record_live(hdir, pref, handle, fs, n)))
				lb_remove_tree(hdir);
			free(handles[j]);
		}
		if (m >= 0)
			free(handles);
		rmdir(pdir);
next:
		free(prefs[i]);
	}
	if (k >= 0)
		free(prefs);
	free(fs);
	lb_ntc_rmdir_empty(ctx, ifname, egress);
	return 0;
}
