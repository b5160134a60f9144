// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Common options, dispatch, batch files and error reporting for every tool. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "cli.h"

#define CLI_MAX_ARGS	256

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int libbpf_verbose(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Control characters of msg as C escapes ("\n", "\x1b"): a message quoting bad input
 * stays one line on stderr whatever the input held. */
static void cli_put_escaped(FILE *out, const char *msg)
{
	for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
		if (*c == '\n')
			fputs("\\n", out);
		else if (*c == '\r')
			fputs("\\r", out);
		else if (*c == '\t')
			fputs("\\t", out);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(out, "\\x%02x", *c);
		else
			fputc(*c, out);
	}
}

static void cli_vmsg(struct cli *cli, const char *kind, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s: ", cli->prog);
	if (cli->batch_line) {
		cli_put_escaped(stderr, cli->batch_name);
		fprintf(stderr, ":%d: ", cli->batch_line);
	}
	fputs(kind, stderr);
	cli_put_escaped(stderr, msg);
	fputc('\n', stderr);
	if (cli->json && !*kind) {
		/* JSON-aware errors, as bpftool does: scripts reading stdout see why. */
		fputs("{\"error\":", stdout);
		json_escape(stdout, msg);
		fputs("}\n", stdout);
		fflush(stdout);
	}
}

int cli_err(struct cli *cli, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(cli, "", fmt, ap);
	va_end(ap);
	return code;
}

void cli_note(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmsg(cli, "note: ", fmt, ap);
	va_end(ap);
}

bool cli_matches(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n > 0 && strncmp(arg, word, n) == 0;
}

/*
 * Tables of words: command lists, keyword tables and plain word lists all start each
 * entry with its name and end with a NULL name, so one matcher serves them all.
 */
struct cli_table {
	const void *base;
	size_t stride;				/* size of an entry */
	bool (*listed)(const void *entry);	/* NULL: all; else unlisted ones match in full only */
};

static const char *cli_table_name(const struct cli_table *t, int i)
{
	return *(const char *const *)((const char *)t->base + (size_t)i * t->stride);
}

static bool cli_table_listed(const struct cli_table *t, int i)
{
	return !t->listed || t->listed((const char *)t->base + (size_t)i * t->stride);
}

/* The index of arg in t: a name in full, else the one listed name it begins;
 * -ENOENT for none, -EEXIST when it begins several (as lb_match_keyword). */
static int cli_table_match(const struct cli_table *t, const char *arg)
{
	size_t n = strlen(arg);
	int found = -ENOENT;

	if (!n)
		return -ENOENT;
	for (int i = 0; cli_table_name(t, i); i++) {
		if (!strcmp(arg, cli_table_name(t, i)))
			return i;
		if (cli_table_listed(t, i) && !strncmp(arg, cli_table_name(t, i), n))
			found = found == -ENOENT ? i : -EEXIST;
	}
	return found;
}

/* "a, b, c" of the listed names; "..." when they do not fit. */
static void cli_list_words(char *buf, size_t len, const struct cli_table *t)
{
	size_t off = 0;
	int n = 0;

	buf[0] = '\0';
	for (int i = 0; cli_table_name(t, i); i++) {
		if (!cli_table_listed(t, i))
			continue;
		off += snprintf(buf + off, len - off, "%s%s", n++ ? ", " : "", cli_table_name(t, i));
		if (off >= len) {
			strcpy(buf + len - 4, "...");
			return;
		}
	}
}

/* Match arg in t, or print "what 'arg': expected one of ..." and return -1. */
static int cli_table_keyword(struct cli *cli, const struct cli_table *t, const char *arg,
			     const char *where, const char *what)
{
	char list[512];
	int idx = cli_table_match(t, arg);

	if (idx >= 0)
		return idx;
	cli_list_words(list, sizeof(list), t);
	cli_err(cli, EXIT_USAGE, "%s%s%s '%s': %s one of %s", where ? where : "", where ? ": " : "",
		what, cli_tok(arg), idx == -EEXIST ? "ambiguous, could be" : "expected", list);
	return -1;
}

int cli_keyword(struct cli *cli, const char *arg, const char *const *words, const char *what)
{
	struct cli_table t = { words, sizeof(*words), NULL };

	return cli_table_keyword(cli, &t, arg, NULL, what);
}

const char *cli_tok(const char *s)
{
	enum { KEEP = 64, RING = 4 };
	static char ring[RING][KEEP + 4];
	static unsigned int next;
	char *buf;

	if (strlen(s) <= KEEP + 3)
		return s;
	buf = ring[next++ % RING];
	memcpy(buf, s, KEEP);
	strcpy(buf + KEEP, "...");
	return buf;
}

int cli_dispatch(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds,
		 const char *what)
{
	struct cli_table t = { cmds, sizeof(*cmds), NULL };
	int idx;

	if (argc < 1) {
		char list[512];

		cli_list_words(list, sizeof(list), &t);
		return cli_err(cli, EXIT_USAGE, "missing %s: expected one of %s", what, list);
	}
	idx = cli_table_keyword(cli, &t, argv[0], NULL, what);
	if (idx < 0)
		return EXIT_USAGE;
	/* "OBJECT help", "OBJECT COMMAND help": help at every level. */
	if (argc == 2 && !strcmp(argv[1], "help")) {
		(cmds[idx].usage ? cmds[idx].usage : cli->usage)(stdout);
		return EXIT_OK;
	}
	return cmds[idx].fn(cli, argc, argv);
}

static bool cli_kw_listed(const void *entry)
{
	return !(((const struct cli_kw *)entry)->flags & CLI_KW_EXACT);
}

/* A usage error of cli_parse_kw() (its cli and where), "where: " first. */
#define kw_err(fmt, ...)							\
	cli_err(cli, EXIT_USAGE, "%s%s" fmt, where ? where : "", where ? ": " : "", __VA_ARGS__)

int cli_kw_match(const struct cli_kw *kws, const char *arg)
{
	struct cli_table t = { kws, sizeof(*kws), cli_kw_listed };

	return cli_table_match(&t, arg);
}

static int cli_kw_count(const struct cli_kw *kws)
{
	int n = 0;

	while (kws[n].name)
		n++;
	return n;
}

/* "a, b" of the listed words of group g. */
static void cli_kw_group_words(char *buf, size_t len, const struct cli_kw *kws, unsigned int g)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int k = 0; kws[k].name && off < len; k++)
		if (kws[k].group == g && cli_kw_listed(&kws[k]))
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "", kws[k].name);
}

int cli_parse_kw(struct cli *cli, const struct cli_kw *kws, const char *where,
		 const char *noun, int argc, char **argv, void *obj, int *used)
{
	struct cli_table t = { kws, sizeof(*kws), cli_kw_listed };
	int n = cli_kw_count(kws), i = 0, rc;
	int seen[n + 1];	/* the index in argv each keyword was given at, -1: not yet */

	for (int k = 0; k < n; k++)
		seen[k] = -1;
	while (i < argc) {
		const struct cli_kw *kw;
		const char *val;
		int k = used ? cli_table_match(&t, argv[i]) :
			cli_table_keyword(cli, &t, argv[i], where, noun ? noun : "keyword");

		if (k < 0) {
			if (!used)
				return EXIT_USAGE;
			break;
		}
		kw = &kws[k];
		if (seen[k] >= 0 && !(kw->flags & CLI_KW_REPEAT))
			return kw_err("%s: given twice", kw->name);
		for (int j = 0; kw->group && j < n; j++) {
			char list[256];

			if (j == k || kws[j].group != kw->group || seen[j] < 0)
				continue;
			cli_kw_group_words(list, sizeof(list), kws, kw->group);
			return kw_err("'%s' after '%s': give one of %s", kw->name, kws[j].name, list);
		}
		seen[k] = i++;
		if (kw->kind == CLI_WORDS) {
			int took = 0;

			rc = kw->take(cli, obj, argc - i, argv + i, &took);
			if (rc)
				return rc;
			i += took;
			continue;
		}
		val = kw->name;
		if (kw->kind == CLI_VALUE) {
			if (i >= argc)
				return kw_err("%s: missing %s", kw->name, kw->arg ? kw->arg : "value");
			val = argv[i++];
		}
		if (kw->parse) {
			rc = kw->parse(cli, kw, obj, val);
			if (rc)
				return rc;
		} else if (kw->kind == CLI_FLAG) {
			*(bool *)((char *)obj + kw->field) = true;
		} else {
			*(const char **)((char *)obj + kw->field) = val;
		}
	}
	for (int k = 0; k < n; k++) {
		if (seen[k] >= 0 || !(kws[k].flags & CLI_KW_REQUIRED))
			continue;
		if (kws[k].kind == CLI_FLAG || !kws[k].arg)
			return kw_err("missing '%s'", kws[k].name);
		return kw_err("missing '%s %s'", kws[k].name, kws[k].arg);
	}
	if (used)
		*used = i;
	return EXIT_OK;
}

int cli_parse_uint(struct cli *cli, const char *what, const char *s,
		   unsigned long long min, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	cli_err(cli, EXIT_USAGE, "%s '%s': expected a number from %llu to %llu", what,
		cli_tok(s ? s : ""), min, max);
	return -1;
}

const char *cli_strerror(struct lb_ctx *ctx, int err)
{
	static char buf[512];
	const char *detail = ctx ? lb_ctx_errmsg(ctx) : "";

	if (err < 0)
		err = -err;
	if (err == EUCLEAN)	/* liblb: a map pinned under one of our names is not ours */
		snprintf(buf, sizeof(buf), "%s (not our map: never used; 'lbattach destroy' starts over)",
			 detail);
	else if (*detail)
		snprintf(buf, sizeof(buf), "%s: %s", detail, strerror(err));
	else
		snprintf(buf, sizeof(buf), "%s", strerror(err));
	return buf;
}

int cli_open(struct cli *cli, unsigned int flags, struct lb_ctx **ctx)
{
	struct lb_open_opts opts = { .pin_root = cli->pin_root, .flags = flags };
	const char *wait = getenv("LB_LOCK_TIMEOUT");	/* seconds a writer waits */
	int err;

	*ctx = NULL;
	if (cli->tx)
		return cli_err(cli, EXIT_USAGE,
			       "'%s%s%s': not a rule change, and a batch applies rule changes all or nothing (-force runs each line alone)",
			       cli_tok(cli->line_argv[0]), cli->line_argc > 1 ? " " : "",
			       cli->line_argc > 1 ? cli_tok(cli->line_argv[1]) : "");
	if (wait && *wait) {
		unsigned long long secs;

		/* strtoul would take "-1" as a huge wait: the range is checked instead. */
		if (cli_parse_uint(cli, "LB_LOCK_TIMEOUT", wait, 0, 3600, &secs))
			return EXIT_USAGE;
		if (secs == 0)
			opts.flags |= LB_OPEN_NOWAIT;
		else
			opts.lock_timeout_ms = secs * 1000;
	}
	err = lb_open(ctx, &opts);
	return cli_open_err(cli, *ctx, err);
}

int cli_err_perm(struct cli *cli, const char *what)
{
	return cli_err(cli, EXIT_FAIL, "%s: permission denied (needs root: CAP_BPF and CAP_NET_ADMIN)",
		       what);
}

int cli_open_err(struct cli *cli, struct lb_ctx *ctx, int err)
{
	const char *root = lb_pin_root_default(cli->pin_root);

	if (!err)
		return EXIT_OK;
	switch (err) {
	case -EPROTO:
		return cli_err(cli, EXIT_FAIL,
			       "%s: map layout version %u, these tools use %u; 'lbattach upgrade' moves the running datapath to these tools' layout",
			       root, lb_found_abi_version(ctx), LB_ABI_VERSION);
	case -EPERM:
	case -EACCES:
		return cli_err_perm(cli, root);
	case -ENOENT:
		return cli_err(cli, EXIT_FAIL,
			       "%s: no datapath loaded here (attach one with 'lbattach attach dev IF')",
			       root);
	case -EWOULDBLOCK:
		return cli_err(cli, EXIT_FAIL, "%s: locked by another writer", root);
	default:
		return cli_err(cli, EXIT_FAIL, "%s: %s", root, cli_strerror(ctx, err));
	}
}

int cli_split_line(char *line, char **argv, int max)
{
	int argc = 0;
	char *r = line, *w = line;

	for (;;) {
		char quote = 0;

		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (!*r || *r == '#')
			break;
		if (argc >= max - 1)
			return -1;
		argv[argc++] = w;
		while (*r && (quote || (*r != ' ' && *r != '\t' && *r != '\n' && *r != '\r'))) {
			if (quote && *r == quote) {
				quote = 0;
				r++;
			} else if (!quote && (*r == '"' || *r == '\'')) {
				quote = *r++;
			} else if (*r == '\\' && quote != '\'' && r[1]) {
				r++;
				*w++ = *r++;
			} else {
				*w++ = *r++;
			}
		}
		if (quote)
			return -1;
		if (*r)
			r++;
		*w++ = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

static int cli_run(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds)
{
	int rc;

	new_json_obj(cli->json, cli->pretty, stdout);
	rc = cli_dispatch(cli, argc, argv, cmds, "object");
	delete_json_obj();
	return rc;
}

/* The whole batch file, read before anything runs (an all-or-nothing batch
 * holds the writer lock only while it runs, not while its input comes). */
static int cli_read_all(FILE *f, char **buf, size_t *len)
{
	size_t cap = 0, n = 0;
	char *b = NULL;

	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(b, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n - 1, f);

		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		free(b);
		return -EIO;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int cli_batch(struct cli *cli, const struct cli_cmd *cmds)
{
	FILE *f = stdin;
	char *line = NULL, *argv[CLI_MAX_ARGS], *text = NULL, *next = NULL, *end = NULL;
	size_t cap = 0, len = 0;
	int rc = EXIT_OK, lineno = 0, err;
	bool tx = cli->tx_begin && !cli->force;

	cli->batch_name = strcmp(cli->batch_file, "-") ? cli->batch_file : "<stdin>";
	if (f != NULL && strcmp(cli->batch_file, "-")) {
		f = fopen(cli->batch_file, "r");
		if (!f)
			return cli_err(cli, EXIT_FAIL, "batch file %s: %s", cli->batch_file,
				       strerror(errno));
	}
	if (tx) {
		err = cli_read_all(f, &text, &len);
		if (f != stdin)
			fclose(f);
		f = NULL;
		if (err)
			return cli_err(cli, EXIT_FAIL, "batch file %s: %s", cli->batch_name,
				       strerror(-err));
		next = text;
		end = text + len;
		rc = cli->tx_begin(cli);
		if (rc) {
			free(text);
			return rc;
		}
	}
	for (;;) {
		int argc, r;

		if (tx) {
			if (next >= end)
				break;
			line = next;
			next = memchr(line, '\n', end - line);
			if (next)
				*next++ = '\0';
			else
				next = end;
		} else if (getline(&line, &cap, f) < 0) {
			break;
		}
		cli->batch_line = ++lineno;
		argc = cli_split_line(line, argv, CLI_MAX_ARGS);
		if (argc < 0) {
			r = cli_err(cli, EXIT_USAGE, "unbalanced quotes or too many words");
		} else if (argc == 0) {
			continue;
		} else {
			cli->line_argc = argc;
			cli->line_argv = argv;
			r = cli_run(cli, argc, argv, cmds);
		}
		if (r) {
			rc = r;
			if (!cli->force)
				break;
		}
	}
	cli->batch_line = 0;
	if (tx) {
		int e = cli->tx_end(cli, rc == EXIT_OK);

		rc = rc ?: e;
		free(text);
	} else {
		free(line);
	}
	if (f && f != stdin)
		fclose(f);
	return rc;
}

static const struct option cli_options[] = {
	{ "json",	no_argument,		NULL, 'j' },
	{ "pretty",	no_argument,		NULL, 'p' },
	{ "stats",	no_argument,		NULL, 's' },
	{ "details",	no_argument,		NULL, 'd' },
	{ "pin-root",	required_argument,	NULL, 'P' },
	{ "batch",	required_argument,	NULL, 'b' },
	{ "force",	no_argument,		NULL, 'f' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cli_main(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds)
{
	int opt;

	/* iproute2 spells it -force; it may stand anywhere among the options. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-force"))
			argv[i] = "--force";

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+jpsdP:b:fVh", cli_options, NULL)) != -1) {
		switch (opt) {
		case 'j': cli->json = true; break;
		case 'p': cli->json = cli->pretty = true; break;
		case 's': cli->stats = true; break;
		case 'd': cli->details = true; break;
		case 'P': cli->pin_root = optarg; break;
		case 'b': cli->batch_file = optarg; break;
		case 'f': cli->force = true; break;
		case 'V':
			printf("%s lbkit %s (abi %u)\n", cli->prog, LB_VERSION, LB_ABI_VERSION);
			return EXIT_OK;
		case 'h':
			cli->usage(stdout);
			return EXIT_OK;
		default:
			if (optopt && strchr("Pb", optopt))
				return cli_err(cli, EXIT_USAGE, "option -%c needs an argument", optopt);
			return cli_err(cli, EXIT_USAGE, "unknown option '%s' (try '%s -h')",
				       argv[optind - 1], cli->prog);
		}
	}
	libbpf_set_print(cli->details ? libbpf_verbose : libbpf_quiet);

	if (cli->batch_file) {
		if (optind < argc)
			return cli_err(cli, EXIT_USAGE, "-b takes no command on the command line");
		return cli_batch(cli, cmds);
	}
	if (optind >= argc) {
		cli->usage(stderr);
		return EXIT_USAGE;
	}
	return cli_run(cli, argc - optind, argv + optind, cmds);
}
