// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Room for services: free service and endpoint ids, and free slots of lb_sel for
 * their selection tables (lb_abi.h says how the slices are laid out).
 *
 * What is in use is what lb_services says, in both generations: a service's id,
 * and its slice [sel_off, sel_off + lb_sel_room(sched, sel_len)).  Nothing else
 * records it, so a writer killed half way leaks nothing: an id or a slice that no
 * service names is free.  A writer reads it the first time it needs it (scan) and
 * keeps it while it holds the root's lock; what it takes is marked, and ids it
 * frees are unmarked.
 * Slices it frees are not: space is taken next fit from a cursor kept in lb_sel[0],
 * so the slice a table just left is the last to be taken again, and only when the
 * cursor reaches the end is lb_services read again to find what was freed.
 * Endpoint ids in use are the lb_endpoints slots with an owner (svc_id).  The first
 * few are found by looking at slots from the hint on (a command adds one or two:
 * reading every slot would cost it milliseconds); past PROBE_MAX, or when the slots
 * near the hint are taken, every slot is read once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <lb/lb_abi.h>
#include "space.h"

struct range {
	uint32_t off, room;
};

#define PROBE_MAX	16	/* endpoint ids found by looking, before a scan */
#define PROBE_SLOTS	64	/* slots looked at for one */

struct lb__space {
	int svc_fd, sel_fd;	/* lb_services, lb_sel: the caller's, open meanwhile */
	bool scanned;		/* used and ids hold what lb_services says */
	uint32_t slots;		/* lb_sel's size */
	uint32_t cursor;	/* where the next slice is looked for, >= 1 */
	struct range *used;	/* sorted by off, not overlapping */
	size_t n, cap;
	uint8_t *ids;		/* ids[id]: taken; ids_max entries */
	uint32_t ids_max, id_next;	/* id_next: 0 until the first is taken */
	uint8_t *eps;		/* eps[id]: taken; eps_max entries; NULL until read */
	uint32_t eps_max, ep_next;
	uint32_t probed[PROBE_MAX];	/* ids taken before eps was read */
	uint32_t n_probed;
};

void lb__space_free(struct lb__space *s)
{
	if (!s)
		return;
	free(s->used);
	free(s->ids);
	free(s->eps);
	free(s);
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Room in used for one more range: 0, or -ENOMEM with used as it was. */
static int room_for_one(struct lb__space *s)
{
	size_t cap = s->cap ? s->cap * 2 : 256;
	struct range *r;

	if (s->n < s->cap)
		return 0;
	r = realloc(s->used, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->used = r;
	s->cap = cap;
	return 0;
}

static int note(struct lb__space *s, const struct lb_svc *v, bool ranges, bool ids)
{
	uint32_t room = lb_sel_room(v->sched, v->sel_len);

	if (ids && v->id < s->ids_max)
		s->ids[v->id] = 1;
	if (!ranges || !v->sel_off || !room)
		return 0;
	if (room_for_one(s))
		return -ENOMEM;
	s->used[s->n++] = (struct range){ v->sel_off, room };
	return 0;
}

/* Every service of svc_fd into s: its slice when ranges, its id when ids. */
static int scan(struct lb__space *s, int svc_fd, bool ranges, bool ids)
{
	enum { CHUNK = 512 };
	struct lb_svc_key keys[CHUNK], k, next, *prev = NULL;
	struct lb_svc vals[CHUNK];
	__u32 token = 0, cnt;
	bool first = true;
	int err = 0;

	if (ranges)
		s->n = 0;
	for (;;) {
		cnt = CHUNK;
		err = bpf_map_lookup_batch(svc_fd, first ? NULL : &token, &token, keys, vals,
					   &cnt, NULL) ? -errno : 0;
		if (err && err != -ENOENT)
			break;
		first = false;
		for (__u32 i = 0; i < cnt; i++)
			if (note(s, &vals[i], ranges, ids))
				return -ENOMEM;
		if (err == -ENOENT) {
			err = 0;
			goto sort;
		}
	}
	/* A kernel without batch lookups of hashes: one key at a time. */
	if (ranges)
		s->n = 0;
	err = 0;
	while (bpf_map_get_next_key(svc_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(svc_fd, &k, &vals[0]) && note(s, &vals[0], ranges, ids))
			return -ENOMEM;
	}
sort:
	if (ranges && s->n)
		qsort(s->used, s->n, sizeof(*s->used), range_cmp);
	return err;
}

int lb__space_new(int svc_fd, int sel_fd, uint32_t slots, uint32_t ids_max,
		  struct lb__space **out)
{
	struct lb__space *s = calloc(1, sizeof(*s));
	uint32_t zero = 0, cursor = 0;

	*out = NULL;
	if (!s || !(s->ids = calloc(ids_max ? ids_max : 1, 1))) {
		lb__space_free(s);
		return -ENOMEM;
	}
	s->svc_fd = svc_fd;
	s->sel_fd = sel_fd;
	s->slots = slots;
	s->ids_max = ids_max;
	if (sel_fd >= 0 && !bpf_map_lookup_elem(sel_fd, &zero, &cursor) && cursor && cursor < slots)
		s->cursor = cursor;
	else
		s->cursor = 1;
	*out = s;
	return 0;
}

/* What lb_services holds, the first time it is needed. */
static int scanned(struct lb__space *s)
{
	int err;

	if (s->scanned)
		return 0;
	err = scan(s, s->svc_fd, true, true);
	s->scanned = !err;
	return err;
}

/* The first range that ends after pos (s->n when none). */
static size_t first_after(const struct lb__space *s, uint32_t pos)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uint64_t)s->used[mid].off + s->used[mid].room <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A gap of room slots at or after pos: its start in *off, and the index the new
 * range goes in.  false when none before the end. */
static bool find_gap(const struct lb__space *s, uint32_t pos, uint32_t room, uint32_t *off,
		     size_t *at)
{
	size_t i = first_after(s, pos);

	for (;;) {
		if (i < s->n && s->used[i].off < pos) {	/* pos is inside it */
			if (s->used[i].off + s->used[i].room > pos)
				pos = s->used[i].off + s->used[i].room;
			i++;
			continue;
		}
		if ((uint64_t)pos + room > s->slots)
			return false;
		if (i == s->n || (uint64_t)pos + room <= s->used[i].off) {
			*off = pos;
			*at = i;
			return true;
		}
		if (s->used[i].off + s->used[i].room > pos)	/* overlaps: lbmap wrote them */
			pos = s->used[i].off + s->used[i].room;
		i++;
	}
}

int lb__space_take(struct lb__space *s, uint32_t room, uint32_t *off)
{
	uint32_t zero = 0;
	size_t at;
	int err;

	*off = 0;
	if (!room)
		return 0;
	err = scanned(s);
	if (err)
		return err;
	if (!find_gap(s, s->cursor, room, off, &at)) {
		/* The end: what tables left since the scan is free now. */
		err = scan(s, s->svc_fd, true, false);
		if (err)
			return err;
		if (!find_gap(s, 1, room, off, &at))
			return -ENOSPC;
	}
	if (room_for_one(s))
		return -ENOMEM;
	memmove(&s->used[at + 1], &s->used[at], (s->n - at) * sizeof(*s->used));
	s->used[at] = (struct range){ *off, room };
	s->n++;
	s->cursor = *off + room < s->slots ? *off + room : 1;
	/* Only a hint: a lost update costs a longer search next time. */
	bpf_map_update_elem(s->sel_fd, &zero, &s->cursor, BPF_ANY);
	return 0;
}

uint32_t lb__space_in_use(struct lb__space *s)
{
	uint64_t n = 0;

	scanned(s);
	for (size_t i = 0; i < s->n; i++)
		n += s->used[i].room;
	return n;
}

uint32_t lb__space_id_next(const struct lb__space *s)
{
	return s->id_next;
}

int lb__space_id_take(struct lb__space *s, uint32_t hint, uint32_t *id)
{
	uint32_t max = s->ids_max, i = hint >= 1 && hint < max ? hint : 1;
	int err = scanned(s);

	if (err)
		return err;
	for (uint32_t n = 1; n < max; n++, i = i + 1 < max ? i + 1 : 1) {
		if (!s->ids[i]) {
			s->ids[i] = 1;
			*id = i;
			s->id_next = i + 1 < max ? i + 1 : 1;
			return 0;
		}
	}
	return -ENOSPC;
}

void lb__space_id_put(struct lb__space *s, uint32_t id)
{
	if (s->scanned && id < s->ids_max)
		s->ids[id] = 0;
}

int lb__ep_slots_walk(int ep_fd, void (*fn)(uint32_t id, const struct lb_ep *ep, void *arg),
		      void *arg)
{
	enum { CHUNK = 1024 };
	struct lb_ep *slots = malloc(CHUNK * sizeof(*slots));
	uint32_t *keys = malloc(CHUNK * sizeof(*keys));
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint32_t max;

	if (!slots || !keys || bpf_obj_get_info_by_fd(ep_fd, &info, &len)) {
		free(slots);
		free(keys);
		return slots && keys ? -errno : -ENOMEM;
	}
	max = info.max_entries;
	for (uint32_t base = 0; base < max; base += CHUNK) {
		uint32_t cnt = max - base < CHUNK ? max - base : CHUNK, got = cnt;
		uint32_t prevk = base - 1, nextb;	/* a batch starts after its in_batch key */
		bool batch = !bpf_map_lookup_batch(ep_fd, base ? &prevk : NULL, &nextb, keys,
						   slots, &got, NULL) || errno == ENOENT;

		if (!batch || got > cnt)
			got = 0;
		for (uint32_t i = 0; i < cnt; i++) {
			uint32_t id = base + i;
			struct lb_ep ep;

			if (i < got && keys[i] == id)
				ep = slots[i];
			else if (bpf_map_lookup_elem(ep_fd, &id, &ep))
				continue;
			fn(id, &ep, arg);
		}
	}
	free(slots);
	free(keys);
	return 0;
}

static void note_ep(uint32_t id, const struct lb_ep *ep, void *arg)
{
	struct lb__space *s = arg;

	if (id < s->eps_max)
		s->eps[id] = ep->svc_id != 0;
}

/* The owned slots of lb_endpoints (ep_fd) into eps. */
static int scan_eps(struct lb__space *s, int ep_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	if (bpf_obj_get_info_by_fd(ep_fd, &info, &len))
		return -errno;
	s->eps = calloc(info.max_entries ? info.max_entries : 1, 1);
	if (!s->eps)
		return -ENOMEM;
	s->eps_max = info.max_entries;
	err = lb__ep_slots_walk(ep_fd, note_ep, s);
	if (err) {
		free(s->eps);
		s->eps = NULL;
	}
	return err;
}

uint32_t lb__space_ep_next(const struct lb__space *s)
{
	return s->ep_next;
}

static bool probed(const struct lb__space *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->n_probed; i++)
		if (s->probed[i] == id)
			return true;
	return false;
}

/* A free slot near hint by looking at each: 0 and *id, or 1 when none there. */
static int probe_ep(struct lb__space *s, int ep_fd, uint32_t hint, uint32_t *id)
{
	for (uint32_t n = 0, i = hint ? hint : 1; n < PROBE_SLOTS; n++, i++) {
		struct lb_ep ep;

		if (bpf_map_lookup_elem(ep_fd, &i, &ep))
			return 1;	/* past the end */
		if (!ep.svc_id && !probed(s, i)) {
			s->probed[s->n_probed++] = i;
			*id = i;
			s->ep_next = i + 1;
			return 0;
		}
	}
	return 1;
}

int lb__space_ep_take(struct lb__space *s, int ep_fd, uint32_t hint, uint32_t *id)
{
	uint32_t i;
	int err;

	if (!s->eps && s->n_probed < PROBE_MAX && probe_ep(s, ep_fd, hint, id) == 0)
		return 0;
	if (!s->eps) {
		err = scan_eps(s, ep_fd);
		if (err)
			return err;
		for (uint32_t k = 0; k < s->n_probed; k++)
			if (s->probed[k] < s->eps_max)
				s->eps[s->probed[k]] = 1;	/* taken, maybe not written yet */
	}
	i = hint >= 1 && hint < s->eps_max ? hint : 1;
	for (uint32_t n = 1; n < s->eps_max; n++, i = i + 1 < s->eps_max ? i + 1 : 1) {
		if (!s->eps[i]) {
			s->eps[i] = 1;
			*id = i;
			s->ep_next = i + 1 < s->eps_max ? i + 1 : 1;
			return 0;
		}
	}
	return -ENOSPC;
}

void lb__space_ep_put(struct lb__space *s, uint32_t id)
{
	if (s->eps && id < s->eps_max)
		s->eps[id] = 0;
	for (uint32_t i = 0; i < s->n_probed; i++)
		if (s->probed[i] == id)
			s->probed[i] = 0;	/* free again: its slot says so */
}
