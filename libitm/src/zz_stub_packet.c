/*
 * zz_stub_packet.c - TEMPORARY stand-in for the packet parser and checksum
 * helpers that branch `pkt` provides.  IPv4 with TCP or UDP only, just
 * enough for the queue layer (itmq.c) and its tests.  DELETE this file
 * when the real packet.c / checksum code lands.
 */
#include <errno.h>
#include <string.h>

#include "itm.h"
#include "packet_int.h"

int
itm_packet_parse(struct itm_packet *pkt)
{
	struct iphdr *ip = (struct iphdr *)pkt->data;
	uint32_t hl;

	pkt->family = 0;
	pkt->iph = NULL;
	pkt->ip6h = NULL;
	pkt->l4h = NULL;
	pkt->l4proto = 0;
	pkt->l3_hlen = pkt->l4_hlen = 0;
	pkt->sport = pkt->dport = 0;
	pkt->payload = NULL;
	pkt->payload_len = 0;
	if (pkt->len < sizeof(*ip) || ip->version != 4 ||
	    (hl = ip->ihl * 4u) < sizeof(*ip) || hl > pkt->len)
		goto bad;
	pkt->family = AF_INET;
	pkt->iph = ip;
	pkt->l3_hlen = hl;
	pkt->l4proto = ip->protocol;
	if (ntohs(ip->frag_off) & 0x3fff) {
		pkt->flags |= ITM_PKT_FRAGMENT;
		return 0;
	}
	if (ip->protocol == IPPROTO_TCP && pkt->len >= hl + 20) {
		pkt->tcph = (struct tcphdr *)(pkt->data + hl);
		pkt->l4_hlen = pkt->tcph->doff * 4;
		pkt->sport = ntohs(pkt->tcph->source);
		pkt->dport = ntohs(pkt->tcph->dest);
	} else if (ip->protocol == IPPROTO_UDP && pkt->len >= hl + 8) {
		pkt->udph = (struct udphdr *)(pkt->data + hl);
		pkt->l4_hlen = 8;
		pkt->sport = ntohs(pkt->udph->source);
		pkt->dport = ntohs(pkt->udph->dest);
	}
	if (pkt->l4h && hl + pkt->l4_hlen <= pkt->len) {
		pkt->payload = pkt->data + hl + pkt->l4_hlen;
		pkt->payload_len = pkt->len - hl - pkt->l4_hlen;
	}
	return 0;
bad:
	pkt->flags |= ITM_PKT_MALFORMED;
	return -EBADMSG;
}

int
itm__packet_wrap(struct itm_packet *pkt, uint8_t *buf, uint32_t cap,
		 uint8_t *data, uint32_t len)
{
	pkt->itm__buf = buf;
	pkt->itm__cap = cap;
	pkt->data = data;
	pkt->len = len;
	return itm_packet_parse(pkt);
}

static uint32_t
stub_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t
stub_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void
itm_csum_fix_ip(struct itm_packet *pkt)
{
	if (!pkt->iph)
		return;
	pkt->iph->check = 0;
	pkt->iph->check = htons(stub_fold(stub_sum(pkt->data, pkt->l3_hlen,
						   0)));
}

int
itm_csum_fix_l4(struct itm_packet *pkt)
{
	uint8_t *l4 = (uint8_t *)pkt->l4h;
	uint32_t len, sum;
	uint16_t *check, c;

	if (!pkt->iph || !l4)
		return -EINVAL;
	len = pkt->len - pkt->l3_hlen;
	check = pkt->l4proto == IPPROTO_TCP ? &pkt->tcph->check
					    : &pkt->udph->check;
	*check = 0;
	sum = stub_sum((uint8_t *)&pkt->iph->saddr, 8, 0);
	sum += pkt->l4proto + len;
	c = stub_fold(stub_sum(l4, len, sum));
	if (c == 0 && pkt->l4proto == IPPROTO_UDP)
		c = 0xffff;
	*check = htons(c);
	return 0;
}
