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
	/*
	 * A tool whose batches are all or nothing (lbctl) sets these; the others
	 * run a batch a line at a time, as -force does for every tool.  tx_begin()
	 * before the first line sets tx; while it is set the commands that stage
	 * (rule changes) add to the staged change instead of writing, and
	 * cli_open() refuses every other; tx_end() after the last line or the
	 * first error, with commit true when every line staged, makes the staged
	 * change or drops it, and clears tx.
	 */
	int (*tx_begin)(struct cli *cli);
	int (*tx_end)(struct cli *cli, bool commit);
	void *tx;		/* the staged change, while a batch runs */
	int line_argc;		/* the words of the line being run (batch) */
	char **line_argv;
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

/*
 * Keyword tables: the words of a command, what each takes, and what it sets.  A
 * keyword is one line of a table; every rule of the words (unique prefixes, a value
 * given or missing, given twice, two of a group, required) is in cli_parse_kw().
 */
enum cli_kw_kind {
	CLI_FLAG,	/* the word alone */
	CLI_VALUE,	/* the word and the next one */
	CLI_WORDS,	/* the word and as many after it as its take() consumes */
};

#define CLI_KW_REPEAT	1u	/* may be given more than once */
#define CLI_KW_REQUIRED	2u	/* must be given */
#define CLI_KW_EXACT	4u	/* a spelling matched only in full and not listed (tc's
				 * "prio" for "pref"): name it in a group with the word */

struct cli_kw {
	const char *name;	/* first: matched like commands (unique prefixes) */
	enum cli_kw_kind kind;
	unsigned int flags;	/* CLI_KW_* */
	unsigned int group;	/* non-zero: at most one keyword of the group */
	const char *arg;	/* the value in messages: "dev: missing IFNAME"; NULL: "value" */
	/* What the keyword sets: parse() or take() (they return an exit code), else field. */
	int (*parse)(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val);
				/* CLI_FLAG, CLI_VALUE; a flag's val is its name */
	int (*take)(struct cli *cli, void *obj, int argc, char **argv, int *used);
				/* CLI_WORDS: argv follows the word; sets *used */
	size_t field;		/* without a handler: offset in obj of a bool (CLI_FLAG) or
				 * a const char * (CLI_VALUE); a handler may use it too */
};

/*
 * Parse argv by the table kws (ending with { NULL }) into obj.  Messages start with
 * "where: " (NULL: nothing); an unknown word is "NOUN 'word': expected one of ..."
 * (NULL: "keyword").  With used, parsing stops at the first word that is no keyword
 * and *used counts the words taken; without, every word must be one.  Returns an exit
 * code: EXIT_OK, or the one of the (printed) error.
 */
int cli_parse_kw(struct cli *cli, const struct cli_kw *kws, const char *where,
		 const char *noun, int argc, char **argv, void *obj, int *used);

/* The index of arg in kws (a name, or the unique listed name it begins), else < 0. */
int cli_kw_match(const struct cli_kw *kws, const char *arg);

/* A word of the user for a message, cut to a sane length ("xxx..."); a few at a time
 * stay valid, enough for one message. */
const char *cli_tok(const char *s);
/* True when arg is a prefix of word (and non-empty): for "help" and such. */
bool cli_matches(const char *arg, const char *word);

/* Parse an unsigned number in [min, max]; prints a usage error on failure. */
int cli_parse_uint(struct cli *cli, const char *what, const char *s,
		   unsigned long long min, unsigned long long max, unsigned long long *out);

/* Open the pin root with this tool's options; prints the error. Returns an exit
 * code (0 on success).  In an all-or-nothing batch (cli->tx) it refuses: the
 * commands that stage there never open it. */
int cli_open(struct cli *cli, unsigned int flags, struct lb_ctx **ctx);

/* Report a failed lb_open() (err) the way cli_open() does; EXIT_OK when err is 0. */
int cli_open_err(struct cli *cli, struct lb_ctx *ctx, int err);
/* "WHAT: permission denied (needs root: ...)", the one line without privileges:
 * EXIT_FAIL. */
int cli_err_perm(struct cli *cli, const char *what);

/* Message for a liblb error: strerror plus context detail. */
const char *cli_strerror(struct lb_ctx *ctx, int err);

/* Split a batch line into argv (quotes, backslash, # comments). Returns argc or -1. */
int cli_split_line(char *line, char **argv, int max);

#endif
