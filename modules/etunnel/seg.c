/*
 * seg.c - software segmentation of large TCP/IPv4 packets (seg.h).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include "seg.h"

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
fix_csums(uint8_t *seg, uint16_t ihl, uint16_t len)
{
	struct iphdr *ip = (struct iphdr *)seg;
	struct tcphdr *th = (struct tcphdr *)(seg + ihl);
	uint32_t s = 0;

	ip->check = 0;
	ip->check = htons(fold(sum16(seg, ihl, 0)));
	th->th_sum = 0;
	s = sum16((const uint8_t *)&ip->saddr, 8, 0);
	s += IPPROTO_TCP + (uint32_t)(len - ihl);
	th->th_sum = htons(fold(sum16(seg + ihl, (size_t)(len - ihl), s)));
}

/* Segment @i of the payload: @off bytes in, @n long, @last or not. */
static uint16_t
build_seg(const uint8_t *pkt, uint16_t hlen, uint16_t ihl, uint8_t *out,
	  uint32_t off, uint16_t n, int i, int last)
{
	struct iphdr *ip = (struct iphdr *)out;
	struct tcphdr *th = (struct tcphdr *)(out + ihl);
	uint16_t len = (uint16_t)(hlen + n);

	memcpy(out, pkt, hlen);
	memcpy(out + hlen, pkt + hlen + off, n);
	ip->tot_len = htons(len);
	ip->id = htons((uint16_t)(ntohs(ip->id) + i));
	th->th_seq = htonl(ntohl(th->th_seq) + off);
	if (!last)
		th->th_flags &= (uint8_t) ~(TH_FIN | TH_PUSH);
	if (i > 0)
		th->th_flags &= (uint8_t)~0x80; /* CWR */
	fix_csums(out, ihl, len);
	return len;
}

int
etun_segment(const uint8_t *pkt, uint16_t len, uint16_t mtu, uint8_t *scratch,
	     etun_seg_cb cb, void *arg)
{
	uint16_t ihl, hlen, mss;
	uint32_t plen, off;
	int i;

	if (len <= mtu) {
		cb(pkt, len, arg);
		return 1;
	}
	/* Read the headers byte by byte: @pkt may be unaligned. */
	if (len < 40 || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_TCP)
		return -EMSGSIZE;
	ihl = (uint16_t)((pkt[0] & 0x0f) * 4);
	if (ihl < 20 || len < ihl + 20u || (pkt[2] << 8 | pkt[3]) != len)
		return -EBADMSG;
	hlen = (uint16_t)(ihl + (pkt[ihl + 12] >> 4) * 4);
	if (hlen < ihl + 20u || hlen > len)
		return -EBADMSG;
	if (mtu < hlen + 8u)
		return -EMSGSIZE;
	mss = (uint16_t)(mtu - hlen);
	plen = (uint32_t)(len - hlen);
	for (i = 0, off = 0; off < plen; i++, off += mss) {
		uint16_t n = (uint16_t)(plen - off < mss ? plen - off : mss);

		cb(scratch,
		   build_seg(pkt, hlen, ihl, scratch, off, n, i,
			     off + n >= plen),
		   arg);
	}
	return i;
}
