// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcx links and the query of a hook through the raw bpf() syscall (see tcx.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "tcx.h"

/* The parts of union bpf_attr we use, laid out as in kernel >= 6.6. */
union lb_bpf_attr {
	struct {
		__u32 prog_fd;
		__u32 target_ifindex;
		__u32 attach_type;
		__u32 flags;
		__u32 relative;		/* relative_fd or relative_id */
		__u32 pad;
		__u64 expected_revision;
	} link_create;
	struct {
		__u32 target_ifindex;
		__u32 attach_type;
		__u32 query_flags;
		__u32 attach_flags;
		__u64 prog_ids;
		__u32 count;
		__u32 pad;
		__u64 prog_attach_flags;
		__u64 link_ids;
		__u64 link_attach_flags;
		__u64 revision;
	} query;
};

static int sys_bpf(int cmd, union lb_bpf_attr *attr, unsigned int size)
{
	long ret = syscall(__NR_bpf, cmd, attr, size);

	return ret < 0 ? -errno : (int)ret;
}

int lb_tcx_link_create(int prog_fd, unsigned int ifindex, bool egress, __u32 flags,
		       __u32 relative, __u64 expected_revision)
{
	union lb_bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog_fd;
	attr.link_create.target_ifindex = ifindex;
	attr.link_create.attach_type = egress ? LB_BPF_TCX_EGRESS : LB_BPF_TCX_INGRESS;
	attr.link_create.flags = flags;
	attr.link_create.relative = relative;
	attr.link_create.expected_revision = expected_revision;
	return sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr.link_create));
}

int lb_tcx_query(unsigned int ifindex, bool egress, __u32 *prog_ids, __u32 *link_ids,
		 __u32 *count, __u64 *revision)
{
	union lb_bpf_attr attr;
	int err;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_ifindex = ifindex;
	attr.query.attach_type = egress ? LB_BPF_TCX_EGRESS : LB_BPF_TCX_INGRESS;
	attr.query.prog_ids = (__u64)(unsigned long)prog_ids;
	attr.query.link_ids = (__u64)(unsigned long)link_ids;
	attr.query.count = *count;
	err = sys_bpf(BPF_PROG_QUERY, &attr, sizeof(attr.query));
	if (err < 0)
		return err;
	*count = attr.query.count;
	if (revision)
		*revision = attr.query.revision;
	return 0;
}
