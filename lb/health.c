// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Health checks: the lb_health entries (settings and hysteresis state by name),
 * one round of probes (non-blocking sockets and poll(), at most
 * LB_HEALTH_PARALLEL at once, each within its own timeout), and applying the
 * results.  Which endpoints serve follows in service.c (health_apply).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "internal.h"
#include "health.h"

/* ------------------------------------------------------------------ rules */

void lb__health_key(struct lb_health_key *hk, const struct lb_svc_key *k,
		    const struct lb_addr *addr, uint16_t ep_port)
{
	memset(hk, 0, sizeof(*hk));
	hk->vip = k->vip;
	hk->port = k->port;
	hk->proto = k->proto;
	hk->family = k->family;
	if (addr)
		hk->addr = *addr;
	hk->ep_port = ep_port;
}

void lb__check_effective(const struct lb_check *own, const struct lb_check *svc,
			 struct lb_check *out)
{
	/* The type comes with its own words (path, host, payload, expect). */
	*out = own->type ? *own : *svc;
	if (!out->type)
		out->type = LB_CHECK_NONE;
#define PICK(f, def) out->f = own->f ? own->f : svc->f ? svc->f : (def)
	PICK(interval_ms, LB_CHECK_INTERVAL_MS);
	PICK(timeout_ms, LB_CHECK_TIMEOUT_MS);
	PICK(rise, LB_CHECK_RISE);
	PICK(fall, LB_CHECK_FALL);
#undef PICK
}

/* A path or host name: visible ASCII a rule set's line keeps as one word. */
static bool word_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || strchr("\"'\\#", s[i]))
			return false;
	return true;
}

int lb__check_valid(struct lb_ctx *ctx, const struct lb_check *c)
{
	bool http = c->type == LB_CHECK_HTTP, udp = c->type == LB_CHECK_UDP;

	if (c->type >= LB_CHECK_MAX)
		return lb_set_err(ctx, -EINVAL, "check: unknown type %u", c->type);
	if (c->interval_ms && (c->interval_ms < 100 || c->interval_ms > 3600000))
		return lb_set_err(ctx, -EINVAL, "interval: from 0.1 to 3600 seconds");
	if (c->timeout_ms && (c->timeout_ms < 10 || c->timeout_ms > 60000))
		return lb_set_err(ctx, -EINVAL, "timeout: from 0.01 to 60 seconds");
	if (!word_ok(c->path, sizeof(c->path)) || !word_ok(c->host, sizeof(c->host)))
		return lb_set_err(ctx, -EINVAL,
				  "check http: path and host are visible characters without quotes, backslash or #");
	if (http && c->path[0] != '/')
		return lb_set_err(ctx, -EINVAL, "check http: the path starts with /");
	if (!http && (c->path[0] || c->host[0] || c->expect_code))
		return lb_set_err(ctx, -EINVAL, "check: path, host and a status code are http's");
	if (c->expect_code && (c->expect_code < 100 || c->expect_code > 599))
		return lb_set_err(ctx, -EINVAL, "check http: expect: a status from 100 to 599");
	if (udp && (!c->payload_len || c->payload_len > LB_CHECK_DATA_MAX))
		return lb_set_err(ctx, -EINVAL, "check udp: a payload of 1 to %d bytes",
				  LB_CHECK_DATA_MAX);
	if (c->expect_len > LB_CHECK_DATA_MAX)
		return lb_set_err(ctx, -EINVAL, "check udp: expect: at most %d bytes", LB_CHECK_DATA_MAX);
	if (!udp && (c->payload_len || c->expect_len))
		return lb_set_err(ctx, -EINVAL, "check: a payload is udp's");
	return 0;
}

void lb__health_get(int fd, const struct lb_health_key *hk, struct lb_health *h)
{
	if (fd < 0 || bpf_map_lookup_elem(fd, hk, h))
		memset(h, 0, sizeof(*h));
}

static bool state_empty(const struct lb_health *h)
{
	return !h->state && !h->last && !h->panic && !h->ok_run && !h->fail_run &&
	       !h->last_ns && !h->change_ns && !h->panics;
}

bool lb__health_empty(int fd)
{
	struct lb_health_key k;

	return fd < 0 || (bpf_map_get_next_key(fd, NULL, &k) && errno == ENOENT);
}

/* The settings as stored: a service's none is the default, inherit. */
static struct lb_check stored(const struct lb_health_key *hk, const struct lb_check *c)
{
	struct lb_check want = *c;

	if (!hk->ep_port && want.type == LB_CHECK_NONE)
		want.type = LB_CHECK_INHERIT;
	return want;
}

bool lb__health_differs(int fd, const struct lb_health_key *hk, const struct lb_check *c)
{
	struct lb_check want = stored(hk, c);
	struct lb_health h;

	lb__health_get(fd, hk, &h);
	return memcmp(&h.check, &want, sizeof(want));
}

int lb__health_put(int fd, const struct lb_health_key *hk, const struct lb_check *c)
{
	static const struct lb_check none;
	struct lb_check want = stored(hk, c);
	struct lb_health h;

	if (fd < 0)
		return 0;
	lb__health_get(fd, hk, &h);
	if (!memcmp(&h.check, &want, sizeof(want)))
		return 0;
	if (h.check.type != want.type) {
		/* another type of its own: the endpoint's health starts over */
		struct lb_health fresh = { .panic = h.panic, .panics = h.panics,
					   .change_ns = h.panics ? h.change_ns : 0 };

		h = fresh;
	}
	h.check = want;
	if (!memcmp(&h.check, &none, sizeof(none)) && state_empty(&h))
		return bpf_map_delete_elem(fd, hk) && errno != ENOENT ? -errno : 0;
	if (bpf_map_update_elem(fd, hk, &h, BPF_ANY))
		return errno == E2BIG || errno == ENOMEM ? -ENOSPC : -errno;
	return 0;
}

/* The keys of fd that match(), collected first: deleting while walking restarts. */
static void delete_matching(int fd, bool (*match)(const struct lb_health_key *hk, void *arg),
			    void *arg)
{
	struct lb_health_key k, next, *prev = NULL, *del = NULL;
	size_t n = 0, cap = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (match(&k, arg) && !LB_RESERVE(del, n, cap))
			del[n++] = k;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &del[i]);
	free(del);
}

static bool same_service(const struct lb_health_key *hk, void *arg)
{
	const struct lb_svc_key *k = arg;

	return !memcmp(&hk->vip, &k->vip, sizeof(hk->vip)) && hk->port == k->port &&
	       hk->proto == k->proto && hk->family == k->family;
}

void lb__health_forget(int fd, const struct lb_svc_key *k, const struct lb_addr *addr,
		       uint16_t ep_port, bool whole_service)
{
	struct lb_health_key hk;

	if (fd < 0)
		return;
	if (whole_service) {
		delete_matching(fd, same_service, (void *)k);
		return;
	}
	lb__health_key(&hk, k, addr, ep_port);
	bpf_map_delete_elem(fd, &hk);
}

struct live_set {
	struct lb_service_info *v;
	size_t n;
};

static bool not_live(const struct lb_health_key *hk, void *arg)
{
	const struct live_set *l = arg;

	for (size_t i = 0; i < l->n; i++) {
		const struct lb_service_info *s = &l->v[i];

		if (!same_service(hk, (void *)&s->svc.key))
			continue;
		if (!hk->ep_port)
			return false;
		for (size_t j = 0; j < s->n_eps; j++)
			if (s->eps[j].ep.port == hk->ep_port &&
			    !memcmp(&s->eps[j].ep.addr, &hk->addr, sizeof(hk->addr)))
				return false;
		return true;
	}
	return true;
}

void lb__health_sweep(struct lb_ctx *ctx, int fd)
{
	struct live_set l;

	if (lb__health_empty(fd) || lb_service_list(ctx, &l.v, &l.n))
		return;	/* nothing to remove, or nothing known */
	delete_matching(fd, not_live, &l);
	lb_service_info_free(l.v, l.n);
	free(l.v);
}

bool lb__health_step(struct lb_health *h, bool ok, const char *reason,
		     const struct lb_check *eff, uint64_t now_ns)
{
	uint8_t old = h->state;

	h->last = ok ? LB_HEALTH_OK : LB_HEALTH_FAIL;
	h->last_ns = now_ns;
	if (ok) {
		h->ok_run += h->ok_run < UINT32_MAX;
		h->fail_run = 0;
	} else {
		h->fail_run += h->fail_run < UINT32_MAX;
		h->ok_run = 0;
		snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
	}
	/* Unknown serves as up: one success confirms it; down needs rise of them. */
	if (!ok && h->state != LB_HEALTH_DOWN && h->fail_run >= eff->fall)
		h->state = LB_HEALTH_DOWN;
	else if (ok && (h->state == LB_HEALTH_UNKNOWN ||
			(h->state == LB_HEALTH_DOWN && h->ok_run >= eff->rise)))
		h->state = LB_HEALTH_UP;
	if (h->state != old)
		h->change_ns = now_ns;
	return h->state != old && !(old == LB_HEALTH_UNKNOWN && h->state == LB_HEALTH_UP);
}

int lb__http_status(const char *buf, size_t len, int *code)
{
	static const char prefix[] = "HTTP/1.";
	const char *eol = memchr(buf, '\n', len);
	size_t n = eol ? (size_t)(eol - buf) : len;

	if (memcmp(buf, prefix, n < 7 ? n : 7))
		return -1;
	if (!eol)
		return len < 256 ? 0 : -1;
	/* "HTTP/1.x NNN" and a space or the end of the line */
	if (n < 12 || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
	if (n > 12 && buf[12] != ' ' && buf[12] != '\r')
		return -1;
	*code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	return *code >= 100 ? 1 : -1;
}

/* ------------------------------------------------------------------ probes */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

enum { P_IDLE, P_CONNECT, P_READ, P_DONE };

struct probe {
	struct lb_health_result r;	/* what the caller gets */
	struct lb_check c;		/* effective */
	int fd;
	int phase;
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC */
	size_t got;
	char buf[512];
};

static void probe_end(struct probe *p, bool ok, const char *fmt, const char *arg)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->phase = P_DONE;
	p->r.ok = ok;
	if (!ok)
		snprintf(p->r.reason, sizeof(p->r.reason), fmt, arg);
	p->r.time_ns = clock_ns(CLOCK_REALTIME);
}

static socklen_t probe_addr(const struct lb_health_result *r, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (r->family == LB_AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = r->port;
		memcpy(&s->sin_addr, &r->addr.a[0], 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = r->port;
	memcpy(&s6->sin6_addr, r->addr.a, 16);
	return sizeof(*s6);
}

/* Connected: the request of http, or done for tcp. */
static void probe_connected(struct probe *p)
{
	char req[LB_CHECK_PATH_MAX + LB_CHECK_HOST_MAX + 128], host[LB_CHECK_HOST_MAX + 8];
	int n;

	if (p->c.type == LB_CHECK_TCP) {
		probe_end(p, true, NULL, NULL);
		return;
	}
	if (p->c.host[0]) {
		snprintf(host, sizeof(host), "%s", p->c.host);
	} else {
		char a[INET6_ADDRSTRLEN];

		lb_addr_str(&p->r.addr, p->r.family, a, sizeof(a));
		snprintf(host, sizeof(host), p->r.family == LB_AF_INET6 ? "[%s]:%u" : "%s:%u", a,
			 ntohs(p->r.port));
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: lbkit-health\r\nConnection: close\r\n\r\n",
		     p->c.path, host);
	if (send(p->fd, req, n, MSG_NOSIGNAL) != n) {
		probe_end(p, false, "send: %s", strerror(errno));
		return;
	}
	p->phase = P_READ;
}

static void probe_start(struct probe *p)
{
	struct sockaddr_storage ss;
	socklen_t len = probe_addr(&p->r, &ss);
	bool udp = p->c.type == LB_CHECK_UDP;

	p->deadline_ns = clock_ns(CLOCK_MONOTONIC) + p->c.timeout_ms * 1000000ull;
	p->fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		probe_end(p, false, "socket: %s", strerror(errno));
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		probe_end(p, false, "connect: %s", strerror(errno));
		return;
	}
	if (udp) {
		if (send(p->fd, p->c.payload, p->c.payload_len, 0) != p->c.payload_len) {
			probe_end(p, false, "send: %s", strerror(errno));
			return;
		}
		p->phase = P_READ;
		return;
	}
	p->phase = P_CONNECT;
}

static void probe_event(struct probe *p, short revents)
{
	int err = 0, code;
	socklen_t elen = sizeof(err);
	ssize_t n;

	if (p->phase == P_CONNECT) {
		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err)
			probe_end(p, false, "connect: %s", strerror(err));
		else if (revents & POLLOUT)
			probe_connected(p);
		return;
	}
	n = recv(p->fd, p->buf + p->got, sizeof(p->buf) - p->got, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			probe_end(p, false, "recv: %s", strerror(errno));
		return;
	}
	if (p->c.type == LB_CHECK_UDP) {
		if (p->c.expect_len && ((size_t)n < p->c.expect_len ||
					memcmp(p->buf, p->c.expect, p->c.expect_len)))
			probe_end(p, false, "%s", "udp: another answer than expected");
		else
			probe_end(p, true, NULL, NULL);
		return;
	}
	p->got += n;
	switch (lb__http_status(p->buf, p->got, &code)) {
	case 1: {
		bool ok = p->c.expect_code ? code == p->c.expect_code : code >= 200 && code < 400;
		char s[8];

		snprintf(s, sizeof(s), "%d", code);
		probe_end(p, ok, "HTTP %s", s);
		break;
	}
	case 0:
		if (n == 0)
			probe_end(p, false, "%s", "http: closed before a status line");
		break;
	default:
		probe_end(p, false, "%s", "http: not an HTTP response");
	}
}

/* Run every probe of ps, at most LB_HEALTH_PARALLEL at once. */
static void probes_run(struct probe *ps, size_t n)
{
	struct pollfd pfd[LB_HEALTH_PARALLEL];
	struct probe *act[LB_HEALTH_PARALLEL];
	size_t next = 0, done = 0;

	while (done < n) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC), first = UINT64_MAX;
		size_t na = 0;
		int timeout, rc;

		/* Start what fits, then collect the live ones. */
		for (size_t i = 0; i < next; i++)
			if (ps[i].phase != P_DONE)
				na++;
		while (next < n && na < LB_HEALTH_PARALLEL) {
			probe_start(&ps[next]);
			if (ps[next].phase == P_DONE)
				done++;
			else
				na++;
			next++;
		}
		na = 0;
		for (size_t i = 0; i < next; i++) {
			struct probe *p = &ps[i];

			if (p->phase == P_DONE)
				continue;
			if (now >= p->deadline_ns) {
				probe_end(p, false, "%s", p->phase == P_CONNECT ? "connect: timed out" :
					  "timed out waiting for an answer");
				done++;
				continue;
			}
			first = p->deadline_ns < first ? p->deadline_ns : first;
			pfd[na] = (struct pollfd){ .fd = p->fd,
						   .events = p->phase == P_CONNECT ? POLLOUT : POLLIN };
			act[na++] = p;
		}
		if (!na)
			continue;
		timeout = (first - now + 999999) / 1000000;
		rc = poll(pfd, na, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		for (size_t i = 0; rc > 0 && i < na; i++) {
			if (!pfd[i].revents)
				continue;
			probe_event(act[i], pfd[i].revents);
			done += act[i]->phase == P_DONE;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ps[i].phase != P_DONE)
			probe_end(&ps[i], false, "%s", "interrupted");
}

static bool wanted(const struct lb_svc_key *svcs, size_t n, const struct lb_svc_key *k)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&svcs[i].vip, &k->vip, sizeof(k->vip)) && svcs[i].port == k->port &&
		    svcs[i].proto == k->proto && svcs[i].family == k->family)
			return true;
	return false;
}

static int cmp_svc_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct lb_svc_key));
}

/*
 * The services with a check anywhere (their own entry or an endpoint's), sorted,
 * from lb_health alone: a round where nothing is checked costs a walk of a small
 * map, not a read of every service.
 */
static int checked_services(int fd, struct lb_svc_key **out, size_t *n)
{
	struct lb_health_key k, next, *prev = NULL;
	struct lb_svc_key *v = NULL;
	size_t cnt = 0, cap = 0, u = 0;
	struct lb_health h;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &h) || h.check.type <= LB_CHECK_NONE)
			continue;
		if (LB_RESERVE(v, cnt, cap)) {
			free(v);
			return -ENOMEM;
		}
		lb_svc_key_init(&v[cnt++], &k.vip, k.family, ntohs(k.port), k.proto);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_svc_key);
	for (size_t i = 0; i < cnt; i++)
		if (!u || cmp_svc_key(&v[u - 1], &v[i]))
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}

int lb_health_probe(struct lb_ctx *ctx, const struct lb_svc_key *svcs, size_t n_svcs,
		    unsigned int flags, struct lb_health_result **out, size_t *n)
{
	struct lb_service_info *info = malloc(sizeof(*info));
	struct lb_health_result *r = NULL;
	struct lb_svc_key *keys = NULL;
	struct probe *ps = NULL;
	size_t nk = 0, cnt = 0, cap = 0;
	uint64_t now = clock_ns(CLOCK_REALTIME);
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	lb_clear_err(ctx);
	if (!info)
		return -ENOMEM;
	fd = lb_map_fd(ctx, LB_MAP_HEALTH);
	if (fd < 0) {
		free(info);
		return LB_MAP_ERR(ctx, fd, "map %s: not loaded (attach the datapath first)",
				  LB_MAP_HEALTH);
	}
	for (size_t i = 0; !err && i < n_svcs; i++) {
		err = lb_service_get(ctx, &svcs[i], info);
		if (err == -ENOENT)
			lb_set_err(ctx, err, "no such service");
		else if (!err)
			lb_service_info_free(info, 1);
	}
	if (!err)
		err = checked_services(fd, &keys, &nk);
	close(fd);
	for (size_t i = 0; !err && i < nk; i++) {
		if (!wanted(svcs, n_svcs, &keys[i]) || lb_service_get(ctx, &keys[i], info))
			continue;	/* another, or removed since */
		for (size_t j = 0; j < info->n_eps; j++) {
			const struct lb_endpoint_info *e = &info->eps[j];
			struct lb_check c;
			struct probe *p;

			lb__check_effective(&e->ep.check, &info->svc.check, &c);
			/* the operator's drain and down are never touched */
			if (e->ep.status != LB_EP_UP || c.type <= LB_CHECK_NONE)
				continue;
			if (!(flags & LB_HEALTH_ALL) && e->health.last &&
			    now - e->health.last_ns < c.interval_ms * 1000000ull)
				continue;
			if (LB_RESERVE(ps, cnt, cap)) {
				err = -ENOMEM;
				break;
			}
			p = &ps[cnt++];
			memset(p, 0, sizeof(*p));
			p->r.svc = info->svc.key;
			p->r.addr = e->ep.addr;
			p->r.port = e->ep.port;
			p->r.family = e->ep.family;
			p->c = c;
			p->fd = -1;
		}
		lb_service_info_free(info, 1);
	}
	if (!err) {
		r = calloc(cnt ? cnt : 1, sizeof(*r));
		err = r ? 0 : -ENOMEM;
	}
	if (!err) {
		probes_run(ps, cnt);
		for (size_t i = 0; i < cnt; i++)
			r[i] = ps[i].r;
		*out = r;
		*n = cnt;
	}
	free(ps);
	free(keys);
	free(info);
	return err;
}

static bool same_svc(const struct lb_svc_key *a, const struct lb_svc_key *b)
{
	return wanted(a, 1, b);
}

int lb_health_apply(struct lb_ctx *ctx, const struct lb_health_result *r, size_t n,
		    struct lb_health_change **changes, size_t *n_changes)
{
	struct lb_health_change *ch = NULL;
	size_t nch = 0, cap = 0;
	bool *seen = calloc(n ? n : 1, 1);
	int fd, err = 0;

	if (changes) {
		*changes = NULL;
		*n_changes = 0;
	}
	lb_clear_err(ctx);
	if (!seen)
		return -ENOMEM;
	fd = lb_map_fd(ctx, LB_MAP_HEALTH);
	if (fd < 0) {
		free(seen);
		return LB_MAP_ERR(ctx, fd, "map %s: not loaded (attach the datapath first)",
				  LB_MAP_HEALTH);
	}
	/* Service by service: its results, then one refresh when a state changed. */
	for (size_t i = 0; i < n && !err; i++) {
		struct lb_service_info info;
		bool changed = false;

		if (seen[i])
			continue;
		if (lb_service_get(ctx, &r[i].svc, &info)) {
			for (size_t j = i; j < n; j++)
				seen[j] |= same_svc(&r[j].svc, &r[i].svc);
			continue;	/* removed since the probe */
		}
		for (size_t j = i; j < n; j++) {
			const struct lb_endpoint_info *e = NULL;
			struct lb_health_key hk;
			struct lb_health h;
			struct lb_check eff;
			bool flip;

			if (seen[j] || !same_svc(&r[j].svc, &r[i].svc))
				continue;
			seen[j] = true;
			for (size_t x = 0; x < info.n_eps && !e; x++)
				if (info.eps[x].ep.port == r[j].port &&
				    !memcmp(&info.eps[x].ep.addr, &r[j].addr, sizeof(r[j].addr)))
					e = &info.eps[x];
			/* gone, drained or set down, or unchecked since the probe */
			if (!e || e->ep.status != LB_EP_UP || e->check <= LB_CHECK_NONE)
				continue;
			lb__check_effective(&e->ep.check, &info.svc.check, &eff);
			lb__health_key(&hk, &r[j].svc, &r[j].addr, r[j].port);
			lb__health_get(fd, &hk, &h);
			flip = lb__health_step(&h, r[j].ok, r[j].reason, &eff, r[j].time_ns);
			if (bpf_map_update_elem(fd, &hk, &h, BPF_ANY)) {
				err = errno == E2BIG || errno == ENOMEM ? -ENOSPC : -errno;
				lb_set_err(ctx, err, "cannot record the health of an endpoint");
				break;
			}
			if (!flip)
				continue;
			changed = true;
			if (changes && !LB_RESERVE(ch, nch, cap)) {
				struct lb_health_change *c = &ch[nch++];

				memset(c, 0, sizeof(*c));
				c->svc = r[j].svc;
				c->addr = r[j].addr;
				c->port = r[j].port;
				c->family = r[j].family;
				c->state = h.state;
				snprintf(c->reason, sizeof(c->reason), "%s", h.reason);
			}
		}
		lb_service_info_free(&info, 1);
		if (!err && changed)
			err = lb__svc_health_refresh(ctx, &r[i].svc);
	}
	close(fd);
	free(seen);
	if (changes && !err) {
		*changes = ch;
		*n_changes = nch;
	} else {
		free(ch);
	}
	return err;
}
