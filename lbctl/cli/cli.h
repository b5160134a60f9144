/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every tool shares: common options (-j -p -s -d -P -b -force -V -h), the
 * OBJECT COMMAND dispatch with unique prefixes, batch files, and the one-line error
 * format "TOOL: what: why" (JSON-aware, batch-aware).
 */
#ifndef LB_CLI_H
#define LB_CLI_H

#include <stdbool.h>
#include <lb/lb.h>
#include "json_print.h"

/* Exit codes */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* the command failed: kernel or state error */
#define EXIT_USAGE	2	/* bad input */

struct cli {
	const char *prog;	/* "lbctl" */
	bool json, pretty, stats, details, force;
	const char *pin_root;	/* -P, NULL: default */
	const char *batch_file;	/* -b */
	const char *batch_name;	/* for messages: file name of the batch */
	int batch_line;		/* line being run, 0 outside batch */
	void (*usage)(FILE *out); /* the tool's full help */
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);	/* argv[0] is the name */
	void (*usage)(FILE *out);	/* "NAME help"; NULL: the tool's usage */
};

/*
 * Parse common options, then run argv (or the batch file) through cmds.
 * Returns the process exit code.
 */
int cli_main(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds);

/* Dispatch argv[0] among cmds (unique prefix). what names the level for messages
 * ("object", "command"). */
int cli_dispatch(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds,
		 const char *what);

/* "prog: [file:line: ]msg" on stderr; {"error": msg} on stdout with -j. Return code. */
int cli_err(struct cli *cli, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A note on stderr ("prog: note: ...") that does not fail the command. */
void cli_note(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Match argv[0] against a NULL-terminated keyword list; on failure prints a usage
 * error naming what was expected and returns -1. */
int cli_keyword(struct cli *cli, const char *arg, const char *const *words,
		const char *what);
/* True when arg is a prefix of word (and non-empty): for "help" and such. */
bool cli_matches(const char *arg, const char *word);

/* Parse an unsigned number in [min, max]; prints a usage error on failure. */
int cli_parse_uint(struct cli *cli, const char *what, const char *s,
		   unsigned long long min, unsigned long long max, unsigned long long *out);

/* Open the pin root with this tool's options; prints the error. Returns an exit
 * code (0 on success). */
int cli_open(struct cli *cli, unsigned int flags, struct lb_ctx **ctx);

/* Report a failed lb_open() (err) the way cli_open() does; EXIT_OK when err is 0. */
int cli_open_err(struct cli *cli, struct lb_ctx *ctx, int err);

/* Message for a liblb error: strerror plus context detail. */
const char *cli_strerror(struct lb_ctx *ctx, int err);

/* Split a batch line into argv (quotes, backslash, # comments). Returns argc or -1. */
int cli_split_line(char *line, char **argv, int max);

#endif
