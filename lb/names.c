// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of enum and flag values, hooks, modes and counters, and keyword matching: one
 * table each. */
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "names.h"

static const char *const hook_progs[LB_HOOK_MAX] = {
	[LB_HOOK_XDP]		= LB_PROG_XDP,
	[LB_HOOK_TC_INGRESS]	= LB_PROG_TC_INGRESS,
	[LB_HOOK_TC_EGRESS]	= LB_PROG_TC_EGRESS,
};

static const char *const mode_names[] = {
	[LB_MODE_AUTO]		= "auto",
	[LB_MODE_NATIVE]	= "native",
	[LB_MODE_GENERIC]	= "generic",
	[LB_MODE_TCX]		= "tcx",
	[LB_MODE_CLSACT]	= "clsact",
	NULL,
};

static const char *const ctr_names[LB_CTR_MAX + 1] = {
	[LB_CTR_RX]		= "rx",
	[LB_CTR_IPV4]		= "ipv4",
	[LB_CTR_IPV6]		= "ipv6",
	[LB_CTR_NONIP]		= "nonip",
	[LB_CTR_TCP]		= "tcp",
	[LB_CTR_UDP]		= "udp",
	[LB_CTR_ICMP]		= "icmp",
	[LB_CTR_ICMPV6]		= "icmpv6",
	[LB_CTR_FRAG]		= "frag",
	[LB_CTR_L4_OTHER]	= "l4-other",
	[LB_CTR_MALFORMED]	= "malformed",
};

const char *lb_hook_name(enum lb_hook hook)
{
	return lb_name_of(lb_hook_names, hook) ?: "unknown";
}

const char *lb_hook_prog(enum lb_hook hook)
{
	return (unsigned int)hook < LB_HOOK_MAX ? hook_progs[hook] : NULL;
}

int lb_hook_parse(const char *s, enum lb_hook *hook)
{
	uint64_t v;

	if (lb_name_parse(lb_hook_names, s, &v))
		return -EINVAL;
	*hook = v;
	return 0;
}

const char *lb_mode_name(enum lb_attach_mode mode)
{
	return (unsigned int)mode <= LB_MODE_CLSACT ? mode_names[mode] : "unknown";
}

int lb_mode_parse(const char *s, enum lb_attach_mode *mode)
{
	int i = lb_match_keyword(s, mode_names);

	if (i < 0)
		return -EINVAL;
	*mode = i;
	return 0;
}

const char *lb_ctr_name(enum lb_ctr ctr)
{
	return (unsigned int)ctr < LB_CTR_MAX ? ctr_names[ctr] : "unknown";
}

int lb_match_keyword(const char *arg, const char *const *words)
{
	size_t n = strlen(arg);
	int found = -ENOENT;

	if (!n)
		return -ENOENT;
	for (int i = 0; words[i]; i++) {
		if (!strcmp(arg, words[i]))
			return i;
		if (!strncmp(arg, words[i], n))
			found = found == -ENOENT ? i : -EEXIST;
	}
	return found;
}

const struct lb_name lb_family_names[] = {
	{ LB_AF_INET, "inet" }, { LB_AF_INET6, "inet6" }, { 0, NULL },
};
const struct lb_name lb_proto_names[] = {
	{ 1, "icmp" }, { 6, "tcp" }, { 17, "udp" }, { 58, "icmpv6" }, { 0, NULL },
};
const struct lb_name lb_sched_names[] = {
	{ LB_SCHED_RR, "rr" }, { LB_SCHED_WRR, "wrr" }, { LB_SCHED_RANDOM, "random" },
	{ LB_SCHED_HASH, "hash" }, { LB_SCHED_MAGLEV, "maglev" }, { LB_SCHED_LC, "lc" },
	{ 0, NULL },
};
const struct lb_name lb_nat_names[] = {
	{ LB_NAT_DNAT, "dnat" }, { LB_NAT_FULLNAT, "fullnat" }, { 0, NULL },
};
const struct lb_name lb_ep_status_names[] = {
	{ LB_EP_UP, "up" }, { LB_EP_DRAIN, "drain" }, { LB_EP_DOWN, "down" }, { 0, NULL },
};
const struct lb_name lb_check_type_names[] = {
	{ LB_CHECK_INHERIT, "inherit" }, { LB_CHECK_NONE, "none" }, { LB_CHECK_TCP, "tcp" },
	{ LB_CHECK_HTTP, "http" }, { LB_CHECK_UDP, "udp" }, { 0, NULL },
};
const struct lb_name lb_health_state_names[] = {
	{ LB_HEALTH_UNKNOWN, "unknown" }, { LB_HEALTH_UP, "up" }, { LB_HEALTH_DOWN, "down" },
	{ 0, NULL },
};
const struct lb_name lb_probe_result_names[] = {
	{ LB_HEALTH_NONE, "none" }, { LB_HEALTH_OK, "ok" }, { LB_HEALTH_FAIL, "fail" }, { 0, NULL },
};
const struct lb_name lb_ct_state_names[] = {
	{ LB_CT_NEW, "new" }, { LB_CT_EST, "established" }, { LB_CT_CLOSING, "closing" },
	{ 0, NULL },
};
const struct lb_name lb_hook_names[] = {
	{ LB_HOOK_XDP, "xdp" }, { LB_HOOK_TC_INGRESS, "tc-ingress" },
	{ LB_HOOK_TC_EGRESS, "tc-egress" }, { 0, NULL },
};
const struct lb_name lb_ep_flag_names[] = {
	{ LB_EP_F_SICK, "sick" }, { 0, NULL },
};
const struct lb_name lb_svc_flag_names[] = {
	{ LB_SVC_F_SNAT_IFADDR, "snat-ifaddr" }, { 0, NULL },
};
const struct lb_name lb_ct_flag_names[] = {
	{ LB_CT_F_REPLY, "reply" }, { LB_CT_F_SNAT, "snat" }, { LB_CT_F_ACTIVE, "active" },
	{ LB_CT_F_REPLIED, "replied" },
	{ 0, NULL },
};

const char *lb_name_of(const struct lb_name *t, uint64_t v)
{
	for (; t->name; t++)
		if (t->v == v)
			return t->name;
	return NULL;
}

/* Exact names only: these are values, where a prefix would be a guess. */
int lb_name_parse(const struct lb_name *t, const char *s, uint64_t *v)
{
	for (; t->name; t++) {
		if (!strcmp(s, t->name)) {
			*v = t->v;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const timeout_names[] = {
	[LB_TO_TCP_SYN] = "tcp-syn", [LB_TO_TCP_EST] = "tcp-est", [LB_TO_TCP_FIN] = "tcp-fin",
	[LB_TO_UDP] = "udp", NULL,
};
static const char *const drop_names[LB_DROP_MAX] = {
	[LB_DROP_NONE] = "none",
	[LB_DROP_NO_ENDPOINT] = "no-endpoint",
	[LB_DROP_NOT_ALLOWED] = "not-allowed",
	[LB_DROP_CT_FULL] = "conntrack-full",
	[LB_DROP_NO_SNAT_PORT] = "no-snat-port",
	[LB_DROP_NO_SNAT_ADDR] = "no-snat-address",
	[LB_DROP_REWRITE] = "rewrite-failed",
	[LB_DROP_CT_EARLY] = "conntrack-early",
};

#define NAME_OF(t, v) (lb_name_of(t, (v)) ?: "unknown")
#define PARSE_INTO(t, s, out)					\
	({ uint64_t v_;						\
	   int err_ = lb_name_parse(t, s, &v_);			\
	   if (!err_) *(out) = v_;				\
	   err_; })

const char *lb_sched_name(enum lb_sched s) { return NAME_OF(lb_sched_names, s); }
int lb_sched_parse(const char *s, enum lb_sched *out) { return PARSE_INTO(lb_sched_names, s, out); }
const char *lb_nat_mode_name(enum lb_nat_mode m) { return NAME_OF(lb_nat_names, m); }
int lb_nat_mode_parse(const char *s, enum lb_nat_mode *out)
{
	return PARSE_INTO(lb_nat_names, s, out);
}
const char *lb_ep_status_name(enum lb_ep_status s) { return NAME_OF(lb_ep_status_names, s); }
int lb_ep_status_parse(const char *s, enum lb_ep_status *out)
{
	return PARSE_INTO(lb_ep_status_names, s, out);
}
const char *lb_ct_state_name(enum lb_ct_state s) { return NAME_OF(lb_ct_state_names, s); }
const char *lb_check_type_name(enum lb_check_type t) { return NAME_OF(lb_check_type_names, t); }
const char *lb_health_state_name(enum lb_health_state s)
{
	return NAME_OF(lb_health_state_names, s);
}
const char *lb_probe_result_name(enum lb_probe_result r)
{
	return NAME_OF(lb_probe_result_names, r);
}
const char *lb_drop_name(enum lb_drop d)
{
	return (unsigned int)d < LB_DROP_MAX && drop_names[d] ? drop_names[d] : "unknown";
}

const char *lb_timeout_name(enum lb_timeout t)
{
	return (unsigned int)t < sizeof(timeout_names) / sizeof(timeout_names[0]) ?
	       timeout_names[t] : NULL;
}
