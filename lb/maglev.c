// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Selection tables: Maglev (Eisenbud et al., NSDI 2016) with weights, and the
 * smooth weighted round-robin sequence (as nginx does it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

bool lb_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; (uint64_t)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/* FNV-1a over the endpoint's name with a seed: two independent hashes. */
static uint32_t name_hash(const uint8_t *name, size_t len, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/*
 * Each endpoint walks its own permutation of the table (offset + j * skip mod m)
 * and claims the next free slot on its turns; an endpoint gets turns in
 * proportion to its weight (every round, credit += weight; a turn costs max
 * weight), so shares follow weights and removing one endpoint moves about 1/n.
 */
int lb_maglev_build(const uint8_t (*names)[20], const uint32_t *weights, size_t n,
		    uint32_t m, uint32_t *table)
{
	uint64_t *offset, *skip, *next, *credit;
	uint32_t wmax = 0, filled = 0;
	int err = 0;

	if (!n || !lb_is_prime(m))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		wmax = weights[i] > wmax ? weights[i] : wmax;
	if (!wmax)
		return -EINVAL;
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	credit = calloc(n, sizeof(*credit));
	if (!offset || !skip || !next || !credit) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		offset[i] = name_hash(names[i], 20, 0x9e3779b9u) % m;
		skip[i] = name_hash(names[i], 20, 0x7f4a7c15u) % (m - 1) + 1;
	}
	for (uint32_t i = 0; i < m; i++)
		table[i] = UINT32_MAX;
	while (filled < m) {
		for (size_t i = 0; i < n && filled < m; i++) {
			credit[i] += weights[i];
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			for (;;) {
				uint32_t slot = (offset[i] + next[i] * skip[i]) % m;

				next[i]++;
				if (table[slot] == UINT32_MAX) {
					table[slot] = i;
					filled++;
					break;
				}
			}
		}
	}
out:
	free(offset);
	free(skip);
	free(next);
	free(credit);
	return err;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

size_t lb_wrr_build(const uint32_t *weights, size_t n, uint32_t *seq, size_t max)
{
	uint64_t total = 0, scale = 1;
	uint32_t g = 0, *w;
	int64_t *cur;
	size_t len = 0;

	if (n > LB_SVC_EPS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		g = gcd(g, weights[i]);
	if (!g)
		return 0;
	w = malloc(n * sizeof(*w));
	cur = calloc(n, sizeof(*cur));
	if (!w || !cur) {
		free(w);
		free(cur);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		total += weights[i] / g;
	/* A cycle longer than the table: scale weights down (shares stay close). */
	if (total > max)
		scale = (total + max - 1) / max;
	total = 0;
	for (size_t i = 0; i < n; i++) {
		w[i] = weights[i] / g / scale;
		if (!w[i] && weights[i])
			w[i] = 1;
		total += w[i];
	}
	while (len < total && len < max) {
		size_t best = 0;

		for (size_t i = 0; i < n; i++) {
			cur[i] += w[i];
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		seq[len++] = best;
	}
	free(w);
	free(cur);
	return len;
}

/*
 * Maglev gives each endpoint about its weighted share of the m slots, so with
 * LB_MAGLEV_SLOTS_PER_EP slots each (equal weights) a share is within 1% of its
 * weight.  The default size grows through fixed primes to get there, so a
 * service's table changes size only when its endpoint count crosses one of them;
 * a size chosen by the user is kept.
 */
uint32_t lb_maglev_size(uint32_t size, size_t n)
{
	static const uint32_t sizes[] = { LB_MAGLEV_DEFAULT, 131071, LB_SEL_MAX };
	uint64_t want = (uint64_t)n * LB_MAGLEV_SLOTS_PER_EP;

	if (size && size != LB_MAGLEV_DEFAULT)
		return size;
	size = LB_MAGLEV_DEFAULT;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && size < want; i++)
		if (sizes[i] > size)
			size = sizes[i];
	return size;
}
