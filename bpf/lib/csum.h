/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one's complement arithmetic of every checksum the datapath changes itself
 * (RFC 1624), inline as the kernel's csum_add / csum_fold / csum_replace4 do it: no
 * helper call per field.  Where the skb carries its checksum in a way only the
 * kernel knows (CHECKSUM_PARTIAL, COMPLETE), the differences computed here go to
 * bpf_l4_csum_replace instead.
 */
#ifndef LB_CSUM_H
#define LB_CSUM_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>	/* __always_inline */
#include <lb/lb_abi.h>

static __always_inline __u32 lb_csum_add(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* sum + the difference from one 32-bit word to another (~from + to). */
static __always_inline __u32 lb_csum_diff4(__u32 sum, __be32 from, __be32 to)
{
	return lb_csum_add(lb_csum_add(sum, ~from), to);
}

/* The 16-bit checksum of a 32-bit sum: folded, complemented (csum_fold). */
static __always_inline __sum16 lb_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/*
 * A 16-bit checksum after a change whose difference is diff (from lb_csum_diff4
 * or bpf_csum_diff): csum_fold(diff + ~check).  The sum is never 0, so the result
 * is never 0xffff, as a checksum computed from scratch.
 */
static __always_inline __sum16 lb_csum_update(__sum16 check, __u32 diff)
{
	return lb_csum_fold(lb_csum_add(diff, ~(__u32)check));
}

/* The difference of an address change, 1 word (IPv4) or 4. */
static __always_inline __u32 lb_csum_addr(__u32 sum, const struct lb_addr *from,
					  const struct lb_addr *to, bool v4)
{
	sum = lb_csum_diff4(sum, from->a[0], to->a[0]);
	if (!v4) {
		sum = lb_csum_diff4(sum, from->a[1], to->a[1]);
		sum = lb_csum_diff4(sum, from->a[2], to->a[2]);
		sum = lb_csum_diff4(sum, from->a[3], to->a[3]);
	}
	return sum;
}

#endif /* LB_CSUM_H */
