/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Flow hashing for the hash and maglev schedulers (jhash final mix). */
#ifndef LB_HASH_H
#define LB_HASH_H

#include <lb/lb_abi.h>

#define LB_HASH_SEED	0x5bd1e995u

static __always_inline __u32 lb_rol32(__u32 w, int s)
{
	return (w << s) | (w >> (32 - s));
}

static __always_inline __u32 lb_mix3(__u32 a, __u32 b, __u32 c)
{
	c ^= b; c -= lb_rol32(b, 14);
	a ^= c; a -= lb_rol32(c, 11);
	b ^= a; b -= lb_rol32(a, 25);
	c ^= b; c -= lb_rol32(b, 16);
	a ^= c; a -= lb_rol32(c, 4);
	b ^= a; b -= lb_rol32(a, 14);
	c ^= b; c -= lb_rol32(b, 24);
	return c;
}

static __always_inline __u32 lb_hash_addr(const struct lb_addr *a)
{
	return lb_mix3(a->a[0] ^ a->a[3], a->a[1] + LB_HASH_SEED, lb_mix3(a->a[2], a->a[3], 0));
}

static __always_inline __u32 lb_hash_tuple(const struct lb_ct_key *k)
{
	__u32 h = lb_hash_addr(&k->src);

	h = lb_mix3(h, lb_hash_addr(&k->dst), ((__u32)k->sport << 16) | k->dport);
	return lb_mix3(h, k->proto, LB_HASH_SEED);
}

#endif
