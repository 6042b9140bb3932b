/*
 * segment.c - TCP segmentation for the queue data path (segment.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <string.h>

#include "segment.h"

#define SEG_MAX 65535

static uint32_t
sum16(const void *p, size_t len, uint32_t s)
{
	const uint8_t *b = p;

	for (; len > 1; len -= 2, b += 2)
		s += (uint32_t)b[0] << 8 | b[1];
	if (len)
		s += (uint32_t)b[0] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* Fill lengths, ids and checksums of the segment at @seg. */
static void
finish(uint8_t *seg, size_t hl, size_t len, uint16_t id)
{
	struct iphdr *ip = (struct iphdr *)seg;
	struct tcphdr *th = (struct tcphdr *)(seg + hl);
	uint32_t s;

	ip->tot_len = htons((uint16_t)len);
	ip->id = htons(id);
	ip->check = 0;
	ip->check = fold(sum16(ip, hl, 0));
	th->check = 0;
	s = sum16(&ip->saddr, 8, 0) + IPPROTO_TCP + (uint32_t)(len - hl);
	th->check = fold(sum16(th, len - hl, s));
}

int
itmr_tcp_segment(const uint8_t *pkt, size_t len, uint32_t mtu,
		 itmr_emit_fn emit, void *arg)
{
	const struct iphdr *ip = (const void *)pkt;
	uint8_t seg[SEG_MAX];
	size_t hl, thl, mss, off, n;
	uint32_t seq;
	uint16_t id;
	int rc, count = 0;

	if (len < sizeof(*ip) || ip->version != 4 ||
	    ip->protocol != IPPROTO_TCP)
		return -EINVAL;
	hl = ip->ihl * 4u;
	if (hl < 20 || len < hl + sizeof(struct tcphdr))
		return -EINVAL;
	thl = ((const struct tcphdr *)(pkt + hl))->doff * 4u;
	if (thl < 20 || len < hl + thl || mtu <= hl + thl || mtu > SEG_MAX)
		return -EINVAL;
	mss = mtu - hl - thl;
	seq = ntohl(((const struct tcphdr *)(pkt + hl))->seq);
	id = ntohs(ip->id);
	for (off = hl + thl; off < len || count == 0; off += n) {
		struct tcphdr *th = (struct tcphdr *)(seg + hl);

		n = len - off < mss ? len - off : mss;
		memcpy(seg, pkt, hl + thl);
		memcpy(seg + hl + thl, pkt + off, n);
		th->seq = htonl(seq + (uint32_t)(off - hl - thl));
		if (off + n < len) { /* FIN and PSH go with the last one */
			th->fin = 0;
			th->psh = 0;
		}
		if (count > 0) /* CWR on the first only, as the kernel's GSO */
			seg[hl + 13] &= (uint8_t)~0x80;
		finish(seg, hl, hl + thl + n, (uint16_t)(id + count));
		if ((rc = emit(seg, hl + thl + n, arg)) < 0)
			return rc;
		count++;
	}
	return count;
}
