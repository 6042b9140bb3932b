/*
 * udp_flood.c - 64-byte UDP packets (20 IP + 8 UDP + 36 payload) as fast
 * as sendmmsg() sends them, and a receiver that counts what arrives.
 *
 *   udp_flood send DST PORT SECS [SRC[,SRC...]]
 *       send for SECS seconds from each SRC address in turn (default: any)
 *       in batches of 64; prints "offered PACKETS SECS PPS"
 *   udp_flood recv ADDR PORT SECS
 *       count datagrams for up to SECS seconds (recvmmsg), stop 1 s after
 *       the last one; prints "delivered PACKETS MARKED", MARKED those
 *       that arrived with TOS 0x55 (rewritten by r: a packet the kernel
 *       let past a full queue, NFQA_CFG_F_FAIL_OPEN, is not)
 *
 * The packet-rate half of tests/bench/agent_bench.sh: delivered packets
 * over the sender's seconds is the rate r forwarded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sendmmsg, recvmmsg */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_PAYLOAD 36
#define FLOOD_BATCH   64
#define FLOOD_SRC_MAX 16

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
addr_of(struct sockaddr_in *sa, const char *ip, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int
open_sender(const char *src, const struct sockaddr_in *dst)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (src &&
	    (addr_of(&sa, src, 0) < 0 || bind(fd, (void *)&sa, sizeof(sa)) < 0))
		return -1;
	return connect(fd, (const void *)dst, sizeof(*dst)) < 0 ? -1 : fd;
}

/* One connected socket per source address in @srcs (NULL: any). */
static int
open_senders(int *fds, char *srcs, const struct sockaddr_in *dst)
{
	char *save = NULL, *s;
	int n = 0;

	if (srcs == NULL)
		return (fds[0] = open_sender(NULL, dst)) < 0 ? -1 : 1;
	for (s = strtok_r(srcs, ",", &save); s && n < FLOOD_SRC_MAX;
	     s = strtok_r(NULL, ",", &save))
		if ((fds[n++] = open_sender(s, dst)) < 0)
			return -1;
	return n;
}

static int
flood_send(const char *dst, int port, double secs, char *srcs)
{
	static char payload[FLOOD_PAYLOAD];
	struct iovec iov = { payload, sizeof(payload) };
	struct mmsghdr m[FLOOD_BATCH];
	struct sockaddr_in sa;
	int fds[FLOOD_SRC_MAX], n, i = 0, k;
	unsigned long sent = 0;
	double t0, t;

	if (addr_of(&sa, dst, port) < 0 ||
	    (n = open_senders(fds, srcs, &sa)) < 0) {
		perror("udp_flood: send socket");
		return 1;
	}
	memset(m, 0, sizeof(m));
	for (k = 0; k < FLOOD_BATCH; k++) {
		m[k].msg_hdr.msg_iov = &iov;
		m[k].msg_hdr.msg_iovlen = 1;
	}
	t0 = t = now();
	while (t - t0 < secs) {
		k = sendmmsg(fds[i++ % n], m, FLOOD_BATCH, 0);
		if (k > 0)
			sent += (unsigned long)k;
		else if (errno != ENOBUFS && errno != EAGAIN &&
			 errno != ECONNREFUSED && errno != EINTR)
			return perror("udp_flood: sendmmsg"), 1;
		if ((i & 15) == 0)
			t = now();
	}
	t = now() - t0;
	printf("offered %lu %.3f %.0f\n", sent, t, (double)sent / t);
	return 0;
}

/* Datagrams of the @k received in @m whose TOS was 0x55. */
static unsigned long
count_marked(struct mmsghdr *m, int k)
{
	unsigned long n = 0;

	for (int i = 0; i < k; i++) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr);

		for (; c; c = CMSG_NXTHDR(&m[i].msg_hdr, c))
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_TOS && *CMSG_DATA(c) == 0x55)
				n++;
		m[i].msg_hdr.msg_controllen = 64;
	}
	return n;
}

static int
flood_recv(const char *ip, int port, double secs)
{
	static char bufs[FLOOD_BATCH][2048], ctl[FLOOD_BATCH][64];
	struct iovec iov[FLOOD_BATCH];
	struct mmsghdr m[FLOOD_BATCH];
	struct sockaddr_in sa;
	int fd, k, size = 8 << 20, one = 1;
	unsigned long got = 0, marked = 0;
	double end = now() + secs;
	struct pollfd pfd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || addr_of(&sa, ip, port) < 0 ||
	    bind(fd, (void *)&sa, sizeof(sa)) < 0)
		return perror("udp_flood: recv socket"), 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	memset(m, 0, sizeof(m));
	for (k = 0; k < FLOOD_BATCH; k++) {
		iov[k] = (struct iovec){ bufs[k], sizeof(bufs[k]) };
		m[k].msg_hdr.msg_iov = &iov[k];
		m[k].msg_hdr.msg_iovlen = 1;
		m[k].msg_hdr.msg_control = ctl[k];
		m[k].msg_hdr.msg_controllen = sizeof(ctl[k]);
	}
	printf("listening\n");
	fflush(stdout);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (now() < end && poll(&pfd, 1, got ? 1000 : 500) >= 0) {
		if (!(pfd.revents & POLLIN)) {
			if (got)
				break; /* 1 s quiet after traffic */
			continue;
		}
		k = recvmmsg(fd, m, FLOOD_BATCH, MSG_DONTWAIT, NULL);
		if (k > 0) {
			got += (unsigned long)k;
			marked += count_marked(m, k);
		}
	}
	printf("delivered %lu %lu\n", got, marked);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "send") == 0)
		return flood_send(argv[2], atoi(argv[3]), atof(argv[4]),
				  argc > 5 ? argv[5] : NULL);
	if (argc == 5 && strcmp(argv[1], "recv") == 0)
		return flood_recv(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: udp_flood send DST PORT SECS [SRC[,SRC...]]\n"
			"       udp_flood recv ADDR PORT SECS\n");
	return 2;
}
