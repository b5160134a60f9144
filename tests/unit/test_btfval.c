// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Typed map values without a kernel: BTF built in memory (btf__new_empty and
 * btf__add_*) with the shapes of lb_abi.h, formatted to text and walked (the items
 * lbmap prints as JSON), parsed back to the byte, bad input, per-CPU sums.
 */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include "tap.h"
#include <lb/lb.h>

/* The types, their ids in the BTF below. */
static struct btf *btf;
static int t_u8, t_u16, t_u32, t_u64, t_int, t_be16, t_hook, t_addr, t_svc_key, t_ct,
	   t_rec, t_pair, t_timer_box, t_big_enum, t_u32x4;

/*
 * struct lb_svc_key and struct lb_ct (the part with the named fields) as lb_abi.h has
 * them; struct rec: every other kind of field.
 *   struct pair { __u64 packets; __u64 bytes; };
 *   struct rec {
 *           enum lb_hook hook;       0     int delta;    4
 *           _Bool on;                8     char name[7]; 9
 *           __u32 eps[4];            16    struct pair ctr[2];  32
 *           __u32 low:4, high:12;    64 (bits 512, 516)
 *   };                               68
 */
static void build_btf(void)
{
	int t_bool, t_char, t_u8x3, t_charx7, t_pairx2, t_timer;

	btf = btf__new_empty();
	t_u8 = btf__add_int(btf, "__u8", 1, 0);
	t_u16 = btf__add_int(btf, "__u16", 2, 0);
	t_u32 = btf__add_int(btf, "__u32", 4, 0);
	t_u64 = btf__add_int(btf, "__u64", 8, 0);
	t_int = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	t_bool = btf__add_int(btf, "_Bool", 1, BTF_INT_BOOL);
	t_char = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	t_be16 = btf__add_typedef(btf, "__be16", t_u16);

	t_hook = btf__add_enum(btf, "lb_hook", 4);
	btf__add_enum_value(btf, "LB_HOOK_XDP", 0);
	btf__add_enum_value(btf, "LB_HOOK_TC_INGRESS", 1);
	btf__add_enum_value(btf, "LB_HOOK_TC_EGRESS", 2);
	btf__add_enum_value(btf, "LB_HOOK_MAX", 3);

	t_u32x4 = btf__add_array(btf, t_u32, t_u32, 4);
	t_addr = btf__add_struct(btf, "lb_addr", 16);
	btf__add_field(btf, "a", t_u32x4, 0, 0);

	t_u8x3 = btf__add_array(btf, t_u32, t_u8, 3);
	t_svc_key = btf__add_struct(btf, "lb_svc_key", 24);
	btf__add_field(btf, "vip", t_addr, 0, 0);
	btf__add_field(btf, "port", t_be16, 128, 0);
	btf__add_field(btf, "proto", t_u8, 144, 0);
	btf__add_field(btf, "family", t_u8, 152, 0);
	btf__add_field(btf, "gen", t_u8, 160, 0);
	btf__add_field(btf, "pad", t_u8x3, 168, 0);

	t_ct = btf__add_struct(btf, "lb_ct", 8);
	btf__add_field(btf, "state", t_u8, 0, 0);
	btf__add_field(btf, "flags", t_u8, 8, 0);
	btf__add_field(btf, "pad", t_u16, 16, 0);
	btf__add_field(btf, "svc_id", t_u32, 32, 0);

	t_pair = btf__add_struct(btf, "pair", 16);
	btf__add_field(btf, "packets", t_u64, 0, 0);
	btf__add_field(btf, "bytes", t_u64, 64, 0);

	t_charx7 = btf__add_array(btf, t_u32, t_char, 7);
	t_pairx2 = btf__add_array(btf, t_u32, t_pair, 2);
	t_rec = btf__add_struct(btf, "rec", 68);
	btf__add_field(btf, "hook", t_hook, 0, 0);
	btf__add_field(btf, "delta", t_int, 32, 0);
	btf__add_field(btf, "on", t_bool, 64, 0);
	btf__add_field(btf, "name", t_charx7, 72, 0);
	btf__add_field(btf, "eps", t_u32x4, 128, 0);
	btf__add_field(btf, "ctr", t_pairx2, 256, 0);
	btf__add_field(btf, "low", t_u32, 512, 4);
	btf__add_field(btf, "high", t_u32, 516, 12);

	t_timer = btf__add_struct(btf, "bpf_timer", 16);
	btf__add_field(btf, "opaque", t_u32x4, 0, 0);
	t_timer_box = btf__add_struct(btf, "timer_box", 24);
	btf__add_field(btf, "runs", t_u64, 0, 0);
	btf__add_field(btf, "timer", t_timer, 64, 0);

	t_big_enum = btf__add_enum64(btf, "big", 8, false);
	btf__add_enum64_value(btf, "BIG_SMALL", 1);
	btf__add_enum64_value(btf, "BIG_HUGE", 1ULL << 40);
}

/* Parse a line of words (split on blanks) into data; returns lb_btf_parse's result. */
static int parse_line(int type_id, size_t size, const char *line, void *data, char *err,
		      size_t errlen)
{
	char copy[256], *argv[32], *save = NULL;
	int argc = 0, used = 0, rc;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *w = strtok_r(copy, " ", &save); w && argc < 32; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	rc = lb_btf_parse(btf, type_id, size, argc, argv, NULL, data, &used, err, errlen);
	if (!rc && used != argc)
		return -E2BIG;
	return rc;
}

/* The error of parsing line into a zeroed value of the type. */
static const char *parse_err(int type_id, size_t size, const char *line)
{
	static char err[256];
	uint8_t data[128] = {};

	if (parse_line(type_id, size, line, data, err, sizeof(err)) != -EINVAL)
		snprintf(err, sizeof(err), "(no error)");
	return err;
}

static void svc_key_formats_and_parses_back(void)
{
	static const uint8_t bytes[24] = {
		198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* vip */
		0, 80,		/* port, network order */
		6, 4, 1,	/* proto tcp, family inet, gen 1 */
	};
	uint8_t back[24] = {};
	char text[256], err[128] = "";

	CHECK(lb_btf_format(btf, t_svc_key, bytes, sizeof(bytes), text, sizeof(text)) > 0,
	      "format");
	CHECK_STR(text, "vip 198.18.0.1 port 80 proto tcp family inet gen 1");
	/* family is left out: it follows the address. */
	CHECK(parse_line(t_svc_key, sizeof(back), "vip 198.18.0.1 port 80 proto tcp gen 1", back,
			 err, sizeof(err)) == 0, "parse: %s", err);
	CHECK(!memcmp(back, bytes, sizeof(bytes)), "bytes differ");
}

static void ipv6_key_and_numbers_for_names(void)
{
	uint8_t v[24] = {}, want[16];
	char text[256], err[128] = "";

	CHECK(parse_line(t_svc_key, sizeof(v), "vip 2001:db8::1 port 0x1bb proto 17", v, err,
			 sizeof(err)) == 0, "parse: %s", err);
	inet_pton(AF_INET6, "2001:db8::1", want);
	CHECK(!memcmp(v, want, 16), "address bytes");
	CHECK(v[16] == 0x01 && v[17] == 0xbb, "port %02x %02x", v[16], v[17]);
	CHECK(v[18] == 17 && v[19] == LB_AF_INET6, "proto %u family %u", v[18], v[19]);
	lb_btf_format(btf, t_svc_key, v, sizeof(v), text, sizeof(text));
	CHECK_STR(text, "vip 2001:db8::1 port 443 proto udp family inet6 gen 0");
	/* A value no table names is a number, and reads back as one. */
	v[18] = 99;
	lb_btf_format(btf, t_svc_key, v, sizeof(v), text, sizeof(text));
	CHECK_STR(text, "vip 2001:db8::1 port 443 proto 99 family inet6 gen 0");
}

static void flags_and_states(void)
{
	uint8_t v[8] = { LB_CT_EST, LB_CT_F_REPLY | LB_CT_F_SNAT | 0x80, 0, 0, 7 }, back[8] = {};
	char text[128], err[128] = "";

	lb_btf_format(btf, t_ct, v, sizeof(v), text, sizeof(text));
	CHECK_STR(text, "state established flags reply,snat,0x80 svc_id 7");
	CHECK(parse_line(t_ct, sizeof(back), "state established flags reply,snat,0x80 svc_id 7",
			 back, err, sizeof(err)) == -EINVAL, "0x80 is no flag name");
	CHECK(parse_line(t_ct, sizeof(back), "state ESTABLISHED flags reply|snat svc_id 7", back,
			 err, sizeof(err)) == 0, "parse: %s", err);
	CHECK(back[0] == LB_CT_EST && back[1] == (LB_CT_F_REPLY | LB_CT_F_SNAT) && back[4] == 7,
	      "bytes %u %u %u", back[0], back[1], back[4]);
	CHECK(parse_line(t_ct, sizeof(back), "flags 131", back, err, sizeof(err)) == 0, "%s", err);
	CHECK(back[1] == 131, "flags as a number: %u", back[1]);
}

static void rec_every_kind_of_field(void)
{
	uint8_t v[68] = {}, back[68] = {};
	int32_t delta = -5;
	uint32_t eps[4] = { 3, 4, 0, 0 }, bits = 9 | 300 << 4;
	uint64_t ctr[4] = { 10, 1500, 0, 0 };
	char text[512], err[128] = "";

	v[0] = LB_HOOK_TC_INGRESS;
	memcpy(v + 4, &delta, 4);
	v[8] = 1;
	memcpy(v + 9, "a b", 3);
	memcpy(v + 16, eps, sizeof(eps));
	memcpy(v + 32, ctr, sizeof(ctr));
	memcpy(v + 64, &bits, 4);
	lb_btf_format(btf, t_rec, v, sizeof(v), text, sizeof(text));
	CHECK_STR(text, "hook tc-ingress delta -5 on true name \"a b\" eps 3,4 "
			"ctr[0].packets 10 ctr[0].bytes 1500 low 9 high 300");
	/* Read back word by word (the quoted name is one word for a shell, not here). */
	CHECK(parse_line(t_rec, sizeof(back), "hook LB_HOOK_TC_INGRESS delta -5 on true eps 3,4 "
			 "ctr[0].packets 10 ctr[0].bytes 1500 low 9 high 300", back, err,
			 sizeof(err)) == 0, "parse: %s", err);
	memcpy(back + 9, "a b", 3);
	CHECK(!memcmp(back, v, sizeof(v)), "bytes differ");
}

struct item_log {
	char text[512];
	size_t off;
};

static int log_item(const struct lb_btf_item *it, void *cookie)
{
	static const char *const kinds[] = { "u", "i", "b", "s", "{", "}", "[", "]" };
	struct item_log *l = cookie;

	l->off += snprintf(l->text + l->off, sizeof(l->text) - l->off, "%s%s%s", l->off ? " " : "",
			   kinds[it->kind], it->path);
	if (it->kind == LB_BTF_STR)
		l->off += snprintf(l->text + l->off, sizeof(l->text) - l->off, "=%s", it->s);
	else if (it->kind == LB_BTF_UINT || it->kind == LB_BTF_BOOL)
		l->off += snprintf(l->text + l->off, sizeof(l->text) - l->off, "=%llu",
				   (unsigned long long)it->u);
	else if (it->kind == LB_BTF_INT)
		l->off += snprintf(l->text + l->off, sizeof(l->text) - l->off, "=%lld",
				   (long long)it->i);
	else if (it->kind == LB_BTF_ARR)
		l->off += snprintf(l->text + l->off, sizeof(l->text) - l->off, "(%u/%u)",
				   it->used, it->len);
	return 0;
}

/* The items the JSON of lbmap is printed from: kinds, paths, values, array use. */
static void walk_items(void)
{
	uint8_t v[24] = { 198, 18, 0, 1 };
	struct item_log l = {};

	v[17] = 80;
	v[18] = 6;
	v[19] = LB_AF_INET;
	v[21] = 2;	/* pad[0]: an array, used up to its last element that is not 0 */
	CHECK(lb_btf_walk(btf, t_svc_key, v, sizeof(v), log_item, &l) == 0, "walk");
	CHECK_STR(l.text, "{ svip=198.18.0.1 uport=80 sproto=tcp sfamily=inet ugen=0 "
			  "[pad(1/3) upad[0]=2 upad[1]=0 upad[2]=0 ]pad }");
}

static void truncated_and_bad_input(void)
{
	CHECK_STR(parse_err(t_svc_key, 24, "port 65536"),
		  "field 'port': '65536' out of range 0..65535");
	CHECK_STR(parse_err(t_svc_key, 24, "port -1"), "field 'port': '-1' out of range 0..65535");
	CHECK_STR(parse_err(t_svc_key, 24, "port 8o"), "field 'port': '8o' is not a number");
	CHECK_STR(parse_err(t_rec, 68, "delta 2147483648"),
		  "field 'delta': '2147483648' out of range -2147483648..2147483647");
	CHECK_STR(parse_err(t_rec, 68, "high 4096"), "field 'high': '4096' out of range 0..4095");
	CHECK_STR(parse_err(t_svc_key, 24, "vport 80"), "field 'vport' unknown");
	CHECK_STR(parse_err(t_svc_key, 24, "port 80 port 81"), "field 'port': given twice");
	CHECK_STR(parse_err(t_svc_key, 24, "vip 198.18.0.1 port"), "field 'port': missing value");
	CHECK_STR(parse_err(t_svc_key, 24, "vip 198.18.0.256"),
		  "field 'vip': '198.18.0.256' is not an IPv4 or IPv6 address");
	CHECK_STR(parse_err(t_svc_key, 24, "proto sctp"),
		  "field 'proto': 'sctp' unknown, expected one of icmp, tcp, udp, icmpv6 or a number");
	CHECK_STR(parse_err(t_rec, 68, "hook tc"),
		  "field 'hook': 'tc' unknown, expected one of xdp, tc-ingress, tc-egress or a number");
	CHECK_STR(parse_err(t_rec, 68, "eps 1,2,3,4,5"), "field 'eps': more than 4 values");
	CHECK_STR(parse_err(t_rec, 68, "eps[4] 1"), "field 'eps[4]': index 4 out of range 0..3");
	CHECK_STR(parse_err(t_rec, 68, "name abcdefg"),
		  "field 'name': 'abcdefg' longer than 6 characters");
	CHECK_STR(parse_err(t_rec, 68, "on yes"), "field 'on': 'yes': expected true or false");
	CHECK_STR(parse_err(t_rec, 68, "ctr 1"),
		  "field 'ctr': has fields of its own: name them (see 'lbmap show')");
	CHECK_STR(parse_err(t_svc_key, 24, "hex 01 02 03"), "hex: 3 bytes, expected 24");
	CHECK_STR(parse_err(t_svc_key, 24, "hex 0g"), "hex: '0g' is not hexadecimal bytes");
	CHECK_STR(parse_err(t_u32, 4, "7 8"), "unexpected '8' after the value");
	CHECK_STR(parse_err(t_u32, 8, "7"), "type of 4 bytes for 8 bytes");
}

/* A map without BTF: a number for 1, 2, 4 or 8 bytes, else hex bytes. */
static void raw_values(void)
{
	uint8_t v3[3] = { 1, 0xab, 3 }, back3[3] = {}, v4[4] = {};
	char text[64], err[128] = "";
	int used;
	char *argv[] = { "hex", "01", "ab03" }, *num[] = { "4294967295" };

	lb_btf_format(NULL, 0, v3, sizeof(v3), text, sizeof(text));
	CHECK_STR(text, "hex 01 ab 03");
	CHECK(lb_btf_parse(NULL, 0, 3, 3, argv, NULL, back3, &used, err, sizeof(err)) == 0,
	      "hex: %s", err);
	CHECK(used == 3 && !memcmp(back3, v3, 3), "used %d", used);
	CHECK(lb_btf_parse(NULL, 0, 4, 1, num, NULL, v4, &used, err, sizeof(err)) == 0, "%s", err);
	CHECK(!memcmp(v4, "\xff\xff\xff\xff", 4), "all ones");
	lb_btf_format(NULL, 0, v4, sizeof(v4), text, sizeof(text));
	CHECK_STR(text, "4294967295");
}

/* Parsing stops at a word of the stop list, where a field name would be. */
static void stop_words(void)
{
	char *argv[] = { "port", "80", "value", "7" }, err[128] = "";
	const char *const stop[] = { "value", NULL };
	uint8_t v[24] = {};
	int used = 0;

	CHECK(lb_btf_parse(btf, t_svc_key, 24, 4, argv, stop, v, &used, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK(used == 2 && v[17] == 80, "used %d", used);
}

static void enum64_and_type_names(void)
{
	uint64_t v = 1ULL << 40, back = 0;
	char text[64], err[128] = "";

	lb_btf_format(btf, t_big_enum, &v, sizeof(v), text, sizeof(text));
	CHECK_STR(text, "huge");
	CHECK(parse_line(t_big_enum, 8, "small", &back, err, sizeof(err)) == 0, "%s", err);
	CHECK(back == 1, "small is %llu", (unsigned long long)back);
	CHECK_STR(lb_btf_type_name(btf, t_svc_key, text, sizeof(text)), "struct lb_svc_key");
	CHECK_STR(lb_btf_type_name(btf, t_hook, text, sizeof(text)), "enum lb_hook");
	CHECK_STR(lb_btf_type_name(btf, t_be16, text, sizeof(text)), "__be16");
	CHECK_STR(lb_btf_type_name(btf, t_u32x4, text, sizeof(text)), "__u32[4]");
	CHECK_STR(lb_btf_type_name(NULL, 0, text, sizeof(text)), "raw");
	CHECK(lb_btf_special(btf, t_timer_box) && !strcmp(lb_btf_special(btf, t_timer_box),
							  "bpf_timer"), "bpf_timer inside");
	CHECK(!lb_btf_special(btf, t_rec), "nothing special in rec");
}

/* Two CPUs: counters add up, other fields come from the first CPU that has them;
 * setting a new sum puts a counter on CPU 0 and writes other fields everywhere. */
static void percpu_sum_and_set(void)
{
	uint8_t cpus[2][24] = {}, sum[24], new_sum[24];
	uint64_t n;

	n = 3;
	memcpy(cpus[0], &n, 8);
	n = 4;
	memcpy(cpus[1], &n, 8);
	cpus[1][8] = 0xaa;	/* timer: not a counter, from CPU 1, the first that has it */
	CHECK(lb_btf_percpu_sum(btf, t_timer_box, 24, cpus, 2, sum) == 0, "sum");
	memcpy(&n, sum, 8);
	CHECK(n == 7 && sum[8] == 0xaa, "runs %llu timer %02x", (unsigned long long)n, sum[8]);
	memcpy(new_sum, sum, sizeof(sum));
	n = 100;
	memcpy(new_sum, &n, 8);
	CHECK(lb_btf_percpu_set(btf, t_timer_box, 24, sum, new_sum, cpus, 2) == 0, "set");
	memcpy(&n, cpus[0], 8);
	CHECK(n == 100, "CPU 0: %llu", (unsigned long long)n);
	memcpy(&n, cpus[1], 8);
	CHECK(n == 0, "CPU 1: %llu", (unsigned long long)n);
	CHECK(cpus[0][8] == 0 && cpus[1][8] == 0xaa, "the unchanged field is left as it was");
}

int main_btfval(void);
int main_btfval(void)
{
	build_btf();
	RUN(svc_key_formats_and_parses_back);
	RUN(ipv6_key_and_numbers_for_names);
	RUN(flags_and_states);
	RUN(rec_every_kind_of_field);
	RUN(walk_items);
	RUN(truncated_and_bad_input);
	RUN(raw_values);
	RUN(stop_words);
	RUN(enum64_and_type_names);
	RUN(percpu_sum_and_set);
	btf__free(btf);
	return 0;
}
