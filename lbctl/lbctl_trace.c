// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl trace: a packet from a short description, run through a private instance
 * of the datapath (liblb's lb_trace(), lb/trace.c), and one line per decision:
 *
 *   packet  tcp 198.18.0.1:40000 > 198.19.0.10:80 syn len 74 dev vl1 tc-ingress
 *   parse   ipv4 tcp
 *   conntrack miss
 *   service 198.19.0.10:80 tcp id 1 sched rr mode dnat
 *   endpoint 198.18.1.2:8080 id 2 (new flow)
 *   nat     tcp 198.18.0.1:40000 > 198.18.1.2:8080 ttl 63
 *   verdict redirect
 *
 * or with -j one JSON object.  Nothing live changes.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include "cli.h"
#include "lbctl.h"

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10

#define TRACE_SPORT	40000	/* source port when the description gives none */
#define TRACE_TOKS	64

static const struct { const char *name; uint8_t bit; } tcp_flags[] = {
	{ "syn", TCP_SYN }, { "ack", TCP_ACK }, { "fin", TCP_FIN }, { "rst", TCP_RST },
};

/* The words, split further at blanks and around '>' (so a quoted description and
 * "A>B" work too).  Returns the count, -1 when there are too many. */
static int tokenize(int argc, char **argv, char *buf, size_t len, char **tok)
{
	size_t off = 0;
	int n = 0;

	for (int i = 0; i < argc; i++) {
		for (const char *s = argv[i]; *s;) {
			size_t w;

			if (isspace((unsigned char)*s)) {
				s++;
				continue;
			}
			w = *s == '>' ? 1 : strcspn(s, " \t\n>");
			if (n >= TRACE_TOKS || off + w + 1 > len)
				return -1;
			memcpy(buf + off, s, w);
			buf[off + w] = '\0';
			tok[n++] = buf + off;
			off += w + 1;
			s += w;
		}
	}
	return n;
}

/* "ADDR", "ADDR:PORT", "[ADDR6]", "[ADDR6]:PORT", or a bare IPv6 address (no port). */
static int parse_hostport(struct cli *cli, const char *what, const char *s, struct lb_addr *addr,
			  uint8_t *family, unsigned long long *port, bool *has_port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *p = NULL, *colon = strchr(s, ':');
	size_t n;

	*has_port = false;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return cli_err(cli, EXIT_USAGE, "trace: %s '%s': expected [ADDRESS]:PORT", what, s);
		n = end - s - 1;
		s++;
		if (end[1] == ':')
			p = end + 2;
	} else if (colon && !strchr(colon + 1, ':')) {
		n = colon - s;
		p = colon + 1;
	} else {
		n = strlen(s);
	}
	if (n >= sizeof(host))
		return cli_err(cli, EXIT_USAGE, "trace: %s '%.*s': not an address", what, (int)n, s);
	memcpy(host, s, n);
	host[n] = '\0';
	if (lb_addr_parse(host, addr, family))
		return cli_err(cli, EXIT_USAGE, "trace: %s '%s': not an address", what, host);
	if (p) {
		char w[64];

		snprintf(w, sizeof(w), "trace: %s port", what);
		if (cli_parse_uint(cli, w, p, 1, 65535, port))
			return EXIT_USAGE;
		*has_port = true;
	}
	return EXIT_OK;
}

struct trace_args {
	struct lb_trace_pkt pkt;
	const char *dev;
	char dev_buf[IF_NAMESIZE + 1];
};

/*
 * [dev IF] [hook tc-ingress|xdp] {tcp|udp|icmp} SRC[:PORT] {>|to} DST[:PORT]
 * [syn|ack|fin|rst]...  (dev and hook also after the description)
 */
static int parse_trace(struct cli *cli, int ntok, char **tok, struct trace_args *a)
{
	static const char *const lead[] = { "dev", "hook", "tcp", "udp", "icmp", NULL };
	static const char *const tail[] = { "dev", "hook", "syn", "ack", "fin", "rst", NULL };
	static const enum lb_hook hook_of[] = { LB_HOOK_TC_INGRESS, LB_HOOK_XDP };
	static const char *const hooks[] = { "tc-ingress", "xdp", NULL };	/* as hook_of */
	struct lb_trace_pkt *p = &a->pkt;
	unsigned long long sport = TRACE_SPORT, dport = 0;
	bool has_sport, has_dport, has_hook = false;
	uint8_t sfam, dfam;
	int i = 0, k, proto = -1;

	memset(a, 0, sizeof(*a));
	p->hook = LB_HOOK_TC_INGRESS;
	/* Keywords before the protocol, then the description, then flags and keywords. */
	for (bool desc_done = false;;) {
		const char *const *words = desc_done ? tail : lead;
		const char *w;

		if (i >= ntok) {
			if (!desc_done)
				return cli_err(cli, EXIT_USAGE,
					       "trace: missing packet description: { tcp | udp | icmp } SRC[:PORT] > DST[:PORT]");
			break;
		}
		k = cli_keyword(cli, tok[i], words, "trace: keyword");
		if (k < 0)
			return EXIT_USAGE;
		w = words[k];
		i++;
		if (!strcmp(w, "dev") || !strcmp(w, "hook")) {
			if (i >= ntok)
				return cli_err(cli, EXIT_USAGE, "trace: %s: missing %s", w,
					       w[0] == 'd' ? "interface name" : "tc-ingress or xdp");
			if (w[0] == 'd') {
				if (a->dev)
					return cli_err(cli, EXIT_USAGE, "trace: dev given twice");
				if (strlen(tok[i]) >= IF_NAMESIZE)
					return cli_err(cli, EXIT_USAGE, "trace: dev '%s': name too long",
						       cli_tok(tok[i]));
				snprintf(a->dev_buf, sizeof(a->dev_buf), "%s", tok[i]);
				a->dev = a->dev_buf;
			} else {
				if (has_hook)
					return cli_err(cli, EXIT_USAGE, "trace: hook given twice");
				k = cli_keyword(cli, tok[i], hooks, "trace: hook");
				if (k < 0)
					return EXIT_USAGE;
				p->hook = hook_of[k];
				has_hook = true;
			}
			i++;
			continue;
		}
		if (desc_done) {
			uint8_t bit = 0;

			for (size_t f = 0; f < sizeof(tcp_flags) / sizeof(tcp_flags[0]); f++)
				if (!strcmp(w, tcp_flags[f].name))
					bit = tcp_flags[f].bit;
			if (proto != IPPROTO_TCP)
				return cli_err(cli, EXIT_USAGE, "trace: %s: TCP flags go with tcp only", w);
			if (p->tcp_flags & bit)
				return cli_err(cli, EXIT_USAGE, "trace: %s given twice", w);
			p->tcp_flags |= bit;
			continue;
		}
		/* The protocol, then SRC > DST. */
		proto = !strcmp(w, "tcp") ? IPPROTO_TCP : !strcmp(w, "udp") ? IPPROTO_UDP : IPPROTO_ICMP;
		if (i >= ntok)
			return cli_err(cli, EXIT_USAGE, "trace: %s: missing source address", w);
		if (parse_hostport(cli, "source", tok[i], &p->src, &sfam, &sport, &has_sport))
			return EXIT_USAGE;
		i++;
		if (i >= ntok)
			return cli_err(cli, EXIT_USAGE, "trace: missing '>' (or 'to') and destination after '%s'",
				       tok[i - 1]);
		if (strcmp(tok[i], ">") && strcmp(tok[i], "to"))
			return cli_err(cli, EXIT_USAGE, "trace: '%s': expected '>' or 'to' after the source",
				       tok[i]);
		i++;
		if (i >= ntok)
			return cli_err(cli, EXIT_USAGE, "trace: missing destination address after '%s'",
				       tok[i - 1]);
		if (parse_hostport(cli, "destination", tok[i], &p->dst, &dfam, &dport, &has_dport))
			return EXIT_USAGE;
		i++;
		if (sfam != dfam)
			return cli_err(cli, EXIT_USAGE,
				       "trace: source and destination are of different families");
		if (proto == IPPROTO_ICMP && (has_sport || has_dport))
			return cli_err(cli, EXIT_USAGE, "trace: icmp has no ports");
		if (proto != IPPROTO_ICMP && !has_dport)
			return cli_err(cli, EXIT_USAGE, "trace: %s: missing destination port (DST:PORT)", w);
		p->proto = proto;
		p->family = sfam;
		p->sport = proto == IPPROTO_ICMP ? 0x7472 : sport;	/* echo id "tr" */
		p->dport = dport;
		desc_done = true;
	}
	if (proto == IPPROTO_TCP && !p->tcp_flags)
		p->tcp_flags = TCP_SYN;
	p->ifname = a->dev;
	return EXIT_OK;
}

/* ---------------------------------------------------------------- printing */

static const char *proto_name(uint8_t proto, uint8_t family)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return family == LB_AF_INET6 ? "icmpv6" : "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	default: return "?";
	}
}

/* "ADDR:PORT", "[ADDR6]:PORT", or the address alone (no port). */
static const char *hostport(const struct lb_addr *a, uint8_t family, int port, char *buf,
			    size_t len)
{
	char s[INET6_ADDRSTRLEN];

	lb_addr_str(a, family, s, sizeof(s));
	if (port < 0)
		snprintf(buf, len, "%s", s);
	else if (family == LB_AF_INET6)
		snprintf(buf, len, "[%s]:%d", s, port);
	else
		snprintf(buf, len, "%s:%d", s, port);
	return buf;
}

/* One decision: "LABEL   text" (text), or nothing (JSON: the caller prints fields). */
static void line(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *label, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (is_json_context())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_text("%-7s %s\n", label, buf);
}

/* "src", "sport", "dst", "dport" into the open JSON object (ports only when >= 0). */
static void json_tuple(const struct lb_addr *s, int sp, const struct lb_addr *d, int dp,
		       uint8_t family)
{
	char a[INET6_ADDRSTRLEN];

	print_string(PRINT_JSON, "src", NULL, lb_addr_str(s, family, a, sizeof(a)));
	if (sp >= 0)
		print_uint(PRINT_JSON, "sport", NULL, sp);
	print_string(PRINT_JSON, "dst", NULL, lb_addr_str(d, family, a, sizeof(a)));
	if (dp >= 0)
		print_uint(PRINT_JSON, "dport", NULL, dp);
}

static const char *age_str(uint64_t ns, char *buf, size_t len)
{
	if (ns < 10000000000ull)
		snprintf(buf, len, "%.1fs", ns / 1e9);
	else
		snprintf(buf, len, "%" PRIu64 "s", (uint64_t)(ns / 1000000000ull));
	return buf;
}

/* The verdict's name and what it means. */
static void verdict_of(const struct lb_trace_pkt *p, const struct lb_trace_result *r,
		       const char **name, const char **why)
{
	*why = NULL;
	if (p->hook == LB_HOOK_XDP) {
		switch (r->retval) {
		case XDP_ABORTED: *name = "aborted"; break;
		case XDP_DROP: *name = "drop"; break;
		case XDP_PASS: *name = "pass"; *why = "to tc ingress, which handles all but established flows"; break;
		case XDP_TX: *name = "tx"; break;
		case XDP_REDIRECT: *name = "redirect"; *why = "forwarded"; break;
		default: *name = "unknown"; break;
		}
		return;
	}
	switch (r->retval) {
	case TC_ACT_UNSPEC: *name = "continue"; *why = "not ours: the next program and the stack"; break;
	case TC_ACT_OK: *name = "ok"; *why = "to the stack"; break;
	case TC_ACT_SHOT: *name = "drop"; break;
	case TC_ACT_REDIRECT: *name = "redirect"; *why = "forwarded"; break;
	default: *name = "unknown"; break;
	}
}

static bool same_tuple(const struct lb_ct_key *a, const struct lb_ct_key *b)
{
	return !memcmp(&a->src, &b->src, sizeof(a->src)) && !memcmp(&a->dst, &b->dst, sizeof(a->dst)) &&
	       a->sport == b->sport && a->dport == b->dport;
}

/* TCP and UDP: the packets that have ports, conntrack entries and services. */
static bool has_ports(const struct lb_trace_pkt *p)
{
	return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;
}

/* Notes under the decisions: what a trace cannot tell or where it differs. */
struct notes {
	const char *v[8];
	int n;
};

static void note(struct notes *nt, const char *text)
{
	if (nt->n < (int)(sizeof(nt->v) / sizeof(nt->v[0])))
		nt->v[nt->n++] = text;
}

static void print_packet(const struct lb_trace_pkt *p, const struct lb_trace_result *r,
			 struct notes *nt)
{
	bool ports = has_ports(p);
	const char *pname = proto_name(p->proto, p->family);
	char s1[64], s2[64], flags[32] = "";

	for (size_t f = 0; f < sizeof(tcp_flags) / sizeof(tcp_flags[0]); f++)
		if (p->tcp_flags & tcp_flags[f].bit)
			snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), "%s%s",
				 flags[0] ? "," : "", tcp_flags[f].name);
	line("packet", "%s %s > %s%s%s len %u dev %s %s", pname,
	     hostport(&p->src, p->family, ports ? p->sport : -1, s1, sizeof(s1)),
	     hostport(&p->dst, p->family, ports ? p->dport : -1, s2, sizeof(s2)),
	     p->proto == IPPROTO_TCP ? " " : p->proto == IPPROTO_UDP ? "" : " echo request",
	     flags, r->len, r->ifname, lb_hook_name(p->hook));
	open_json_object("packet");
	print_string(PRINT_JSON, "proto", NULL, pname);
	json_tuple(&p->src, ports ? p->sport : -1, &p->dst, ports ? p->dport : -1, p->family);
	if (p->proto == IPPROTO_TCP) {
		open_json_array(PRINT_JSON, "flags");
		for (size_t f = 0; f < sizeof(tcp_flags) / sizeof(tcp_flags[0]); f++)
			if (p->tcp_flags & tcp_flags[f].bit)
				print_string(PRINT_JSON, NULL, NULL, tcp_flags[f].name);
		close_json_array(PRINT_JSON, NULL);
	} else if (!ports) {
		print_string(PRINT_JSON, "type", NULL, "echo-request");
	}
	print_uint(PRINT_JSON, "len", NULL, r->len);
	print_string(PRINT_JSON, "dev", NULL, r->ifname);
	print_uint(PRINT_JSON, "ifindex", NULL, r->ifindex);
	print_string(PRINT_JSON, "hook", NULL, lb_hook_name(p->hook));
	print_bool(PRINT_JSON, "attached", NULL, r->attached);
	close_json_object();
	if (!r->attached)
		note(nt, "no lb program on this device's hook: real packets there do not meet these decisions");
}

static void print_parse(const struct lb_trace_result *r)
{
	line("parse", "%s%s%s", r->l3_ctr >= 0 ? lb_ctr_name(r->l3_ctr) : "?",
	     r->l4_ctr >= 0 ? " " : "", r->l4_ctr >= 0 ? lb_ctr_name(r->l4_ctr) : "");
	open_json_object("parse");
	print_string(PRINT_JSON, "l3", NULL, r->l3_ctr >= 0 ? lb_ctr_name(r->l3_ctr) : "");
	if (r->l4_ctr >= 0)
		print_string(PRINT_JSON, "l4", NULL, lb_ctr_name(r->l4_ctr));
	else
		print_null(PRINT_JSON, "l4", NULL);
	close_json_object();
}

static void print_conntrack(const struct lb_trace_result *r)
{
	const struct lb_ct *c = &r->ct_entry;
	const char *dir = c->flags & LB_CT_F_REPLY ? "reply" : "forward";
	const char *res = r->ct == LB_TRACE_CT_HIT ? "hit" :
			  r->ct == LB_TRACE_CT_EXPIRED ? "expired" : "miss";
	char age[32];

	if (r->ct == LB_TRACE_CT_NONE) {
		line("icmp", "echo request: not an error about a flow of ours");
		return;
	}
	if (r->ct == LB_TRACE_CT_MISS)
		line("conntrack", "miss");
	else
		line("conntrack", "%s %s state %s idle %s service %u endpoint %u%s", res, dir,
		     lb_ct_state_name(c->state), age_str(r->ct_age_ns, age, sizeof(age)),
		     c->svc_id, c->ep_id, r->ct == LB_TRACE_CT_EXPIRED ? ": a miss" : "");
	open_json_object("conntrack");
	print_string(PRINT_JSON, "result", NULL, res);
	if (r->ct != LB_TRACE_CT_MISS) {
		print_string(PRINT_JSON, "dir", NULL, dir);
		print_string(PRINT_JSON, "state", NULL, lb_ct_state_name(c->state));
		print_uint(PRINT_JSON, "idle_ms", NULL, r->ct_age_ns / 1000000);
		print_uint(PRINT_JSON, "service_id", NULL, c->svc_id);
		print_uint(PRINT_JSON, "endpoint_id", NULL, c->ep_id);
	}
	close_json_object();
}

/* The service found: the flow's on a hit; on a miss what the slow path looks up. */
static void print_service_found(const struct lb_trace_result *r, struct notes *nt)
{
	const struct lb_svc_key *k = &r->svc_key;
	const struct lb_svc *s = &r->svc;
	char a6[INET6_ADDRSTRLEN], s1[64], snat[80] = "";

	if (s->mode == LB_NAT_FULLNAT)
		snprintf(snat, sizeof(snat), " snat %s", s->flags & LB_SVC_F_SNAT_IFADDR ?
			 "egress-address" : lb_addr_str(&s->snat, s->family, a6, sizeof(a6)));
	line("service", "%s %s id %u sched %s mode %s%s",
	     hostport(&k->vip, k->family, ntohs(k->port), s1, sizeof(s1)),
	     proto_name(k->proto, k->family), s->id, lb_sched_name(s->sched),
	     lb_nat_mode_name(s->mode), snat);
	open_json_object("service");
	print_string(PRINT_JSON, "vip", NULL, lb_addr_str(&k->vip, k->family, a6, sizeof(a6)));
	print_uint(PRINT_JSON, "port", NULL, ntohs(k->port));
	print_string(PRINT_JSON, "proto", NULL, proto_name(k->proto, k->family));
	print_uint(PRINT_JSON, "id", NULL, s->id);
	print_string(PRINT_JSON, "sched", NULL, lb_sched_name(s->sched));
	print_string(PRINT_JSON, "mode", NULL, lb_nat_mode_name(s->mode));
	close_json_object();
	if (r->ct != LB_TRACE_CT_HIT && s->sched == LB_SCHED_RANDOM)
		note(nt, "sched random: trace's choice is one draw");
	if (r->new_flow && s->mode == LB_NAT_FULLNAT)
		note(nt, "full NAT source port: trace's is one draw");
}

static void print_service(const struct lb_trace_result *r, struct notes *nt)
{
	const struct lb_svc_key *k = &r->svc_key;
	char s1[64];

	if (r->has_svc) {
		print_service_found(r, nt);
	} else if (r->ct == LB_TRACE_CT_HIT) {
		line("service", "id %u (no longer in the rules; the flow goes on)", r->ct_entry.svc_id);
		print_null(PRINT_JSON, "service", NULL);
	} else {
		line("service", "none at %s %s", hostport(&k->vip, k->family, ntohs(k->port),
							  s1, sizeof(s1)),
		     proto_name(k->proto, k->family));
		print_null(PRINT_JSON, "service", NULL);
	}
}

/* Persistence, on the slow path. */
static void print_persist(const struct lb_trace_result *r)
{
	const struct lb_svc *s = &r->svc;

	if (!r->has_svc || !s->persist || r->ct == LB_TRACE_CT_HIT)
		return;
	if (r->aff_found)
		line("persist", "%us: client's endpoint id %u", s->persist, r->aff_ep_id);
	else
		line("persist", "%us: no endpoint remembered for the client", s->persist);
	open_json_object("persist");
	print_uint(PRINT_JSON, "seconds", NULL, s->persist);
	if (r->aff_found)
		print_uint(PRINT_JSON, "endpoint_id", NULL, r->aff_ep_id);
	else
		print_null(PRINT_JSON, "endpoint_id", NULL);
	close_json_object();
}

static void print_endpoint(const struct lb_trace_result *r)
{
	const char *how = r->new_flow ? "new flow" :
			  r->flow.flags & LB_CT_F_REPLY ? "tracked flow, reply" : "tracked flow";
	char a6[INET6_ADDRSTRLEN], s1[64];

	if (!r->ep_id)
		return;
	if (r->ep.svc_id)
		line("endpoint", "%s id %u (%s)",
		     hostport(&r->ep.addr, r->ep.family, ntohs(r->ep.port), s1, sizeof(s1)),
		     r->ep_id, how);
	else
		line("endpoint", "id %u (%s; no longer in the rules)", r->ep_id, how);
	open_json_object("endpoint");
	if (r->ep.svc_id) {
		print_string(PRINT_JSON, "address", NULL,
			     lb_addr_str(&r->ep.addr, r->ep.family, a6, sizeof(a6)));
		print_uint(PRINT_JSON, "port", NULL, ntohs(r->ep.port));
	}
	print_uint(PRINT_JSON, "id", NULL, r->ep_id);
	print_bool(PRINT_JSON, "new_flow", NULL, r->new_flow);
	close_json_object();
}

static void print_drop(const struct lb_trace_result *r)
{
	if (!r->drop)
		return;
	line("drop", "%s", lb_drop_name(r->drop));
	print_string(PRINT_JSON, "drop", NULL, lb_drop_name(r->drop));
}

/* The packet as it leaves, when the program rewrote it. */
static void print_nat(const struct lb_trace_pkt *p, const struct lb_trace_result *r)
{
	const struct lb_ct_key *o = &r->out_tuple;
	const char *pname = proto_name(p->proto, p->family);
	char s1[64], s2[64];

	if (!r->out_ok || r->drop != LB_DROP_NONE || same_tuple(&r->out_tuple, &r->ct_key) ||
	    !has_ports(p))
		return;
	line("nat", "%s %s > %s ttl %u", pname,
	     hostport(&o->src, o->family, ntohs(o->sport), s1, sizeof(s1)),
	     hostport(&o->dst, o->family, ntohs(o->dport), s2, sizeof(s2)), r->out_ttl);
	open_json_object("nat");
	print_string(PRINT_JSON, "proto", NULL, pname);
	json_tuple(&o->src, ntohs(o->sport), &o->dst, ntohs(o->dport), o->family);
	print_uint(PRINT_JSON, "ttl", NULL, r->out_ttl);
	close_json_object();
}

static void print_notes(const struct lb_trace_pkt *p, const struct lb_trace_result *r,
			struct notes *nt)
{
	if (p->hook == LB_HOOK_XDP && has_ports(p) && r->ct != LB_TRACE_CT_HIT)
		note(nt, "xdp forwards established flows only; tc ingress opens new ones");
	else if (p->hook == LB_HOOK_XDP && r->retval == XDP_PASS && r->ct == LB_TRACE_CT_HIT)
		note(nt, "xdp: the FIB did not resolve the next hop; tc ingress forwards it");
	if (r->retval == TC_ACT_OK && p->hook != LB_HOOK_XDP && r->ep_id && !r->drop)
		note(nt, "rewritten, but the FIB could not forward it (local, no route, TTL): the stack takes it");
	for (int n = 0; n < nt->n; n++)
		line("note", "%s", nt->v[n]);
	open_json_array(PRINT_JSON, "notes");
	for (int n = 0; n < nt->n; n++)
		print_string(PRINT_JSON, NULL, NULL, nt->v[n]);
	close_json_array(PRINT_JSON, NULL);
}

static void print_verdict(const struct lb_trace_pkt *p, const struct lb_trace_result *r)
{
	const char *vname, *vwhy;

	verdict_of(p, r, &vname, &vwhy);
	if (vwhy)
		line("verdict", "%s (%s)", vname, vwhy);
	else
		line("verdict", "%s", vname);
	print_string(PRINT_JSON, "verdict", NULL, vname);
	print_int(PRINT_JSON, "retval", NULL, r->retval);
}

/* One line (one JSON member) per stage the packet went through. */
static void print_trace(struct cli *cli, const struct trace_args *a, const struct lb_trace_result *r)
{
	const struct lb_trace_pkt *p = &a->pkt;
	struct notes nt = {};

	open_json_object(NULL);
	print_packet(p, r, &nt);
	print_parse(r);
	print_conntrack(r);
	/* The service of a new flow is looked up by the slow path, on tc only. */
	if (has_ports(p) && (r->ct == LB_TRACE_CT_HIT || p->hook != LB_HOOK_XDP)) {
		print_service(r, &nt);
		print_persist(r);
	}
	print_endpoint(r);
	print_drop(r);
	print_nat(p, r);
	print_notes(p, r, &nt);
	print_verdict(p, r);
	close_json_object();
	(void)cli;
}

int do_trace(struct cli *cli, int argc, char **argv)
{
	char buf[2048], *tok[TRACE_TOKS];
	struct lb_trace_result *r;
	struct trace_args a;
	struct lb_ctx *ctx;
	int n, rc, err;

	n = tokenize(argc - 1, argv + 1, buf, sizeof(buf), tok);
	if (n < 0)
		return cli_err(cli, EXIT_USAGE, "trace: description too long");
	if (n == 1 && !strcmp(tok[0], "help")) {
		cli->usage(stdout);
		return EXIT_OK;
	}
	rc = parse_trace(cli, n, tok, &a);
	if (rc)
		return rc;
	if (a.dev && !if_nametoindex(a.dev))
		return cli_err(cli, EXIT_FAIL, "trace: dev %s: no such device", a.dev);
	rc = cli_open(cli, 0, &ctx);
	if (rc) {
		lb_close(ctx);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		lb_close(ctx);
		return cli_err(cli, EXIT_FAIL, "trace: %s", strerror(ENOMEM));
	}
	err = lb_trace(ctx, &a.pkt, r);
	if (err)
		rc = cli_err(cli, EXIT_FAIL, "trace: %s", cli_strerror(ctx, err));
	else
		print_trace(cli, &a, r);
	free(r);
	lb_close(ctx);
	return rc;
}
