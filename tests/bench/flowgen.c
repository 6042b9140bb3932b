/*
 * flowgen.c - TCP flows with Poisson arrivals and a heavy-tailed size mix,
 * and the flow completion time (FCT) of each: the traffic of
 * tests/bench/qos_experiment.sh.
 *
 *   flowgen serve ADDR PORT
 *       accept connections; read each until EOF, answer one byte, close
 *   flowgen run ADDR PORT FLOWS LOAD RATE SEED SCALE
 *       open FLOWS connections to ADDR:PORT, arrivals a Poisson process
 *       at LOAD (0..1) of RATE bit/s for the mean flow size; each sends
 *       its size and half-closes; its FCT runs from connect() to the
 *       server's byte.  Sizes: the web-search mix of DCTCP/pFabric/PIAS
 *       (1460-byte packets, 6 to 20000; mean ~1.1k) times SCALE, at
 *       least 1 byte.  SEED fixes arrivals and sizes.  Prints
 *       "id,size,start_s,fct_us" per flow in the order they finished.
 *
 * One thread, non-blocking sockets and epoll: thousands of flows, as many
 * in flight as the load makes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FG_MSS	    1460.0
#define FG_EVENTS   256
#define FG_CHUNK    65536
#define FG_MAX_FLOW 200000

/* Web-search flow sizes in packets and their CDF (PIAS's CDF_search). */
static const double fg_cdf[][2] = {
	{ 6, 0.0 },    { 6, 0.15 },   { 13, 0.2 },    { 19, 0.3 },
	{ 33, 0.4 },   { 53, 0.53 },  { 133, 0.6 },   { 667, 0.7 },
	{ 1333, 0.8 }, { 3333, 0.9 }, { 6667, 0.97 }, { 20000, 1.0 },
};
#define FG_CDF_N (sizeof(fg_cdf) / sizeof(fg_cdf[0]))

struct fg_flow {
	int fd;
	long size, sent;
	double start, at;
};

static char fg_buf[FG_CHUNK];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
fg_addr(struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---- the server ---- */

static void
serve_event(int ep, int lfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	ssize_t n;

	if (fd == lfd) {
		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		}
		return;
	}
	while ((n = read(fd, fg_buf, sizeof(fg_buf))) > 0)
		;
	if (n == 0 || errno != EAGAIN) {
		if (n == 0 && write(fd, "k", 1) != 1)
			perror("flowgen: answer");
		close(fd); /* also leaves the epoll set */
	}
}

static int
fg_serve(const char *ip, int port)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[FG_EVENTS];
	struct sockaddr_in sa;
	int lfd, ep, one = 1, n;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fg_addr(&sa, ip, port) < 0 ||
	    bind(lfd, (void *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
		return perror("flowgen: listen"), 1;
	ep = epoll_create1(0);
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("flowgen: serving %s:%d\n", ip, port);
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, FG_EVENTS, -1);
		for (int i = 0; i < n; i++)
			serve_event(ep, lfd, evs[i].data.fd);
	}
}

/* ---- the client ---- */

/* A size in bytes from the CDF, linear between its points. */
static long
fg_size(double u, double scale)
{
	unsigned int i = 1;
	double pk, lo, hi;

	while (i < FG_CDF_N - 1 && u > fg_cdf[i][1])
		i++;
	lo = fg_cdf[i - 1][1], hi = fg_cdf[i][1];
	pk = fg_cdf[i - 1][0] + (hi > lo ? (u - lo) / (hi - lo) : 1) *
					(fg_cdf[i][0] - fg_cdf[i - 1][0]);
	return lround(fmax(1.0, pk * FG_MSS * scale));
}

static double
fg_mean(double scale)
{
	double s = 0;

	for (int i = 0; i < 100000; i++)
		s += (double)fg_size((i + 0.5) / 100000.0, scale);
	return s / 100000.0;
}

/* Sizes and arrival times (seconds from the start) of @n flows. */
static void
fg_plan(struct fg_flow *f, int n, double lambda, unsigned int seed,
	double scale)
{
	double t = 0;

	srand48(seed);
	for (int i = 0; i < n; i++) {
		t += -log(1.0 - drand48()) / lambda;
		f[i] = (struct fg_flow){ .fd = -1, .at = t };
		f[i].size = fg_size(drand48(), scale);
	}
}

static int
fg_start(int ep, struct fg_flow *f, int id, const struct sockaddr_in *sa)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = (uint32_t)id };

	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (f->fd < 0)
		return -1;
	f->start = now();
	if (connect(f->fd, (const void *)sa, sizeof(*sa)) < 0 &&
	    errno != EINPROGRESS)
		return -1;
	return epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev);
}

/* Writable: send more; all sent: half-close and wait for the answer. */
static int
fg_send(int ep, struct fg_flow *f, int id)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)id };
	ssize_t n;

	while (f->sent < f->size) {
		long want = f->size - f->sent;

		n = write(f->fd, fg_buf,
			  want < FG_CHUNK ? (size_t)want : FG_CHUNK);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		f->sent += n;
	}
	shutdown(f->fd, SHUT_WR);
	return epoll_ctl(ep, EPOLL_CTL_MOD, f->fd, &ev);
}

/* Readable: the server's byte (or an error) ends the flow.  1: done. */
static int
fg_finish(struct fg_flow *f, int id, double t0)
{
	char c;

	if (read(f->fd, &c, 1) != 1)
		fprintf(stderr, "flowgen: flow %d ended without answer\n", id);
	printf("%d,%ld,%.6f,%.0f\n", id, f->size, f->start - t0,
	       (now() - f->start) * 1e6);
	close(f->fd);
	f->fd = -1;
	return 1;
}

static int
fg_event(int ep, struct fg_flow *fl, const struct epoll_event *ev, double t0)
{
	int id = (int)ev->data.u32;
	struct fg_flow *f = &fl[id];

	if ((ev->events & EPOLLIN) ||
	    (ev->events & (EPOLLERR | EPOLLHUP) && f->sent >= f->size))
		return fg_finish(f, id, t0);
	if (ev->events & (EPOLLERR | EPOLLHUP)) {
		fprintf(stderr, "flowgen: flow %d failed\n", id);
		close(f->fd);
		return 1;
	}
	return fg_send(ep, f, id) < 0 ? (close(f->fd), 1) : 0;
}

static int
fg_loop(struct fg_flow *fl, int n, const struct sockaddr_in *sa)
{
	struct epoll_event evs[FG_EVENTS];
	int ep = epoll_create1(0), next = 0, done = 0, k, wait_ms;
	double t0 = now();

	while (done < n) {
		while (next < n && now() - t0 >= fl[next].at) {
			if (fg_start(ep, &fl[next], next, sa) < 0)
				return perror("flowgen: connect"), 1;
			next++;
		}
		wait_ms = next < n ? (int)((fl[next].at - (now() - t0)) * 1e3)
				   : 1000;
		k = epoll_wait(ep, evs, FG_EVENTS, wait_ms < 0 ? 0 : wait_ms);
		for (int i = 0; i < k; i++)
			done += fg_event(ep, fl, &evs[i], t0);
	}
	return 0;
}

static int
fg_run(char **a)
{
	int n = atoi(a[2]);
	double load = atof(a[3]), rate = atof(a[4]), scale = atof(a[6]);
	struct rlimit rl = { 65536, 65536 };
	struct sockaddr_in sa;
	struct fg_flow *fl;
	double mean;
	int rc;

	if (fg_addr(&sa, a[0], atoi(a[1])) < 0 || n < 1 || n > FG_MAX_FLOW ||
	    load <= 0 || load > 1 || rate <= 0 || scale <= 0) {
		fprintf(stderr, "flowgen: bad arguments\n");
		return 2;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	fl = calloc((size_t)n, sizeof(*fl));
	if (fl == NULL)
		return perror("flowgen"), 1;
	mean = fg_mean(scale);
	fg_plan(fl, n, load * rate / 8.0 / mean, (unsigned int)atol(a[5]),
		scale);
	fprintf(stderr, "flowgen: %d flows, mean %.0f bytes, %.1f flows/s\n", n,
		mean, load * rate / 8.0 / mean);
	printf("id,size,start_s,fct_us\n");
	rc = fg_loop(fl, n, &sa);
	free(fl);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return fg_serve(argv[2], atoi(argv[3]));
	if (argc == 9 && strcmp(argv[1], "run") == 0)
		return fg_run(argv + 2);
	fprintf(stderr, "usage: flowgen serve ADDR PORT\n"
			"       flowgen run ADDR PORT FLOWS LOAD RATE SEED "
			"SCALE\n");
	return 2;
}
