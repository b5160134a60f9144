/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbctl restore's parser (lbctl/lbctl_restore_parse.c), apart from the applying so
 * that it runs without a kernel. */
#ifndef LB_LBCTL_RESTORE_PARSE_H
#define LB_LBCTL_RESTORE_PARSE_H

#include <lb/lb.h>
#include "cli.h"

/*
 * The text of a rule set (what lbctl save prints: "service add", "endpoint add" and
 * "conntrack timeout set" lines, # comments, blank lines, and the
 * last line "# end N rules", N the rule lines above) into rs, which starts
 * empty.  Each line is checked as its command checks it (ctx carries only the words
 * of liblb's checks: it need not have opened a pin root).  The first bad line is one
 * message naming NAME:LINE; returns the exit code.  The lines of buf are split in
 * place.  The caller frees rs with lb_ruleset_free() whatever the result.
 */
int restore_parse(struct cli *cli, struct lb_ctx *ctx, char *buf, size_t len, const char *name,
		  struct lb_ruleset *rs);

/*
 * What save is about to write, read as restore_parse() reads a file: 0, or the exit
 * code after one message naming the first line restore would refuse by its text,
 * "lbctl: save: 'LINE' would not restore: why".  text is left as it is.
 */
int restore_check_saved(struct cli *cli, struct lb_ctx *ctx, const char *text, size_t len);

#endif
