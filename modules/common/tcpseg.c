/*
 * tcpseg.c - software segmentation of large TCP/IPv4 packets (tcpseg.h).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include "itm.h"
#include "tcpseg.h"

static void
fix_csums(uint8_t *seg, uint16_t ihl, uint16_t len)
{
	struct iphdr *ip = (struct iphdr *)seg;
	struct tcphdr *th = (struct tcphdr *)(seg + ihl);
	uint16_t l4 = (uint16_t)(len - ihl);

	ip->check = 0;
	ip->check = itm_ip_fast_csum(seg, ihl / 4u);
	th->th_sum = 0;
	th->th_sum =
		itm_csum_tcpudp_magic(ip->saddr, ip->daddr, l4, IPPROTO_TCP,
				      itm_csum_partial(th, l4, 0));
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
tcpseg_split(const uint8_t *pkt, uint16_t len, uint16_t mtu, uint8_t *scratch,
	     tcpseg_emit_fn emit, void *arg)
{
	uint16_t ihl, hlen, mss;
	uint32_t plen, off;
	int i, rc;

	if (len <= mtu)
		return (rc = emit(pkt, len, arg)) < 0 ? rc : 1;
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

		rc = emit(scratch,
			  build_seg(pkt, hlen, ihl, scratch, off, n, i,
				    off + n >= plen),
			  arg);
		if (rc < 0)
			return rc;
	}
	return i;
}
