/*
 * fuzz_etunnel.c - libFuzzer target for the elastic tunnel's exit path:
 * the frame parser over a byte stream cut at arbitrary points, then the
 * reorder buffer and the segmentation of what it delivers, as exitp.c
 * chains them (without sockets); a split-TCP stream frame's payload is
 * parsed (frame.h) and, when it is one, written again: the same bytes.
 *
 * Input: 1 control byte (bits 0-3: the read size is 1 + 97 * that;
 * bits 4-7: the MTU is 576 + 64 * that), then the stream.  Nothing may
 * crash or read outside the buffers; every segment must fit the MTU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "reorder.h"
#include "tcpseg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t mtu;
static uint8_t scratch[65536];

static int
seg_cb(const uint8_t *seg, uint16_t len, void *arg)
{
	(void)arg;
	(void)seg;
	if (len > mtu && seg == scratch)
		abort();
	return 0;
}

static void
deliver(const uint8_t *pkt, uint16_t len, uint8_t flags, void *arg)
{
	(void)flags;
	(void)arg;
	tcpseg_split(pkt, len, mtu, scratch, seg_cb, NULL);
}

/* A stream frame that parses is written again byte for byte. */
static void
stream_frame(const struct etun_frame *f, const uint8_t *raw)
{
	uint8_t hdr[ETUN_FRAME_HDR + ETUN_SF_HEAD + ETUN_SF_ADDRS];
	struct etun_sframe sf;
	size_t n;

	if (etun_sframe_parse(f, &sf) < 0)
		return;
	if (sf.data < f->data || sf.data + sf.len != f->data + f->len)
		abort();
	n = etun_sframe_hdr(hdr, &sf, sf.len);
	if (n != (size_t)(sf.data - raw) || memcmp(hdr, raw, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[2 * (ETUN_FRAME_HDR + ETUN_FRAME_MAX)];
	struct etun_reorder *r;
	size_t have = 0, pos = 1, chunk, used;
	struct etun_frame f;
	uint64_t now = 0;

	if (size < 1)
		return 0;
	chunk = 1 + 97 * (data[0] & 0x0f);
	mtu = (uint16_t)(576 + 64 * (data[0] >> 4));
	r = etun_reorder_new(64, 256 * 1024, 50, deliver, NULL);
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		size_t off = 0;
		enum etun_parse p;

		if (n > sizeof(buf) - have)
			n = sizeof(buf) - have;
		memcpy(buf + have, data + pos, n);
		have += n;
		pos += n;
		while ((p = etun_frame_parse(buf + off, have - off, &f,
					     &used)) == ETUN_PARSE_OK) {
			if (f.flags & ETUN_F_STREAM)
				stream_frame(&f, buf + off);
			else if (f.flags & ETUN_F_WAIT)
				etun_reorder_set_wait(r, f.seq % 100000);
			else if (f.flags & ETUN_F_HELLO)
				etun_reorder_reset(r);
			else
				etun_reorder_push(r, f.seq, f.flags, f.data,
						  f.len, now += 7);
			off += used;
		}
		if (p == ETUN_PARSE_BAD)
			break;
		memmove(buf, buf + off, have - off);
		have -= off;
		etun_reorder_tick(r, now += 13);
	}
	etun_reorder_free(r);
	return 0;
}
