// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of pure user-space code: keywords, names, line splitting, JSON, numbers. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define TAP_MAIN
#include "tap.h"
#include "cli.h"

static void keyword_prefixes(void)
{
	static const char *const w[] = { "attach", "detach", "show", "destroy", "help", NULL };
	static const char *const w2[] = { "stats", "st", NULL };

	CHECK_EQ_U(lb_match_keyword("attach", w), 0);
	CHECK_EQ_U(lb_match_keyword("a", w), 0);
	CHECK_EQ_U(lb_match_keyword("sh", w), 2);
	CHECK(lb_match_keyword("d", w) == -EEXIST, "d is ambiguous");
	CHECK(lb_match_keyword("de", w) == -EEXIST, "de is ambiguous");
	CHECK_EQ_U(lb_match_keyword("det", w), 1);
	CHECK_EQ_U(lb_match_keyword("des", w), 3);
	CHECK(lb_match_keyword("x", w) == -ENOENT, "x matches nothing");
	CHECK(lb_match_keyword("", w) == -ENOENT, "empty matches nothing");
	CHECK(lb_match_keyword("attachx", w) == -ENOENT, "longer than the word");
	CHECK_EQ_U(lb_match_keyword("st", w2), 1);	/* exact beats prefix */
	CHECK_EQ_U(lb_match_keyword("sta", w2), 0);
}

static void hook_and_mode_names(void)
{
	enum lb_hook h;
	enum lb_attach_mode m;

	for (int i = 0; i < LB_HOOK_MAX; i++) {
		CHECK(lb_hook_parse(lb_hook_name(i), &h) == 0 && (int)h == i, "hook %d", i);
	}
	CHECK(lb_hook_parse("tc", &h) == -EINVAL, "tc alone is not a hook name");
	CHECK_STR(lb_hook_name(LB_HOOK_TC_EGRESS), "tc-egress");
	CHECK_STR(lb_hook_name(99), "unknown");
	CHECK(lb_mode_parse("gen", &m) == 0 && m == LB_MODE_GENERIC, "gen");
	CHECK(lb_mode_parse("cls", &m) == 0 && m == LB_MODE_CLSACT, "cls");
	CHECK(lb_mode_parse("bogus", &m) == -EINVAL, "bogus");
	CHECK_STR(lb_mode_name(LB_MODE_TCX), "tcx");
	CHECK_STR(lb_ctr_name(LB_CTR_L4_OTHER), "l4-other");
	CHECK_STR(lb_ctr_name(LB_CTR_MAX), "unknown");
}

static void split_lines(void)
{
	char *argv[8];
	char l1[] = "attach dev veth0   xdp # comment\n";
	char l2[] = "  say \"two words\" 'single \"q\"' back\\ slash\n";
	char l3[] = "# only a comment\n";
	char l4[] = "bad \"unbalanced\n";
	char l5[] = "a b c d e f g h i";

	CHECK_EQ_U(cli_split_line(l1, argv, 8), 4);
	CHECK_STR(argv[0], "attach");
	CHECK_STR(argv[2], "veth0");
	CHECK_STR(argv[3], "xdp");
	CHECK(argv[4] == NULL, "argv is NULL-terminated");
	CHECK_EQ_U(cli_split_line(l2, argv, 8), 4);
	CHECK_STR(argv[1], "two words");
	CHECK_STR(argv[2], "single \"q\"");
	CHECK_STR(argv[3], "back slash");
	CHECK_EQ_U(cli_split_line(l3, argv, 8), 0);
	CHECK(cli_split_line(l4, argv, 8) == -1, "unbalanced quote is an error");
	CHECK(cli_split_line(l5, argv, 8) == -1, "too many words is an error");
}

static char *capture_json(bool pretty)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	new_json_obj(true, pretty, f);
	open_json_array(PRINT_JSON, NULL);
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "%s", "a\"b\\c\n\x01");
	print_uint(PRINT_ANY, "n", "%llu", 18446744073709551615ull);
	print_int(PRINT_ANY, "i", "%lld", -5);
	print_bool(PRINT_ANY, "ok", "%s", true);
	print_null(PRINT_ANY, "none", NULL);
	open_json_array(PRINT_JSON, "list");
	close_json_array(PRINT_JSON, NULL);
	open_json_object("obj");
	print_uint(PRINT_ANY, "x", "%llu", 1);
	close_json_object();
	close_json_object();
	close_json_array(PRINT_JSON, NULL);
	delete_json_obj();
	fclose(f);
	return buf;
}

static void json_output(void)
{
	char *s = capture_json(false);

	CHECK_STR(s, "[{\"name\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":18446744073709551615,"
		     "\"i\":-5,\"ok\":true,\"none\":null,\"list\":[],\"obj\":{\"x\":1}}]\n");
	free(s);
	s = capture_json(true);
	CHECK(strstr(s, "\n  {\n    \"name\": ") != NULL, "pretty output indents: %s", s);
	CHECK(strstr(s, "\"list\": []") != NULL, "empty array stays compact: %s", s);
	free(s);
}

static void text_output(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	new_json_obj(false, false, f);
	open_json_object(NULL);
	print_string(PRINT_ANY, "ifname", "dev %s", "veth0");
	print_uint(PRINT_JSON, "ifindex", NULL, 5);
	print_uint(PRINT_ANY, "id", " id %llu", 42);
	print_string(PRINT_JSON, "hidden", NULL, "x");
	print_text(" (%s)", "gone");
	print_nl();
	close_json_object();
	delete_json_obj();
	fclose(f);
	CHECK_STR(buf, "dev veth0 id 42 (gone)\n");
	free(buf);
}

static void parse_numbers(void)
{
	struct cli cli = { .prog = "unit" };
	unsigned long long v = 0;
	FILE *saved = stderr;

	stderr = fopen("/dev/null", "w");	/* the failures below print usage errors */
	CHECK(cli_parse_uint(&cli, "port", "80", 1, 65535, &v) == 0 && v == 80, "80");
	CHECK(cli_parse_uint(&cli, "port", "0x50", 1, 65535, &v) == 0 && v == 80, "0x50");
	CHECK(cli_parse_uint(&cli, "port", "0", 1, 65535, &v) == -1, "0 below min");
	CHECK(cli_parse_uint(&cli, "port", "70000", 1, 65535, &v) == -1, "70000 above max");
	CHECK(cli_parse_uint(&cli, "port", "-1", 0, 65535, &v) == -1, "negative");
	CHECK(cli_parse_uint(&cli, "port", "12x", 0, 65535, &v) == -1, "trailing junk");
	CHECK(cli_parse_uint(&cli, "port", "", 0, 65535, &v) == -1, "empty");
	CHECK(cli_parse_uint(&cli, "n", "99999999999999999999999", 0, ~0ull, &v) == -1, "overflow");
	fclose(stderr);
	stderr = saved;
}

/* An error quoting input with control characters is still one line on stderr. */
static void errors_stay_one_line(void)
{
	struct cli cli = { .prog = "unit", .batch_name = "in\nput", .batch_line = 3 };
	char *buf = NULL;
	size_t len = 0;
	FILE *saved = stderr;

	stderr = open_memstream(&buf, &len);
	CHECK(cli_err(&cli, EXIT_USAGE, "word '%s': bad", "a\nb\tc\x1b") == EXIT_USAGE, "code");
	fclose(stderr);
	stderr = saved;
	CHECK_STR(buf, "unit: in\\nput:3: word 'a\\nb\\tc\\x1b': bad\n");
	free(buf);
}

static void pin_root_resolution(void)
{
	unsetenv(LB_PIN_ROOT_ENV);
	CHECK_STR(lb_pin_root_default(NULL), LB_DEFAULT_PIN_ROOT);
	setenv(LB_PIN_ROOT_ENV, "/tmp/from-env", 1);
	CHECK_STR(lb_pin_root_default(NULL), "/tmp/from-env");
	CHECK_STR(lb_pin_root_default("/tmp/from-option"), "/tmp/from-option");
	CHECK_STR(lb_pin_root_default(""), "/tmp/from-env");
	unsetenv(LB_PIN_ROOT_ENV);
}

static void relative_pin_root_refused(void)
{
	struct lb_open_opts o = { .pin_root = "relative/path" };
	struct lb_ctx *ctx;

	CHECK(lb_open(&ctx, &o) == -EINVAL, "relative root");
	CHECK(strstr(lb_ctx_errmsg(ctx), "absolute") != NULL, "%s", lb_ctx_errmsg(ctx));
	lb_close(ctx);
}

/* A command of a table past the 63rd is found (there is no silent limit). */
static int cmd_hit;

static int count_cmd(struct cli *cli, int argc, char **argv)
{
	cmd_hit = atoi(argv[0] + 1);
	return EXIT_OK;
}

static void dispatch_long_table(void)
{
	static char names[80][8];
	struct cli_cmd cmds[81];
	struct cli cli = { .prog = "unit" };
	char *argv[] = { "c79", NULL };
	char *argv2[] = { "c64", NULL };

	for (int i = 0; i < 80; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		cmds[i] = (struct cli_cmd){ names[i], count_cmd, NULL };
	}
	cmds[80] = (struct cli_cmd){ NULL, NULL, NULL };
	cmd_hit = -1;
	CHECK(cli_dispatch(&cli, 1, argv, cmds, "command") == EXIT_OK && cmd_hit == 79,
	      "80th command: hit %d", cmd_hit);
	CHECK(cli_dispatch(&cli, 1, argv2, cmds, "command") == EXIT_OK && cmd_hit == 64,
	      "65th command: hit %d", cmd_hit);
}

/* What the parser under test fills. */
struct kw_obj {
	const char *dev, *name;
	bool xdp, tc, in, out;
	int ports, words;
};

static int kw_port(struct cli *cli, const struct cli_kw *kw, void *obj, const char *val)
{
	unsigned long long v;

	if (cli_parse_uint(cli, "port", val, 1, 65535, &v))
		return EXIT_USAGE;
	((struct kw_obj *)obj)->ports++;
	return EXIT_OK;
}

/* "list A B C end": the words up to "end". */
static int kw_list(struct cli *cli, void *obj, int argc, char **argv, int *used)
{
	int i = 0;

	while (i < argc && strcmp(argv[i], "end"))
		i++;
	if (i >= argc)
		return cli_err(cli, EXIT_USAGE, "list: missing end");
	((struct kw_obj *)obj)->words = i;
	*used = i + 1;
	return EXIT_OK;
}

static const struct cli_kw test_kws[] = {
	{ "dev", CLI_VALUE, CLI_KW_REQUIRED, 0, "IFNAME", .field = offsetof(struct kw_obj, dev) },
	{ "name", CLI_VALUE, 0, 0, NULL, .field = offsetof(struct kw_obj, name) },
	{ "xdp", CLI_FLAG, 0, 1, .field = offsetof(struct kw_obj, xdp) },
	{ "tc", CLI_FLAG, 0, 1, .field = offsetof(struct kw_obj, tc) },
	{ "ingress", CLI_FLAG, 0, 2, .field = offsetof(struct kw_obj, in) },
	{ "egress", CLI_FLAG, 0, 2, .field = offsetof(struct kw_obj, out) },
	{ "port", CLI_VALUE, CLI_KW_REPEAT, 0, "PORT", .parse = kw_port },
	{ "prio", CLI_VALUE, CLI_KW_EXACT, 3, .parse = kw_port },
	{ "pref", CLI_VALUE, 0, 3, .parse = kw_port },
	{ "list", CLI_WORDS, 0, 0, .take = kw_list },
	{ NULL },
};

/* Run the test table on a line of words; the exit code, *o and the message. */
static int kw_run(const char *line, struct kw_obj *o, char *msg, size_t len, int *used)
{
	struct cli cli = { .prog = "unit" };
	char buf[256], *argv[32];
	FILE *saved = stderr;
	int argc, rc;

	snprintf(buf, sizeof(buf), "%s", line);
	argc = cli_split_line(buf, argv, 32);
	memset(o, 0, sizeof(*o));
	stderr = fmemopen(msg, len, "w");
	memset(msg, 0, len);
	rc = cli_parse_kw(&cli, test_kws, NULL, NULL, argc, argv, o, used);
	fclose(stderr);
	stderr = saved;
	msg[strcspn(msg, "\n")] = '\0';
	return rc;
}

static void keyword_tables(void)
{
	struct kw_obj o;
	char msg[512];
	int used = -1;

	CHECK_EQ_U(kw_run("dev veth0 xdp name a port 80 port 81", &o, msg, sizeof(msg), NULL), 0);
	CHECK(o.dev && !strcmp(o.dev, "veth0") && o.xdp && !o.tc && o.ports == 2 &&
	      !strcmp(o.name, "a"), "fields set: %s", msg);
	CHECK_EQ_U(kw_run("d veth0 t eg", &o, msg, sizeof(msg), NULL), 0);	/* prefixes */
	CHECK(o.tc && o.out && !strcmp(o.dev, "veth0"), "prefixes set the fields");
	CHECK_EQ_U(kw_run("dev a dev b", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: dev: given twice");
	CHECK_EQ_U(kw_run("dev a ingress egress", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: 'egress' after 'ingress': give one of ingress, egress");
	CHECK_EQ_U(kw_run("dev a t x", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: 'xdp' after 'tc': give one of xdp, tc");
	CHECK_EQ_U(kw_run("xdp", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: missing 'dev IFNAME'");
	CHECK_EQ_U(kw_run("dev", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: dev: missing IFNAME");
	CHECK_EQ_U(kw_run("dev a name", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: name: missing value");
	CHECK_EQ_U(kw_run("dev a bogus", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: keyword 'bogus': expected one of dev, name, xdp, tc, ingress, "
		       "egress, port, pref, list");
	CHECK_EQ_U(kw_run("dev a p 1", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK(strstr(msg, "'p': ambiguous") != NULL, "ambiguous: %s", msg);
	CHECK_EQ_U(kw_run("dev a port 0", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: port '0': expected a number from 1 to 65535");
	/* an exact-only spelling: in full only, and one of its group */
	CHECK_EQ_U(kw_run("dev a prio 5", &o, msg, sizeof(msg), NULL), 0);
	CHECK_EQ_U(kw_run("dev a pri 5", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_EQ_U(kw_run("dev a prio 5 pref 6", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: 'pref' after 'prio': give one of pref");
	/* words taken by a handler, then keywords again */
	CHECK_EQ_U(kw_run("list x dev y end dev a", &o, msg, sizeof(msg), NULL), 0);
	CHECK(o.words == 3 && !strcmp(o.dev, "a"), "list took %d words", o.words);
	CHECK_EQ_U(kw_run("dev a list x", &o, msg, sizeof(msg), NULL), EXIT_USAGE);
	CHECK_STR(msg, "unit: list: missing end");
	/* with used: stops at the first word that is not a keyword */
	CHECK_EQ_U(kw_run("dev a xdp 198.18.0.1 port 80", &o, msg, sizeof(msg), &used), 0);
	CHECK_EQ_U(used, 3);
	CHECK_EQ_U(kw_run("dev a", &o, msg, sizeof(msg), &used), 0);
	CHECK_EQ_U(used, 2);
}

/* A word of the user is echoed cut to a sane length, whatever its size. */
static void long_token_cut(void)
{
	size_t big = 100000;
	char *tok = malloc(big + 1), msg[512];
	struct cli cli = { .prog = "unit" };
	const char *const words[] = { "show", "set", NULL };
	char *argv[] = { "dev", "a", tok, NULL };
	struct kw_obj o;
	FILE *saved = stderr;
	unsigned long long v;

	memset(tok, 'x', big);
	tok[big] = '\0';
	CHECK_EQ_U(strlen(cli_tok("short")), 5);
	CHECK_EQ_U(strlen(cli_tok(tok)), 67);
	CHECK(!strcmp(cli_tok(tok) + 64, "..."), "ends with ...");
	for (int t = 0; t < 3; t++) {
		memset(msg, 0, sizeof(msg));
		stderr = fmemopen(msg, sizeof(msg), "w");
		if (t == 0)
			cli_keyword(&cli, tok, words, "command");
		else if (t == 1)
			cli_parse_uint(&cli, "port", tok, 1, 65535, &v);
		else
			cli_parse_kw(&cli, test_kws, NULL, NULL, 3, argv, &o, NULL);
		fclose(stderr);
		stderr = saved;
		CHECK(strlen(msg) < 200 && strstr(msg, "xxx...'") != NULL, "case %d cut: %zu bytes",
		      t, strlen(msg));
	}
	free(tok);
}

int main_sched(void);
int main_ct(void);
int main_btfval(void);
int main_restore(void);
int main_maps(void);
int main_diff(void);
int main_health(void);

int main(void)
{
	RUN(keyword_prefixes);
	RUN(hook_and_mode_names);
	RUN(split_lines);
	RUN(json_output);
	RUN(text_output);
	RUN(parse_numbers);
	RUN(dispatch_long_table);
	RUN(keyword_tables);
	RUN(long_token_cut);
	RUN(errors_stay_one_line);
	RUN(pin_root_resolution);
	RUN(relative_pin_root_refused);
	main_sched();
	main_ct();
	main_btfval();
	main_restore();
	main_maps();
	main_diff();
	main_health();
	return tap_done();
}
