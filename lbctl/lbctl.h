/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbctl's command groups, one file each. */
#ifndef LB_LBCTL_H
#define LB_LBCTL_H

#include <stddef.h>
#include <sys/types.h>
#include "cli.h"

int do_help(struct cli *cli, int argc, char **argv);
int do_service(struct cli *cli, int argc, char **argv);
int do_endpoint(struct cli *cli, int argc, char **argv);
int do_conntrack(struct cli *cli, int argc, char **argv);
int do_metrics(struct cli *cli, int argc, char **argv);
/* -w SECONDS of stats and health: 0.1 to 86400 into *out, or one line and EXIT_USAGE. */
int watch_secs(struct cli *cli, const char *val, double *out);
int do_allow(struct cli *cli, int argc, char **argv);
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
/* Append p to the malloc'd list *v of *n (its room: the power of two from n). */
int allow_push(struct lb_prefix **v, uint32_t *n, const struct lb_prefix *p);
/* One prefix (text) of a service of family, appended to the malloc'd list *v of *n. */
int parse_allow_prefix(struct cli *cli, const char *arg, uint8_t family, struct lb_prefix **v,
		       uint32_t *n);
/* argv[0] is the verb: "PREFIX... service VIP port N [proto P]" into k and a
 * malloc'd list *v of *n prefixes (the caller frees it whatever the result). */
int parse_allow(struct cli *cli, int argc, char **argv, struct lb_svc_key *k,
		struct lb_prefix **v, uint32_t *n);
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

/* The name of an interface, "if<N>" when it is gone (the counters outlive it). */
const char *ifname_of(unsigned int ifindex, char name[IF_NAMESIZE]);

/* "tcp", "udp" */
const char *svc_proto_name(uint8_t proto);
/* A service's flows open: the sum of its endpoints'. */
int64_t service_active(const struct lb_service_info *s);

/* The tables info shows, their use and capacity. */
enum lbctl_table {
	LBCTL_TABLE_SERVICES,
	LBCTL_TABLE_ENDPOINTS,
	LBCTL_TABLE_CT,
	LBCTL_TABLE_AFFINITY,
	LBCTL_TABLE_ALLOW,
	LBCTL_TABLE_HEALTH,
	LBCTL_TABLE_SEL,
	LBCTL_TABLE_MAX,
};

struct table_use {
	const char *label;	/* "services", "endpoints", "conntrack", "affinity" */
	bool found;		/* the root has the map */
	uint64_t entries, max, memlock;
};

/* From lb_maps() and lb_service_list(): lb_endpoints is an array, its use is the
 * endpoints services hold; the others count their keys. */
void table_use(const struct lb_map_desc *maps, size_t n, const struct lb_service_info *svcs,
	       size_t nsvc, struct table_use out[LBCTL_TABLE_MAX]);
/* The conntrack sweep's counters (lb_gc): 0 or a negative errno. */
int gc_read(struct lb_ctx *ctx, struct lb_gc *gc);

/* Write buf (gzip-compressed with z) to a new file beside path with mode, fsync it
 * and rename it over path: readers see the old file or the new one, whole; a
 * failure leaves path as it was and no temporary file.  0 or a negative errno. */
int write_file_atomic(const char *path, const char *buf, size_t len, bool z, mode_t mode);

/* Services of a rule set by key (lbctl_restore_parse.c): open addressing over
 * indexes into rs->svcs, so an index is built again when a service goes. */
struct svc_index {
	size_t cap;		/* a power of two, or 0 */
	size_t *slot;		/* index + 1; 0: empty */
};

struct lb_ruleset_svc *svc_index_find(const struct svc_index *x, const struct lb_ruleset *rs,
				      const struct lb_svc_key *k);
/* Index rs->svcs[idx], just added. */
int svc_index_put(struct svc_index *x, const struct lb_ruleset *rs, size_t idx);
/* Index the whole of rs again. */
int svc_index_build(struct svc_index *x, const struct lb_ruleset *rs);
void svc_index_free(struct svc_index *x);

/*
 * An all-or-nothing batch (lbctl -b without -force, lbctl_batch.c): the writer
 * lock taken and the live rule set read before the first line; service,
 * endpoint (with their check words), allow and conntrack timeout changes act on
 * that copy (rs, which owns its allow lists), and the batch
 * ends by making the live set the copy with lb_ruleset_apply(), or by dropping
 * it at the first bad line.  cli->tx points here meanwhile.
 */
struct lbctl_tx {
	struct lb_ctx *ctx;
	struct lb_ruleset rs;
	struct svc_index idx;	/* of rs */
};

int lbctl_tx_begin(struct cli *cli);
int lbctl_tx_end(struct cli *cli, bool commit);
/* The service k of the staged set, or NULL. */
struct lb_ruleset_svc *lbctl_tx_service(struct lbctl_tx *tx, const struct lb_svc_key *k);
/* Add s to the staged set (not there yet); remove r (one of it); remove all.
 * 0 or -ENOMEM. */
int lbctl_tx_service_add(struct lbctl_tx *tx, const struct lb_service *s);
int lbctl_tx_service_del(struct lbctl_tx *tx, struct lb_ruleset_svc *r);
int lbctl_tx_flush(struct lbctl_tx *tx);

#endif
