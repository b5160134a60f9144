// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl restore's parser (restore_parse(): text to struct lb_ruleset, no kernel)
 * under libFuzzer.  The input is the file.  Checked: the exit code is 0, 1 or 2, a
 * failure is one line "lbctl: rules:LINE: ..." on stderr; and what parses saves back
 * to text that parses to the same rule set: save | restore | save gives the same
 * bytes (lbctl_save.c's own formatter, included for it).
 */
#include "lbctl_save.c"

/* lbctl_svc.o names lbctl.c's help command; the parser never runs it. */
int do_help(struct cli *cli, int argc, char **argv)
{
	return EXIT_OK;
}

static struct lb_ctx *words_ctx;	/* for liblb's checks: opened nothing */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lb_open_opts o = { .pin_root = "/nonexistent/lbkit-fuzz" };

	lb_open(&words_ctx, &o);	/* fails (no such root) but leaves a ctx */
	return 0;
}

/* restore_parse of len bytes of text; the ruleset in rs, stderr's text in *err. */
static int parse(const char *text, size_t len, struct lb_ruleset *rs, char **err)
{
	struct cli cli = { .prog = "lbctl" };
	char *buf = malloc(len + 1);
	size_t err_len = 0;
	FILE *saved = stderr;
	int rc;

	memcpy(buf, text, len);
	buf[len] = '\0';
	memset(rs, 0, sizeof(*rs));
	*err = NULL;
	stderr = open_memstream(err, &err_len);
	rc = restore_parse(&cli, words_ctx, buf, len, "rules", rs);
	fclose(stderr);
	stderr = saved;
	free(buf);
	return rc;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_restore: %s\n%s\n", what, detail);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_ruleset rs, back;
	char *err, *err2, *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	int rc;

	rc = parse((const char *)data, size, &rs, &err);
	if (rc != EXIT_OK && rc != EXIT_FAIL && rc != EXIT_USAGE)
		fail("exit code not 0, 1 or 2", err);
	if (rc != EXIT_OK) {
		const char *nl = strchr(err, '\n');

		if (strncmp(err, "lbctl: rules:", 13) || !nl || nl[1])
			fail("a failure is not one line \"lbctl: rules:LINE: ...\"", err);
		goto out;
	}
	if (*err)
		fail("stderr on success", err);
	/* save prints the timeouts in force (lb_ruleset_get): 0 is the built-in one. */
	for (int i = 0; i < LB_TO_MAX; i++)
		if (!rs.timeout[i])
			rs.timeout[i] = lb_timeout_default(i);
	if (format_ruleset(&rs, &text, &len))
		abort();
	if (parse(text, len, &back, &err2) != EXIT_OK)
		fail("what it saves does not restore", err2);
	free(err2);
	if (format_ruleset(&back, &text2, &len2))
		abort();
	if (len != len2 || memcmp(text, text2, len))
		fail("save | restore | save differs", text2);
	lb_ruleset_free(&back);
	free(text);
	free(text2);
out:
	lb_ruleset_free(&rs);
	free(err);
	return 0;
}
