/*
 * bench_csum.c - micro benchmark of the packet basics (not a test):
 * ns per itm_packet_parse() and GB/s of itm_csum_partial() over a
 * 1500-byte and a 64 KiB buffer, with a plain 16-bit loop for scale.
 *
 *	bench_csum [seconds per case, default 0.5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "packet_int.h"
#include "pkt_build.h"

static volatile uint32_t sink;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t
csum_naive(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] | p[i + 1] << 8);
	if (len & 1)
		s += p[len - 1];
	return s;
}

static void
bench_parse(const char *name, uint8_t *buf, uint32_t len, double secs)
{
	struct itm_packet pkt = { 0 };
	double t0 = now(), t;
	uint64_t n = 0;
	int i;

	pkt.data = buf;
	pkt.len = pkt.wire_len = len;
	do {
		for (i = 0; i < 100000; i++)
			sink += (uint32_t)itm_packet_parse(&pkt) + pkt.sport;
		n += 100000;
		t = now() - t0;
	} while (t < secs);
	printf("parse %-16s %7.1f ns/packet\n", name, t * 1e9 / (double)n);
}

static void
bench_csum(const char *name, uint32_t (*f)(const void *, size_t, uint32_t),
	   const uint8_t *buf, size_t len, double secs)
{
	double t0 = now(), t;
	uint64_t bytes = 0;
	int i;

	do {
		for (i = 0; i < 1000; i++)
			sink += f(buf + (i & 1), len, sink);
		bytes += 1000 * (uint64_t)len;
		t = now() - t0;
	} while (t < secs);
	printf("csum  %-10s %6zu B %7.2f GB/s\n", name, len,
	       (double)bytes / t / 1e9);
}

static uint32_t
naive_cb(const void *p, size_t len, uint32_t s)
{
	return csum_naive(p, len, s);
}

int
main(int argc, char **argv)
{
	static uint8_t big[65536 + 64];
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	uint8_t p[2048];
	uint32_t n;
	size_t i;

	n = pb_tcp4(p, 40000, 80, 1400);
	bench_parse("ipv4/tcp 1440", p, n, secs);
	n = pb_udp4(p, 53, 53, 64);
	bench_parse("ipv4/udp 100", p, n, secs);
	n = pb_tcp6(p, 40000, 443, 1400);
	bench_parse("ipv6/tcp 1460", p, n, secs);
	n = pb_ipv6(p, 0, IPPROTO_HOPOPTS, "::1", "::2");
	n += pb_ip6_ext(p + n, IPPROTO_DSTOPTS, 0);
	n += pb_ip6_ext(p + n, IPPROTO_UDP, 1);
	n += pb_udp(p + n, 1, 2, 8);
	pb_put16(p + 4, (uint16_t)(n - 40));
	bench_parse("ipv6/ext/udp", p, n, secs);

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	bench_csum("partial", itm_csum_partial, big, 1500, secs);
	bench_csum("partial", itm_csum_partial, big, 65536, secs);
	bench_csum("naive", naive_cb, big, 1500, secs);
	bench_csum("naive", naive_cb, big, 65536, secs);
	return 0;
}
