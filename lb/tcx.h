/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcx (kernel >= 6.6) through the raw bpf() syscall: Debian's libbpf 1.1 and its
 * 6.1 uapi headers know neither the attach types nor the link_create.tcx fields.
 */
#ifndef LB_TCX_H
#define LB_TCX_H

#include <stdbool.h>
#include <linux/types.h>

#define LB_BPF_TCX_INGRESS	46
#define LB_BPF_TCX_EGRESS	47
#define LB_BPF_LINK_TYPE_TCX	11

/* mprog placement flags (uapi BPF_F_BEFORE ...) */
#define LB_BPF_F_BEFORE		(1U << 3)
#define LB_BPF_F_AFTER		(1U << 4)
#define LB_BPF_F_ID		(1U << 5)
#define LB_BPF_F_LINK		(1U << 13)

/* Create a tcx link: fd or negative errno.  relative/expected_revision as in
 * BPF_LINK_CREATE (0: none). */
int lb_tcx_link_create(int prog_fd, unsigned int ifindex, bool egress, __u32 flags,
		       __u32 relative, __u64 expected_revision);

/* Programs and links on a tcx hook, in order, and the hook's revision. */
int lb_tcx_query(unsigned int ifindex, bool egress, __u32 *prog_ids, __u32 *link_ids,
		 __u32 *count, __u64 *revision);

#endif
