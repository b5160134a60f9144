// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Waiting for an RCU grace period from user space, so that a change to what the
 * programs read (an XDP chain layout, the programs of an upgrade) is followed by
 * the cleanup of what no running program can still see.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>
#include "internal.h"

/*
 * The kernel answers an update of a map-in-map element only after
 * synchronize_rcu() (maybe_wait_bpf_programs() in kernel/bpf/syscall.c): a
 * throw-away array of maps serves as a grace-period wait.
 */
static int map_in_map_sync(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int inner, outer, err;
	__u32 key = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lb_rcu_inner", 4, 4, 1, NULL);
	if (inner < 0)
		return -errno;
	o.inner_map_fd = inner;
	outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "lb_rcu_sync", 4, 4, 1, &o);
	if (outer < 0) {
		err = -errno;
		close(inner);
		return err;
	}
	err = bpf_map_update_elem(outer, &key, &inner, 0) ? -errno : 0;
	close(outer);
	close(inner);
	return err;
}

int lb_sync_rcu(void)
{
	/* LB_SYNC_RCU=map takes the fallback, so that the tests cover it. */
	const char *how = getenv("LB_SYNC_RCU");

	if (!(how && !strcmp(how, "map")) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return 0;
	return map_in_map_sync();
}
