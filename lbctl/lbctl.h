/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* lbctl's command groups, one file each. */
#ifndef LB_LBCTL_H
#define LB_LBCTL_H

#include <sys/types.h>
#include "cli.h"

int do_help(struct cli *cli, int argc, char **argv);
int do_service(struct cli *cli, int argc, char **argv);
int do_endpoint(struct cli *cli, int argc, char **argv);
int do_conntrack(struct cli *cli, int argc, char **argv);
int do_metrics(struct cli *cli, int argc, char **argv);
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

#endif
