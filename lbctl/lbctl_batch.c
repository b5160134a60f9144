// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl -b: a batch of rule changes applied all or nothing.
 *
 * The lines change a copy of the live rule set (with its allow lists and check
 * settings), read under the writer lock, which stays held to the end; each
 * line (service, endpoint, allow, conntrack timeout set) is checked as the
 * command alone would check it against the set as the lines before it left
 * it.  A bad line names FILE:LINE and nothing is written.  After the last line,
 * lb_ruleset_apply() changes what differs between the live set and the copy:
 * services and endpoints the batch leaves alone keep their ids and counters,
 * and a writer killed half way leaves a record the next writer finishes.
 * Lines that are no rule change (show, allow show, health, flush of conntrack,
 * stats, save...) are refused there: cli_open() refuses them while a batch
 * stages.  -force runs each line alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lbctl.h"

struct lb_ruleset_svc *lbctl_tx_service(struct lbctl_tx *tx, const struct lb_svc_key *k)
{
	return svc_index_find(&tx->idx, &tx->rs, k);
}

int lbctl_tx_service_add(struct lbctl_tx *tx, const struct lb_service *s)
{
	struct lb_ruleset_svc *r = lb_ruleset_add(&tx->rs);

	if (!r)
		return -ENOMEM;
	r->svc = *s;
	return svc_index_put(&tx->idx, &tx->rs, tx->rs.n - 1);
}

int lbctl_tx_service_del(struct lbctl_tx *tx, struct lb_ruleset_svc *r)
{
	/* in place: the services after it keep their order (new ones are added
	 * in it) */
	free(r->svc.allow);
	free(r->eps);
	memmove(r, r + 1, (tx->rs.svcs + --tx->rs.n - r) * sizeof(*r));
	return svc_index_build(&tx->idx, &tx->rs);
}

int lbctl_tx_flush(struct lbctl_tx *tx)
{
	lb_ruleset_free(&tx->rs);	/* the timeouts stay */
	return svc_index_build(&tx->idx, &tx->rs);
}

int lbctl_tx_begin(struct cli *cli)
{
	struct lbctl_tx *tx = calloc(1, sizeof(*tx));
	int rc, err;

	if (!tx)
		return cli_err(cli, EXIT_FAIL, "%s", strerror(ENOMEM));
	rc = cli_open(cli, LB_OPEN_WRITE, &tx->ctx);
	if (!rc) {
		err = lb_ruleset_get(tx->ctx, &tx->rs);
		if (!err)
			err = svc_index_build(&tx->idx, &tx->rs);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "%s: %s", cli->batch_name,
				     cli_strerror(tx->ctx, err));
	}
	if (rc) {
		svc_index_free(&tx->idx);
		lb_ruleset_free(&tx->rs);
		lb_close(tx->ctx);
		free(tx);
		return rc;
	}
	cli->tx = tx;
	return EXIT_OK;
}

int lbctl_tx_end(struct cli *cli, bool commit)
{
	struct lbctl_tx *tx = cli->tx;
	int rc = EXIT_OK, err;

	cli->tx = NULL;
	if (!tx)
		return EXIT_OK;
	if (commit) {
		err = lb_ruleset_apply(tx->ctx, &tx->rs);
		if (err)
			rc = cli_err(cli, err == -EINVAL || err == -EAFNOSUPPORT ? EXIT_USAGE : EXIT_FAIL,
				     "%s: nothing applied: %s", cli->batch_name,
				     cli_strerror(tx->ctx, err));
	}
	svc_index_free(&tx->idx);
	lb_ruleset_free(&tx->rs);
	lb_close(tx->ctx);
	free(tx);
	return rc;
}
