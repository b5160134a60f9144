// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The monitor: claim the lb_events ring, keep the lease on lb_monitor alive, hand
 * the events to the caller, give the ring back.
 *
 * lb_monitor is an mmapable array: the monitor writes owner, until_ns and mask in
 * place (the datapath only reads them, the sweep clears mask when the lease ran
 * out) and never writes lost, which the datapath counts.  The claim is a
 * compare-and-swap of owner, so two monitors that start together cannot both win.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define LB_MON_RENEW_NS		1000000000ull	/* renew every second */

struct lb_mon {
	struct lb_ctx *ctx;
	struct ring_buffer *rb;
	int events_fd, mon_fd;
	struct lb_monitor *map;		/* element 0 of lb_monitor, mmapped */
	size_t map_len;
	uint32_t mask;
	uint32_t pid;
	uint64_t start_ns;		/* events before this are a former monitor's */
	uint64_t next_renew_ns;
	uint64_t lost0;			/* lb_monitor.lost when we started */
	int64_t realtime_off;		/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	lb_event_fn fn;
	void *cookie;
	int stop;			/* fn's non-zero return */
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The process is there (EPERM: there, not ours to signal). */
static bool pid_alive(uint32_t pid)
{
	return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Somebody else holds the ring: a live owner whose lease has not run out. */
static bool held_by_other(const struct lb_mon *m, uint32_t owner, uint64_t now)
{
	return owner != m->pid && __atomic_load_n(&m->map->mask, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&m->map->until_ns, __ATOMIC_ACQUIRE) > now && pid_alive(owner);
}

/* Lease first, then the mask: the sweep never sees our mask with a stale lease. */
static void lease(struct lb_mon *m, uint64_t now)
{
	__atomic_store_n(&m->map->until_ns, now + LB_MON_LEASE_NS, __ATOMIC_RELEASE);
	__atomic_store_n(&m->map->mask, m->mask, __ATOMIC_RELEASE);
	m->next_renew_ns = now + LB_MON_RENEW_NS;
}

static int claim(struct lb_mon *m)
{
	for (;;) {
		uint32_t owner = __atomic_load_n(&m->map->owner, __ATOMIC_ACQUIRE);
		uint64_t now = clock_ns(CLOCK_MONOTONIC);

		if (held_by_other(m, owner, now))
			return lb_set_err(m->ctx, -EBUSY,
					  "another monitor (pid %u) is reading the events", owner);
		if (owner == m->pid ||
		    __atomic_compare_exchange_n(&m->map->owner, &owner, m->pid, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			lease(m, now);
			return 0;
		}
		/* Another monitor claimed it meanwhile: look again. */
	}
}

static int on_sample(void *cookie, void *data, size_t size)
{
	struct lb_mon *m = cookie;
	const struct lb_event *ev = data;
	uint32_t bit;

	if (size < offsetof(struct lb_event, data))
		return 0;
	if (ev->ts_ns < m->start_ns)
		return 0;	/* left in the ring by a former monitor */
	bit = ev->type == LB_EV_DROP ? LB_MON_DROPS : LB_MON_FLOWS;
	if (!(m->mask & bit))
		return 0;
	m->stop = m->fn(ev, size, m->cookie);
	return m->stop ? -ECANCELED : 0;
}

void lb_mon_close(struct lb_mon *m)
{
	if (!m)
		return;
	if (m->map) {
		uint32_t me = m->pid;

		/* Still ours: no more events.  Then give up the ownership, unless
		 * another monitor took it over meanwhile. */
		if (__atomic_load_n(&m->map->owner, __ATOMIC_ACQUIRE) == me) {
			__atomic_store_n(&m->map->mask, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&m->map->until_ns, 0, __ATOMIC_RELEASE);
			__atomic_compare_exchange_n(&m->map->owner, &me, 0, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		}
		munmap(m->map, m->map_len);
	}
	ring_buffer__free(m->rb);
	if (m->events_fd >= 0)
		close(m->events_fd);
	if (m->mon_fd >= 0)
		close(m->mon_fd);
	free(m);
}

int lb_mon_open(struct lb_ctx *ctx, uint32_t mask, lb_event_fn fn, void *cookie,
		struct lb_mon **out)
{
	struct lb_mon *m;
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int err;

	*out = NULL;
	if (!fn || !mask || (mask & ~(LB_MON_DROPS | LB_MON_FLOWS)))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctx = ctx;
	m->events_fd = m->mon_fd = -1;
	m->mask = mask;
	m->pid = (uint32_t)getpid();
	m->fn = fn;
	m->cookie = cookie;
	m->events_fd = lb_map_fd(ctx, LB_MAP_EVENTS);
	m->mon_fd = lb_map_fd(ctx, LB_MAP_MONITOR);
	if (m->events_fd < 0 || m->mon_fd < 0) {
		err = m->events_fd < 0 ? m->events_fd : m->mon_fd;
		if (err == -ENOENT)
			lb_set_err(ctx, err,
				   "no event ring in this pin root (its datapath predates the monitor: 'lbattach destroy' and attach again)");
		goto fail;
	}
	m->map_len = page > 0 ? (size_t)page : 4096;
	p = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, m->mon_fd, 0);
	if (p == MAP_FAILED) {
		err = lb_set_err(ctx, -errno, "cannot map %s", LB_MAP_MONITOR);
		goto fail;
	}
	m->map = p;
	m->rb = ring_buffer__new(m->events_fd, on_sample, m, NULL);
	if (!m->rb) {
		err = lb_set_err(ctx, -errno, "cannot map %s", LB_MAP_EVENTS);
		goto fail;
	}
	m->lost0 = __atomic_load_n(&m->map->lost, __ATOMIC_RELAXED);
	m->realtime_off = (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
	m->start_ns = clock_ns(CLOCK_MONOTONIC);
	err = claim(m);
	if (err) {
		munmap(m->map, m->map_len);	/* not ours: leave lb_monitor alone */
		m->map = NULL;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	lb_mon_close(m);
	return err;
}

int lb_mon_poll(struct lb_mon *m, int timeout_ms)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int wait, n;

	if (now >= m->next_renew_ns) {
		uint32_t owner = __atomic_load_n(&m->map->owner, __ATOMIC_ACQUIRE);

		/* Our lease ran out while we were stopped and a new monitor claimed the
		 * ring: it is the reader now. */
		if (owner != m->pid) {
			if (held_by_other(m, owner, now)) {
				munmap(m->map, m->map_len);
				m->map = NULL;
				return lb_set_err(m->ctx, -EBUSY,
						  "another monitor (pid %u) took the events over", owner);
			}
			n = claim(m);
			if (n)
				return n;
		} else {
			lease(m, now);
		}
	}
	wait = (int)((m->next_renew_ns - now) / 1000000ull) + 1;
	if (timeout_ms >= 0 && timeout_ms < wait)
		wait = timeout_ms;
	m->stop = 0;
	n = ring_buffer__poll(m->rb, wait);
	if (m->stop)
		return m->stop;
	return n < 0 ? n : 0;
}

uint64_t lb_mon_lost(const struct lb_mon *m)
{
	return m->map ? __atomic_load_n(&m->map->lost, __ATOMIC_RELAXED) - m->lost0 : 0;
}

uint64_t lb_mon_realtime(const struct lb_mon *m, uint64_t ts_ns)
{
	return ts_ns + m->realtime_off;
}

const char *lb_event_type_name(unsigned int type)
{
	switch (type) {
	case LB_EV_DROP:	return "drop";
	case LB_EV_FLOW_NEW:	return "flow-new";
	case LB_EV_FLOW_END:	return "flow-end";
	default:		return "unknown";
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The tuple from the captured bytes: Ethernet, up to two VLAN tags, IPv4 or IPv6
 * (extension headers skipped), ports of TCP and UDP when they were captured. */
int lb_event_tuple(struct lb_event *ev)
{
	const uint8_t *d = ev->data;
	size_t len = ev->cap_len < LB_EVENT_CAP ? ev->cap_len : LB_EVENT_CAP, off = 14, l4;
	uint16_t eth;
	uint8_t proto;
	bool first = true;

	if (ev->family)
		return 0;
	if (len < off)
		return -ENOENT;
	eth = get16(d + 12);
	for (int i = 0; i < 2 && (eth == 0x8100 || eth == 0x88a8) && off + 4 <= len; i++) {
		eth = get16(d + off + 2);
		off += 4;
	}
	if (eth == 0x0800 && off + 20 <= len && (d[off] >> 4) == 4) {
		memset(&ev->src, 0, sizeof(ev->src));
		memset(&ev->dst, 0, sizeof(ev->dst));
		memcpy(&ev->src.a[0], d + off + 12, 4);
		memcpy(&ev->dst.a[0], d + off + 16, 4);
		proto = d[off + 9];
		first = (get16(d + off + 6) & 0x1fff) == 0;
		l4 = off + (size_t)(d[off] & 0xf) * 4;
		ev->family = LB_AF_INET;
	} else if (eth == 0x86dd && off + 40 <= len && (d[off] >> 4) == 6) {
		memcpy(ev->src.a, d + off + 8, 16);
		memcpy(ev->dst.a, d + off + 24, 16);
		proto = d[off + 6];
		l4 = off + 40;
		for (int i = 0; i < 6 && l4 + 8 <= len; i++) {
			if (proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING ||
			    proto == IPPROTO_DSTOPTS) {
				proto = d[l4];
				l4 += ((size_t)d[l4 + 1] + 1) * 8;
			} else if (proto == IPPROTO_FRAGMENT) {
				first = (get16(d + l4 + 2) & 0xfff8) == 0;
				proto = d[l4];
				l4 += 8;
			} else if (proto == IPPROTO_AH) {
				proto = d[l4];
				l4 += ((size_t)d[l4 + 1] + 2) * 4;
			} else {
				break;
			}
		}
		ev->family = LB_AF_INET6;
	} else {
		return -ENOENT;
	}
	ev->proto = proto;
	if (first && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4 + 4 <= len) {
		memcpy(&ev->sport, d + l4, 2);
		memcpy(&ev->dport, d + l4 + 2, 2);
	}
	return 0;
}
