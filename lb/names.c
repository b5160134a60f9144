// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of hooks, modes and counters, and keyword matching: one table each. */
#include <errno.h>
#include <string.h>
#include "internal.h"

static const char *const hook_names[LB_HOOK_MAX] = {
	[LB_HOOK_XDP]		= "xdp",
	[LB_HOOK_TC_INGRESS]	= "tc-ingress",
	[LB_HOOK_TC_EGRESS]	= "tc-egress",
};

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
	return (unsigned int)hook < LB_HOOK_MAX ? hook_names[hook] : "unknown";
}

const char *lb_hook_prog(enum lb_hook hook)
{
	return (unsigned int)hook < LB_HOOK_MAX ? hook_progs[hook] : NULL;
}

int lb_hook_parse(const char *s, enum lb_hook *hook)
{
	for (int i = 0; i < LB_HOOK_MAX; i++) {
		if (!strcmp(s, hook_names[i])) {
			*hook = i;
			return 0;
		}
	}
	return -EINVAL;
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
