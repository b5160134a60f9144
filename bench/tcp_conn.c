// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp_conn - new TCP connections per second, for bench/tcp_bench.sh.
 *
 *   tcp_conn server PORT
 *       accept and close at once, forever (one thread; the server closes first,
 *       so TIME_WAIT stays on the server and the client never runs out of ports).
 *   tcp_conn client ADDR PORT SECONDS CONCURRENCY
 *       keep CONCURRENCY non-blocking connects in flight for SECONDS: connect,
 *       wait for the server's FIN (EOF), close, start the next one.  Prints
 *       "connections SECONDS_MEASURED per_second errors".
 *
 * A connection counts when the handshake completed and the server's close came
 * back: three packets from the client, three from the server, each through the
 * load balancer.  IPv4 only.  Not a test: it asserts nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		perror("tcp_conn server");
		return 1;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
			return perror("accept"), 1;
	}
}

static int start(int ep, const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP };

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		return -1;
	}
	return 0;
}

static int client(const char *addr, int port, double secs, int conc)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct epoll_event evs[256];
	unsigned long done = 0, errors = 0;
	double t0, end;
	int ep, inflight = 0;

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1 || conc < 1 || conc > 4096) {
		fprintf(stderr, "tcp_conn: bad address or concurrency\n");
		return 2;
	}
	ep = epoll_create1(0);
	t0 = now();
	end = t0 + secs;
	for (;;) {
		double t = now();
		int n;

		while (t < end && inflight < conc) {
			if (start(ep, &a)) {
				errors++;
				break;
			}
			inflight++;
		}
		if (!inflight)
			break;
		n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t len = sizeof(err);
			char buf[64];

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				errors++;
			} else {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r > 0 || (r < 0 && errno == EAGAIN))
					continue;	/* not the end yet */
				done += r == 0;
				errors += r < 0;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			inflight--;
		}
		if (now() > end + 5)	/* stragglers: give up on them */
			break;
	}
	t0 = now() - t0;
	printf("%lu %.3f %.0f %lu\n", done, t0, done / t0, errors);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: tcp_conn server PORT | client ADDR PORT SECONDS CONCURRENCY\n");
	return 2;
}
