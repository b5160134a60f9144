// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Addresses and prefixes in the ABI's struct lb_addr form. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include "internal.h"

int lb_addr_parse(const char *s, struct lb_addr *addr, uint8_t *family)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, s, &addr->a[0]) == 1) {
		*family = LB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr->a) == 1) {
		*family = LB_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int lb_prefix_parse(const char *s, struct lb_prefix *pfx, uint8_t *family)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	int err;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	err = lb_addr_parse(buf, &pfx->addr, family);
	if (err)
		return err;
	len = *family == LB_AF_INET ? 32 : 128;
	if (slash) {
		unsigned long max = len;

		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end || !slash[1] || len > max)
			return -EINVAL;
	}
	pfx->prefix_len = len;
	lb_prefix_mask(pfx);
	return 0;
}

void lb_prefix_mask(struct lb_prefix *pfx)
{
	uint32_t len = pfx->prefix_len;

	for (int i = 0; i < 4; i++) {
		uint32_t bits = len > 32 ? 32 : len;

		pfx->addr.a[i] &= htonl(bits == 32 ? 0xffffffffu : bits ? ~(0xffffffffu >> bits) : 0);
		len -= bits;
	}
}

const char *lb_addr_str(const struct lb_addr *addr, uint8_t family, char *buf, size_t len)
{
	if (!inet_ntop(family == LB_AF_INET ? AF_INET : AF_INET6,
		       family == LB_AF_INET ? (const void *)&addr->a[0] : (const void *)addr->a,
		       buf, len))
		snprintf(buf, len, "?");
	return buf;
}

void lb_svc_key_init(struct lb_svc_key *k, const struct lb_addr *vip, uint8_t family,
		     uint16_t port_host, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->vip = *vip;
	k->port = htons(port_host);
	k->proto = proto;
	k->family = family;
}

bool lb_addr_fits(const struct lb_addr *addr, uint8_t family)
{
	return family != LB_AF_INET || (!addr->a[1] && !addr->a[2] && !addr->a[3]);
}

/*
 * Why addr cannot be a service's or an endpoint's address, or NULL when it can: a
 * packet to or from an unspecified, loopback, broadcast or multicast address is never
 * one flow between two hosts, and an IPv4-mapped IPv6 address is an IPv4 flow that
 * never arrives as IPv6.
 */
const char *lb_addr_not_unicast(const struct lb_addr *addr, uint8_t family)
{
	if (family == LB_AF_INET) {
		uint32_t a = ntohl(addr->a[0]);

		if (a == 0)
			return "an unspecified address";
		if (a >> 24 == 127)
			return "a loopback address";
		if (a == 0xffffffffu)
			return "the broadcast address";
		if (a >> 28 == 0xe)
			return "a multicast address";
		return NULL;
	}
	if (!addr->a[0] && !addr->a[1] && !addr->a[2]) {
		if (!addr->a[3])
			return "an unspecified address";
		if (addr->a[3] == htonl(1))
			return "a loopback address";
	}
	if (!addr->a[0] && !addr->a[1] && addr->a[2] == htonl(0xffff))
		return "an IPv4-mapped address";
	if ((ntohl(addr->a[0]) >> 24) == 0xff)
		return "a multicast address";
	return NULL;
}
