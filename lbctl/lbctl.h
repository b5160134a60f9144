/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbctl's command groups, one file each. */
#ifndef LB_LBCTL_H
#define LB_LBCTL_H

#include "cli.h"

int do_help(struct cli *cli, int argc, char **argv);
int do_service(struct cli *cli, int argc, char **argv);
int do_endpoint(struct cli *cli, int argc, char **argv);
int do_conntrack(struct cli *cli, int argc, char **argv);
int parse_svc_key(struct cli *cli, int argc, char **argv, int *i, struct lb_svc_key *k,
		  bool need_port);
/* "sched S mode M snat A persist N allow P.. maglev-size N" from argv[i]; fields not
 * named keep their values in *s. */
int parse_svc_options(struct cli *cli, int argc, char **argv, int i, struct lb_service *s,
		      bool *snat_given);
/* argv[0] is the verb: "ADDR [port N] [weight W] [state S] service VIP port N [proto P]"
 * (opts false: only port and service, for del). */
int parse_endpoint(struct cli *cli, int argc, char **argv, struct lb_endpoint *e,
		   struct lb_svc_key *k, bool *weight_given, bool *state_given, bool opts);
/* "NAME SECONDS..." of conntrack timeout set (also in a rule set) into to[], by enum
 * lb_timeout; names not given keep their value. */
int parse_timeouts(struct cli *cli, int argc, char **argv, uint32_t *to);

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
 * endpoint and conntrack timeout changes act on that copy (rs), and the batch
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
