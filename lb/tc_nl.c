// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tc over rtnetlink with libmnl: clsact qdisc and cls_bpf filters.  See lb.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include "internal.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK		10
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED		0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS		0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG	1
#endif

/* Receive buffer: the kernel builds dump skbs of at most 32 KiB. */
#define LB_NL_RXBUF		(64 * 1024)
/* Requests are small: a tcmsg and a few attributes. */
#define LB_NL_TXBUF		4096

#define LB_TC_H_CLSACT_HANDLE	TC_H_MAKE(TC_H_CLSACT, 0)	/* ffff: */

struct lb_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char ext_ack[512];
	char *rxbuf;
};

int lb_nl_open(struct lb_nl **out)
{
	struct lb_nl *nl;
	int one = 1, err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->rxbuf = malloc(LB_NL_RXBUF);
	if (!nl->rxbuf) {
		free(nl);
		return -ENOMEM;
	}
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* Best effort: older kernels simply send no extended ack. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	*out = nl;
	return 0;
fail:
	err = errno ? -errno : -EIO;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->rxbuf);
	free(nl);
	return err;
}

void lb_nl_close(struct lb_nl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->rxbuf);
	free(nl);
}

const char *lb_nl_ext_ack(const struct lb_nl *nl)
{
	return nl ? nl->ext_ack : "";
}

/* --- request / response ------------------------------------------------------- */

static int ext_ack_attr_cb(const struct nlattr *attr, void *data)
{
	struct lb_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
		const char *msg = mnl_attr_get_str(attr);

		snprintf(nl->ext_ack, sizeof(nl->ext_ack), "%s", msg);
	}
	return MNL_CB_OK;
}

/* The TLVs after an NLMSG_ERROR (or NLMSG_DONE) payload. */
static void parse_ext_ack(struct lb_nl *nl, const struct nlmsghdr *nlh)
{
	unsigned int off;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (err->msg.nlmsg_len < sizeof(struct nlmsghdr))
				return;
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		}
	} else {
		off = sizeof(int);
	}
	if (mnl_nlmsg_size(off) > nlh->nlmsg_len)
		return;
	mnl_attr_parse(nlh, off, ext_ack_attr_cb, nl);
}

typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *data);

/*
 * Send req and read the answer: an ACK (NLMSG_ERROR) for requests, a multipart
 * dump ending with NLMSG_DONE for NLM_F_DUMP.  Messages of other sequence numbers
 * (left over from an earlier, interrupted exchange) are skipped.  cb sees every
 * data message; when it fails, the rest of the answer is still read so the socket
 * stays in step, and its error is returned.
 */
static int nl_talk(struct lb_nl *nl, struct nlmsghdr *req, nl_msg_cb cb, void *data)
{
	int err = 0;
	bool done = false;

	if (!nl || !nl->sock)
		return -EINVAL;
	nl->ext_ack[0] = '\0';
	req->nlmsg_seq = ++nl->seq;
	req->nlmsg_pid = 0;

	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return errno ? -errno : -EIO;

	while (!done) {
		ssize_t len = mnl_socket_recvfrom(nl->sock, nl->rxbuf, LB_NL_RXBUF);
		const struct nlmsghdr *nlh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return errno ? -errno : -EIO;
		}
		if (len == 0)
			return -EIO;

		nlh = (const struct nlmsghdr *)nl->rxbuf;
		for (int left = (int)len; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != nl->seq ||
			    (nlh->nlmsg_pid && nlh->nlmsg_pid != nl->portid))
				continue;	/* stale or not ours */

			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
					err = err ? err : -EBADMSG;
				} else if (e->error) {
					parse_ext_ack(nl, nlh);
					if (!err)
						err = e->error < 0 ? e->error : -e->error;
				}
				done = true;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
					int e = *(const int *)mnl_nlmsg_get_payload(nlh);

					if (e < 0) {
						parse_ext_ack(nl, nlh);
						if (!err)
							err = e;
					}
				}
				done = true;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN)
				continue;
			if (cb && !err) {
				int r = cb(nlh, data);

				if (r < 0)
					err = r;
			}
		}
	}
	return err;
}

static struct nlmsghdr *tc_req(char *buf, uint16_t type, uint16_t flags, unsigned int ifindex,
			       uint32_t parent, uint32_t handle, uint32_t info)
{
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;

	/* libmnl leaves attribute padding as it finds it: send zeros, not stack. */
	memset(buf, 0, LB_NL_TXBUF);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	tcm->tcm_handle = handle;
	tcm->tcm_info = info;
	return nlh;
}

/* --- qdiscs ------------------------------------------------------------------ */

int lb_tc_clsact_add(struct lb_nl *nl, unsigned int ifindex, bool excl)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	if (!nl || !ifindex)
		return -EINVAL;
	nlh = tc_req(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | (excl ? NLM_F_EXCL : 0),
		     ifindex, TC_H_CLSACT, LB_TC_H_CLSACT_HANDLE, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
	return nl_talk(nl, nlh, NULL, NULL);
}

int lb_tc_clsact_del(struct lb_nl *nl, unsigned int ifindex)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	if (!nl || !ifindex)
		return -EINVAL;
	nlh = tc_req(buf, RTM_DELQDISC, NLM_F_ACK, ifindex, TC_H_CLSACT,
		     LB_TC_H_CLSACT_HANDLE, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
	return nl_talk(nl, nlh, NULL, NULL);
}

/* A growing array of fixed-size elements. */
struct vec {
	void *items;
	size_t n, cap, size;
};

static void *vec_push(struct vec *v)
{
	void *p;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;

		p = realloc(v->items, cap * v->size);
		if (!p)
			return NULL;
		v->items = p;
		v->cap = cap;
	}
	p = (char *)v->items + v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}

struct qdisc_dump {
	struct vec v;
	unsigned int ifindex;
};

static int qdisc_attr_cb(const struct nlattr *attr, void *data)
{
	struct lb_tc_qdisc *q = data;

	if (mnl_attr_get_type(attr) == TCA_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(q->kind, sizeof(q->kind), "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int qdisc_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct qdisc_dump *d = data;
	const struct tcmsg *tcm;
	struct lb_tc_qdisc *q;

	if (nlh->nlmsg_type != RTM_NEWQDISC ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*tcm))
		return 0;
	tcm = mnl_nlmsg_get_payload(nlh);
	if (d->ifindex && (unsigned int)tcm->tcm_ifindex != d->ifindex)
		return 0;
	q = vec_push(&d->v);
	if (!q)
		return -ENOMEM;
	q->ifindex = tcm->tcm_ifindex;
	q->handle = tcm->tcm_handle;
	q->parent = tcm->tcm_parent;
	q->refcnt = tcm->tcm_info;
	mnl_attr_parse(nlh, sizeof(*tcm), qdisc_attr_cb, q);
	return 0;
}

int lb_tc_qdisc_list(struct lb_nl *nl, unsigned int ifindex, struct lb_tc_qdisc **out,
		     size_t *n)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct qdisc_dump d = { .v.size = sizeof(struct lb_tc_qdisc), .ifindex = ifindex };
	struct nlmsghdr *nlh;
	int err;

	if (!nl || !out || !n)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	/* The kernel ignores tcm_ifindex in qdisc dumps: filter here. */
	nlh = tc_req(buf, RTM_GETQDISC, NLM_F_DUMP, ifindex, 0, 0, 0);
	err = nl_talk(nl, nlh, qdisc_msg_cb, &d);
	if (err) {
		free(d.v.items);
		return err;
	}
	*out = d.v.items;
	*n = d.v.n;
	return 0;
}

/* --- filters ----------------------------------------------------------------- */

static uint32_t clsact_parent(bool egress)
{
	return TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
}

static uint32_t filter_info(uint16_t pref, uint16_t protocol)
{
	return TC_H_MAKE((uint32_t)pref << 16, htons(protocol));
}

int lb_tc_filter_add(struct lb_nl *nl, const struct lb_tc_filter *f, bool replace)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	struct nlattr *opts;
	uint16_t flags = NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);

	if (!nl || !f || !f->ifindex)
		return -EINVAL;
	if (f->prog_fd < 0)
		return -EBADF;
	if (strnlen(f->name, sizeof(f->name)) == sizeof(f->name))
		return -ENAMETOOLONG;
	nlh = tc_req(buf, RTM_NEWTFILTER, flags, f->ifindex, clsact_parent(f->egress),
		     f->handle, filter_info(f->pref, f->protocol ? f->protocol : ETH_P_ALL));
	mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_BPF_FD, f->prog_fd);
	if (f->name[0])
		mnl_attr_put_strz(nlh, TCA_BPF_NAME, f->name);
	if (f->direct_action)
		mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	mnl_attr_nest_end(nlh, opts);
	return nl_talk(nl, nlh, NULL, NULL);
}

int lb_tc_filter_del(struct lb_nl *nl, unsigned int ifindex, bool egress, uint16_t pref,
		     uint32_t handle, uint16_t protocol)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	if (!nl || !ifindex)
		return -EINVAL;
	nlh = tc_req(buf, RTM_DELTFILTER, NLM_F_ACK, ifindex, clsact_parent(egress), handle,
		     filter_info(pref, protocol));
	return nl_talk(nl, nlh, NULL, NULL);
}

struct filter_dump {
	struct vec v;
};

static int bpf_opt_cb(const struct nlattr *attr, void *data)
{
	struct lb_tc_filter *f = data;

	switch (mnl_attr_get_type(attr)) {
	case TCA_BPF_NAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(f->name, sizeof(f->name), "%s", mnl_attr_get_str(attr));
		break;
	case TCA_BPF_FLAGS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			f->direct_action = mnl_attr_get_u32(attr) & TCA_BPF_FLAG_ACT_DIRECT;
		break;
	case TCA_BPF_FLAGS_GEN:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			f->gen_flags = mnl_attr_get_u32(attr);
		break;
	case TCA_BPF_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			f->prog_id = mnl_attr_get_u32(attr);
		break;
	case TCA_BPF_TAG:
		if (mnl_attr_get_payload_len(attr) >= sizeof(f->tag))
			memcpy(f->tag, mnl_attr_get_payload(attr), sizeof(f->tag));
		break;
	}
	return MNL_CB_OK;
}

struct filter_attrs {
	struct lb_tc_filter *f;
	const struct nlattr *options;
};

static int filter_attr_cb(const struct nlattr *attr, void *data)
{
	struct filter_attrs *a = data;

	switch (mnl_attr_get_type(attr)) {
	case TCA_KIND:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(a->f->kind, sizeof(a->f->kind), "%s", mnl_attr_get_str(attr));
		break;
	case TCA_CHAIN:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
			a->f->chain = mnl_attr_get_u32(attr);
		break;
	case TCA_OPTIONS:
		a->options = attr;
		break;
	}
	return MNL_CB_OK;
}

static int filter_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct filter_dump *d = data;
	const struct tcmsg *tcm;
	struct filter_attrs a = { 0 };
	struct lb_tc_filter *f;

	if (nlh->nlmsg_type != RTM_NEWTFILTER ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*tcm))
		return 0;
	tcm = mnl_nlmsg_get_payload(nlh);
	f = vec_push(&d->v);
	if (!f)
		return -ENOMEM;
	f->ifindex = tcm->tcm_ifindex;
	f->egress = tcm->tcm_parent == clsact_parent(true);
	f->pref = TC_H_MAJ(tcm->tcm_info) >> 16;
	f->protocol = ntohs(TC_H_MIN(tcm->tcm_info));
	f->handle = tcm->tcm_handle;
	f->prog_fd = -1;
	a.f = f;
	mnl_attr_parse(nlh, sizeof(*tcm), filter_attr_cb, &a);
	if (a.options && !strcmp(f->kind, "bpf"))
		mnl_attr_parse_nested(a.options, bpf_opt_cb, f);
	return 0;
}

/* Name and jited state of the program, which netlink does not carry: -EPERM when
 * only privileges could read them (a filter is never shown half). */
static int filter_prog_info(struct lb_tc_filter *f)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd;

	if (!f->prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(f->prog_id);
	if (fd < 0)
		return errno == EPERM || errno == EACCES ? -EPERM : 0;	/* else: gone since */
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		f->jited = info.jited_prog_len > 0;
		snprintf(f->prog_name, sizeof(f->prog_name), "%.*s",
			 (int)sizeof(info.name), info.name);
	}
	close(fd);
	return 0;
}

int lb_tc_filter_list(struct lb_nl *nl, unsigned int ifindex, bool egress,
		      struct lb_tc_filter **out, size_t *n)
{
	char buf[LB_NL_TXBUF] __attribute__((aligned(8)));
	struct filter_dump d = { .v.size = sizeof(struct lb_tc_filter) };
	struct nlmsghdr *nlh;
	struct lb_tc_filter *f;
	int err;

	if (!nl || !out || !n || !ifindex)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	/* The kernel dumps the block behind that parent, nothing else. */
	nlh = tc_req(buf, RTM_GETTFILTER, NLM_F_DUMP, ifindex, clsact_parent(egress), 0, 0);
	err = nl_talk(nl, nlh, filter_msg_cb, &d);
	if (err) {
		free(d.v.items);
		return err;
	}
	f = d.v.items;
	for (size_t i = 0; i < d.v.n; i++) {
		err = filter_prog_info(&f[i]);
		if (err) {
			free(f);
			return err;
		}
	}
	*out = f;
	*n = d.v.n;
	return 0;
}
