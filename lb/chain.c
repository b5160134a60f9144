// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Program chains.  The order lives in the kernel: tcx keeps its programs in order
 * (placed with before/after and checked with expected_revision), cls_bpf runs its
 * filters by pref, and an XDP chain is a layout of the lb_chain prog array that
 * lb_chain_cfg[ifindex] points at (bpf/lib/chain.h).  What the pin root adds are the
 * labels: <root>/chains/<ifname>/<hook>/<label> pins the element's tcx link, or its
 * program (cls_bpf, XDP).  Our datapath is the element "lb"; its record stays at
 * links/<ifname>/<hook>, so lbattach attach/detach and the chain agree.
 *
 * An XDP change writes the chain's spare region of lb_chain, then switches
 * lb_chain_cfg with one update; after an RCU grace period (lb_sync_rcu) no packet
 * can still be on the old region, and it becomes the spare.
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
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "tcx.h"

#define LB_LABEL		"lb"	/* our datapath's element */
#define CHAIN_PREF_STEP		1000	/* cls_bpf prefs of appended elements */
#define CHAIN_PREF_FIRST	49000	/* first element of an empty clsact chain */

struct elem {
	char label[LB_CHAIN_LABEL_MAX];
	__u32 prog_id, link_id;
	__u16 pref;
};

/* A labelled pin below chains/<ifname>/<hook>/. */
struct label_pin {
	char label[LB_CHAIN_LABEL_MAX];
	struct lb_pin_info pi;
};

struct chain {
	struct lb_ctx *ctx;
	const char *ifname;
	unsigned int ifindex;
	enum lb_hook hook;
	bool egress;
	enum lb_attach_mode mode;	/* AUTO: nothing on the hook yet */
	__u64 revision;
	size_t n;
	struct elem e[LB_CHAIN_SHOW_MAX];
	struct label_pin pins[LB_CHAIN_SHOW_MAX];
	size_t n_pins;
	struct lb_pin_info lb;		/* our record at links/<ifname>/<hook> */
	bool has_lb;
	/* XDP */
	bool has_cfg;
	struct lb_chain_cfg cfg;
	__u32 entry_id, lb_chained_id;
};

const char *lb_chain_where_name(enum lb_chain_where w)
{
	static const char *const names[] = { "last", "first", "before", "after" };

	return (unsigned int)w < 4 ? names[w] : "?";
}

static int valid_label(struct lb_ctx *ctx, const char *label)
{
	size_t len = label ? strlen(label) : 0;

	if (!len || len >= LB_CHAIN_LABEL_MAX || label[0] == '-')
		return lb_set_err(ctx, -EINVAL, "label '%s': 1 to %d characters, not starting with '-'",
				  label ? label : "", LB_CHAIN_LABEL_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		char c = label[i];

		/* bpffs takes no '.' in names */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return lb_set_err(ctx, -EINVAL, "label '%s': only letters, digits, '_' and '-'",
					  label);
	}
	return 0;
}

static int chain_dir(const struct chain *c, char *buf, size_t len)
{
	return lb_path(c->ctx, buf, len, LB_DIR_CHAINS, c->ifname, lb_hook_name(c->hook));
}

static int label_path(const struct chain *c, const char *label, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int err = chain_dir(c, dir, sizeof(dir));

	if (err)
		return err;
	return snprintf(buf, len, "%s/%s", dir, label) >= (int)len ? -ENAMETOOLONG : 0;
}

static int read_pins(struct chain *c)
{
	char dir[PATH_MAX], path[PATH_MAX + LB_CHAIN_LABEL_MAX + 1];
	struct dirent *d;
	DIR *dh;
	int err = chain_dir(c, dir, sizeof(dir));

	if (err)
		return err;
	dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dh)) && c->n_pins < LB_CHAIN_SHOW_MAX) {
		struct label_pin *p = &c->pins[c->n_pins];
		int fd;

		/* (names starting with '-' are a move's, not labels) */
		if (d->d_name[0] == '.' || d->d_name[0] == '-' ||
		    strlen(d->d_name) >= LB_CHAIN_LABEL_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!lb_pin_info_fd(fd, &p->pi)) {
			snprintf(p->label, sizeof(p->label), "%s", d->d_name);
			c->n_pins++;
		}
		close(fd);
	}
	closedir(dh);
	return 0;
}

/* The label of a program (and link) found on the hook; "" when it is not ours. */
static void label_of(const struct chain *c, __u32 prog_id, __u32 link_id, char *out)
{
	out[0] = '\0';
	if (c->has_lb && (link_id ? c->lb.link_id == link_id : c->lb.prog_id == prog_id)) {
		strcpy(out, LB_LABEL);
		return;
	}
	if (c->hook == LB_HOOK_XDP && prog_id && prog_id == c->lb_chained_id) {
		strcpy(out, LB_LABEL);
		return;
	}
	for (size_t i = 0; i < c->n_pins; i++) {
		const struct lb_pin_info *pi = &c->pins[i].pi;

		if (link_id ? pi->link_id == link_id : (!pi->is_link && pi->prog_id == prog_id)) {
			strcpy(out, c->pins[i].label);
			return;
		}
	}
}

static __u32 pinned_prog_id(struct lb_ctx *ctx, const char *name)
{
	int fd = lb_prog_fd(ctx, name);
	__u32 id;

	if (fd < 0)
		return 0;
	id = lb_prog_id(fd);
	close(fd);
	return id;
}

/* FNV-1a over the filters: cls_bpf has no revision, this stands for one. */
static __u64 clsact_revision(const struct chain *c)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < c->n; i++) {
		__u64 v = ((__u64)c->e[i].pref << 32) ^ c->e[i].prog_id;

		for (int b = 0; b < 8; b++) {
			h ^= (v >> (8 * b)) & 0xff;
			h *= 0x100000001b3ULL;
		}
	}
	return h & ((1ULL << 53) - 1);	/* exact in JSON readers that use doubles */
}

static int clsact_del(struct chain *c, int pref, bool release);

static int load_tc(struct chain *c)
{
	__u32 prog_ids[LB_CHAIN_SHOW_MAX], link_ids[LB_CHAIN_SHOW_MAX], count = LB_CHAIN_SHOW_MAX;
	struct lb_tc_filter *f = NULL;
	struct lb_nl *nl;
	size_t nf = 0;
	int err;

	__u64 tcx_rev = 0;

	err = lb_tcx_query(c->ifindex, c->egress, prog_ids, link_ids, &count, &tcx_rev);
	c->revision = tcx_rev;
	if (!err && count) {
		c->mode = LB_MODE_TCX;
		for (__u32 i = 0; i < count && i < LB_CHAIN_SHOW_MAX; i++) {
			struct elem *e = &c->e[c->n++];

			e->prog_id = prog_ids[i];
			e->link_id = link_ids[i];
			label_of(c, e->prog_id, e->link_id, e->label);
		}
		return 0;
	}
	err = lb_nl_open(&nl);
	if (err)
		return err;
	err = lb_tc_filter_list(nl, c->ifindex, c->egress, &f, &nf);
	lb_nl_close(nl);
	if (err)
		return err;
	for (size_t i = 0; i < nf && c->n < LB_CHAIN_SHOW_MAX; i++) {
		struct elem *e;
		bool twice = false;

		if (!f[i].prog_id)
			continue;
		e = &c->e[c->n];
		e->prog_id = f[i].prog_id;
		e->pref = f[i].pref;
		label_of(c, e->prog_id, 0, e->label);
		/* A move adds the filter at the new place before it deletes the old
		 * one: killed in between, the element runs twice.  It is shown once,
		 * and a writer deletes the second filter. */
		for (size_t j = 0; e->label[0] && j < c->n; j++)
			twice |= c->e[j].prog_id == e->prog_id;
		if (twice && (c->ctx->flags & LB_OPEN_WRITE))
			clsact_del(c, e->pref, false);
		if (!twice)
			c->n++;
	}
	free(f);
	if (c->n) {
		c->mode = LB_MODE_CLSACT;
		c->revision = clsact_revision(c);
	}
	return 0;
}

static int prog_array_id(int map_fd, __u32 slot, __u32 *id)
{
	return bpf_map_lookup_elem(map_fd, &slot, id) ? -errno : 0;
}

static int load_xdp(struct chain *c)
{
	int cfg_fd, arr_fd, err = 0;

	c->entry_id = pinned_prog_id(c->ctx, LB_PROG_CHAIN_ENTRY);
	c->lb_chained_id = pinned_prog_id(c->ctx, LB_PROG_XDP_CHAINED);
	if (c->has_lb) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		c->mode = bpf_xdp_query(c->ifindex, 0, &q) == 0 &&
			  q.attach_mode == XDP_ATTACHED_SKB ? LB_MODE_GENERIC : LB_MODE_NATIVE;
	}
	cfg_fd = lb_map_fd(c->ctx, LB_MAP_CHAIN_CFG);
	if (cfg_fd < 0)
		return cfg_fd == -ENOENT ? 0 : cfg_fd;
	c->has_cfg = bpf_map_lookup_elem(cfg_fd, &c->ifindex, &c->cfg) == 0;
	close(cfg_fd);
	if (!c->has_cfg) {
		/* Our datapath attached alone is a chain of one. */
		if (c->has_lb && c->lb.prog_id != c->entry_id) {
			strcpy(c->e[0].label, LB_LABEL);
			c->e[0].prog_id = c->lb.prog_id;
			c->n = 1;
		}
		return 0;
	}
	c->revision = c->cfg.revision;
	arr_fd = lb_map_fd(c->ctx, LB_MAP_CHAIN);
	if (arr_fd < 0)
		return arr_fd;
	for (__u32 i = 0; i < c->cfg.len && i < LB_CHAIN_LEN_MAX && !err; i++) {
		struct elem *e = &c->e[c->n++];

		err = prog_array_id(arr_fd, c->cfg.base + i, &e->prog_id);
		label_of(c, e->prog_id, 0, e->label);
	}
	close(arr_fd);
	return err;
}

static int find_label(const struct chain *c, const char *label)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].label, label))
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ tcx moves */

/*
 * A tcx hook holds a program once, so a move must unlink the element before it
 * links it at its new place.  So that a SIGKILL in between cannot lose it, the
 * intent is pinned first: -before-<label> (or -after-) in the chain's directory pins
 * the program the element goes before (after); no label starts with '-', and bpffs
 * takes no '.'.  The move, or the next writer that finds the intent (chain_load),
 * finishes it: link the element's program there (at the end if that program left
 * the hook), pin the new link as -new-<label>, rename that over the element's pin,
 * remove the intent.  Each step can be repeated, so a writer killed while
 * finishing leaves the same state to the next one.
 */
#define MOVE_BEFORE	"-before-"
#define MOVE_AFTER	"-after-"
#define MOVE_NEW	"-new-"

/* The pin of an element: its label's, or our record at links/ for "lb". */
static int elem_pin_path(const struct chain *c, const char *label, char *buf, size_t len)
{
	if (!strcmp(label, LB_LABEL))
		return lb_path(c->ctx, buf, len, LB_DIR_LINKS, c->ifname, lb_hook_name(c->hook));
	return label_path(c, label, buf, len);
}

/* <chain dir>/<prefix><label> */
static int move_path(const struct chain *c, const char *label, const char *prefix, char *buf,
		     size_t len)
{
	char dir[PATH_MAX];
	int err = chain_dir(c, dir, sizeof(dir));

	if (err)
		return err;
	return snprintf(buf, len, "%s/%s%s", dir, prefix, label) >= (int)len ? -ENAMETOOLONG : 0;
}

static int tcx_move_finish(struct chain *c, const char *label, bool after)
{
	char intent[PATH_MAX], tmp[PATH_MAX], pin[PATH_MAX];
	struct lb_pin_info pi, rel = {};
	int fd, pfd, err;

	err = move_path(c, label, after ? MOVE_AFTER : MOVE_BEFORE, intent, sizeof(intent));
	if (!err)
		err = move_path(c, label, MOVE_NEW, tmp, sizeof(tmp));
	if (!err)
		err = elem_pin_path(c, label, pin, sizeof(pin));
	if (err)
		return err;
	if (access(tmp, F_OK) == 0) {
		/* linked and pinned aside: only the rename is missing */
		if (rename(tmp, pin))
			return lb_set_err(c->ctx, -errno, "cannot rename %s", tmp);
		goto done;
	}
	fd = bpf_obj_get(pin);
	if (fd < 0)
		goto done;	/* the element was removed meanwhile */
	err = lb_pin_info_fd(fd, &pi);
	close(fd);
	if (err || !pi.is_link || pi.link_ifindex || !pi.prog_id)
		goto done;	/* still linked at its old place: the move never began */
	pfd = bpf_prog_get_fd_by_id(pi.prog_id);
	if (pfd < 0)
		return lb_set_err(c->ctx, -errno, "program of element '%s'", label);
	fd = bpf_obj_get(intent);
	if (fd >= 0) {
		lb_pin_info_fd(fd, &rel);
		close(fd);
	}
	fd = -ENOENT;
	if (rel.prog_id)
		fd = lb_tcx_link_create(pfd, c->ifindex, c->egress,
					(after ? LB_BPF_F_AFTER : LB_BPF_F_BEFORE) | LB_BPF_F_ID,
					rel.prog_id, 0);
	if (fd == -ENOENT)
		fd = lb_tcx_link_create(pfd, c->ifindex, c->egress, 0, 0, 0);
	close(pfd);
	if (fd < 0)
		return lb_set_err(c->ctx, fd, "tcx attach of element '%s'", label);
	if (bpf_obj_pin(fd, tmp) || rename(tmp, pin)) {
		err = lb_set_err(c->ctx, -errno, "cannot pin %s", pin);
		unlink(tmp);
		close(fd);
		return err;
	}
	close(fd);
done:
	unlink(intent);
	return 0;
}

/* Finish the moves a killed writer left on this hook. */
static int tcx_moves_recover(struct chain *c)
{
	char dir[PATH_MAX], label[LB_CHAIN_LABEL_MAX];
	struct dirent *d;
	int err = chain_dir(c, dir, sizeof(dir));
	DIR *dh;

	if (err)
		return err;
	dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (d = readdir(dh))) {
		bool after = !strncmp(d->d_name, MOVE_AFTER, strlen(MOVE_AFTER));

		if (!after && strncmp(d->d_name, MOVE_BEFORE, strlen(MOVE_BEFORE)))
			continue;
		snprintf(label, sizeof(label), "%s",
			 d->d_name + strlen(after ? MOVE_AFTER : MOVE_BEFORE));
		if (label[0])
			err = tcx_move_finish(c, label, after);
	}
	closedir(dh);
	return err;
}

/* For readers, who change nothing: a move killed half way shows its element at
 * the place it is going to (where the next writer links it). */
static void tcx_moves_show(struct chain *c)
{
	char dir[PATH_MAX], path[PATH_MAX], label[LB_CHAIN_LABEL_MAX];
	struct dirent *d;
	DIR *dh;

	if (chain_dir(c, dir, sizeof(dir)) || !(dh = opendir(dir)))
		return;
	while ((d = readdir(dh)) && c->n < LB_CHAIN_SHOW_MAX) {
		bool after = !strncmp(d->d_name, MOVE_AFTER, strlen(MOVE_AFTER));
		struct lb_pin_info pi, rel = {};
		size_t at = c->n;
		int fd;

		if (!after && strncmp(d->d_name, MOVE_BEFORE, strlen(MOVE_BEFORE)))
			continue;
		snprintf(label, sizeof(label), "%s",
			 d->d_name + strlen(after ? MOVE_AFTER : MOVE_BEFORE));
		if (!label[0] || find_label(c, label) >= 0)
			continue;
		/* linked at its new place already, pinned aside: label that link */
		if (!move_path(c, label, MOVE_NEW, path, sizeof(path)) &&
		    (fd = bpf_obj_get(path)) >= 0) {
			if (!lb_pin_info_fd(fd, &pi))
				for (size_t i = 0; i < c->n; i++)
					if (pi.link_id && c->e[i].link_id == pi.link_id)
						snprintf(c->e[i].label, sizeof(c->e[i].label), "%s",
							 label);
			close(fd);
			continue;
		}
		if (elem_pin_path(c, label, path, sizeof(path)) || (fd = bpf_obj_get(path)) < 0)
			continue;
		if (lb_pin_info_fd(fd, &pi) || !pi.is_link || pi.link_ifindex)
			pi.prog_id = 0;
		close(fd);
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= (int)sizeof(path))
			continue;
		fd = pi.prog_id ? bpf_obj_get(path) : -1;
		if (fd < 0)
			continue;
		lb_pin_info_fd(fd, &rel);
		close(fd);
		for (size_t i = 0; i < c->n; i++)
			if (c->e[i].prog_id == rel.prog_id)
				at = after ? i + 1 : i;
		memmove(&c->e[at + 1], &c->e[at], (c->n - at) * sizeof(c->e[0]));
		memset(&c->e[at], 0, sizeof(c->e[0]));
		snprintf(c->e[at].label, sizeof(c->e[at].label), "%s", label);
		c->e[at].prog_id = pi.prog_id;
		c->e[at].link_id = pi.link_id;
		c->n++;
	}
	closedir(dh);
}

static void unpin_label(struct chain *c, const char *label);

/* A label pin that no element on the hook matches was left by a killed add (pinned,
 * never linked or switched in) or del (unlinked, not yet unpinned): remove it.  A
 * link still on a device, or a program while the chain is longer than we list, is
 * not stale. */
static void stale_pins_remove(struct chain *c)
{
	for (size_t i = 0; i < c->n_pins; i++) {
		const struct lb_pin_info *pi = &c->pins[i].pi;

		if (find_label(c, c->pins[i].label) >= 0 ||
		    (pi->is_link ? pi->link_ifindex != 0 : c->n >= LB_CHAIN_SHOW_MAX))
			continue;
		unpin_label(c, c->pins[i].label);
	}
}

static int chain_load(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook, struct chain *c)
{
	char pin[PATH_MAX];
	int fd, err;

	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->ifname = ifname;
	c->hook = hook;
	c->egress = hook == LB_HOOK_TC_EGRESS;
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return lb_set_err(ctx, -EINVAL, "invalid interface name");
	if ((unsigned int)hook >= LB_HOOK_MAX)
		return lb_set_err(ctx, -EINVAL, "unknown hook");
	c->ifindex = if_nametoindex(ifname);
	if (!c->ifindex)
		return lb_set_err(ctx, -ENODEV, "dev %s", ifname);
	/* A writer holds the lock: what a killed one left half done is finished
	 * first, so that every command sees a whole chain. */
	if ((ctx->flags & LB_OPEN_WRITE) && hook != LB_HOOK_XDP) {
		err = tcx_moves_recover(c);
		if (err)
			return err;
	}
	err = read_pins(c);
	if (err)
		return err;
	err = lb_path(ctx, pin, sizeof(pin), LB_DIR_LINKS, ifname, lb_hook_name(hook));
	if (err)
		return err;
	fd = bpf_obj_get(pin);
	if (fd >= 0) {
		c->has_lb = lb_pin_info_fd(fd, &c->lb) == 0;
		close(fd);
	}
	err = hook == LB_HOOK_XDP ? load_xdp(c) : load_tc(c);
	if (!err && (ctx->flags & LB_OPEN_WRITE))
		stale_pins_remove(c);
	else if (!err && hook != LB_HOOK_XDP && c->mode != LB_MODE_CLSACT)
		tcx_moves_show(c);
	return err;
}

int lb__chain_recover(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook)
{
	struct chain *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	err = chain_load(ctx, ifname, hook, c);
	free(c);
	return err;
}

static int check_revision(const struct chain *c, __u64 expected)
{
	if (expected && expected != c->revision)
		return lb_set_err(c->ctx, -ESTALE,
				  "the chain changed (revision %llu, expected %llu)",
				  (unsigned long long)c->revision, (unsigned long long)expected);
	return 0;
}

/* Index where an element goes (in the chain without skip, when skip >= 0). */
static int place_index(const struct chain *c, const struct lb_chain_place *p, int skip)
{
	int n = (int)c->n - (skip >= 0), i;

	switch (p->where) {
	case LB_CHAIN_FIRST:
		return 0;
	case LB_CHAIN_LAST:
		return n;
	case LB_CHAIN_BEFORE:
	case LB_CHAIN_AFTER:
		if (!p->rel || !*p->rel)
			return lb_set_err(c->ctx, -EINVAL, "%s: missing label",
					  lb_chain_where_name(p->where));
		i = find_label(c, p->rel);
		if (i < 0)
			return lb_set_err(c->ctx, -ENOENT, "no element '%s' in the chain", p->rel);
		if (i == skip)
			return lb_set_err(c->ctx, -EINVAL, "cannot place '%s' relative to itself",
					  p->rel);
		if (skip >= 0 && i > skip)
			i--;
		return p->where == LB_CHAIN_BEFORE ? i : i + 1;
	}
	return lb_set_err(c->ctx, -EINVAL, "bad placement");
}

/* ------------------------------------------------------------------ tcx */

/* Where index idx of the chain without skip is, for BPF_LINK_CREATE: before the
 * program that will follow, else after the one that will precede, else nowhere
 * (flags 0: an empty hook). */
static void tcx_neighbour(const struct chain *c, int idx, int skip, __u32 *flags,
			  __u32 *relative)
{
	int n = (int)c->n, next = idx + (skip >= 0 && idx >= skip);

	*flags = 0;
	*relative = 0;
	if (next < n && next != skip) {
		*flags = LB_BPF_F_BEFORE | LB_BPF_F_ID;
		*relative = c->e[next].prog_id;
	} else if (idx > 0) {
		int prev = idx - 1 + (skip >= 0 && idx - 1 >= skip);

		*flags = LB_BPF_F_AFTER | LB_BPF_F_ID;
		*relative = c->e[prev].prog_id;
	}
}

/* Link a program into the tcx hook at index idx of the chain without skip. */
static int tcx_place(struct chain *c, int prog_fd, int idx, int skip)
{
	__u32 flags, relative;
	int fd;

	tcx_neighbour(c, idx, skip, &flags, &relative);
	fd = lb_tcx_link_create(prog_fd, c->ifindex, c->egress, flags, relative, c->revision);
	if (fd == -ESTALE)
		return lb_set_err(c->ctx, fd, "the chain changed while placing the program");
	if (fd == -EEXIST)
		return lb_set_err(c->ctx, fd, "that program is already on this hook");
	return fd < 0 ? lb_set_err(c->ctx, fd, "tcx attach") : fd;
}

/* ------------------------------------------------------------------ clsact */

/* A free pref for index idx of the chain without skip. */
static int clsact_pref(struct chain *c, int idx, int skip)
{
	long prev = 0, next = 65536, p;
	int j = 0;

	for (size_t i = 0; i < c->n; i++) {
		if ((int)i == skip)
			continue;
		if (j == idx - 1)
			prev = c->e[i].pref;
		if (j == idx)
			next = c->e[i].pref;
		j++;
	}
	if (j == 0)
		return CHAIN_PREF_FIRST;
	/* Our filter's pref is kept free for it, and "last" stays in front of it
	 * while it is not there: limiters first, the load balancer after them. */
	if (!c->has_lb && prev < LB_CLSACT_PREF && next > LB_CLSACT_PREF)
		next = LB_CLSACT_PREF;
	if (next == 65536)
		p = prev + CHAIN_PREF_STEP > 65535 ? (prev + 65536) / 2 : prev + CHAIN_PREF_STEP;
	else if (prev == 0)
		p = next / 2;
	else if (idx == j && next == LB_CLSACT_PREF)
		p = prev + CHAIN_PREF_STEP < next ? prev + CHAIN_PREF_STEP : (prev + next) / 2;
	else
		p = (prev + next) / 2;
	if (p <= prev || p >= next || p < 1)
		return lb_set_err(c->ctx, -ENOSPC, "no free pref between %ld and %ld", prev, next);
	return (int)p;
}

static int clsact_add(struct chain *c, int prog_fd, int pref, const char *name)
{
	return lb_clsact_filter_new(c->ctx, c->ifindex, c->egress, pref, prog_fd, name);
}

static int clsact_del(struct chain *c, int pref, bool release)
{
	struct lb_nl *nl;
	int err = lb_nl_open(&nl);

	if (err)
		return err;
	err = lb_tc_filter_del(nl, c->ifindex, c->egress, pref, 1, ETH_P_ALL);
	if (err == -ENOENT)
		err = 0;
	if (!err && release)
		lb_clsact_release(nl, c->ifindex);
	lb_nl_close(nl);
	return err;
}

/* ------------------------------------------------------------------ XDP */

static void region_clear(int arr_fd, int stats_fd, __u32 region, const void *zero)
{
	for (__u32 i = 0; i < LB_CHAIN_LEN_MAX; i++) {
		__u32 slot = 1 + region * LB_CHAIN_LEN_MAX + i;

		bpf_map_delete_elem(arr_fd, &slot);
		bpf_map_update_elem(stats_fd, &slot, zero, 0);
	}
}

/* Two regions no other chain owns. */
static int regions_alloc(int cfg_fd, __u32 region[2])
{
	bool used[LB_CHAIN_REGIONS] = {};
	struct lb_chain_cfg v;
	__u32 key, next, k = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(cfg_fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(cfg_fd, &next, &v) == 0)
			for (int i = 0; i < 2; i++)
				if (v.region[i] < LB_CHAIN_REGIONS)
					used[v.region[i]] = true;
		key = next;
		prev = &key;
	}
	for (__u32 r = 0; r < LB_CHAIN_REGIONS && k < 2; r++)
		if (!used[r])
			region[k++] = r;
	return k == 2 ? 0 : -ENOSPC;
}

/*
 * Make prog_ids[0..n) the live layout of the chain: write the spare region,
 * carry the packet counts along, switch lb_chain_cfg, wait for a grace period and
 * clear the old region.  n == 0 removes the chain's layout.
 */
static int xdp_switch(struct chain *c, const __u32 *prog_ids, size_t n)
{
	int ncpus = libbpf_num_possible_cpus();
	int cfg_fd = -1, arr_fd = -1, stats_fd = -1, err;
	struct lb_chain_cfg nc = {};
	__u64 *vals = NULL, *zero = NULL;
	__u32 old_region = 0, new_base;

	if (ncpus <= 0)
		return -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	zero = calloc(ncpus, sizeof(*zero));
	cfg_fd = lb_map_fd(c->ctx, LB_MAP_CHAIN_CFG);
	arr_fd = lb_map_fd(c->ctx, LB_MAP_CHAIN);
	stats_fd = lb_map_fd(c->ctx, LB_MAP_CHAIN_STATS);
	if (!vals || !zero) {
		err = -ENOMEM;
		goto out;
	}
	if (cfg_fd < 0 || arr_fd < 0 || stats_fd < 0) {
		err = cfg_fd < 0 ? cfg_fd : arr_fd < 0 ? arr_fd : stats_fd;
		err = LB_MAP_ERR(c->ctx, err,
				 "the XDP chain maps are missing (datapath of an older layout?)");
		goto out;
	}
	if (n == 0) {
		err = bpf_map_delete_elem(cfg_fd, &c->ifindex) && errno != ENOENT ? -errno : 0;
		if (!err && c->has_cfg && !lb_sync_rcu())
			for (int r = 0; r < 2; r++)
				region_clear(arr_fd, stats_fd, c->cfg.region[r], zero);
		goto out;
	}
	if (c->has_cfg) {
		nc = c->cfg;
		old_region = (c->cfg.base - 1) / LB_CHAIN_LEN_MAX;
	} else {
		err = regions_alloc(cfg_fd, nc.region);
		if (err) {
			lb_set_err(c->ctx, err, "no room for another XDP chain (%d at most)",
				   LB_CHAIN_IFS_MAX);
			goto out;
		}
	}
	new_base = 1 + (old_region == nc.region[0] && c->has_cfg ? nc.region[1] : nc.region[0]) *
		       LB_CHAIN_LEN_MAX;
	for (size_t i = 0; i < LB_CHAIN_LEN_MAX; i++) {
		__u32 slot = new_base + i;

		if (i >= n) {
			bpf_map_delete_elem(arr_fd, &slot);
			continue;
		}
		int pfd = bpf_prog_get_fd_by_id(prog_ids[i]);

		if (pfd < 0) {
			err = lb_set_err(c->ctx, -errno, "program id %u", prog_ids[i]);
			goto out;
		}
		err = bpf_map_update_elem(arr_fd, &slot, &pfd, 0) ? -errno : 0;
		close(pfd);
		if (err) {
			lb_set_err(c->ctx, err, "%s slot %u (an XDP program of another kind?)",
				   LB_MAP_CHAIN, slot);
			goto out;
		}
		/* The program keeps its packet count across the switch. */
		memcpy(vals, zero, ncpus * sizeof(*vals));
		for (size_t j = 0; c->has_cfg && j < c->n; j++) {
			__u32 old = c->cfg.base + j;

			if (c->e[j].prog_id == prog_ids[i]) {
				bpf_map_lookup_elem(stats_fd, &old, vals);
				break;
			}
		}
		bpf_map_update_elem(stats_fd, &slot, vals, 0);
	}
	nc.base = new_base;
	nc.len = n;
	nc.revision = c->revision + 1;
	if (bpf_map_update_elem(cfg_fd, &c->ifindex, &nc, 0)) {
		err = lb_set_err(c->ctx, -errno, "%s", LB_MAP_CHAIN_CFG);
		goto out;
	}
	err = 0;
	if (c->has_cfg && !lb_sync_rcu())
		region_clear(arr_fd, stats_fd, old_region, zero);
	c->has_cfg = true;
	c->cfg = nc;
	c->revision = nc.revision;
out:
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (arr_fd >= 0)
		close(arr_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	free(vals);
	free(zero);
	return err;
}

/* The hook's XDP link runs lb_chain_entry: create it, or switch our lone lb_xdp. */
static int xdp_entry_attach(struct chain *c, enum lb_attach_mode mode)
{
	struct lb_attach_result res = {};
	char dir[PATH_MAX], pin[PATH_MAX];
	int entry_fd, fd, err;

	if (c->has_lb && c->lb.prog_id == c->entry_id)
		return 0;
	entry_fd = lb_prog_fd(c->ctx, LB_PROG_CHAIN_ENTRY);
	if (entry_fd < 0)
		return lb_set_err(c->ctx, entry_fd, "program %s", LB_PROG_CHAIN_ENTRY);
	err = lb_path(c->ctx, pin, sizeof(pin), LB_DIR_LINKS, c->ifname, lb_hook_name(c->hook));
	if (!err)
		err = lb_path(c->ctx, dir, sizeof(dir), LB_DIR_LINKS, c->ifname, NULL);
	if (err)
		goto out;
	if (c->has_lb) {
		/* One atomic swap: lb_xdp alone -> the chain that starts with it. */
		fd = bpf_obj_get(pin);
		err = fd < 0 ? -errno : bpf_link_update(fd, entry_fd, NULL) ? -errno : 0;
		if (fd >= 0)
			close(fd);
		if (err)
			lb_set_err(c->ctx, err, "cannot switch the XDP link to the chain");
		goto out;
	}
	fd = lb_xdp_link_new(c->ctx, c->ifindex, mode, entry_fd, &res);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = lb_mkdir_p(dir, 0700);
	if (!err && bpf_obj_pin(fd, pin))
		err = lb_set_err(c->ctx, -errno, "cannot pin %s", pin);
	if (err)
		bpf_link_detach(fd);
	close(fd);
out:
	close(entry_fd);
	return err;
}

static int xdp_entry_detach(struct chain *c)
{
	char pin[PATH_MAX];
	int fd, err = lb_path(c->ctx, pin, sizeof(pin), LB_DIR_LINKS, c->ifname,
			      lb_hook_name(c->hook));

	if (err)
		return err;
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL ? -errno : 0;
	close(fd);
	if (!err) {
		char *slash;

		unlink(pin);
		slash = strrchr(pin, '/');
		*slash = '\0';
		rmdir(pin);	/* links/<ifname>, when no other hook is left */
	}
	return err;
}

/* The live layout with the element at index del removed and prog_id inserted at
 * index ins (either may be -1). */
static size_t layout(const struct chain *c, int del, int ins, __u32 prog_id, __u32 *out)
{
	size_t k = 0;

	for (size_t i = 0; i <= c->n; i++) {
		if ((int)k == ins)
			out[k++] = prog_id;
		if (i < c->n && (int)i != del)
			out[k++] = c->e[i].prog_id;
	}
	return k;
}

/* ------------------------------------------------------------------ XDP wrapper */

/* The verifier's reason: the last line of its log that is not a statistic. */
static const char *verifier_reason(char *log, int err)
{
	char *line = NULL, *p;

	for (p = strtok(log, "\n"); p; p = strtok(NULL, "\n"))
		if (strncmp(p, "processed ", 10) && strncmp(p, "verification time", 17))
			line = p;
	return line ? line : strerror(-err);
}

/*
 * A foreign XDP program, made to go on down the chain: its code becomes a
 * subprogram of a few instructions that tail-call the step program when it
 * returns XDP_PASS.  Its own exits stay as they are (they return to the wrapper).
 * Its BTF, func_info and line_info come along (path: its object file), which
 * global subprograms and callbacks need.
 */
static int xdp_wrap(struct lb_ctx *ctx, struct lb_obj *o, const char *path, int *out_fd)
{
	struct lb_prog_btf btf;
	const struct bpf_insn *orig;
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	struct bpf_insn *insns;
	size_t cnt;
	int chain_fd, fd, err;
	char log[16384] = "";

	err = lb_obj_prog_insns(o, &orig, &cnt);
	if (err)
		return lb_set_err(ctx, err, "cannot read the program's instructions");
	chain_fd = lb_map_fd(ctx, LB_MAP_CHAIN);
	if (chain_fd < 0)
		return LB_MAP_ERR(ctx, chain_fd, "map %s", LB_MAP_CHAIN);
	bpf_obj_get_info_by_fd(lb_obj_prog_fd(o), &info, &info_len);
	{
		const struct bpf_insn head[] = {
			/* 0 */ { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1 },
			/* 1 */ { .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_CALL, .imm = 8 },
			/* 2 */ { .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0, .off = 6, .imm = XDP_PASS },
			/* 3 */ { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 },
			/* 4 */ { .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .src_reg = BPF_PSEUDO_MAP_FD, .imm = chain_fd },
			/* 5 */ { 0 },
			/* 6 */ { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = LB_CHAIN_STEP },
			/* 7 */ { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_tail_call },
			/* 8 */ { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
			/* 9 */ { .code = BPF_JMP | BPF_EXIT },
		};
		size_t nh = sizeof(head) / sizeof(head[0]);
		/* expected_attach_type as libbpf gives SEC("xdp"): the prog array
		 * takes only programs that match its owner (lb_xdp_chained). */
		LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log),
			    .expected_attach_type = BPF_XDP);

		err = lb_prog_btf_wrapped(path, lb_obj_prog_fd(o), orig, cnt, nh, &btf);
		if (err) {
			close(chain_fd);
			return lb_set_err(ctx, err, "cannot carry the BTF of %s over to its wrapper",
					  lb_obj_prog_name(o));
		}
		if (btf.btf_fd >= 0) {
			lo.prog_btf_fd = btf.btf_fd;
			lo.func_info = btf.func_info;
			lo.func_info_cnt = btf.func_info_cnt;
			lo.func_info_rec_size = sizeof(*btf.func_info);
			lo.line_info = btf.line_info;
			lo.line_info_cnt = btf.line_info_cnt;
			lo.line_info_rec_size = sizeof(*btf.line_info);
		}
		insns = calloc(nh + cnt, sizeof(*insns));
		if (!insns) {
			lb_prog_btf_free(&btf);
			close(chain_fd);
			return -ENOMEM;
		}
		memcpy(insns, head, sizeof(head));
		memcpy(insns + nh, orig, cnt * sizeof(*insns));
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, lb_obj_prog_name(o),
				   info.gpl_compatible ? "GPL" : "Proprietary", insns, nh + cnt, &lo);
		err = fd < 0 ? -errno : 0;
		free(insns);
		lb_prog_btf_free(&btf);
	}
	close(chain_fd);
	if (err)
		return lb_set_err(ctx, -ENOEXEC, "the kernel refused %s wrapped for the chain: %s",
				  lb_obj_prog_name(o), verifier_reason(log, err));
	*out_fd = fd;
	return 0;
}

/* The name of the first program of type want in an object (NULL: none or unreadable),
 * so that "obj FILE" without "sec" takes the program made for the hook. */
static const char *first_prog_of(const char *path, enum bpf_prog_type want, char *buf,
				 size_t len)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;
	const char *found = NULL;

	if (!obj)
		return NULL;
	bpf_object__for_each_program(p, obj) {
		if (bpf_program__type(p) == want) {
			snprintf(buf, len, "%s", bpf_program__name(p));
			found = buf;
			break;
		}
	}
	bpf_object__close(obj);
	return found;
}

/* The program for a new element: fd (owned by the caller) and its default label. */
static int elem_prog(struct chain *c, const struct lb_chain_add_opts *o, struct lb_obj **obj,
		     int *prog_fd)
{
	enum bpf_prog_type want = c->hook == LB_HOOK_XDP ? BPF_PROG_TYPE_XDP :
							   BPF_PROG_TYPE_SCHED_CLS;
	const char *sec = o->sec;
	char name[BPF_OBJ_NAME_LEN];
	int err;

	*obj = NULL;
	if (!o->obj) {
		*prog_fd = lb_prog_fd(c->ctx, c->hook == LB_HOOK_XDP ? LB_PROG_XDP_CHAINED :
					       lb_hook_prog(c->hook));
		return *prog_fd < 0 ? lb_set_err(c->ctx, *prog_fd, "our datapath's program") : 0;
	}
	if (access(o->obj, R_OK))
		return lb_set_err(c->ctx, -errno, "obj %s: %s", o->obj, strerror(errno));
	if (!o->sec)
		sec = first_prog_of(o->obj, want, name, sizeof(name));
	err = lb_obj_load(c->ctx, &(struct lb_obj_opts){
				  .path = o->obj,
				  .sec = sec,
				  .prog_type = c->hook == LB_HOOK_XDP ? BPF_PROG_TYPE_XDP :
								      BPF_PROG_TYPE_SCHED_CLS,
			  }, obj);
	if (err)
		return err;
	if (lb_obj_prog_type(*obj) != (c->hook == LB_HOOK_XDP ? BPF_PROG_TYPE_XDP :
							       BPF_PROG_TYPE_SCHED_CLS))
		return lb_set_err(c->ctx, -EINVAL, "program %s is not a%s program",
				  lb_obj_prog_name(*obj), c->hook == LB_HOOK_XDP ? "n XDP" : " tc");
	if (c->hook == LB_HOOK_XDP && !lb_obj_has_map(*obj, LB_MAP_CHAIN))
		return xdp_wrap(c->ctx, *obj, o->obj, prog_fd);
	*prog_fd = dup(lb_obj_prog_fd(*obj));
	return *prog_fd < 0 ? -errno : 0;
}

static int pin_label(struct chain *c, const char *label, int fd)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int err = chain_dir(c, dir, sizeof(dir));

	if (!err)
		err = label_path(c, label, path, sizeof(path));
	if (!err)
		err = lb_mkdir_p(dir, 0700);
	if (!err && bpf_obj_pin(fd, path))
		err = lb_set_err(c->ctx, -errno, "cannot pin %s", path);
	return err;
}

static void unpin_label(struct chain *c, const char *label)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (!label_path(c, label, path, sizeof(path)))
		unlink(path);
	if (!chain_dir(c, dir, sizeof(dir)) && rmdir(dir) == 0) {
		/* the interface directory goes with its last hook */
		char *slash = strrchr(dir, '/');

		if (slash) {
			*slash = '\0';
			rmdir(dir);
		}
	}
}

static enum lb_attach_mode tc_mode(const struct chain *c, enum lb_attach_mode want)
{
	if (c->mode != LB_MODE_AUTO)
		return c->mode;
	if (c->has_lb)
		return c->lb.is_link ? LB_MODE_TCX : LB_MODE_CLSACT;
	return want == LB_MODE_CLSACT ? LB_MODE_CLSACT : LB_MODE_TCX;
}

static int add_lb_tc(struct chain *c, const struct lb_chain_add_opts *o, int idx)
{
	struct lb_attach_opts ao = { .ifname = c->ifname, .hook = c->hook,
				     .mode = tc_mode(c, o->mode) };

	if (tc_mode(c, o->mode) == LB_MODE_CLSACT && o->place.where != LB_CHAIN_LAST)
		return lb_set_err(c->ctx, -EINVAL,
				  "in mode clsact the load balancer's filter has pref %d; place the others around it",
				  LB_CLSACT_PREF);
	if (tc_mode(c, o->mode) == LB_MODE_TCX && c->n) {
		ao.tcx_flags = idx < (int)c->n ? LB_BPF_F_BEFORE | LB_BPF_F_ID : LB_BPF_F_AFTER;
		ao.tcx_relative = idx < (int)c->n ? c->e[idx].prog_id : 0;
		ao.tcx_revision = c->revision;
	}
	return lb_attach(c->ctx, &ao, NULL);
}

int lb_chain_add(struct lb_ctx *ctx, const struct lb_chain_add_opts *o)
{
	const char *label = o->label;
	struct lb_obj *obj = NULL;
	struct chain *c;
	int idx, prog_fd = -1, fd, err;

	lb_clear_err(ctx);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = lb_datapath_load(ctx);
	if (!err)
		err = chain_load(ctx, o->ifname, o->hook, c);
	if (err)
		goto out;
	if (o->mode != LB_MODE_AUTO &&
	    (o->hook == LB_HOOK_XDP) != (o->mode == LB_MODE_NATIVE || o->mode == LB_MODE_GENERIC)) {
		err = lb_set_err(ctx, -EINVAL, "mode %s does not apply to hook %s",
				 lb_mode_name(o->mode), lb_hook_name(o->hook));
		goto out;
	}
	if (o->mode != LB_MODE_AUTO && c->mode != LB_MODE_AUTO && o->mode != c->mode) {
		err = lb_set_err(ctx, -EINVAL, "the chain on %s %s is in mode %s", o->ifname,
				 lb_hook_name(o->hook), lb_mode_name(c->mode));
		goto out;
	}
	err = check_revision(c, o->place.expected_revision);
	if (err)
		goto out;
	if (!o->obj && label && strcmp(label, LB_LABEL)) {
		err = lb_set_err(ctx, -EINVAL, "our datapath's element is named '%s'", LB_LABEL);
		goto out;
	}
	if (o->obj && label && !strcmp(label, LB_LABEL)) {
		err = lb_set_err(ctx, -EINVAL, "the label '%s' is reserved for our datapath", LB_LABEL);
		goto out;
	}
	if (label && (err = valid_label(ctx, label)))
		goto out;
	idx = place_index(c, &o->place, -1);
	if (idx < 0) {
		err = idx;
		goto out;
	}
	if (!o->obj && o->hook != LB_HOOK_XDP) {
		if (find_label(c, LB_LABEL) >= 0)
			err = lb_set_err(ctx, -EEXIST, "the load balancer is in this chain already");
		else
			err = add_lb_tc(c, o, idx);
		goto out;
	}
	err = elem_prog(c, o, &obj, &prog_fd);
	if (err)
		goto out;
	if (!label)
		label = o->obj ? lb_obj_prog_name(obj) : LB_LABEL;
	if ((err = valid_label(ctx, label)))
		goto out;
	if (find_label(c, label) >= 0) {
		err = lb_set_err(ctx, -EEXIST, "there is an element '%s' already", label);
		goto out;
	}
	if (o->hook == LB_HOOK_XDP) {
		__u32 ids[LB_CHAIN_SHOW_MAX + 1];
		size_t n;

		if (c->n >= LB_CHAIN_LEN_MAX) {
			err = lb_set_err(ctx, -E2BIG, "an XDP chain holds %d programs", LB_CHAIN_LEN_MAX);
			goto out;
		}
		for (size_t i = 0; i < c->n; i++) {
			if (c->e[i].prog_id == lb_prog_id(prog_fd)) {
				err = lb_set_err(ctx, -EEXIST, "that program is in the chain already");
				goto out;
			}
		}
		if (o->obj && (err = pin_label(c, label, prog_fd)))
			goto out;
		/* A lone lb_xdp becomes the element lb_xdp_chained. */
		if (!c->has_cfg && c->n == 1)
			c->e[0].prog_id = c->lb_chained_id;
		n = layout(c, -1, idx, lb_prog_id(prog_fd), ids);
		err = xdp_switch(c, ids, n);
		if (!err)
			err = xdp_entry_attach(c, o->mode);
		if (err && o->obj)
			unpin_label(c, label);
		if (err && c->n == 0)
			xdp_switch(c, NULL, 0);
		goto out;
	}
	if (tc_mode(c, o->mode) == LB_MODE_TCX) {
		fd = tcx_place(c, prog_fd, idx, -1);
		if (fd < 0 && fd == -EINVAL && o->mode == LB_MODE_AUTO && c->mode == LB_MODE_AUTO &&
		    !c->has_lb)
			goto clsact;	/* a kernel without tcx */
		if (fd < 0) {
			err = fd;
			goto out;
		}
		err = pin_label(c, label, fd);
		if (err)
			bpf_link_detach(fd);
		close(fd);
		goto out;
	}
clsact:
	err = clsact_pref(c, idx, -1);
	if (err < 0)
		goto out;
	{
		int pref = err;

		/* The label first: killed before the filter, it is a pin for
		 * nothing, which the next writer removes; the other way round it
		 * would be a filter nobody names. */
		err = pin_label(c, label, prog_fd);
		if (!err) {
			err = clsact_add(c, prog_fd, pref, label);
			if (err)
				unpin_label(c, label);
		}
	}
out:
	if (prog_fd >= 0)
		close(prog_fd);
	if (obj) {
		if (err)
			lb_obj_unpin(obj);	/* map pins this load made */
		lb_obj_close(obj);
	}
	free(c);
	return err;
}

static int del_elem(struct chain *c, int i)
{
	struct elem *e = &c->e[i];
	char path[PATH_MAX];
	int fd, err = 0;

	if (!strcmp(e->label, LB_LABEL) && c->hook != LB_HOOK_XDP)
		return lb_detach(c->ctx, c->ifname, c->hook);
	if (c->hook == LB_HOOK_XDP) {
		__u32 ids[LB_CHAIN_SHOW_MAX];
		size_t n = layout(c, i, -1, 0, ids);

		if (n == 0) {
			err = xdp_entry_detach(c);
			if (!err)
				err = xdp_switch(c, NULL, 0);
		} else {
			err = xdp_switch(c, ids, n);
		}
		if (!err && strcmp(e->label, LB_LABEL))
			unpin_label(c, e->label);
		return err;
	}
	err = label_path(c, e->label, path, sizeof(path));
	if (err)
		return err;
	if (c->mode == LB_MODE_TCX) {
		/* Unpin first: if we are killed after, closing our fd releases the
		 * link, which unlinks it too; a pin is never left on nothing. */
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			unpin_label(c, e->label);
			if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
				err = -errno;
			close(fd);
		}
	} else {
		err = clsact_del(c, e->pref, true);
	}
	if (err)
		return lb_set_err(c->ctx, err, "detach %s", e->label);
	unpin_label(c, e->label);
	return 0;
}

int lb_chain_del(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook, const char *label,
		 uint64_t expected_revision)
{
	struct chain *c = calloc(1, sizeof(*c));
	int i, err;

	if (!c)
		return -ENOMEM;
	lb_clear_err(ctx);
	err = chain_load(ctx, ifname, hook, c);
	if (!err)
		err = check_revision(c, expected_revision);
	if (err)
		goto out;
	i = label ? find_label(c, label) : -1;
	if (i < 0)
		err = lb_set_err(ctx, -ENOENT, "no element '%s' in the chain", label ? label : "");
	else
		err = del_elem(c, i);
out:
	free(c);
	return err;
}

int lb_chain_move(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook, const char *label,
		  const struct lb_chain_place *p)
{
	struct chain *c = calloc(1, sizeof(*c));
	struct elem e;
	int i, idx, err;

	if (!c)
		return -ENOMEM;
	lb_clear_err(ctx);
	err = chain_load(ctx, ifname, hook, c);
	if (!err)
		err = check_revision(c, p->expected_revision);
	if (err)
		goto out;
	i = label ? find_label(c, label) : -1;
	if (i < 0) {
		err = lb_set_err(ctx, -ENOENT, "no element '%s' in the chain", label ? label : "");
		goto out;
	}
	e = c->e[i];
	idx = place_index(c, p, i);
	if (idx < 0) {
		err = idx;
		goto out;
	}
	if (idx == i)
		goto out;	/* already there */
	if (hook == LB_HOOK_XDP) {
		__u32 ids[LB_CHAIN_SHOW_MAX];
		size_t n = 0;

		for (size_t k = 0; k < c->n; k++)
			if ((int)k != i)
				ids[n++] = c->e[k].prog_id;
		memmove(ids + idx + 1, ids + idx, (n - idx) * sizeof(*ids));
		ids[idx] = e.prog_id;
		err = xdp_switch(c, ids, n + 1);
		goto out;
	}
	if (c->mode == LB_MODE_CLSACT) {
		int pref, pfd;

		if (!strcmp(e.label, LB_LABEL)) {
			err = lb_set_err(ctx, -EINVAL,
					 "in mode clsact the load balancer's filter has pref %d; move the others around it",
					 LB_CLSACT_PREF);
			goto out;
		}
		pref = clsact_pref(c, idx, i);
		if (pref < 0) {
			err = pref;
			goto out;
		}
		/* Add at the new place first, then remove the old filter: no packet
		 * misses the program (one may meet it twice). */
		pfd = bpf_prog_get_fd_by_id(e.prog_id);
		if (pfd < 0) {
			err = -errno;
			goto out;
		}
		err = clsact_add(c, pfd, pref, e.label);
		close(pfd);
		if (!err)
			err = clsact_del(c, e.pref, false);
		goto out;
	}
	/* tcx holds a program once: unlink it, link it at its new place (packets in
	 * between skip it; none is dropped for it).  The intent is pinned first, so
	 * that the next writer finishes a move killed half way. */
	{
		char path[PATH_MAX], intent[PATH_MAX], dir[PATH_MAX];
		__u32 flags, relative;
		bool after;
		int rfd, old;

		tcx_neighbour(c, idx, i, &flags, &relative);
		after = flags & LB_BPF_F_AFTER;
		err = elem_pin_path(c, e.label, path, sizeof(path));
		if (!err)
			err = move_path(c, e.label, after ? MOVE_AFTER : MOVE_BEFORE, intent,
					sizeof(intent));
		if (err)
			goto out;
		rfd = bpf_prog_get_fd_by_id(relative);
		if (rfd < 0) {
			err = lb_set_err(ctx, -errno, "program %u", relative);
			goto out;
		}
		err = chain_dir(c, dir, sizeof(dir));
		if (!err)
			err = lb_mkdir_p(dir, 0700);
		unlink(intent);
		if (!err && bpf_obj_pin(rfd, intent))
			err = lb_set_err(ctx, -errno, "cannot pin %s", intent);
		close(rfd);
		if (err)
			goto out;
		old = bpf_obj_get(path);
		if (old < 0) {
			err = lb_set_err(ctx, -errno, "%s", path);
			unlink(intent);
			goto out;
		}
		err = bpf_link_detach(old) ? -errno : 0;
		close(old);
		if (err) {
			unlink(intent);
			goto out;
		}
		err = tcx_move_finish(c, e.label, after);
	}
out:
	free(c);
	return err;
}

static void fill_info(struct chain *c, struct lb_chain_info *out)
{
	int stats_fd = c->hook == LB_HOOK_XDP ? lb_map_fd(c->ctx, LB_MAP_CHAIN_STATS) : -1;
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals = ncpus > 0 ? calloc(ncpus, sizeof(*vals)) : NULL;
	bool stats_on = false;
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");

	if (f) {
		stats_on = fgetc(f) == '1';
		fclose(f);
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->ifname, sizeof(out->ifname), "%s", c->ifname);
	out->ifindex = c->ifindex;
	out->hook = c->hook;
	out->mode = c->mode;
	out->revision = c->revision;
	out->n = c->n;
	for (size_t i = 0; i < c->n; i++) {
		struct lb_chain_elem *o = &out->elem[i];
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(c->e[i].prog_id);

		snprintf(o->label, sizeof(o->label), "%s", c->e[i].label);
		o->prog_id = c->e[i].prog_id;
		o->link_id = c->e[i].link_id;
		o->pref = c->e[i].pref;
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			snprintf(o->prog_name, sizeof(o->prog_name), "%s", info.name);
			for (int b = 0; b < 8; b++)
				sprintf(o->tag + 2 * b, "%02x", info.tag[b]);
			if (c->hook != LB_HOOK_XDP && stats_on) {
				o->has_packets = true;
				o->packets = info.run_cnt;
			}
		}
		if (fd >= 0)
			close(fd);
		if (c->hook == LB_HOOK_XDP && c->has_cfg && stats_fd >= 0 && vals) {
			__u32 slot = c->cfg.base + i;

			if (!bpf_map_lookup_elem(stats_fd, &slot, vals)) {
				o->has_packets = true;
				for (int k = 0; k < ncpus; k++)
					o->packets += vals[k];
			}
		}
	}
	if (stats_fd >= 0)
		close(stats_fd);
	free(vals);
}

int lb_chain_get(struct lb_ctx *ctx, const char *ifname, enum lb_hook hook,
		 struct lb_chain_info *out)
{
	struct chain *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	lb_clear_err(ctx);
	err = chain_load(ctx, ifname, hook, c);
	if (!err)
		fill_info(c, out);
	free(c);
	return err;
}

static int add_names(struct lb_ctx *ctx, const char *what, char (**names)[IF_NAMESIZE],
		     size_t *n, size_t *cap)
{
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dh;
	int err = lb_path(ctx, dir, sizeof(dir), what, NULL, NULL);

	if (err)
		return err;
	dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dh))) {
		size_t k;

		if (d->d_name[0] == '.' || strlen(d->d_name) >= IF_NAMESIZE)
			continue;
		for (k = 0; k < *n && strcmp((*names)[k], d->d_name); k++)
			;
		if (k < *n)
			continue;
		if (LB_RESERVE(*names, *n, *cap)) {
			closedir(dh);
			return -ENOMEM;
		}
		snprintf((*names)[(*n)++], IF_NAMESIZE, "%s", d->d_name);
	}
	closedir(dh);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int lb_chain_list(struct lb_ctx *ctx, struct lb_chain_info **out, size_t *n)
{
	char (*names)[IF_NAMESIZE] = NULL;
	struct lb_chain_info *v = NULL;
	size_t nn = 0, cap = 0, cnt = 0, vcap = 0;
	int err;

	*out = NULL;
	*n = 0;
	lb_clear_err(ctx);
	err = add_names(ctx, LB_DIR_CHAINS, &names, &nn, &cap);
	if (!err)
		err = add_names(ctx, LB_DIR_LINKS, &names, &nn, &cap);
	if (err)
		goto out;
	if (nn)
		qsort(names, nn, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nn; i++) {
		if (!if_nametoindex(names[i]))
			continue;	/* gone: lbattach show reports it */
		for (int h = 0; h < LB_HOOK_MAX; h++) {
			if (LB_RESERVE(v, cnt, vcap)) {
				err = -ENOMEM;
				goto out;
			}
			if (lb_chain_get(ctx, names[i], h, &v[cnt]) == 0 && v[cnt].n)
				cnt++;
		}
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	free(v);
	free(names);
	return err;
}

bool lb_chain_runs(struct lb_ctx *ctx, __u32 prog_id)
{
	return prog_id && prog_id == pinned_prog_id(ctx, LB_PROG_CHAIN_ENTRY);
}

int lb_chain_flush_all(struct lb_ctx *ctx)
{
	struct lb_chain_info *v;
	size_t n;
	int err = lb_chain_list(ctx, &v, &n);

	for (size_t i = 0; !err && i < n; i++) {
		/* from the last: an XDP chain goes when its last element does */
		for (size_t k = v[i].n; k-- > 0;) {
			const char *label = v[i].elem[k].label;
			int e;

			if (!label[0] || !strcmp(label, LB_LABEL))
				continue;
			e = lb_chain_del(ctx, v[i].ifname, v[i].hook, label, 0);
			if (e && e != -ENOENT)
				err = err ?: e;
		}
	}
	free(v);
	return err;
}
