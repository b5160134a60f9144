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

static void cli_list_words(char *buf, size_t len, const char *const *words)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; words[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", words[i]);
}

int cli_keyword(struct cli *cli, const char *arg, const char *const *words, const char *what)
{
	char list[512];
	int idx = lb_match_keyword(arg, words);

	if (idx >= 0)
		return idx;
	cli_list_words(list, sizeof(list), words);
	cli_err(cli, EXIT_USAGE, "%s '%s': %s one of %s", what, arg,
		idx == -EEXIST ? "ambiguous, could be" : "expected", list);
	return -1;
}

int cli_dispatch(struct cli *cli, int argc, char **argv, const struct cli_cmd *cmds,
		 const char *what)
{
	const char *words[64];
	int n = 0, idx;

	for (; cmds[n].name && n < 63; n++)
		words[n] = cmds[n].name;
	words[n] = NULL;
	if (argc < 1) {
		char list[512];

		cli_list_words(list, sizeof(list), words);
		return cli_err(cli, EXIT_USAGE, "missing %s: expected one of %s", what, list);
	}
	idx = cli_keyword(cli, argv[0], words, what);
	if (idx < 0)
		return EXIT_USAGE;
	/* "OBJECT help", "OBJECT COMMAND help": help at every level. */
	if (argc == 2 && !strcmp(argv[1], "help")) {
		(cmds[idx].usage ? cmds[idx].usage : cli->usage)(stdout);
		return EXIT_OK;
	}
	return cmds[idx].fn(cli, argc, argv);
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
		s ? s : "", min, max);
	return -1;
}

const char *cli_strerror(struct lb_ctx *ctx, int err)
{
	static char buf[512];
	const char *detail = ctx ? lb_ctx_errmsg(ctx) : "";

	if (err < 0)
		err = -err;
	if (*detail)
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
		return cli_err(cli, EXIT_FAIL,
			       "%s: permission denied (needs root: CAP_BPF and CAP_NET_ADMIN)", root);
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

static int cli_batch(struct cli *cli, const struct cli_cmd *cmds)
{
	FILE *f = stdin;
	char *line = NULL, *argv[CLI_MAX_ARGS];
	size_t cap = 0;
	int rc = EXIT_OK, lineno = 0;

	cli->batch_name = strcmp(cli->batch_file, "-") ? cli->batch_file : "<stdin>";
	if (f != NULL && strcmp(cli->batch_file, "-")) {
		f = fopen(cli->batch_file, "r");
		if (!f)
			return cli_err(cli, EXIT_FAIL, "batch file %s: %s", cli->batch_file,
				       strerror(errno));
	}
	while (getline(&line, &cap, f) >= 0) {
		int argc, r;

		cli->batch_line = ++lineno;
		argc = cli_split_line(line, argv, CLI_MAX_ARGS);
		if (argc < 0) {
			r = cli_err(cli, EXIT_USAGE, "unbalanced quotes or too many words");
		} else if (argc == 0) {
			continue;
		} else {
			r = cli_run(cli, argc, argv, cmds);
		}
		if (r) {
			rc = r;
			if (!cli->force)
				break;
		}
	}
	cli->batch_line = 0;
	free(line);
	if (f != stdin)
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
