/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * liblb's typed map values (lb/btfval_*.c), private: what a BTF type id stands for
 * (btfval_type.c) and the byte helpers the walk, the text form, the parser and the
 * per-CPU sum share.
 */
#ifndef LB_BTFVAL_H
#define LB_BTFVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include "names.h"

enum leaf {
	LK_COMPOSITE,	/* struct or union */
	LK_ARRAY,	/* array of anything but char */
	LK_UINT,
	LK_INT,
	LK_BOOL,
	LK_ENUM,	/* a BTF enum */
	LK_BE,		/* __be16, __be32, __be64: unsigned, network order */
	LK_ADDR,	/* struct lb_addr */
	LK_ADDR4,	/* struct in_addr */
	LK_ADDR6,	/* struct in6_addr */
	LK_NAMES,	/* an integer named by a field table */
	LK_FLAGS,	/* an integer of flags named by a field table */
	LK_STRING,	/* char array */
	LK_HEX,		/* anything else: raw bytes */
};

struct tinfo {
	enum leaf kind;
	uint32_t id;			/* resolved type id; 0: raw */
	const struct btf_type *t;	/* resolved type, NULL when raw */
	uint32_t size;
	bool is_signed;
	const struct lb_name *names;	/* LK_NAMES, LK_FLAGS */
};

/* A type's name, "" when it has none. */
const char *btfval_type_name(const struct btf *btf, const struct btf_type *t);

static inline bool is_scalar(enum leaf k)
{
	return k != LK_COMPOSITE && k != LK_ARRAY;
}

/* What the type id stands for; sname/member name the field for the tables of the
 * named fields.  Without btf or id: raw_size bytes, an integer when 1, 2, 4 or 8. */
void btfval_classify(const struct btf *btf, uint32_t id, size_t raw_size, const char *sname,
		     const char *member, struct tinfo *ti);

/* The name of enumerator i of enum t: without the prefix all its names share, in
 * lower case with '-' for '_' (LB_HOOK_TC_INGRESS -> tc-ingress). */
void btfval_enum_short(const struct btf *btf, const struct btf_type *t, int i, char *buf,
		       size_t len);
/* An enumerator that counts the others (LB_HOOK_MAX) rather than naming a value. */
bool btfval_enum_sentinel(const struct btf *btf, const struct btf_type *t, int i);
uint64_t btfval_enum_value(const struct btf_type *t, int i);

static inline uint64_t load_uint(const uint8_t *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	case 8: memcpy(&u64, p, 8); return u64;
	}
	return 0;
}

static inline void store_uint(uint8_t *p, size_t size, uint64_t v)
{
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;

	switch (size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	case 8: memcpy(p, &v, 8); break;
	}
}

static inline uint64_t swap_be(uint64_t v, size_t size)
{
	switch (size) {
	case 2: return ntohs((uint16_t)v);
	case 4: return ntohl((uint32_t)v);
	case 8: return be64toh(v);
	}
	return v;
}

static inline int64_t sign_extend(uint64_t v, unsigned int bits)
{
	if (bits >= 64)
		return (int64_t)v;
	if (v & (1ULL << (bits - 1)))
		v |= ~0ULL << bits;
	return (int64_t)v;
}

/* Bitfield of bits bits at bit offset boff from p (little-endian bit numbering). */
static inline uint64_t load_bits(const uint8_t *p, unsigned int boff, unsigned int bits)
{
	uint64_t v = 0;

	for (unsigned int b = 0; b < bits; b++) {
		unsigned int at = boff + b;

		if (p[at / 8] & (1u << (at % 8)))
			v |= 1ULL << b;
	}
	return v;
}

static inline void store_bits(uint8_t *p, unsigned int boff, unsigned int bits, uint64_t v)
{
	for (unsigned int b = 0; b < bits; b++) {
		unsigned int at = boff + b;

		if (v & (1ULL << b))
			p[at / 8] |= 1u << (at % 8);
		else
			p[at / 8] &= ~(1u << (at % 8));
	}
}

static inline bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

#endif
