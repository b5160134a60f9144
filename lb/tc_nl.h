/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tc over rtnetlink (libmnl): the clsact qdisc and cls_bpf filters on its ingress
 * and egress hooks.  Used by ntc and by the clsact fallback of lbattach.
 *
 * libbpf conventions: every function returns 0 or a negative errno and never
 * prints; all state hangs off a struct lb_nl (one rtnetlink socket).  When the
 * kernel refuses a request, lb_nl_ext_ack() returns its extended ack message.
 */
#ifndef LB_TC_NL_H
#define LB_TC_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lb_nl;

/* Open / close an rtnetlink socket (NETLINK_EXT_ACK and NETLINK_CAP_ACK set). */
int lb_nl_open(struct lb_nl **nl);
void lb_nl_close(struct lb_nl *nl);

/* Extended ack message (NLMSGERR_ATTR_MSG) of the last failed request, or "".
 * Cleared at the start of every request.  Never NULL. */
const char *lb_nl_ext_ack(const struct lb_nl *nl);

/* Create the clsact qdisc.  excl: -EEXIST when one is present; without excl an
 * existing clsact qdisc is fine (another qdisc in its place is not: -EINVAL). */
int lb_tc_clsact_add(struct lb_nl *nl, int ifindex, bool excl);
/* Delete the clsact qdisc (and with it every filter on it).  -ENOENT: none. */
int lb_tc_clsact_del(struct lb_nl *nl, int ifindex);

struct lb_tc_qdisc {
	unsigned int ifindex;
	uint32_t handle, parent;	/* parent TC_H_ROOT for a root qdisc */
	char kind[32];
	uint32_t refcnt;		/* tcm_info, as tc prints it ("refcnt 2") */
};
/* Qdiscs of one interface (ifindex 0: of all), in the kernel's order.  *out is
 * malloc'd (free() it; NULL when *n is 0). */
int lb_tc_qdisc_list(struct lb_nl *nl, int ifindex, struct lb_tc_qdisc **out, size_t *n);

struct lb_tc_filter {
	unsigned int ifindex;
	bool egress;			/* clsact egress, else ingress */
	uint16_t pref;			/* add: 0 lets the kernel choose */
	uint32_t handle;		/* add: 0 lets the kernel choose */
	uint16_t protocol;		/* host order ETH_P_*; add: 0 means ETH_P_ALL */
	int prog_fd;			/* add: the program; list: -1 */
	char name[256];			/* TCA_BPF_NAME, e.g. "lb_trivial.bpf.o:[tc]" */
	bool direct_action;		/* TCA_BPF_FLAG_ACT_DIRECT */
	/* filled by list: */
	uint32_t prog_id;		/* 0: no program (the hook's header entry) */
	uint8_t tag[8];
	bool jited;			/* from BPF_OBJ_GET_INFO_BY_FD, false if unknown */
	char kind[16];			/* "bpf" */
	uint32_t chain;
	uint32_t gen_flags;		/* TCA_BPF_FLAGS_GEN: TCA_CLS_FLAGS_* (not_in_hw ...) */
	char prog_name[16];		/* from BPF_OBJ_GET_INFO_BY_FD, "" if unknown */
};

/* Add a cls_bpf filter on clsact ingress/egress (the qdisc must exist).
 * replace false: NLM_F_CREATE|NLM_F_EXCL (-EEXIST when pref/handle is taken);
 * replace true: NLM_F_CREATE|NLM_F_REPLACE. */
int lb_tc_filter_add(struct lb_nl *nl, const struct lb_tc_filter *f, bool replace);

/* Delete filters.  pref 0: all filters of that direction (handle and protocol must
 * then be 0); handle 0: every filter with that pref; protocol 0: any protocol. */
int lb_tc_filter_del(struct lb_nl *nl, unsigned int ifindex, bool egress, uint16_t pref,
		     uint32_t handle, uint16_t protocol);

/* Filters of one direction, in the kernel's order: for each pref, an entry with
 * handle 0 (the classifier itself, no program) followed by its filters, as
 * `tc filter show` prints them.  No clsact qdisc / no such device: *n = 0.
 * *out is malloc'd (free() it; NULL when *n is 0). */
int lb_tc_filter_list(struct lb_nl *nl, unsigned int ifindex, bool egress,
		      struct lb_tc_filter **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* LB_TC_NL_H */
