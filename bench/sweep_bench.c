// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the kernel's conntrack sweep costs (bpf/lib/gc.h), with 1k, 100k and 1M
 * entries: half of them expired, half live.
 *
 * For each size: a private pin root with a conntrack table of that size (the
 * datapath loaded as lbattach would, its sweep timer armed), filled from user space
 * with bpf_map_update_batch; then the sweep runs on its own for a while.  lb_gc
 * counts the time every sweep spent walking (bpf_ktime_get_ns() around the walk, in
 * the timer's softirq) and the sweeps done, so
 *
 *   CPU share  = sweep time / wall time       (of one CPU)
 *   pass cost  = sweep time / sweeps
 *   period     = wall time / sweeps           (gc_interval_ms, or 100x the pass)
 *
 * and the expired half must be gone after two periods.  Prints one line per size
 * and, with a file argument, writes them as CSV.  Nothing asserts time: the
 * figures go into the README.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <lb/lb.h>
#include "datapath/harness.h"

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static int read_gc(struct lb_ctx *ctx, struct lb_gc *gc)
{
	int fd = lb_map_fd(ctx, LB_MAP_GC), err;
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, gc) ? -errno : 0;
	close(fd);
	return err;
}

static long count_entries(int fd)
{
	struct lb_ct_key k, next, *prev = NULL;
	long n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* n entries: even ones expired (a NEW flow last seen 10 minutes ago), odd ones
 * live (an established flow seen now). */
static int fill(int fd, uint32_t n)
{
	const uint32_t batch = 4096;
	struct lb_ct_key *keys = calloc(batch, sizeof(*keys));
	struct lb_ct *vals = calloc(batch, sizeof(*vals));
	uint64_t now = mono_ns();
	int err = 0;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n && !err; i += batch) {
		__u32 cnt = n - i < batch ? n - i : batch;
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		for (__u32 j = 0; j < cnt; j++) {
			uint32_t id = i + j;

			memset(&keys[j], 0, sizeof(keys[j]));
			keys[j].src.a[0] = htonl(0xc6130000 | (id >> 8));	/* 198.19.x.y */
			keys[j].dst.a[0] = htonl(0xc613000a);
			keys[j].sport = htons(1024 + (id & 0xff));
			keys[j].dport = htons(80);
			keys[j].proto = 6;
			keys[j].family = LB_AF_INET;
			memset(&vals[j], 0, sizeof(vals[j]));
			vals[j].nat_dst.a[0] = htonl(0xc6120102);
			vals[j].nat_dport = htons(8080);
			vals[j].nat_src = keys[j].src;
			vals[j].nat_sport = keys[j].sport;
			vals[j].state = id & 1 ? LB_CT_EST : LB_CT_NEW;
			vals[j].created_ns = vals[j].last_seen_ns =
				id & 1 ? now : now - 600 * 1000000000ull;
		}
		if (bpf_map_update_batch(fd, keys, vals, &cnt, &o))
			err = -errno;
	}
	free(keys);
	free(vals);
	return err;
}

static int run(uint32_t n, unsigned int secs, FILE *csv)
{
	const struct dp_log lg = { stderr, "sweep_bench: " };
	struct lb_sizes sizes = { .conntrack = n < 64 ? 64 : n };
	struct dp_root dp = {};
	struct lb_gc g0, g1, g2;
	uint64_t t0, t1, period;
	long left, expired_left;
	int fd, err;

	err = dp_root_open(&dp, "lbsweep", "../bpf", &sizes, &lg);
	if (err) {
		fprintf(stderr, "sweep_bench: cannot load the datapath: %s\n", strerror(-err));
		return 1;
	}
	fd = lb_map_fd(dp.ctx, LB_MAP_CT);
	err = fd < 0 ? fd : fill(fd, n);
	if (err) {
		fprintf(stderr, "sweep_bench: fill %u: %s\n", n, strerror(-err));
		goto out;
	}
	/* Two periods from now the expired half must be gone; then measure. */
	err = read_gc(dp.ctx, &g0);
	t0 = mono_ns();
	do {
		usleep(100000);
		err = err ? err : read_gc(dp.ctx, &g1);
	} while (!err && g1.runs < g0.runs + 2 && mono_ns() - t0 < 60 * 1000000000ull);
	expired_left = 0;
	left = count_entries(fd);
	expired_left = left > (long)(n / 2) ? left - (long)(n / 2) : 0;
	err = err ? err : read_gc(dp.ctx, &g1);
	t1 = mono_ns();
	/* at least secs seconds and 3 sweeps (a big table sweeps less often), at most 90 s */
	do {
		usleep(200000);
		err = err ? err : read_gc(dp.ctx, &g2);
	} while (!err && (mono_ns() - t1 < secs * 1000000000ull || g2.runs < g1.runs + 3) &&
		 mono_ns() - t1 < 90 * 1000000000ull);
	if (err)
		goto out;
	{
		uint64_t wall = mono_ns() - t1, runs = g2.runs - g1.runs;
		uint64_t swept = g2.sweep_ns - g1.sweep_ns;

		period = runs ? wall / runs : 0;
		printf("entries %7u  sweeps %3llu  pass %9.3f ms  period %7.1f ms  cpu %6.3f %%  "
		       "expired left after 2 periods %ld\n", n, (unsigned long long)runs,
		       runs ? swept / 1e6 / runs : 0, period / 1e6, 100.0 * swept / wall,
		       expired_left);
		if (csv)
			fprintf(csv, "%u,%llu,%.3f,%.1f,%.4f,%ld\n", n, (unsigned long long)runs,
				runs ? swept / 1e6 / runs : 0, period / 1e6, 100.0 * swept / wall,
				expired_left);
	}
out:
	if (fd >= 0)
		close(fd);
	dp_root_close(&dp);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 1000, 100000, 1000000 };
	FILE *csv = NULL;
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1) {
		csv = fopen(argv[1], "w");
		if (!csv) {
			perror(argv[1]);
			return 1;
		}
		struct utsname u;

		uname(&u);
		fprintf(csv, "# sweep_bench: kernel %s, half of the entries expired\n"
			"entries,sweeps,pass_ms,period_ms,cpu_pct,expired_left\n", u.release);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		rc |= run(sizes[i], 10, csv);
	if (csv)
		fclose(csv);
	return rc;
}
