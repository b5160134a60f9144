/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbctl's command groups, one file each. */
#ifndef LB_LBCTL_H
#define LB_LBCTL_H

#include <stddef.h>
#include "cli.h"

int do_help(struct cli *cli, int argc, char **argv);
int do_service(struct cli *cli, int argc, char **argv);
int do_endpoint(struct cli *cli, int argc, char **argv);
int do_conntrack(struct cli *cli, int argc, char **argv);
/* Health check words (lbctl_check.c): what a line changes in a struct lb_check. */
struct check_change {
	bool endpoint;			/* "check inherit" allowed */
	bool type_given;
	struct lb_check words;		/* the type and its words */
	uint32_t interval_ms, timeout_ms;	/* 0: not given */
	uint8_t rise, fall;
};
/* CLI_WORDS "check ...": into ch. */
int check_take(struct cli *cli, struct check_change *ch, int argc, char **argv, int *used);
/* CLI_VALUE interval, timeout, rise, fall: kw->field is the offset of the struct
 * check_change in obj. */
int check_value(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val);
#define CHECK_VALUE_KWS(type, member)							\
	{ "interval", CLI_VALUE, 0, 0, "SECONDS", .parse = check_value,			\
	  .field = offsetof(type, member) },							\
	{ "timeout", CLI_VALUE, 0, 0, "SECONDS", .parse = check_value,			\
	  .field = offsetof(type, member) },							\
	{ "rise", CLI_VALUE, 0, 0, "N", .parse = check_value, .field = offsetof(type, member) }, \
	{ "fall", CLI_VALUE, 0, 0, "N", .parse = check_value, .field = offsetof(type, member) }
/* The change onto c (the current settings, or zeros). */
void check_change_apply(const struct check_change *ch, struct lb_check *c);
bool check_change_any(const struct check_change *ch);
/* "check http /x expect 200 interval 1": c's words as the commands take them (what
 * is set only), in buf; "" for none. */
const char *check_words(const struct lb_check *c, char *buf, size_t len);
#define CHECK_WORDS_MAX	512

int parse_svc_key(struct cli *cli, int argc, char **argv, int *i, struct lb_svc_key *k,
		  bool need_port);
/* "sched S mode M snat A persist N allow P.. maglev-size N" and the check words
 * from argv[i]; fields not named keep their values in *s. */
int parse_svc_options(struct cli *cli, int argc, char **argv, int i, struct lb_service *s,
		      bool *snat_given);
/* argv[0] is the verb: "ADDR [port N] [weight W] [state S] service VIP port N [proto P]"
 * (opts false: only port and service, for del). */
/* The check words go onto zeros in e->check, and into chk when given (for set to
 * apply them onto the current settings). */
int parse_endpoint(struct cli *cli, int argc, char **argv, struct lb_endpoint *e,
		   struct lb_svc_key *k, bool *weight_given, bool *state_given, bool opts,
		   struct check_change *chk);
/* "NAME SECONDS..." of conntrack timeout set (also in a rule set) into to[], by enum
 * lb_timeout; names not given keep their value. */
int parse_timeouts(struct cli *cli, int argc, char **argv, uint32_t *to);

#endif
