/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one's complement arithmetic of every checksum the datapath changes itself
 * (RFC 1624), inline as the kernel's csum_add / csum_fold / csum_replace4 do it: no
 * helper call per field; and how an skb keeps its checksum (ip_summed), read
 * without a helper, so that the same arithmetic serves every kind.
 */
#ifndef LB_CSUM_H
#define LB_CSUM_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
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

/*
 * An L4 checksum after the packet's addresses changed by da (the difference of
 * the pseudo header's words) and its ports by dp, kept the way the packet keeps
 * it: complete in the field (XDP; an skb CHECKSUM_NONE, UNNECESSARY or
 * COMPLETE): both differences; partial (an skb CHECKSUM_PARTIAL: the field holds
 * the pseudo header's sum, not complemented, and the device or the stack sums the
 * rest): da alone, the other way round.  The rules of the kernel's
 * inet_proto_csum_replace_by_diff(), which bpf_l4_csum_replace() applies.
 * partial is a mask, all ones or 0, and no branch depends on it: the sum is of
 * check or ~check, with da + dp or da alone, and the result its fold or the
 * fold's complement (a branch would make the verifier walk the rest of the
 * program twice).  UDP: a 0 (no checksum) stays 0 and a computed 0 goes out as
 * 0xffff (BPF_F_MARK_MANGLED_0).
 */
static __always_inline __sum16 lb_l4_csum_update(__sum16 check, __u32 da, __u32 dp,
						 __u32 partial, bool udp)
{
	__u32 sum;

	if (udp && !check)
		return 0;
	sum = lb_csum_add(lb_csum_add((__u16)(check ^ ~partial), da), dp & ~partial);
	check = lb_csum_fold(sum) ^ (__u16)partial;
	return udp && !check ? 0xffff : check;
}

/*
 * The kernel's skb, for how it keeps its checksum (ip_summed): reached through
 * bpf_cast_to_kern_ctx(), which the verifier turns into a plain move, and read
 * with CO-RE, so no helper is called.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

struct sk_buff___lb {
	__u8 ip_summed:2;
} __attribute__((preserve_access_index));

#define LB_CHECKSUM_COMPLETE	2	/* skb->csum sums the packet from L3 on */
#define LB_CHECKSUM_PARTIAL	3	/* the field holds the pseudo header's sum */

static __always_inline __u8 lb_skb_summed(struct __sk_buff *skb)
{
	struct sk_buff___lb *kskb = bpf_cast_to_kern_ctx(skb);

	return BPF_CORE_READ_BITFIELD(kskb, ip_summed);
}

/*
 * skb->csum of a CHECKSUM_COMPLETE skb (as many NICs deliver) after a change that
 * moved the packet's sum by delta: bpf_csum_update(), the one way to write it.
 * Forwarded or passed to our own stack, the skb must not carry a stale sum: a
 * veth peer or local delivery would fail the packet ("hw csum failure").  A delta
 * of one's complement zero is added all the same: one branch, not three, for the
 * verifier to walk the rest of the program after.
 */
static __always_inline void lb_skb_csum_follow(struct __sk_buff *skb, __u8 summed, __u32 delta)
{
	if (summed == LB_CHECKSUM_COMPLETE)
		bpf_csum_update(skb, delta);
}

#endif /* LB_CSUM_H */
