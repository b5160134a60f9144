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

#endif
