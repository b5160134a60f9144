// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The difference lb_ruleset_apply() makes (lb__ruleset_diff()), without a kernel:
 * which changes, in which order, and none where the sets agree. */
#include "tap.h"
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include "ruleset.h"

/* Service 198.19.0.N port 80 tcp, sched rr. */
static struct lb_ruleset_svc *svc(struct lb_ruleset *rs, int n)
{
	struct lb_ruleset_svc *r = lb_ruleset_add(rs);
	struct lb_addr vip;
	uint8_t fam;
	char a[32];

	snprintf(a, sizeof(a), "198.19.0.%d", n);
	lb_addr_parse(a, &vip, &fam);
	lb_svc_key_init(&r->svc.key, &vip, fam, 80, IPPROTO_TCP);
	r->svc.sched = LB_SCHED_RR;
	r->svc.mode = LB_NAT_DNAT;
	return r;
}

/* Endpoint 198.18.0.N port 8080, weight w, up. */
static void ep(struct lb_ruleset_svc *r, int n, uint32_t w)
{
	struct lb_endpoint *e = lb_ruleset_ep_add(r);
	char a[32];

	memset(e, 0, sizeof(*e));
	snprintf(a, sizeof(a), "198.18.0.%d", n);
	lb_addr_parse(a, &e->addr, &e->family);
	e->port = htons(8080);
	e->weight = w;
	e->status = LB_EP_UP;
}

/* The changes as words: "svc-del 3 ep-add 1/4 ...": service by its last octet,
 * endpoint as service/endpoint. */
static int record(void *cookie, const struct lb__change *c)
{
	static const char *const names[] = {
		[LB__SVC_DEL] = "svc-del", [LB__EP_DEL] = "ep-del", [LB__SVC_SET] = "svc-set",
		[LB__EP_SET] = "ep-set", [LB__SVC_ADD] = "svc-add", [LB__EP_ADD] = "ep-add",
		[LB__ALLOW_DEL] = "allow-del", [LB__ALLOW_ADD] = "allow-add",
		[LB__TIMEOUTS] = "timeouts",
	};
	char *out = cookie;

	out += strlen(out);
	out += sprintf(out, "%s%s", *(char *)cookie ? " " : "", names[c->kind]);
	if (c->svc)
		out += sprintf(out, " %u", ((const uint8_t *)&c->svc->key.vip)[3]);
	if (c->ep)
		out += sprintf(out, "/%u", ((const uint8_t *)&c->ep->addr)[3]);
	for (size_t i = 0; i < c->n_pfx; i++)	/* prefixes of 10.N.0.0/16 as N */
		out += sprintf(out, "%s%u", i ? "," : " ", ((const uint8_t *)&c->pfx[i].addr)[1]);
	return 0;
}

static const char *diff(const struct lb_ruleset *from, const struct lb_ruleset *to, int *n)
{
	static char out[1024];

	out[0] = '\0';
	*n = lb__ruleset_diff(from, to, record, out);
	return out;
}

static void no_difference(void)
{
	struct lb_ruleset a = {}, b = {};
	int n;

	CHECK_STR(diff(&a, &b, &n), "");
	CHECK_EQ_U(n, 0);
	for (int i = 1; i <= 3; i++) {
		ep(svc(&a, i), 1, 1);
		ep(svc(&b, 4 - i), 1, 1);	/* another order: still the same set */
	}
	a.timeout[LB_TO_UDP] = 60;
	b.timeout[LB_TO_UDP] = 0;		/* 0: keep */
	a.svcs[0].svc.maglev_size = 0;
	b.svcs[2].svc.maglev_size = LB_MAGLEV_DEFAULT;	/* what 0 means */
	b.svcs[2].svc.snat.a[0] = htonl(1);	/* not stored without full NAT */
	CHECK_STR(diff(&a, &b, &n), "");
	CHECK_EQ_U(n, 0);
	CHECK_EQ_U(lb__ruleset_diff(&a, &b, NULL, NULL), 0);
	lb_ruleset_free(&a);
	lb_ruleset_free(&b);
}

static void removals_first_then_changes_then_additions(void)
{
	struct lb_ruleset a = {}, b = {};
	struct lb_ruleset_svc *r;
	int n;

	r = svc(&a, 1);			/* goes */
	ep(r, 1, 1);
	r = svc(&a, 2);			/* loses endpoint 1, gains 3, weight of 2 */
	ep(r, 1, 1);
	ep(r, 2, 1);
	r = svc(&a, 3);			/* untouched */
	ep(r, 1, 1);
	svc(&a, 4);			/* another scheduler */

	r = svc(&b, 5);			/* new, before the others in b */
	ep(r, 7, 2);
	r = svc(&b, 2);
	ep(r, 2, 5);
	ep(r, 3, 1);
	r = svc(&b, 3);
	ep(r, 1, 1);
	r = svc(&b, 4);
	r->svc.sched = LB_SCHED_MAGLEV;
	b.timeout[LB_TO_TCP_EST] = 99;

	CHECK_STR(diff(&a, &b, &n),
		  "svc-del 1 ep-del 2/1 ep-set 2/2 svc-set 4 svc-add 5 ep-add 5/7 ep-add 2/3 timeouts");
	CHECK_EQ_U(n, 8);
	CHECK_EQ_U(lb__ruleset_diff(&a, &b, NULL, NULL), 8);
	/* and back */
	CHECK_STR(diff(&b, &a, &n),
		  "svc-del 5 ep-del 2/3 ep-set 2/2 svc-set 4 svc-add 1 ep-add 1/1 ep-add 2/1");
	lb_ruleset_free(&a);
	lb_ruleset_free(&b);
}

static void state_and_config_are_differences(void)
{
	struct lb_ruleset a = {}, b = {};
	int n;

	ep(svc(&a, 1), 1, 1);
	ep(svc(&b, 1), 1, 1);
	b.svcs[0].eps[0].status = LB_EP_DRAIN;
	CHECK_STR(diff(&a, &b, &n), "ep-set 1/1");
	b.svcs[0].eps[0].status = LB_EP_UP;
	b.svcs[0].svc.persist = 30;
	CHECK_STR(diff(&a, &b, &n), "svc-set 1");
	b.svcs[0].svc.persist = 0;
	b.svcs[0].svc.check.type = LB_CHECK_TCP;
	CHECK_STR(diff(&a, &b, &n), "svc-set 1");
	b.svcs[0].svc.check.type = LB_CHECK_NONE;	/* a service's none: no check */
	CHECK_STR(diff(&a, &b, &n), "");
	b.svcs[0].svc.check.type = LB_CHECK_INHERIT;
	b.svcs[0].eps[0].check.type = LB_CHECK_NONE;	/* an endpoint's none is its own */
	CHECK_STR(diff(&a, &b, &n), "ep-set 1/1");
	b.svcs[0].eps[0].check.type = LB_CHECK_INHERIT;
	b.svcs[0].eps[0].check.interval_ms = 2000;
	CHECK_STR(diff(&a, &b, &n), "ep-set 1/1");
	b.svcs[0].eps[0].check.interval_ms = 0;
	b.svcs[0].svc.mode = LB_NAT_FULLNAT;
	b.svcs[0].svc.snat_ifaddr = true;
	a.svcs[0].svc.mode = LB_NAT_FULLNAT;
	CHECK_STR(diff(&a, &b, &n), "svc-set 1");	/* ifaddr or an address */
	lb_ruleset_free(&a);
	lb_ruleset_free(&b);
}

/* Prefix 10.N.0.0/16 onto s's list. */
static void allow(struct lb_service *s, int n)
{
	struct lb_prefix *v = realloc(s->allow, (s->n_allow + 1) * sizeof(*v));
	char a[32];
	uint8_t fam;

	if (!v)
		return;
	s->allow = v;
	snprintf(a, sizeof(a), "10.%d.0.0/16", n);
	lb_prefix_parse(a, &s->allow[s->n_allow++], &fam);
}

/* Allow lists: the same prefixes in another order are no difference; a kept
 * service loses what it is without among the removals and gains the rest after
 * the additions; a new service comes with its list. */
static void allow_lists_by_their_difference(void)
{
	struct lb_ruleset a = {}, b = {};
	struct lb_ruleset_svc *r;
	int n;

	r = svc(&a, 1);
	allow(&r->svc, 1);
	allow(&r->svc, 2);
	allow(&r->svc, 3);
	r = svc(&b, 1);
	allow(&r->svc, 3);
	allow(&r->svc, 1);
	allow(&r->svc, 2);
	CHECK_STR(diff(&a, &b, &n), "");
	CHECK_EQ_U(n, 0);
	lb_ruleset_free(&b);

	r = svc(&b, 2);			/* new, with a list */
	allow(&r->svc, 9);
	r = svc(&b, 1);
	allow(&r->svc, 4);
	allow(&r->svc, 2);
	allow(&r->svc, 5);
	CHECK_STR(diff(&a, &b, &n), "allow-del 1 1,3 svc-add 2 allow-add 1 4,5");
	CHECK_EQ_U(n, 3);
	CHECK_EQ_U(lb__ruleset_diff(&a, &b, NULL, NULL), 3);
	free(b.svcs[1].svc.allow);	/* the list emptied */
	b.svcs[1].svc.allow = NULL;
	b.svcs[1].svc.n_allow = 0;
	CHECK_STR(diff(&a, &b, &n), "allow-del 1 1,2,3 svc-add 2");
	lb_ruleset_free(&a);
	lb_ruleset_free(&b);
}

/* A failing change stops the walk with its error. */
static int fail_second(void *cookie, const struct lb__change *c)
{
	return ++*(int *)cookie == 2 ? -ENOSPC : 0;
}

static void stops_at_a_failure(void)
{
	struct lb_ruleset a = {}, b = {};
	int calls = 0;

	svc(&b, 1);
	svc(&b, 2);
	svc(&b, 3);
	CHECK_EQ_U(lb__ruleset_diff(&a, &b, fail_second, &calls), (unsigned long long)-ENOSPC);
	CHECK_EQ_U(calls, 2);
	lb_ruleset_free(&b);
}

int main_diff(void);
int main_diff(void)
{
	RUN(no_difference);
	RUN(removals_first_then_changes_then_additions);
	RUN(state_and_config_are_differences);
	RUN(allow_lists_by_their_difference);
	RUN(stops_at_a_failure);
	return 0;
}
