/*
 * frame.c - encode and parse the tunnel's 8-byte frame header (frame.h).
 */
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
	if ((f->flags & ETUN_F_CONTROL) ? f->len != 0 : f->len < 20)
		return ETUN_PARSE_BAD;
	if (n - ETUN_FRAME_HDR < f->len)
		return ETUN_PARSE_MORE;
	f->data = buf + ETUN_FRAME_HDR;
	*used = ETUN_FRAME_HDR + (size_t)f->len;
	return ETUN_PARSE_OK;
}
