/*
 * frame.c - encode and parse the tunnel's 8-byte frame header (frame.h).
 */
#include <string.h>

#include "frame.h"

void
etun_frame_hdr(uint8_t *hdr, uint16_t len, uint8_t flags, uint32_t seq)
{
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	hdr[2] = ETUN_FRAME_VERSION;
	hdr[3] = flags;
	hdr[4] = (uint8_t)(seq >> 24);
	hdr[5] = (uint8_t)(seq >> 16);
	hdr[6] = (uint8_t)(seq >> 8);
	hdr[7] = (uint8_t)seq;
}

enum etun_parse
etun_frame_parse(const uint8_t *buf, size_t n, struct etun_frame *f,
		 size_t *used)
{
	if (n < ETUN_FRAME_HDR)
		return ETUN_PARSE_MORE;
	f->len = (uint16_t)(buf[0] << 8 | buf[1]);
	f->flags = buf[3];
	f->seq = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
		 (uint32_t)buf[6] << 8 | buf[7];
	if (buf[2] != ETUN_FRAME_VERSION || (f->flags & ~ETUN_F_KNOWN))
		return ETUN_PARSE_BAD;
	if ((f->flags & ETUN_F_CONTROL) == ETUN_F_CONTROL)
		return ETUN_PARSE_BAD;
	if (f->flags & ETUN_F_STREAM) {
		if (f->flags != ETUN_F_STREAM || f->len < ETUN_SF_HEAD)
			return ETUN_PARSE_BAD;
	} else if ((f->flags & ETUN_F_CONTROL) ? f->len != 0 : f->len < 20) {
		return ETUN_PARSE_BAD;
	}
	if (n - ETUN_FRAME_HDR < f->len)
		return ETUN_PARSE_MORE;
	f->data = buf + ETUN_FRAME_HDR;
	*used = ETUN_FRAME_HDR + (size_t)f->len;
	return ETUN_PARSE_OK;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t
etun_sframe_hdr(uint8_t *hdr, const struct etun_sframe *sf, uint32_t datalen)
{
	size_t n = ETUN_FRAME_HDR + ETUN_SF_HEAD;
	uint8_t *h = hdr + ETUN_FRAME_HDR;

	if (sf->sflags & ETUN_SF_OPEN)
		n += ETUN_SF_ADDRS;
	etun_frame_hdr(hdr, (uint16_t)(n - ETUN_FRAME_HDR + datalen),
		       ETUN_F_STREAM, sf->id);
	h[0] = sf->type;
	h[1] = sf->sflags;
	h[2] = h[3] = 0;
	put64(h + 4, sf->off);
	if (sf->sflags & ETUN_SF_OPEN) {
		memcpy(h + 12, &sf->saddr, 4);
		h[16] = (uint8_t)(sf->sport >> 8);
		h[17] = (uint8_t)sf->sport;
		memcpy(h + 18, &sf->daddr, 4);
		h[22] = (uint8_t)(sf->dport >> 8);
		h[23] = (uint8_t)sf->dport;
	}
	return n;
}

int
etun_sframe_parse(const struct etun_frame *f, struct etun_sframe *sf)
{
	const uint8_t *p = f->data;
	uint32_t head = ETUN_SF_HEAD;

	if (f->len < ETUN_SF_HEAD)
		return -1;
	memset(sf, 0, sizeof(*sf));
	sf->id = f->seq;
	sf->type = p[0];
	sf->sflags = p[1];
	sf->off = get64(p + 4);
	if (sf->type < ETUN_SF_DATA || sf->type > ETUN_SF_ACK ||
	    (sf->sflags & ~ETUN_SF_KNOWN) || p[2] || p[3])
		return -1;
	if (sf->sflags & ETUN_SF_OPEN) {
		if (sf->type != ETUN_SF_DATA && sf->type != ETUN_SF_FIN)
			return -1;
		if ((head += ETUN_SF_ADDRS) > f->len)
			return -1;
		memcpy(&sf->saddr, p + 12, 4);
		sf->sport = (uint16_t)(p[16] << 8 | p[17]);
		memcpy(&sf->daddr, p + 18, 4);
		sf->dport = (uint16_t)(p[22] << 8 | p[23]);
	}
	if ((sf->sflags & ETUN_SF_FIN_DONE) && sf->type != ETUN_SF_ACK)
		return -1;
	sf->data = p + head;
	sf->len = f->len - head;
	return sf->type != ETUN_SF_DATA && sf->len ? -1 : 0;
}
