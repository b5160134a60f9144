// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of pure user-space code: keywords, names, line splitting, JSON, numbers. */
#include <errno.h>
#include <stdlib.h>
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

int main_sched(void);
int main_btfval(void);
int main_restore(void);

int main(void)
{
	RUN(keyword_prefixes);
	RUN(hook_and_mode_names);
	RUN(split_lines);
	RUN(json_output);
	RUN(text_output);
	RUN(parse_numbers);
	RUN(errors_stay_one_line);
	RUN(pin_root_resolution);
	RUN(relative_pin_root_refused);
	main_sched();
	main_btfval();
	main_restore();
	return tap_done();
}
