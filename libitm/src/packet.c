/*
 * packet.c - the parsed view of struct itm_packet and its buffer.
 *
 * itm_packet_parse() walks IPv4 or IPv6 (extension headers included) and
 * then TCP, UDP, UDP-Lite, SCTP, DCCP, ICMP or ICMPv6, filling the pointers
 * of struct itm_packet.  Two lengths bound the walk: the logical end of the
 * IP packet (from its length field) and the end of the bytes we hold
 * (pkt->len, shorter than the packet when the kernel copied only a prefix).
 * A header that runs past the logical end is malformed; one that runs past
 * the bytes held in a truncated copy is simply absent.  Either way a
 * pointer is set only when its whole header (l3_hlen, l4_hlen bytes) lies
 * inside [data, data + len), and payload only when payload_len > 0.
 *
 * push/pull/set_len change the length inside the scratch room described by
 * itm__buf/itm__cap, moving the bytes only when there is no room where they
 * are, and parse again.  They refuse truncated copies: the kernel would get
 * back a packet we never saw whole.
 */
#include <errno.h>
#include <string.h>
#include <netinet/icmp6.h>

#include "packet_int.h"
#include "error.h"

#ifndef IPPROTO_MH
#define IPPROTO_MH 135
#endif

#define IP6_EXT_MAX 8 /* extension headers walked before giving up */

/* Where the walk stands: offsets from pkt->data. */
struct walk {
	uint32_t end;  /* logical end of the IP packet */
	uint32_t have; /* bytes held: pkt->len */
};

enum { W_OK = 0, W_ABSENT = 1, W_BAD = -1 };

/* Is [off, off + n) inside the packet and inside the bytes held? */
static int
walk_fits(const struct walk *w, uint32_t off, uint32_t n)
{
	if ((uint64_t)off + n > w->end)
		return W_BAD;
	if ((uint64_t)off + n > w->have)
		return W_ABSENT;
	return W_OK;
}

static void
packet_clear_view(struct itm_packet *pkt)
{
	pkt->family = 0;
	pkt->iph = NULL;
	pkt->ip6h = NULL;
	pkt->l3_hlen = 0;
	pkt->l4proto = 0;
	pkt->l4h = NULL;
	pkt->l4_hlen = 0;
	pkt->sport = 0;
	pkt->dport = 0;
	pkt->payload = NULL;
	pkt->payload_len = 0;
	pkt->flags &= ~(ITM_PKT_MALFORMED | ITM_PKT_FRAGMENT);
}

/* Set payload to [off, end), clipped to the bytes held. */
static void
set_payload(struct itm_packet *pkt, const struct walk *w, uint32_t off,
	    uint32_t end)
{
	uint32_t stop = end < w->have ? end : w->have;

	if (off < stop) {
		pkt->payload = pkt->data + off;
		pkt->payload_len = stop - off;
	}
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* --- L4 ------------------------------------------------------------ */

static int
parse_tcp(struct itm_packet *pkt, const struct walk *w, uint32_t off)
{
	const uint8_t *p = pkt->data + off;
	uint32_t hlen;
	int r;

	if ((r = walk_fits(w, off, sizeof(struct tcphdr))) != W_OK)
		return r;
	hlen = (uint32_t)(p[12] >> 4) * 4;
	if (hlen < sizeof(struct tcphdr))
		return W_BAD;
	if ((r = walk_fits(w, off, hlen)) != W_OK)
		return r;
	pkt->l4h = pkt->data + off;
	pkt->l4_hlen = (uint16_t)hlen;
	pkt->sport = get16(p);
	pkt->dport = get16(p + 2);
	set_payload(pkt, w, off + hlen, w->end);
	return W_OK;
}

/* UDP and UDP-Lite share the header; for UDP-Lite the length field is
 * the checksum coverage and the datagram runs to the end of the packet. */
static int
parse_udp(struct itm_packet *pkt, const struct walk *w, uint32_t off)
{
	const uint8_t *p = pkt->data + off;
	uint32_t ulen, seg = w->end - off;
	int r;

	if ((r = walk_fits(w, off, sizeof(struct udphdr))) != W_OK)
		return r;
	ulen = get16(p + 4);
	if (pkt->l4proto == IPPROTO_UDPLITE || (ulen == 0 && seg > 0xffff))
		ulen = seg; /* UDP-Lite, or a GSO/jumbo datagram */
	if (ulen < sizeof(struct udphdr) || ulen > seg)
		return W_BAD;
	pkt->l4h = pkt->data + off;
	pkt->l4_hlen = sizeof(struct udphdr);
	pkt->sport = get16(p);
	pkt->dport = get16(p + 2);
	set_payload(pkt, w, off + sizeof(struct udphdr), off + ulen);
	return W_OK;
}

/* ICMP and ICMPv6: 8 bytes of header; echo uses its id as source port. */
static int
parse_icmp(struct itm_packet *pkt, const struct walk *w, uint32_t off)
{
	const uint8_t *p = pkt->data + off;
	int r, echo;

	if ((r = walk_fits(w, off, 8)) != W_OK)
		return r;
	if (pkt->l4proto == IPPROTO_ICMP)
		echo = p[0] == ICMP_ECHO || p[0] == ICMP_ECHOREPLY;
	else
		echo = p[0] == ICMP6_ECHO_REQUEST || p[0] == ICMP6_ECHO_REPLY;
	pkt->l4h = pkt->data + off;
	pkt->l4_hlen = 8;
	if (echo)
		pkt->sport = get16(p + 4);
	set_payload(pkt, w, off + 8, w->end);
	return W_OK;
}

/* SCTP (12-byte common header) and DCCP (data offset in words): ports. */
static int
parse_sctp_dccp(struct itm_packet *pkt, const struct walk *w, uint32_t off)
{
	const uint8_t *p = pkt->data + off;
	uint32_t hlen = 12;
	int r;

	if ((r = walk_fits(w, off, 12)) != W_OK)
		return r;
	if (pkt->l4proto == IPPROTO_DCCP) {
		hlen = (uint32_t)p[4] * 4;
		if (hlen < 12)
			return W_BAD;
		if ((r = walk_fits(w, off, hlen)) != W_OK)
			return r;
	}
	pkt->l4h = pkt->data + off;
	pkt->l4_hlen = (uint16_t)hlen;
	pkt->sport = get16(p);
	pkt->dport = get16(p + 2);
	set_payload(pkt, w, off + hlen, w->end);
	return W_OK;
}

/* Parse the L4 header at @off, pkt->l4proto already set.  Protocols
 * without a header we know leave l4h NULL and their bytes as payload. */
static int
parse_l4(struct itm_packet *pkt, const struct walk *w, uint32_t off)
{
	int r;

	switch (pkt->l4proto) {
	case IPPROTO_TCP: r = parse_tcp(pkt, w, off); break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE: r = parse_udp(pkt, w, off); break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: r = parse_icmp(pkt, w, off); break;
	case IPPROTO_SCTP:
	case IPPROTO_DCCP: r = parse_sctp_dccp(pkt, w, off); break;
	default: set_payload(pkt, w, off, w->end); return 0;
	}
	if (r == W_BAD) {
		pkt->l4h = NULL;
		pkt->l4_hlen = 0;
		pkt->sport = pkt->dport = 0;
		pkt->flags |= ITM_PKT_MALFORMED;
		return -EBADMSG;
	}
	return 0;
}

/* --- L3 ------------------------------------------------------------ */

/* The bytes the kernel has for this packet (>= what we hold). */
static uint32_t
packet_wire(const struct itm_packet *pkt)
{
	return pkt->wire_len > pkt->len ? pkt->wire_len : pkt->len;
}

/* Headers are read byte by byte: after an odd push or pull the packet
 * need not be aligned. */
static int
parse_ipv4(struct itm_packet *pkt)
{
	const uint8_t *p = pkt->data;
	uint32_t wire = packet_wire(pkt), hlen, tot;
	uint16_t frag;
	struct walk w;

	if (pkt->len < sizeof(struct iphdr))
		return wire > pkt->len ? 0 : -EBADMSG;
	hlen = (uint32_t)(p[0] & 0x0f) * 4;
	tot = get16(p + 2);
	if (tot == 0 && wire > 0xffff)
		tot = wire; /* BIG TCP: length only in the skb */
	if (hlen < sizeof(struct iphdr) || tot < hlen || tot > wire)
		return -EBADMSG;
	if (hlen > pkt->len)
		return 0; /* options cut off by the copy */

	pkt->family = AF_INET;
	pkt->iph = (struct iphdr *)pkt->data;
	pkt->l3_hlen = (uint16_t)hlen;
	pkt->l4proto = p[9];
	w.end = tot;
	w.have = pkt->len;
	frag = get16(p + 6);
	if (frag & (IP_MF | IP_OFFMASK))
		pkt->flags |= ITM_PKT_FRAGMENT;
	if (frag & IP_OFFMASK) {
		set_payload(pkt, &w, hlen, w.end);
		return 0;
	}
	if (frag & IP_MF) {
		/* A first fragment may end inside its L4 header: not bad. */
		if (parse_l4(pkt, &w, hlen) < 0)
			pkt->flags &= ~ITM_PKT_MALFORMED;
		return 0;
	}
	return parse_l4(pkt, &w, hlen);
}

static int
is_ip6_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_AH;
}

/* Length of the extension header at @p whose type is @nh. */
static uint32_t
ip6_ext_len(uint8_t nh, const uint8_t *p)
{
	if (nh == IPPROTO_FRAGMENT)
		return 8;
	if (nh == IPPROTO_AH)
		return ((uint32_t)p[1] + 2) * 4;
	return ((uint32_t)p[1] + 1) * 8;
}

/*
 * Walk the extension headers from offset 40.  On W_OK *@off is the L4
 * offset, *@nh the upper protocol and *@frag the fragment offset in
 * bytes (0 for none or first) with ITM_PKT_FRAGMENT set for fragments.
 */
static int
walk_ip6_ext(struct itm_packet *pkt, const struct walk *w, uint32_t *off,
	     uint8_t *nh, uint32_t *frag)
{
	const uint8_t *p;
	uint32_t elen;
	int i, r;

	for (i = 0; is_ip6_ext(*nh); i++) {
		if (i == IP6_EXT_MAX || (*nh == IPPROTO_HOPOPTS && i > 0))
			return W_BAD;
		if ((r = walk_fits(w, *off, 8)) != W_OK)
			return r;
		p = pkt->data + *off;
		elen = ip6_ext_len(*nh, p);
		if ((r = walk_fits(w, *off, elen)) != W_OK)
			return r;
		if (*nh == IPPROTO_FRAGMENT) {
			*frag = get16(p + 2) & 0xfff8;
			if (*frag || (p[3] & 1))
				pkt->flags |= ITM_PKT_FRAGMENT;
		}
		*nh = p[0];
		*off += elen;
		if (*frag)
			break; /* later bytes are not headers */
	}
	return W_OK;
}

static int
parse_ipv6(struct itm_packet *pkt)
{
	const uint8_t *p = pkt->data;
	uint32_t wire = packet_wire(pkt), off = 40, frag = 0;
	struct walk w;
	uint8_t nh;
	int r;

	if (pkt->len < off)
		return wire > pkt->len ? 0 : -EBADMSG;
	nh = p[6];
	w.end = off + get16(p + 4);
	if (w.end == off && wire > 0xffff + off)
		w.end = wire; /* jumbogram / BIG TCP */
	w.have = pkt->len;
	if (w.end > wire)
		return -EBADMSG;
	r = walk_ip6_ext(pkt, &w, &off, &nh, &frag);
	if (r == W_BAD)
		return -EBADMSG;
	pkt->family = AF_INET6;
	pkt->ip6h = (struct ip6_hdr *)pkt->data;
	if (r == W_ABSENT) { /* headers cut off by the copy */
		pkt->l3_hlen = 40;
		return 0;
	}
	pkt->l3_hlen = (uint16_t)off;
	pkt->l4proto = nh;
	if (frag) {
		set_payload(pkt, &w, off, w.end);
		return 0;
	}
	if (pkt->flags & ITM_PKT_FRAGMENT) {
		if (parse_l4(pkt, &w, off) < 0)
			pkt->flags &= ~ITM_PKT_MALFORMED;
		return 0;
	}
	return parse_l4(pkt, &w, off);
}

int
itm_packet_parse(struct itm_packet *pkt)
{
	int r;

	packet_clear_view(pkt);
	if (pkt->wire_len > pkt->len)
		pkt->flags |= ITM_PKT_TRUNCATED;
	if (pkt->data == NULL || pkt->len == 0)
		goto bad;
	switch (pkt->data[0] >> 4) {
	case 4: r = parse_ipv4(pkt); break;
	case 6: r = parse_ipv6(pkt); break;
	default: goto bad;
	}
	if (r == 0 || (pkt->flags & ITM_PKT_MALFORMED))
		return r; /* fine, or L4 bad with L3 kept */
bad:
	packet_clear_view(pkt);
	pkt->flags |= ITM_PKT_MALFORMED;
	return -EBADMSG;
}

/* --- buffer -------------------------------------------------------- */

int
itm__packet_wrap(struct itm_packet *pkt, uint8_t *buf, uint32_t cap,
		 uint8_t *data, uint32_t len)
{
	if (buf == NULL || data < buf || (size_t)(data - buf) > cap ||
	    len > cap - (uint32_t)(data - buf))
		return -EINVAL;
	pkt->itm__buf = buf;
	pkt->itm__cap = cap;
	pkt->data = data;
	pkt->len = len;
	return itm_packet_parse(pkt);
}

/* The buffer around data; without one the packet has no scratch room. */
static void
packet_room(const struct itm_packet *pkt, uint32_t *head, uint32_t *tail)
{
	uint8_t *buf = pkt->itm__buf;
	size_t cap = pkt->itm__cap;

	if (buf == NULL || pkt->data < buf ||
	    (size_t)(pkt->data - buf) + pkt->len > cap) {
		*head = *tail = 0;
		return;
	}
	*head = (uint32_t)(pkt->data - buf);
	*tail = (uint32_t)(cap - *head - pkt->len);
}

static int
packet_changeable(const struct itm_packet *pkt, const char *what)
{
	if (pkt->flags & ITM_PKT_TRUNCATED) {
		itm__set_error(
			"%s: packet is a truncated copy (%u of %u bytes); "
			"register with copy_bytes = 0",
			what, pkt->len, pkt->wire_len);
		return -EPERM;
	}
	return 0;
}

/* After a length change: the kernel gets these bytes back whole. */
static void
packet_resized(struct itm_packet *pkt)
{
	pkt->wire_len = pkt->len;
	pkt->flags |= ITM_PKT_ALTERED;
	(void)itm_packet_parse(pkt);
}

uint8_t *
itm_packet_push(struct itm_packet *pkt, uint32_t n)
{
	uint32_t head, tail;

	if (packet_changeable(pkt, "push") < 0)
		return NULL;
	packet_room(pkt, &head, &tail);
	if (n > head) {
		if ((uint64_t)n > (uint64_t)head + tail) {
			itm__set_error("push: no room for %u more bytes", n);
			return NULL;
		}
		memmove(pkt->itm__buf + n, pkt->data, pkt->len);
		pkt->data = pkt->itm__buf + n;
	}
	pkt->data -= n;
	pkt->len += n;
	memset(pkt->data, 0, n);
	packet_resized(pkt);
	return pkt->data;
}

int
itm_packet_pull(struct itm_packet *pkt, uint32_t n)
{
	int r;

	if ((r = packet_changeable(pkt, "pull")) < 0)
		return r;
	if (n > pkt->len) {
		itm__set_error("pull: %u bytes from a packet of %u", n,
			       pkt->len);
		return -EINVAL;
	}
	pkt->data += n;
	pkt->len -= n;
	packet_resized(pkt);
	return 0;
}

int
itm_packet_set_len(struct itm_packet *pkt, uint32_t len)
{
	uint32_t head, tail, grow;
	int r;

	if ((r = packet_changeable(pkt, "set_len")) < 0)
		return r;
	if (len > pkt->len) {
		grow = len - pkt->len;
		packet_room(pkt, &head, &tail);
		if (grow > tail) {
			if ((uint64_t)grow > (uint64_t)head + tail) {
				itm__set_error("set_len: no room for %u bytes",
					       len);
				return -ENOSPC;
			}
			memmove(pkt->itm__buf, pkt->data, pkt->len);
			pkt->data = pkt->itm__buf;
		}
		memset(pkt->data + pkt->len, 0, grow);
	}
	pkt->len = len;
	packet_resized(pkt);
	return 0;
}

int
itm_packet_altered(struct itm_packet *pkt)
{
	int r;

	if ((r = packet_changeable(pkt, "altered")) < 0)
		return r;
	pkt->flags |= ITM_PKT_ALTERED;
	return 0;
}
