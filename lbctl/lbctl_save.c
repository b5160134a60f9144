// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lbctl save and restore: the whole rule set as lbctl commands.
 *
 * save prints "conntrack timeout set ...", then per service "service add ..." and
 * its "endpoint add ..." lines, services in the order of service show, endpoints
 * in the service's own order; so save | restore | save gives the same bytes.
 * restore parses the whole file first (the first error names FILE:LINE and
 * nothing changes), then hands the set to lb_ruleset_restore(), which switches to
 * it with one map update.  -z: gzip (zlib); restore also reads either.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/in.h>
#include <sys/stat.h>
#include <zlib.h>
#include "cli.h"
#include "lbctl.h"
#include "lbctl_restore_parse.h"

/* ------------------------------------------------------------------ save */

static const char *proto_word(uint8_t p)
{
	return p == IPPROTO_UDP ? "udp" : "tcp";
}

/* "VIP port N proto P": how a service is named on every line. */
static void put_svc_name(FILE *f, const struct lb_svc_key *k)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(f, "%s port %u proto %s", lb_addr_str(&k->vip, k->family, a, sizeof(a)),
		ntohs(k->port), proto_word(k->proto));
}

static void put_service(FILE *f, const struct lb_ruleset_svc *r)
{
	const struct lb_service *s = &r->svc;
	char a[INET6_ADDRSTRLEN];

	fputs("service add ", f);
	put_svc_name(f, &s->key);
	fprintf(f, " sched %s mode %s", lb_sched_name(s->sched), lb_nat_mode_name(s->mode));
	if (s->mode == LB_NAT_FULLNAT)
		fprintf(f, " snat %s", s->snat_ifaddr ? "ifaddr" :
			lb_addr_str(&s->snat, s->key.family, a, sizeof(a)));
	if (s->persist)
		fprintf(f, " persist %u", s->persist);
	if (s->maglev_size && s->maglev_size != LB_MAGLEV_DEFAULT)
		fprintf(f, " maglev-size %u", s->maglev_size);
	for (uint32_t i = 0; i < s->n_allow && i < LB_SVC_ALLOW_MAX; i++)
		fprintf(f, "%s%s/%u", i ? " " : " allow ",
			lb_addr_str(&s->allow[i].addr, s->key.family, a, sizeof(a)),
			s->allow[i].prefix_len);
	fputc('\n', f);
	for (size_t i = 0; i < r->n_eps; i++) {
		const struct lb_endpoint *e = &r->eps[i];

		fprintf(f, "endpoint add %s port %u weight %u",
			lb_addr_str(&e->addr, e->family, a, sizeof(a)), ntohs(e->port), e->weight);
		if (e->status != LB_EP_UP)
			fprintf(f, " state %s", lb_ep_status_name(e->status));
		fputs(" service ", f);
		put_svc_name(f, &s->key);
		fputc('\n', f);
	}
}

/* The rule set as text, into a malloc'd buffer. */
static int format_ruleset(const struct lb_ruleset *rs, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	unsigned long rules = 1;	/* the timeouts */

	if (!f)
		return -errno;
	fputs("# lbkit rule set (lbctl save); 'lbctl restore' replaces the rule set with it\n", f);
	fputs("conntrack timeout set", f);
	for (int i = 0; i < LB_TO_MAX && lb_timeout_name(i); i++)
		fprintf(f, " %s %u", lb_timeout_name(i), rs->timeout[i]);
	fputc('\n', f);
	for (size_t i = 0; i < rs->n; i++) {
		put_service(f, &rs->svcs[i]);
		rules += 1 + rs->svcs[i].n_eps;
	}
	/* restore requires it: a file cut short is refused (lbctl_restore_parse.c) */
	fprintf(f, "# end %lu rules\n", rules);
	return fclose(f) ? -errno : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= w;
	}
	return 0;
}

/* Write buf to fd, compressed with -z (a gzip stream: no name, time 0, so the
 * same rule set gives the same bytes).  fd stays open. */
static int write_out(int fd, const char *buf, size_t len, bool z)
{
	gzFile g;
	int dfd, err = 0;

	if (!z)
		return write_all(fd, buf, len);
	dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	g = gzdopen(dfd, "wb9");
	if (!g) {
		close(dfd);
		return -ENOMEM;
	}
	if (len && gzwrite(g, buf, len) != (int)len)
		err = -EIO;
	if (gzclose(g) != Z_OK && !err)
		err = -EIO;
	return err;
}

/* "[-z] [file FILE]" of save; "[-z] [file FILE | -]" of restore. */
static int parse_io_args(struct cli *cli, int argc, char **argv, bool restore, bool *z,
			 const char **file)
{
	static const char *const kw[] = { "file", NULL };

	*z = false;
	*file = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-z") || !strcmp(argv[i], "--compress")) {
			*z = true;
			continue;
		}
		if (restore && !strcmp(argv[i], "-") && !*file) {
			*file = "-";
			continue;
		}
		if (*file)
			return cli_err(cli, EXIT_USAGE, "%s: unexpected '%s'", argv[0], cli_tok(argv[i]));
		if (lb_match_keyword(argv[i], kw) < 0)
			return cli_err(cli, EXIT_USAGE, "%s: unexpected '%s' (expected -z or 'file FILE'%s)",
				       argv[0], argv[i], restore ? " or '-'" : "");
		if (i + 1 >= argc || !*argv[i + 1])
			return cli_err(cli, EXIT_USAGE, "%s: file: missing file name", argv[0]);
		*file = argv[++i];
	}
	return EXIT_OK;
}

int write_file_atomic(const char *path, const char *buf, size_t len, bool z, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", path);
	if (snprintf(tmp, sizeof(tmp), "%s/.lbctl.XXXXXX", dirname(dir)) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	err = fchmod(fd, mode) ? -errno : 0;
	if (!err)
		err = write_out(fd, buf, len, z);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int do_save(struct cli *cli, int argc, char **argv)
{
	struct lb_ruleset rs = {};
	const char *file;
	struct lb_ctx *ctx = NULL;
	char *buf = NULL;
	size_t len = 0;
	bool z;
	int rc, err;

	rc = parse_io_args(cli, argc, argv, false, &z, &file);
	if (rc)
		return rc;
	if (z && !file && isatty(STDOUT_FILENO))
		return cli_err(cli, EXIT_USAGE,
			       "save -z: compressed data not written to a terminal (redirect it, or 'file FILE')");
	/* The writer lock: no restore or change runs while the set is read, so it
	 * is one consistent rule set. */
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (rc)
		goto out;
	err = lb_ruleset_get(ctx, &rs);
	if (!err)
		err = format_ruleset(&rs, &buf, &len);
	if (err) {
		rc = cli_err(cli, EXIT_FAIL, "save: %s", cli_strerror(ctx, err));
		goto out;
	}
	/* Never a file restore refuses (a map written raw can hold what no command
	 * writes): nothing is written then, an old file stays. */
	if (restore_check_saved(cli, ctx, buf, len)) {
		rc = EXIT_FAIL;
		goto out;
	}
	if (file) {
		mode_t mask = umask(0);

		umask(mask);
		err = write_file_atomic(file, buf, len, z, 0666 & ~mask);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "save: %s: %s", file, strerror(-err));
	} else {
		fflush(stdout);
		err = write_out(STDOUT_FILENO, buf, len, z);
		if (err)
			rc = cli_err(cli, EXIT_FAIL, "save: %s", strerror(-err));
	}
out:
	free(buf);
	lb_ruleset_free(&rs);
	lb_close(ctx);
	return rc;
}

/* ------------------------------------------------------------------ restore: input */

/* The whole input, decompressed when it is gzip (zlib reads plain data as is). */
static int read_input(const char *file, char **buf, size_t *len)
{
	int fd = file && strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	size_t cap = 65536, n = 0;
	char *b = NULL;
	gzFile g;
	int err = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	g = gzdopen(fd, "rb");
	if (!g) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		int r;

		if (!b || n + 1 >= cap) {
			char *nb = realloc(b, b ? cap *= 2 : cap);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			b = nb;
		}
		r = gzread(g, b + n, cap - n - 1 > INT_MAX ? INT_MAX : cap - n - 1);
		if (r < 0) {
			int zerr;

			gzerror(g, &zerr);
			err = zerr == Z_ERRNO ? -errno : -EBADMSG;
			break;
		}
		if (r == 0) {
			int zerr;

			gzerror(g, &zerr);
			if (zerr != Z_OK)
				err = -EBADMSG;
			break;
		}
		n += r;
	}
	/* A compressed stream cut short is an error here, not the end of the set. */
	if (gzclose(g) != Z_OK && !err)
		err = -EBADMSG;
	if (err) {
		free(b);
		return err;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* ------------------------------------------------------------------ restore */

struct progress {
	bool tty;
	double last;
	int width;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* On a terminal: one line on stderr, redrawn at most ten times a second. */
static void show_progress(enum lb_restore_stage stage, size_t done, size_t total, void *cookie)
{
	struct progress *pg = cookie;
	double now = mono();
	int w;

	if (!pg->tty || (done != total && now - pg->last < 0.1))
		return;
	pg->last = now;
	if (stage == LB_RESTORE_WRITE)
		w = fprintf(stderr, "\rrestore: %zu/%zu services", done, total);
	else
		w = fprintf(stderr, "\rrestore: switched; removing the old set: %zu/%zu services",
			    done, total);
	if (w < pg->width)
		fprintf(stderr, "%*s", pg->width - w, "");
	pg->width = w > pg->width ? w : pg->width;
	fflush(stderr);
}

int do_restore(struct cli *cli, int argc, char **argv)
{
	struct lb_ruleset rs = {};
	struct lb_ctx *ctx = NULL;
	struct progress pg = { .tty = isatty(STDERR_FILENO) };
	struct lb_restore_opts opts = { .progress = show_progress, .cookie = &pg };
	const char *file, *name;
	char *buf = NULL;
	size_t len;
	bool z;
	int rc, err;

	rc = parse_io_args(cli, argc, argv, true, &z, &file);
	if (rc)
		return rc;
	name = file && strcmp(file, "-") ? file : "<stdin>";
	err = read_input(file, &buf, &len);
	if (err)
		return cli_err(cli, EXIT_FAIL, "restore: %s: %s", name,
			       err == -EBADMSG ? "corrupt compressed data" : strerror(-err));
	rc = cli_open(cli, LB_OPEN_WRITE, &ctx);
	if (!rc)
		rc = restore_parse(cli, ctx, buf, len, name, &rs);
	if (rc)
		goto out;
	err = lb_ruleset_restore(ctx, &rs, &opts);
	if (pg.width)
		fputc('\n', stderr);	/* after the progress line */
	if (err)
		rc = cli_err(cli, err == -EINVAL || err == -EAFNOSUPPORT ? EXIT_USAGE : EXIT_FAIL,
			     "restore: %s", cli_strerror(ctx, err));
out:
	free(buf);
	lb_ruleset_free(&rs);
	lb_close(ctx);
	return rc;
}
