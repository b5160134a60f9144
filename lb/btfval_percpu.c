// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-CPU values: the sum over the CPUs (counters add up, anything else is the first
 * CPU's that is set), and writing a changed sum back. */
#include <errno.h>
#include <string.h>
#include <bpf/btf.h>
#include "internal.h"
#include "btfval.h"

/* Every leaf of a type with whether it is a counter: fn(off, size, boff, bits, sum). */
typedef void (*leaf_fn)(void *cookie, size_t off, size_t size, unsigned int boff,
			unsigned int bits, bool counter);

static void leaves(const struct btf *btf, uint32_t id, size_t raw_size, size_t off,
		   const char *sname, const char *member, int depth, leaf_fn fn, void *cookie)
{
	struct tinfo ti;

	if (depth > 32)
		return;
	btfval_classify(btf, id, raw_size, sname, member, &ti);
	if (ti.kind == LK_COMPOSITE) {
		const struct btf_member *m = btf_members(ti.t);
		const char *sn = btfval_type_name(btf, ti.t);

		for (int i = 0; i < btf_vlen(ti.t); i++) {
			uint32_t boff = btf_member_bit_offset(ti.t, i);
			uint32_t bsz = btf_member_bitfield_size(ti.t, i);
			const char *mn = btf__name_by_offset(btf, m[i].name_off);

			if (bsz) {
				if (mn && *mn)
					fn(cookie, off, 0, boff, bsz, false);
				continue;
			}
			leaves(btf, m[i].type, 0, off + boff / 8, *sn ? sn : sname, mn, depth + 1,
			       fn, cookie);
		}
	} else if (ti.kind == LK_ARRAY) {
		const struct btf_array *a = btf_array(ti.t);
		long long esz = btf__resolve_size(btf, a->type);

		for (uint32_t i = 0; esz > 0 && i < a->nelems; i++)
			leaves(btf, a->type, 0, off + i * esz, sname, member, depth + 1, fn, cookie);
	} else {
		fn(cookie, off, ti.size, 0, 0, ti.kind == LK_UINT || ti.kind == LK_INT);
	}
}

struct percpu {
	const uint8_t *in;	/* per-CPU values */
	uint8_t *out;
	const uint8_t *old_sum, *new_sum;
	int ncpu;
	size_t stride, size;
};

static void sum_leaf(void *cookie, size_t off, size_t size, unsigned int boff, unsigned int bits,
		     bool counter)
{
	struct percpu *pc = cookie;

	if (bits) {
		for (int c = 0; c < pc->ncpu; c++) {
			uint64_t v = load_bits(pc->in + c * pc->stride + off, boff, bits);

			if (v) {
				store_bits(pc->out + off, boff, bits, v);
				break;
			}
		}
		return;
	}
	if (off + size > pc->size)
		return;
	if (counter) {
		uint64_t s = 0;

		for (int c = 0; c < pc->ncpu; c++)
			s += load_uint(pc->in + c * pc->stride + off, size);
		store_uint(pc->out + off, size, s);
		return;
	}
	for (int c = 0; c < pc->ncpu; c++) {
		const uint8_t *p = pc->in + c * pc->stride + off;

		if (!all_zero(p, size)) {
			memcpy(pc->out + off, p, size);
			break;
		}
	}
}

int lb_btf_percpu_sum(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *percpu, int ncpu, void *sum)
{
	struct percpu pc = { .in = percpu, .out = sum, .ncpu = ncpu,
			     .stride = (size + 7) & ~(size_t)7, .size = size };

	if (ncpu < 1 || !percpu || !sum)
		return -EINVAL;
	if (!btf)
		type_id = 0;
	memset(sum, 0, size);
	leaves(btf, type_id, size, 0, NULL, NULL, 0, sum_leaf, &pc);
	return 0;
}

static void set_leaf(void *cookie, size_t off, size_t size, unsigned int boff, unsigned int bits,
		     bool counter)
{
	struct percpu *pc = cookie;

	if (bits) {
		uint64_t nv = load_bits(pc->new_sum + off, boff, bits);

		if (nv == load_bits(pc->old_sum + off, boff, bits))
			return;
		for (int c = 0; c < pc->ncpu; c++)
			store_bits(pc->out + c * pc->stride + off, boff, bits, nv);
		return;
	}
	if (off + size > pc->size || !memcmp(pc->old_sum + off, pc->new_sum + off, size))
		return;
	for (int c = 0; c < pc->ncpu; c++) {
		uint8_t *p = pc->out + c * pc->stride + off;

		if (counter && c > 0)
			memset(p, 0, size);
		else
			memcpy(p, pc->new_sum + off, size);
	}
}

int lb_btf_percpu_set(const struct btf *btf, uint32_t type_id, size_t size,
		      const void *old_sum, const void *new_sum, void *percpu, int ncpu)
{
	struct percpu pc = { .out = percpu, .old_sum = old_sum, .new_sum = new_sum,
			     .ncpu = ncpu, .stride = (size + 7) & ~(size_t)7, .size = size };

	if (ncpu < 1 || !percpu || !old_sum || !new_sum)
		return -EINVAL;
	if (!btf)
		type_id = 0;
	leaves(btf, type_id, size, 0, NULL, NULL, 0, set_leaf, &pc);
	return 0;
}
