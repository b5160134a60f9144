/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Packet building for datapath tests: Ethernet, VLAN, IPv4, IPv6 (+ extension
 * headers), TCP, UDP, ICMP, with valid checksums computed here, independently of
 * the datapath.  Addresses from 198.18.0.0/15 and 2001:db8::/32.
 */
#ifndef LB_TEST_PKT_H
#define LB_TEST_PKT_H

#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

struct pkt {
	uint8_t b[2048];
	size_t len;
	size_t l3, l4;		/* offsets of the IP and L4 headers */
	uint8_t proto;		/* L4 protocol built last, for checksums */
};

static inline void put8(struct pkt *p, uint8_t v) { p->b[p->len++] = v; }
static inline void put16(struct pkt *p, uint16_t v) { put8(p, v >> 8); put8(p, v & 0xff); }
static inline void put32(struct pkt *p, uint32_t v) { put16(p, v >> 16); put16(p, v & 0xffff); }
static inline void putn(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}
static inline void set16(struct pkt *p, size_t off, uint16_t v)
{
	p->b[off] = v >> 8;
	p->b[off + 1] = v & 0xff;
}

/* One's-complement sum, folded, not inverted. */
static inline uint32_t csum_add(uint32_t sum, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (d[i] << 8) | d[i + 1];
	if (n & 1)
		sum += d[n - 1] << 8;
	return sum;
}
static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void eth(struct pkt *p, uint16_t proto)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	p->len = 0;
	putn(p, dst, 6);
	putn(p, src, 6);
	put16(p, proto);
}

static inline void vlan(struct pkt *p, uint16_t tpid_after, uint16_t vid)
{
	/* Turns the current ethertype into a tag: caller passed the TPID to eth(). */
	put16(p, vid);
	put16(p, tpid_after);
}

/* IPv4 header; total length and checksum are fixed by ip4_finish(). */
static inline void ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto,
		       uint16_t frag_off)
{
	struct in_addr a;

	p->l3 = p->len;
	put8(p, 0x45);
	put8(p, 0);
	put16(p, 0);		/* tot_len */
	put16(p, 0x1234);
	put16(p, frag_off);
	put8(p, 64);
	put8(p, proto);
	put16(p, 0);		/* csum */
	inet_pton(AF_INET, src, &a);
	putn(p, &a, 4);
	inet_pton(AF_INET, dst, &a);
	putn(p, &a, 4);
	p->l4 = p->len;
}

static inline void ip6(struct pkt *p, const char *src, const char *dst, uint8_t nexthdr)
{
	struct in6_addr a;

	p->l3 = p->len;
	put32(p, 0x60000000);
	put16(p, 0);		/* payload length */
	put8(p, nexthdr);
	put8(p, 64);
	inet_pton(AF_INET6, src, &a);
	putn(p, &a, 16);
	inet_pton(AF_INET6, dst, &a);
	putn(p, &a, 16);
	p->l4 = p->len;
}

/* An 8-byte IPv6 option header (hop-by-hop, destination, routing) with padding. */
static inline void ip6_opt(struct pkt *p, uint8_t nexthdr)
{
	put8(p, nexthdr);
	put8(p, 0);
	put8(p, 1);		/* PadN */
	put8(p, 4);
	put32(p, 0);
	p->l4 = p->len;
}

static inline void ip6_frag(struct pkt *p, uint8_t nexthdr, uint16_t offset, int more)
{
	put8(p, nexthdr);
	put8(p, 0);
	put16(p, (offset << 3) | (more ? 1 : 0));
	put32(p, 0xabcd);
	p->l4 = p->len;
}

static inline void tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	p->proto = 6;
	put16(p, sport);
	put16(p, dport);
	put32(p, 1000);
	put32(p, 0);
	put8(p, 5 << 4);
	put8(p, flags);
	put16(p, 65535);
	put16(p, 0);		/* csum */
	put16(p, 0);
}

static inline void udp(struct pkt *p, uint16_t sport, uint16_t dport, const char *payload)
{
	p->proto = 17;
	put16(p, sport);
	put16(p, dport);
	put16(p, 8 + strlen(payload));
	put16(p, 0);
	putn(p, payload, strlen(payload));
}

/* type 8: ICMP echo request; type 128: ICMPv6 echo request. */
static inline void icmp_echo(struct pkt *p, uint8_t type, uint16_t id, uint16_t seq)
{
	p->proto = type >= 128 ? 58 : 1;
	put8(p, type);
	put8(p, 0);
	put16(p, 0);
	put16(p, id);
	put16(p, seq);
	putn(p, "pingpingpingping", 16);
}

/* Fix lengths and checksums of whatever was built (IPv4 or IPv6, L4 at p->l4). */
static inline void finish(struct pkt *p)
{
	uint8_t *ip = p->b + p->l3;
	size_t l4len = p->len - p->l4;
	uint8_t proto = p->proto;
	uint32_t sum = 0;
	size_t csum_off;

	if ((ip[0] >> 4) == 4) {
		set16(p, p->l3 + 2, p->len - p->l3);
		set16(p, p->l3 + 10, 0);
		set16(p, p->l3 + 10, csum_fold(csum_add(0, ip, 20)));
		if ((ip[6] & 0x1f) || ip[7])	/* a fragment: leave L4 alone */
			return;
		if (proto != 1) {
			sum = csum_add(sum, ip + 12, 8);
			sum += proto + l4len;
		}
	} else {
		set16(p, p->l3 + 4, p->len - p->l3 - 40);
		proto = p->proto;
		sum = csum_add(sum, ip + 8, 32);
		sum += l4len + proto;
	}
	switch (proto) {
	case 6: csum_off = 16; break;
	case 17: csum_off = 6; break;
	case 1: case 58: csum_off = 2; break;
	default: return;
	}
	if (p->l4 + csum_off + 2 > p->len)
		return;
	set16(p, p->l4 + csum_off, 0);
	set16(p, p->l4 + csum_off, csum_fold(csum_add(sum, p->b + p->l4, l4len)));
}

/* Verify an L4 checksum independently: 0 when valid. */
static inline int verify_l4_csum(const struct pkt *p, uint8_t proto)
{
	const uint8_t *ip = p->b + p->l3;
	size_t l4len = p->len - p->l4;
	uint32_t sum = 0;

	if ((ip[0] >> 4) == 4) {
		if (proto != 1) {
			sum = csum_add(sum, ip + 12, 8);
			sum += proto + l4len;
		}
	} else {
		sum = csum_add(sum, ip + 8, 32);
		sum += l4len + proto;
	}
	return csum_fold(csum_add(sum, p->b + p->l4, l4len)) != 0;
}


/*
 * Helpers for the load-balancing tests (nat_test.c): packets with chosen MAC
 * addresses, TTLs and TCP sequence numbers, and checks of packets read back.
 */

static inline uint16_t get16(const struct pkt *p, size_t off)
{
	return (uint16_t)(p->b[off] << 8 | p->b[off + 1]);
}

/* Ethernet header with the given addresses (starts a new packet, like eth()). */
static inline void eth_mac(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
			   uint16_t proto)
{
	p->len = 0;
	putn(p, dst, 6);
	putn(p, src, 6);
	put16(p, proto);
}

/* TTL (IPv4) or hop limit (IPv6) of the IP header at p->l3; call before finish(). */
static inline void set_ttl(struct pkt *p, uint8_t ttl)
{
	if ((p->b[p->l3] >> 4) == 4)
		p->b[p->l3 + 8] = ttl;
	else
		p->b[p->l3 + 7] = ttl;
}

static inline void tcp_seq(struct pkt *p, uint16_t sport, uint16_t dport, uint32_t seq,
			   uint32_t ack, uint8_t flags)
{
	p->proto = 6;
	put16(p, sport);
	put16(p, dport);
	put32(p, seq);
	put32(p, ack);
	put8(p, 5 << 4);
	put8(p, flags);
	put16(p, 65535);
	put16(p, 0);		/* csum */
	put16(p, 0);
}

/* finish(), and a computed UDP checksum of 0 goes on the wire as 0xffff (RFC 768). */
static inline void finish_tx(struct pkt *p)
{
	finish(p);
	if (p->proto == 17 && p->l4 + 8 <= p->len && get16(p, p->l4 + 6) == 0)
		set16(p, p->l4 + 6, 0xffff);
}

/* IPv4 header checksum of the header at p->l3: 0 when valid. */
static inline int verify_ip4_csum(const struct pkt *p)
{
	const uint8_t *ip = p->b + p->l3;

	return csum_fold(csum_add(0, ip, (ip[0] & 0x0f) * 4)) != 0;
}

/*
 * Find the headers of a packet read back (Ethernet, up to two VLAN tags, IPv4 or
 * IPv6 with option/fragment extension headers): sets l3, l4 and proto.  0, or -1 when it is
 * none of those or cut short.
 */
static inline int pkt_parse(struct pkt *p)
{
	size_t off = 12;
	uint16_t proto;

	if (p->len < 14)
		return -1;
	proto = get16(p, off);
	off += 2;
	for (int i = 0; i < 2 && (proto == 0x8100 || proto == 0x88a8); i++) {
		if (off + 4 > p->len)
			return -1;
		proto = get16(p, off + 2);
		off += 4;
	}
	p->l3 = off;
	if (proto == 0x0800) {
		if (off + 20 > p->len || (p->b[off] >> 4) != 4 || (p->b[off] & 0x0f) < 5)
			return -1;
		p->l4 = off + (p->b[off] & 0x0f) * 4;
		p->proto = p->b[off + 9];
	} else if (proto == 0x86dd) {
		if (off + 40 > p->len || (p->b[off] >> 4) != 6)
			return -1;
		uint8_t nh = p->b[off + 6];

		off += 40;
		/* Hop-by-hop, routing, destination options, fragment (first). */
		for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
			if (off + 8 > p->len)
				return -1;
			nh = p->b[off];
			off += nh == 44 ? 8 : (p->b[off + 1] + 1) * 8;
		}
		p->l4 = off;
		p->proto = nh;
	} else {
		return -1;
	}
	return p->l4 <= p->len ? 0 : -1;
}

#endif
