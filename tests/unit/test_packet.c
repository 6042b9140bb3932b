/*
 * test_packet.c - itm_packet_parse() on good, truncated and malformed
 * packets, and the buffer operations push/pull/set_len/altered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "packet_int.h"
#include "pkt_build.h"

static uint8_t buf[4096];
static struct itm_packet pkt;

static void
assert_malformed_l3(int r)
{
	assert_int_equal(r, -EBADMSG);
	assert_true(pkt.flags & ITM_PKT_MALFORMED);
	assert_int_equal(pkt.family, 0);
	assert_null(pkt.iph);
	assert_null(pkt.ip6h);
	assert_null(pkt.l4h);
	assert_null(pkt.payload);
	assert_true(pb_view_ok(&pkt));
}

/* L3 parsed and kept, L4 rejected. */
static void
assert_malformed_l4(int r, uint8_t proto)
{
	assert_int_equal(r, -EBADMSG);
	assert_true(pkt.flags & ITM_PKT_MALFORMED);
	assert_int_not_equal(pkt.family, 0);
	assert_int_equal(pkt.l4proto, proto);
	assert_null(pkt.l4h);
	assert_int_equal(pkt.sport, 0);
	assert_true(pb_view_ok(&pkt));
}

/* --- IPv4 ---------------------------------------------------------- */

static void
ipv4_tcp(void **state)
{
	uint32_t n = pb_tcp4(buf, 40000, 80, 10);

	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.family, AF_INET);
	assert_ptr_equal(pkt.iph, buf);
	assert_null(pkt.ip6h);
	assert_int_equal(pkt.l3_hlen, 20);
	assert_int_equal(pkt.l4proto, IPPROTO_TCP);
	assert_ptr_equal(pkt.tcph, buf + 20);
	assert_int_equal(pkt.l4_hlen, 20);
	assert_int_equal(pkt.sport, 40000);
	assert_int_equal(pkt.dport, 80);
	assert_ptr_equal(pkt.payload, buf + 40);
	assert_int_equal(pkt.payload_len, 10);
	assert_int_equal(pkt.flags, 0);
	assert_true(pb_view_ok(&pkt));
}

static void
ipv4_options(void **state)
{
	uint32_t n =
		pb_ipv4(buf, 7, 28 + 32 + 5, IPPROTO_TCP, "1.2.3.4", "5.6.7.8");

	n += pb_tcp(buf + n, 1, 2, 8);
	n += pb_fill(buf + n, 5, 0);
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.l3_hlen, 28);
	assert_ptr_equal(pkt.tcph, buf + 28);
	assert_int_equal(pkt.l4_hlen, 32);
	assert_ptr_equal(pkt.payload, buf + 60);
	assert_int_equal(pkt.payload_len, 5);
}

static void
ipv4_no_payload(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 0);

	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_non_null(pkt.tcph);
	assert_null(pkt.payload);
	assert_int_equal(pkt.payload_len, 0);
}

static void
ipv4_bad_ihl(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 10);

	buf[0] = 0x44; /* IHL < 5 */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	buf[0] = 0x4f; /* 60 bytes: past total length 50 */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	buf[0] = 0x45;
	pb_put16(buf + 2, 16); /* total length < header */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	pb_put16(buf + 2, 0); /* zero, not a big GSO packet */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
}

static void
ipv4_total_length(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 10);

	pb_put16(buf + 2, (uint16_t)(n + 1)); /* larger than the buffer */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	assert_malformed_l3(pb_parse(&pkt, buf, n, 0));

	/* Shorter: the bytes after it are not part of the packet. */
	pb_put16(buf + 2, (uint16_t)(n - 4));
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.payload_len, 6);
}

static void
too_short_or_not_ip(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 10);

	assert_malformed_l3(pb_parse(&pkt, buf, 19, 19));
	assert_malformed_l3(pb_parse(&pkt, buf, 0, 0));
	assert_malformed_l3(pb_parse(&pkt, NULL, 0, 0));
	buf[0] = 0x55;
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	n = pb_tcp6(buf, 1, 2, 0);
	assert_malformed_l3(pb_parse(&pkt, buf, 39, 39));
}

static void
ipv4_fragments(void **state)
{
	uint32_t n = pb_tcp4(buf, 1000, 2000, 30);

	/* Non-first: no L4 header, protocol known, bytes as payload. */
	pb_ipv4_frag(buf, 185, 1);
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	assert_int_equal(pkt.l4proto, IPPROTO_TCP);
	assert_null(pkt.l4h);
	assert_int_equal(pkt.sport, 0);
	assert_ptr_equal(pkt.payload, buf + 20);
	assert_int_equal(pkt.payload_len, 50);

	/* Last fragment (offset, no MF) is a fragment too. */
	pb_ipv4_frag(buf, 10, 0);
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_null(pkt.l4h);

	/* First: L4 parsed. */
	pb_ipv4_frag(buf, 0, 1);
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_ptr_equal(pkt.tcph, buf + 20);
	assert_int_equal(pkt.sport, 1000);

	/* A tiny first fragment that ends inside TCP: not malformed. */
	pb_put16(buf + 2, 28);
	assert_int_equal(pb_parse(&pkt, buf, 28, 28), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	assert_null(pkt.l4h);
	assert_true(pb_view_ok(&pkt));
}

static void
ipv4_truncated(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 1400);

	/* Headers whole, payload cut. */
	assert_int_equal(pb_parse(&pkt, buf, 60, n), 0);
	assert_true(pkt.flags & ITM_PKT_TRUNCATED);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	assert_int_equal(pkt.sport, 1);
	assert_ptr_equal(pkt.payload, buf + 40);
	assert_int_equal(pkt.payload_len, 20);

	/* Cut inside the TCP header: L3 only, not malformed. */
	assert_int_equal(pb_parse(&pkt, buf, 30, n), 0);
	assert_ptr_equal(pkt.iph, buf);
	assert_int_equal(pkt.l4proto, IPPROTO_TCP);
	assert_null(pkt.l4h);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	assert_true(pb_view_ok(&pkt));

	/* Cut inside the IP options: nothing parsed, not malformed. */
	buf[0] = 0x4f;
	assert_int_equal(pb_parse(&pkt, buf, 40, n), 0);
	assert_null(pkt.iph);
	assert_int_equal(pkt.family, 0);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	buf[0] = 0x45;

	/* Total length beyond what the kernel has: malformed. */
	assert_malformed_l3(pb_parse(&pkt, buf, 60, n - 1));
}

static void
tcp_bad_doff(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 10);

	buf[32] = 4 << 4; /* doff < 5 */
	assert_malformed_l4(pb_parse(&pkt, buf, n, n), IPPROTO_TCP);
	assert_ptr_equal(pkt.iph, buf);
	buf[32] = 10 << 4; /* 40 bytes, 30 there */
	assert_malformed_l4(pb_parse(&pkt, buf, n, n), IPPROTO_TCP);
	/* Same header in a truncated copy that ends before it: absent. */
	pb_put16(buf + 2, (uint16_t)(n + 100));
	assert_int_equal(pb_parse(&pkt, buf, n, n + 100), 0);
	assert_null(pkt.l4h);
	assert_false(pkt.flags & ITM_PKT_MALFORMED);
	/* ...but beyond the packet's own end it is still malformed. */
	pb_put16(buf + 2, (uint16_t)n);
	assert_malformed_l4(pb_parse(&pkt, buf, n - 10, n), IPPROTO_TCP);
}

static void
udp_lengths(void **state)
{
	uint32_t n = pb_udp4(buf, 53, 5353, 20);

	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_ptr_equal(pkt.udph, buf + 20);
	assert_int_equal(pkt.l4_hlen, 8);
	assert_int_equal(pkt.sport, 53);
	assert_int_equal(pkt.dport, 5353);
	assert_int_equal(pkt.payload_len, 20);

	pb_put16(buf + 24, 18); /* datagram shorter than IP says */
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.payload_len, 10);
	pb_put16(buf + 24, 29); /* longer */
	assert_malformed_l4(pb_parse(&pkt, buf, n, n), IPPROTO_UDP);
	pb_put16(buf + 24, 7); /* shorter than its header */
	assert_malformed_l4(pb_parse(&pkt, buf, n, n), IPPROTO_UDP);
	/* UDP header cut short by the packet itself. */
	n = pb_ipv4(buf, 5, 24, IPPROTO_UDP, "10.0.0.1", "10.0.0.2");
	assert_malformed_l4(pb_parse(&pkt, buf, 24, 24), IPPROTO_UDP);
}

static void
icmp_ports(void **state)
{
	uint32_t n = pb_ipv4(buf, 5, 36, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2");

	pb_icmp(buf + n, 8, 0, 0x4242, 7);
	assert_int_equal(pb_parse(&pkt, buf, 36, 36), 0);
	assert_ptr_equal(pkt.icmph, buf + 20);
	assert_int_equal(pkt.sport, 0x4242);
	assert_int_equal(pkt.dport, 0);
	assert_int_equal(pkt.l4_hlen, 8);

	pb_icmp(buf + n, 3, 1, 0x4242, 7); /* unreachable: no id */
	assert_int_equal(pb_parse(&pkt, buf, 36, 36), 0);
	assert_int_equal(pkt.sport, 0);

	n = pb_ipv6(buf, 8, IPPROTO_ICMPV6, "::1", "::2");
	pb_icmp(buf + n, 128, 0, 99, 1);
	assert_int_equal(pb_parse(&pkt, buf, 48, 48), 0);
	assert_int_equal(pkt.l4proto, IPPROTO_ICMPV6);
	assert_int_equal(pkt.sport, 99);
	pb_icmp(buf + n, 135, 0, 99, 1); /* neighbour solicitation */
	assert_int_equal(pb_parse(&pkt, buf, 48, 48), 0);
	assert_int_equal(pkt.sport, 0);
}

static void
other_protocols(void **state)
{
	uint32_t n =
		pb_ipv4(buf, 5, 20 + 28, IPPROTO_IPIP, "10.0.0.1", "10.0.0.2");

	/* IP-in-IP: no L4 header, the inner packet is the payload. */
	pb_udp4(buf + n, 1, 2, 0);
	assert_int_equal(pb_parse(&pkt, buf, 48, 48), 0);
	assert_int_equal(pkt.l4proto, IPPROTO_IPIP);
	assert_null(pkt.l4h);
	assert_ptr_equal(pkt.payload, buf + 20);
	assert_int_equal(pkt.payload_len, 28);

	/* SCTP and DCCP have ports. */
	buf[9] = IPPROTO_SCTP;
	assert_int_equal(pb_parse(&pkt, buf, 48, 48), 0);
	assert_int_equal(pkt.l4_hlen, 12);
	assert_int_equal(pkt.sport, 0x4500);
	buf[9] = IPPROTO_DCCP;
	buf[24] = 2; /* data offset 8 bytes: too short */
	assert_malformed_l4(pb_parse(&pkt, buf, 48, 48), IPPROTO_DCCP);
	buf[24] = 4;
	assert_int_equal(pb_parse(&pkt, buf, 48, 48), 0);
	assert_int_equal(pkt.l4_hlen, 16);
}

/* --- IPv6 ---------------------------------------------------------- */

static void
ipv6_tcp(void **state)
{
	uint32_t n = pb_tcp6(buf, 5000, 443, 7);

	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.family, AF_INET6);
	assert_ptr_equal(pkt.ip6h, buf);
	assert_null(pkt.iph);
	assert_int_equal(pkt.l3_hlen, 40);
	assert_ptr_equal(pkt.tcph, buf + 40);
	assert_int_equal(pkt.dport, 443);
	assert_int_equal(pkt.payload_len, 7);

	pb_put16(buf + 4, (uint16_t)(n - 39)); /* payload length too big */
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
}

static void
ipv6_ext_headers(void **state)
{
	uint32_t n = pb_ipv6(buf, 0, IPPROTO_HOPOPTS, "fe80::1", "ff02::1");

	n += pb_ip6_ext(buf + n, IPPROTO_DSTOPTS, 0);
	n += pb_ip6_ext(buf + n, IPPROTO_ROUTING, 1);
	n += pb_ip6_ext(buf + n, IPPROTO_UDP, 0);
	n += pb_udp(buf + n, 546, 547, 12);
	n += pb_fill(buf + n, 4, 0);
	pb_put16(buf + 4, (uint16_t)(n - 40));
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.l3_hlen, 40 + 8 + 16 + 8);
	assert_int_equal(pkt.l4proto, IPPROTO_UDP);
	assert_ptr_equal(pkt.udph, buf + 72);
	assert_int_equal(pkt.dport, 547);
	assert_int_equal(pkt.payload_len, 4);

	/* Hop-by-hop after another header is not allowed. */
	buf[48] = IPPROTO_HOPOPTS;
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	buf[48] = IPPROTO_ROUTING;

	/* An extension header longer than the packet. */
	buf[49] = 200;
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));
	/* ...only longer than the copy: L3 without L4, not malformed. */
	buf[49] = 1;
	assert_int_equal(pb_parse(&pkt, buf, 60, n), 0);
	assert_ptr_equal(pkt.ip6h, buf);
	assert_int_equal(pkt.l4proto, 0);
	assert_null(pkt.l4h);
	assert_true(pb_view_ok(&pkt));
}

static void
ipv6_ext_chain_bounded(void **state)
{
	uint32_t n = pb_ipv6(buf, 0, IPPROTO_DSTOPTS, "::1", "::2"), i;

	/* 20 destination-options headers: the walk gives up, malformed. */
	for (i = 0; i < 20; i++)
		n += pb_ip6_ext(buf + n, IPPROTO_DSTOPTS, 0);
	buf[n - 8] = IPPROTO_TCP;
	n += pb_tcp(buf + n, 1, 2, 5);
	pb_put16(buf + 4, (uint16_t)(n - 40));
	assert_malformed_l3(pb_parse(&pkt, buf, n, n));

	/* Eight are still walked. */
	n = pb_ipv6(buf, 0, IPPROTO_DSTOPTS, "::1", "::2");
	for (i = 0; i < 8; i++)
		n += pb_ip6_ext(buf + n, IPPROTO_DSTOPTS, 0);
	buf[n - 8] = IPPROTO_TCP;
	n += pb_tcp(buf + n, 1, 2, 5);
	pb_put16(buf + 4, (uint16_t)(n - 40));
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.l3_hlen, 40 + 64);
	assert_int_equal(pkt.l4proto, IPPROTO_TCP);
}

static void
ipv6_fragments(void **state)
{
	uint32_t n = pb_ipv6(buf, 0, IPPROTO_FRAGMENT, "::1", "::2");

	n += pb_ip6_frag(buf + n, IPPROTO_TCP, 0, 1);
	n += pb_tcp(buf + n, 7, 8, 5);
	n += pb_fill(buf + n, 16, 0);
	pb_put16(buf + 4, (uint16_t)(n - 40));
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_int_equal(pkt.l3_hlen, 48);
	assert_ptr_equal(pkt.tcph, buf + 48);
	assert_int_equal(pkt.sport, 7);

	pb_ip6_frag(buf + 40, IPPROTO_TCP, 100, 1); /* not the first */
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_true(pkt.flags & ITM_PKT_FRAGMENT);
	assert_int_equal(pkt.l4proto, IPPROTO_TCP);
	assert_null(pkt.l4h);
	assert_ptr_equal(pkt.payload, buf + 48);

	pb_ip6_frag(buf + 40, IPPROTO_TCP, 0, 0); /* atomic fragment */
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_false(pkt.flags & ITM_PKT_FRAGMENT);
	assert_non_null(pkt.tcph);
}

static void
ipv6_no_next_header(void **state)
{
	uint32_t n = pb_ipv6(buf, 4, 59, "::1", "::2");

	n += pb_fill(buf + n, 4, 0);
	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(pkt.l4proto, 59);
	assert_null(pkt.l4h);
	assert_int_equal(pkt.payload_len, 4);
}

/* Random damage to valid packets never breaks the view's bounds. */
static void
random_damage_stays_in_bounds(void **state)
{
	uint8_t copy[256];
	uint32_t n, len, i, k;

	srandom(1);
	for (i = 0; i < 200000; i++) {
		switch (i % 4) {
		case 0: n = pb_tcp4(copy, 1, 2, 30); break;
		case 1: n = pb_udp4(copy, 1, 2, 30); break;
		case 2: n = pb_tcp6(copy, 1, 2, 30); break;
		default:
			n = pb_ipv6(copy, 0, IPPROTO_HOPOPTS, "::1", "::2");
			n += pb_ip6_ext(copy + n, IPPROTO_FRAGMENT, 0);
			n += pb_ip6_frag(copy + n, IPPROTO_UDP, 0, 1);
			n += pb_udp(copy + n, 1, 2, 38);
			n += pb_fill(copy + n, 30, 1);
			pb_put16(copy + 4, (uint16_t)(n - 40));
		}
		for (k = 0; k < 1 + (uint32_t)random() % 4; k++)
			copy[random() % n] = (uint8_t)random();
		len = (uint32_t)random() % (n + 1);
		(void)pb_parse(&pkt, copy, len,
			       random() % 2 ? len
					    : len + (uint32_t)random() % 100);
		assert_true(pb_view_ok(&pkt));
	}
}

/* --- buffer -------------------------------------------------------- */

static void
wrap_checks_bounds(void **state)
{
	uint32_t n = pb_tcp4(buf + 64, 1, 2, 10);

	memset(&pkt, 0, sizeof(pkt));
	assert_int_equal(itm__packet_wrap(&pkt, buf, 128, buf + 64, 65),
			 -EINVAL);
	assert_int_equal(itm__packet_wrap(&pkt, buf, 128, buf + 129, 0),
			 -EINVAL);
	assert_int_equal(itm__packet_wrap(&pkt, NULL, 128, buf, 10), -EINVAL);
	assert_int_equal(itm__packet_wrap(&pkt, buf, 128, buf + 64, n), 0);
	assert_int_equal(pkt.sport, 1);
}

static void
push_pull(void **state)
{
	uint8_t inner[64];
	uint32_t n = pb_udp4(inner, 7, 9, 12), o;
	uint8_t *p;

	memset(&pkt, 0, sizeof(pkt));
	memcpy(buf + 64, inner, n);
	pkt.wire_len = n;
	assert_int_equal(itm__packet_wrap(&pkt, buf, 128, buf + 64, n), 0);

	/* Headroom: no bytes move. */
	p = itm_packet_push(&pkt, 20);
	assert_ptr_equal(p, buf + 44);
	assert_int_equal(pkt.len, n + 20);
	assert_true(pkt.flags & ITM_PKT_ALTERED);
	assert_memory_equal(buf + 64, inner, n);
	o = pb_ipv4(p, 5, (uint16_t)(n + 20), IPPROTO_IPIP, "192.0.2.1",
		    "192.0.2.2");
	assert_int_equal(itm_packet_parse(&pkt), 0);
	assert_int_equal(pkt.l4proto, IPPROTO_IPIP);
	assert_int_equal(pkt.payload_len, n);
	assert_memory_equal(pkt.payload, inner, n);

	/* Pull the outer header back off: the inner packet is parsed. */
	assert_int_equal(itm_packet_pull(&pkt, o), 0);
	assert_ptr_equal(pkt.data, buf + 64);
	assert_int_equal(pkt.l4proto, IPPROTO_UDP);
	assert_int_equal(pkt.dport, 9);
	assert_int_equal(pkt.wire_len, n);
	assert_int_equal(itm_packet_pull(&pkt, n + 1), -EINVAL);

	/* Not enough headroom but room at the back: bytes move once. */
	p = itm_packet_push(&pkt, 80);
	assert_ptr_equal(p, buf);
	assert_memory_equal(buf + 80, inner, n);
	assert_null(itm_packet_push(&pkt, 128 - pkt.len + 1));
}

static void
set_len_grows_and_shrinks(void **state)
{
	uint32_t n = pb_udp4(buf + 100, 7, 9, 12);

	memset(&pkt, 0, sizeof(pkt));
	assert_int_equal(itm__packet_wrap(&pkt, buf, 160, buf + 100, n), 0);
	assert_int_equal(itm_packet_set_len(&pkt, 30), 0);
	assert_int_equal(pkt.len, 30);
	assert_true(pkt.flags & ITM_PKT_MALFORMED);	    /* IP says 40 */
	assert_int_equal(itm_packet_set_len(&pkt, 100), 0); /* moves */
	assert_ptr_equal(pkt.data, buf);
	assert_int_equal(pkt.data[0], 0x45);
	assert_int_equal(pkt.data[35], 0); /* new bytes zeroed */
	assert_int_equal(itm_packet_set_len(&pkt, 161), -ENOSPC);
	assert_int_equal(pkt.len, 100);
}

static void
truncated_refuses_changes(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 100);

	assert_int_equal(pb_parse(&pkt, buf, 60, n), 0);
	pkt.itm__buf = buf;
	pkt.itm__cap = sizeof(buf);
	assert_int_equal(itm_packet_altered(&pkt), -EPERM);
	assert_string_equal(itm_last_error(),
			    "altered: packet is a truncated copy (60 of 140 "
			    "bytes); register with copy_bytes = 0");
	assert_false(pkt.flags & ITM_PKT_ALTERED);
	assert_null(itm_packet_push(&pkt, 4));
	assert_int_equal(itm_packet_pull(&pkt, 4), -EPERM);
	assert_int_equal(itm_packet_set_len(&pkt, 40), -EPERM);
	assert_ptr_equal(pkt.data, buf);

	assert_int_equal(pb_parse(&pkt, buf, n, n), 0);
	assert_int_equal(itm_packet_altered(&pkt), 0);
	assert_true(pkt.flags & ITM_PKT_ALTERED);
}

static void
no_buffer_means_no_room(void **state)
{
	uint32_t n = pb_tcp4(buf + 32, 1, 2, 10);

	assert_int_equal(pb_parse(&pkt, buf + 32, n, n), 0);
	assert_null(itm_packet_push(&pkt, 1));
	assert_int_equal(itm_packet_set_len(&pkt, n + 1), -ENOSPC);
	assert_int_equal(itm_packet_set_len(&pkt, n - 2), 0);
	assert_int_equal(pkt.len, n - 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4_tcp),
		cmocka_unit_test(ipv4_options),
		cmocka_unit_test(ipv4_no_payload),
		cmocka_unit_test(ipv4_bad_ihl),
		cmocka_unit_test(ipv4_total_length),
		cmocka_unit_test(too_short_or_not_ip),
		cmocka_unit_test(ipv4_fragments),
		cmocka_unit_test(ipv4_truncated),
		cmocka_unit_test(tcp_bad_doff),
		cmocka_unit_test(udp_lengths),
		cmocka_unit_test(icmp_ports),
		cmocka_unit_test(other_protocols),
		cmocka_unit_test(ipv6_tcp),
		cmocka_unit_test(ipv6_ext_headers),
		cmocka_unit_test(ipv6_ext_chain_bounded),
		cmocka_unit_test(ipv6_fragments),
		cmocka_unit_test(ipv6_no_next_header),
		cmocka_unit_test(random_damage_stays_in_bounds),
		cmocka_unit_test(wrap_checks_bounds),
		cmocka_unit_test(push_pull),
		cmocka_unit_test(set_len_grows_and_shrinks),
		cmocka_unit_test(truncated_refuses_changes),
		cmocka_unit_test(no_buffer_means_no_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
