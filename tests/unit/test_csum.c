/*
 * test_csum.c - Internet checksums: RFC 1071/1624 vectors, packets the
 * Linux kernel built, and itm_csum_partial() against a naive reference
 * over random data, lengths and alignments.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "packet_int.h"
#include "pkt_build.h"

/*
 * Captured from a tun device (no checksum offload, so the kernel wrote
 * every checksum in full): connect() SYNs, sendto() datagrams and pings
 * sent by Linux 6.18 from 10.9.0.1 / fd00:9::1.
 */
static const struct {
	const char *name;
	const char *hex;
	unsigned int l4_check; /* offset of the L4 check field */
} captured[] = {
	{ "tcp4_syn",
	  "4500003ca2de4000400683c90a0900010a090002c3e81f909e4f613f"
	  "00000000a002faf06b590000020405b40402080ad09d19f9000000000103030a",
	  20 + 16 },
	{ "udp4",
	  "4500002b9f5b4000401187520a0900010a090002826414e9001793f7"
	  "68656c6c6f2069746d2c206f646421",
	  20 + 6 },
	{ "icmp4_echo",
	  "45000031b4ba4000400171fd0a0900010a090002080086c64eab"
	  "00013ba1086b00000000a05c0800000000001011121314",
	  20 + 2 },
	{ "tcp6_syn",
	  "600499e500280640fd000009000000000000000000000001fd0000"
	  "09000000000000000000000002978a01bb61a7f4fb00000000a002fd201ef8"
	  "0000020405a00402080a21e42015000000000103030a",
	  40 + 16 },
	{ "udp6",
	  "60073a3600191140fd000009000000000000000000000001fd00000900"
	  "0000000000000000000002bb2e270f0019cb8569746d20756470206f766572"
	  "2069707636",
	  40 + 6 },
	{ "icmp6_echo",
	  "6005417a00153a40fd000009000000000000000000000001fd00"
	  "000900000000000000000000000280000cc74ead0001000102030405060708"
	  "090a0b0c",
	  40 + 2 },
};

static uint32_t
unhex(const char *s, uint8_t *out)
{
	uint32_t n = 0;
	unsigned int v;

	for (; s[0] && s[1]; s += 2) {
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* RFC 1071 by the book: big-endian 16-bit words, end-around carry. */
static uint16_t
naive_sum(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The folded checksum as it sits in memory, read big-endian. */
static uint16_t
stored(uint16_t c)
{
	uint8_t b[2];

	memcpy(b, &c, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void
rfc1071_example(void **state)
{
	/* RFC 1071 section 3: sum 0xddf2, checksum 0x220d. */
	const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	assert_int_equal(stored(itm_csum_fold(itm_csum_partial(b, 8, 0))),
			 0x220d);
	assert_int_equal(stored(itm_csum_fold(itm_csum_partial(b, 7, 0))),
			 (uint16_t)~naive_sum(b, 7, 0));
	assert_int_equal(itm_csum_fold(itm_csum_partial(b, 0, 0)), 0xffff);
}

static void
partial_matches_naive(void **state)
{
	static uint8_t big[65536 + 16];
	size_t len, off, i;
	uint32_t seed;

	srandom(42);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)random();
	for (i = 0; i < 20000; i++) {
		len = (size_t)random() % (i < 10000 ? 300 : 3000);
		off = (size_t)random() % 8;
		seed = (uint32_t)random() & 0xffff;
		assert_int_equal(stored(itm_csum_fold(
					 itm_csum_partial(big + off, len,
							  htons(seed)))),
				 (uint16_t)~naive_sum(big + off, len, seed));
	}
	for (off = 0; off < 8; off++)
		for (len = 65536 - 3; len <= 65536; len++)
			assert_int_equal(stored(itm_csum_fold(
						 itm_csum_partial(big + off,
								  len, 0))),
					 (uint16_t)~naive_sum(big + off, len,
							      0));
	/* All ones: the carries pile up. */
	memset(big, 0xff, sizeof(big));
	assert_int_equal(stored(itm_csum_fold(
				 itm_csum_partial(big, 65536, 0xffffffff))),
			 (uint16_t)~naive_sum(big, 65536, 0xffff));
}

static void
partial_chains(void **state)
{
	uint8_t b[200];
	uint32_t s;

	pb_fill(b, sizeof(b), 77);
	s = itm_csum_partial(b, 64, 0);
	s = itm_csum_partial(b + 64, 136, s);
	assert_int_equal(itm_csum_fold(s),
			 itm_csum_fold(itm_csum_partial(b, 200, 0)));
}

static void
rfc1624_replace(void **state)
{
	/* RFC 1624 section 4: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives 0. */
	assert_int_equal(itm_csum_replace2(0xdd2f, 0x5555, 0x3285), 0x0000);
}

static void
ip_header_vectors(void **state)
{
	uint8_t p[128];
	unsigned int i;
	uint16_t check;

	for (i = 0; i < 3; i++) { /* the IPv4 ones */
		unhex(captured[i].hex, p);
		assert_int_equal(itm_ip_fast_csum(p, 5), 0);
		memcpy(&check, p + 10, 2);
		memset(p + 10, 0, 2);
		assert_int_equal(itm_ip_fast_csum(p, 5), check);
	}
}

/* Decrement TTL: incremental update equals a full recompute. */
static void
replace2_matches_full(void **state)
{
	uint8_t p[128];
	uint16_t old, new_, check;

	unhex(captured[0].hex, p);
	memcpy(&old, p + 8, 2);
	p[8]--;
	memcpy(&new_, p + 8, 2);
	memcpy(&check, p + 10, 2);
	check = itm_csum_replace2(check, old, new_);
	memset(p + 10, 0, 2);
	assert_int_equal(check, itm_ip_fast_csum(p, 5));
}

static void
tcpudp_magic_vector(void **state)
{
	uint8_t p[128];
	uint32_t n = unhex(captured[0].hex, p), saddr, daddr;
	uint16_t check;

	memcpy(&check, p + 36, 2);
	memset(p + 36, 0, 2);
	memcpy(&saddr, p + 12, 4);
	memcpy(&daddr, p + 16, 4);
	assert_int_equal(itm_csum_tcpudp_magic(saddr, daddr, n - 20,
					       IPPROTO_TCP,
					       itm_csum_partial(p + 20, n - 20,
								0)),
			 check);
}

/* Zero the checksums of each captured packet; fixing restores every byte. */
static void
fix_restores_captured(void **state)
{
	uint8_t want[256], p[256];
	struct itm_packet pkt;
	unsigned int i;
	uint32_t n;

	for (i = 0; i < sizeof(captured) / sizeof(captured[0]); i++) {
		n = unhex(captured[i].hex, want);
		memcpy(p, want, n);
		p[captured[i].l4_check] ^= 0x5a;
		if ((p[0] >> 4) == 4)
			p[10] ^= 0xa5;
		assert_int_equal(pb_parse(&pkt, p, n, n), 0);
		itm_csum_fix_ip(&pkt);
		assert_int_equal(itm_csum_fix_l4(&pkt), 0);
		assert_memory_equal(p, want, n);
	}
}

/* Pseudo header and segment sum to 0xffff when the checksum is right. */
static int
l4_valid(const uint8_t *p, uint32_t n)
{
	uint32_t s;

	if ((p[0] >> 4) == 4)
		s = naive_sum(p + 12, 8, (uint32_t)p[9] + (n - 20));
	else
		s = naive_sum(p + 8, 32, (uint32_t)p[6] + (n - 40));
	return naive_sum(p + ((p[0] >> 4) == 4 ? 20 : 40),
			 n - ((p[0] >> 4) == 4 ? 20 : 40), s) == 0xffff;
}

static void
udp_zero_rules(void **state)
{
	uint8_t p[128];
	struct itm_packet pkt;
	uint32_t n = pb_udp4(p, 1000, 2000, 10);

	/* IPv4 UDP sent without a checksum keeps none. */
	assert_int_equal(pb_parse(&pkt, p, n, n), 0);
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_int_equal(p[26] | p[27], 0);

	/* A checksum that computes to 0 goes out as 0xffff: with the first
	 * payload word 0 the checksum is C; put C in that word and the
	 * segment sums to 0xffff, whose checksum is 0. */
	p[28] = p[29] = 0;
	p[26] = 0xff;
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_true(l4_valid(p, n));
	memcpy(p + 28, p + 26, 2);
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_int_equal(p[26], 0xff);
	assert_int_equal(p[27], 0xff);
	assert_true(l4_valid(p, n));

	/* IPv6 UDP has no "no checksum": computed. */
	n = pb_ipv6(p, 12, IPPROTO_UDP, "::1", "::2");
	n += pb_udp(p + n, 1, 2, 12);
	n += pb_fill(p + n, 4, 1);
	assert_int_equal(pb_parse(&pkt, p, n, n), 0);
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_int_not_equal(p[46] | p[47], 0);
	assert_true(l4_valid(p, n));
}

static void
fix_random_payloads(void **state)
{
	uint8_t p[2048];
	struct itm_packet pkt;
	uint32_t n, i;

	srandom(7);
	for (i = 0; i < 2000; i++) {
		uint32_t plen = (uint32_t)random() % 1400;

		n = i % 2 ? pb_tcp4(p, 1, 2, plen) : pb_tcp6(p, 1, 2, plen);
		pb_fill(p + n - plen, plen, (uint8_t)random());
		assert_int_equal(pb_parse(&pkt, p, n, n), 0);
		assert_int_equal(itm_csum_fix_l4(&pkt), 0);
		assert_true(l4_valid(p, n));
	}
}

static void
fix_refuses_or_skips(void **state)
{
	uint8_t p[256], before[256];
	struct itm_packet pkt;
	uint32_t n = pb_tcp4(p, 1, 2, 100);

	assert_int_equal(pb_parse(&pkt, p, 60, n), 0);
	assert_int_equal(itm_csum_fix_l4(&pkt), -EPERM);
	assert_string_equal(itm_last_error(),
			    "csum: packet is a truncated copy");

	pb_ipv4_frag(p, 0, 1); /* first fragment: checksum spans all */
	memcpy(before, p, n);
	assert_int_equal(pb_parse(&pkt, p, n, n), 0);
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_memory_equal(p, before, n);

	pb_ipv4_frag(p, 0, 0);
	p[32] = 0x30; /* doff 3 */
	assert_int_equal(pb_parse(&pkt, p, n, n), -EBADMSG);
	assert_int_equal(itm_csum_fix_l4(&pkt), -EBADMSG);
}

/* GSO hands TCP over with only the pseudo header summed in. */
static void
fix_csum_notready(void **state)
{
	uint8_t p[256];
	struct itm_packet pkt;
	uint32_t n = pb_tcp4(p, 1, 2, 50), saddr, daddr;
	uint16_t partial;

	memcpy(&saddr, p + 12, 4);
	memcpy(&daddr, p + 16, 4);
	partial = (uint16_t)~itm_csum_tcpudp_magic(saddr, daddr, n - 20,
						   IPPROTO_TCP, 0);
	memcpy(p + 36, &partial, 2);
	assert_int_equal(pb_parse(&pkt, p, n, n), 0);
	pkt.flags |= ITM_PKT_CSUM_NOTREADY | ITM_PKT_GSO;
	assert_false(l4_valid(p, n));
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	assert_true(l4_valid(p, n));
	assert_false(pkt.flags & ITM_PKT_CSUM_NOTREADY);
}

static void
fix_udplite_coverage(void **state)
{
	uint8_t p[256];
	struct itm_packet pkt;
	uint32_t n = pb_udp4(p, 1, 2, 40), s;

	p[9] = IPPROTO_UDPLITE;
	pb_put16(p + 24, 8 + 4); /* header and 4 bytes covered */
	assert_int_equal(pb_parse(&pkt, p, n, n), 0);
	assert_int_equal(pkt.payload_len, 40);
	assert_int_equal(itm_csum_fix_l4(&pkt), 0);
	s = naive_sum(p + 12, 8, IPPROTO_UDPLITE + (n - 20));
	assert_int_equal(naive_sum(p + 20, 12, s), 0xffff);
	pb_put16(p + 24, 7);
	assert_int_equal(itm_csum_fix_l4(&pkt), -EBADMSG);
}

static void
fix_ip_header(void **state)
{
	uint8_t p[256];
	struct itm_packet pkt;
	uint32_t n = pb_ipv4(p, 6, 44, IPPROTO_TCP, "192.0.2.1", "192.0.2.2");

	pb_tcp(p + n, 1, 2, 5);
	assert_int_equal(pb_parse(&pkt, p, 44, 44), 0);
	itm_csum_fix_ip(&pkt);
	assert_int_equal(naive_sum(p, 24, 0), 0xffff);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc1071_example),
		cmocka_unit_test(partial_matches_naive),
		cmocka_unit_test(partial_chains),
		cmocka_unit_test(rfc1624_replace),
		cmocka_unit_test(ip_header_vectors),
		cmocka_unit_test(replace2_matches_full),
		cmocka_unit_test(tcpudp_magic_vector),
		cmocka_unit_test(fix_restores_captured),
		cmocka_unit_test(udp_zero_rules),
		cmocka_unit_test(fix_random_payloads),
		cmocka_unit_test(fix_refuses_or_skips),
		cmocka_unit_test(fix_csum_notready),
		cmocka_unit_test(fix_udplite_coverage),
		cmocka_unit_test(fix_ip_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
