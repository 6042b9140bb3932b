/*
 * pkt_build.h - test helpers that write IPv4/IPv6, TCP, UDP and ICMP
 * headers into a buffer, for the libitm unit tests and the fuzz seeds.
 * Lengths are given explicitly so tests can write wrong ones on purpose.
 */
#ifndef PKT_BUILD_H
#define PKT_BUILD_H

#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include "itm.h"

static inline void
pb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IPv4 header of @ihl words (options are NOPs) with total length @tot. */
static inline uint32_t
pb_ipv4(uint8_t *p, uint8_t ihl, uint16_t tot, uint8_t proto, const char *src,
	const char *dst)
{
	memset(p, 0, (size_t)ihl * 4);
	p[0] = (uint8_t)(0x40 | (ihl & 0x0f));
	pb_put16(p + 2, tot);
	pb_put16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	if (ihl > 5)
		memset(p + 20, 1, (size_t)(ihl - 5) * 4);
	return (uint32_t)ihl * 4;
}

/* Fragment offset in 8-byte units and the more-fragments flag. */
static inline void
pb_ipv4_frag(uint8_t *p, uint16_t off8, int more)
{
	pb_put16(p + 6, (uint16_t)((more ? 0x2000 : 0) | (off8 & 0x1fff)));
}

static inline uint32_t
pb_ipv6(uint8_t *p, uint16_t plen, uint8_t nxt, const char *src,
	const char *dst)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	pb_put16(p + 4, plen);
	p[6] = nxt;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	return 40;
}

/* Generic IPv6 extension header of (@len8 + 1) * 8 bytes. */
static inline uint32_t
pb_ip6_ext(uint8_t *p, uint8_t nxt, uint8_t len8)
{
	uint32_t n = ((uint32_t)len8 + 1) * 8;

	memset(p, 0, n);
	p[0] = nxt;
	p[1] = len8;
	if (n > 2)
		p[2] = 1; /* PadN */
	if (n > 3)
		p[3] = (uint8_t)(n - 4);
	return n;
}

static inline uint32_t
pb_ip6_frag(uint8_t *p, uint8_t nxt, uint16_t off8, int more)
{
	memset(p, 0, 8);
	p[0] = nxt;
	pb_put16(p + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	pb_put16(p + 6, 0x4242);
	return 8;
}

/* TCP header with data offset @doff words (options are NOPs). */
static inline uint32_t
pb_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint8_t doff)
{
	uint32_t n = doff >= 5 ? (uint32_t)doff * 4 : 20;

	memset(p, 0, n);
	pb_put16(p, sport);
	pb_put16(p + 2, dport);
	p[12] = (uint8_t)(doff << 4);
	p[13] = 0x18; /* PSH ACK */
	pb_put16(p + 14, 65535);
	if (n > 20)
		memset(p + 20, 1, n - 20);
	return n;
}

static inline uint32_t
pb_udp(uint8_t *p, uint16_t sport, uint16_t dport, uint16_t ulen)
{
	memset(p, 0, 8);
	pb_put16(p, sport);
	pb_put16(p + 2, dport);
	pb_put16(p + 4, ulen);
	return 8;
}

static inline uint32_t
pb_icmp(uint8_t *p, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
	memset(p, 0, 8);
	p[0] = type;
	p[1] = code;
	pb_put16(p + 4, id);
	pb_put16(p + 6, seq);
	return 8;
}

/* Fill @n payload bytes with a pattern. */
static inline uint32_t
pb_fill(uint8_t *p, uint32_t n, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
	return n;
}

/* IPv4 + TCP + @plen payload bytes, lengths right.  Returns the length. */
static inline uint32_t
pb_tcp4(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t plen)
{
	uint32_t n = pb_ipv4(p, 5, (uint16_t)(40 + plen), IPPROTO_TCP,
			     "10.0.0.1", "10.0.0.2");

	n += pb_tcp(p + n, sport, dport, 5);
	return n + pb_fill(p + n, plen, 3);
}

static inline uint32_t
pb_udp4(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t plen)
{
	uint32_t n = pb_ipv4(p, 5, (uint16_t)(28 + plen), IPPROTO_UDP,
			     "10.0.0.1", "10.0.0.2");

	n += pb_udp(p + n, sport, dport, (uint16_t)(8 + plen));
	return n + pb_fill(p + n, plen, 5);
}

static inline uint32_t
pb_tcp6(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t plen)
{
	uint32_t n = pb_ipv6(p, (uint16_t)(20 + plen), IPPROTO_TCP,
			     "2001:db8::1", "2001:db8::2");

	n += pb_tcp(p + n, sport, dport, 5);
	return n + pb_fill(p + n, plen, 9);
}

/* Point @pkt (zeroed first) at @len bytes of @buf and parse. */
static inline int
pb_parse(struct itm_packet *pkt, uint8_t *buf, uint32_t len, uint32_t wire_len)
{
	memset(pkt, 0, sizeof(*pkt));
	pkt->data = buf;
	pkt->len = len;
	pkt->wire_len = wire_len;
	return itm_packet_parse(pkt);
}

/* Is every pointer of the parsed view inside [data, data + len), with its
 * whole header?  The invariant itm_packet_parse() promises. */
static inline int
pb_view_ok(const struct itm_packet *p)
{
	const uint8_t *lo = p->data, *hi = p->data + p->len;
	const uint8_t *l4 = p->l4h, *pl = p->payload;

#define PB_IN(ptr, n) ((ptr) >= lo && (n) <= (size_t)(hi - (ptr)))
	if (p->iph != NULL &&
	    ((const uint8_t *)p->iph != lo || p->family != AF_INET ||
	     p->l3_hlen < 20 || !PB_IN(lo, p->l3_hlen)))
		return 0;
	if (p->ip6h != NULL &&
	    ((const uint8_t *)p->ip6h != lo || p->family != AF_INET6 ||
	     p->l3_hlen < 40 || !PB_IN(lo, p->l3_hlen)))
		return 0;
	if (p->family != 0 && p->iph == NULL && p->ip6h == NULL)
		return 0;
	if (l4 != NULL && (p->family == 0 || l4 != lo + p->l3_hlen ||
			   p->l4_hlen < 8 || !PB_IN(l4, p->l4_hlen)))
		return 0;
	if (pl != NULL && (p->payload_len == 0 || !PB_IN(pl, p->payload_len)))
		return 0;
	if (pl == NULL && p->payload_len != 0)
		return 0;
	if (l4 == NULL && (p->sport != 0 || p->dport != 0 || p->l4_hlen != 0))
		return 0;
#undef PB_IN
	return 1;
}

#endif /* PKT_BUILD_H */
