/*
 * frame.h - the elastic tunnel's wire format between two tunnel ends.
 *
 * Every packet carried over a pool connection is one frame: an 8-byte
 * header, then the IP packet as it was stolen at the entry.
 *
 *	0      2      3      4              8
 *	+------+------+------+--------------+---------------+
 *	| len  | ver  | flag | seq          | packet (len)  |
 *	+------+------+------+--------------+---------------+
 *
 * len and seq are big-endian; ver is ETUN_FRAME_VERSION; flag bit 0
 * (ETUN_F_SHORT) says the packet came from the short class, bit 1
 * (ETUN_F_HELLO) marks the first frame of a connection, whose seq is the
 * entry's session number and which carries no packet (len 0), bit 2
 * (ETUN_F_WAIT) a frame without packet (len 0) whose seq is the entry's
 * estimate, in microseconds, of how long a packet held in one connection
 * (a retransmission) may trail the others: the exit's reorder wait, within
 * its bounds.  Old exits refuse it as an unknown flag.  seq counts
 * the packets of one session over all connections, so the exit can put
 * them back in order.  Pure code: no I/O, no host calls.
 */
#ifndef ETUN_FRAME_H
#define ETUN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ETUN_FRAME_HDR	   8
#define ETUN_FRAME_VERSION 1
#define ETUN_FRAME_MAX	   65535 /* largest packet: IPv4 total length */
#define ETUN_F_SHORT	   0x01
#define ETUN_F_HELLO	   0x02
#define ETUN_F_WAIT	   0x04
#define ETUN_F_CONTROL	   (ETUN_F_HELLO | ETUN_F_WAIT) /* no packet */
#define ETUN_F_KNOWN	   (ETUN_F_SHORT | ETUN_F_CONTROL)

struct etun_frame {
	uint16_t len;
	uint8_t flags;
	uint32_t seq;
	const uint8_t *data; /* len bytes, inside the parsed buffer */
};

enum etun_parse {
	ETUN_PARSE_OK = 0, /* one frame in *f, *used bytes consumed */
	ETUN_PARSE_MORE,   /* need more bytes */
	ETUN_PARSE_BAD	   /* not a frame: the stream is broken */
};

/* Write the header of a frame into @hdr (8 bytes). */
void etun_frame_hdr(uint8_t *hdr, uint16_t len, uint8_t flags, uint32_t seq);

/* Parse the first frame of @buf (@n bytes).  BAD for an unknown version
 * or flag, a HELLO or WAIT with a packet (or both flags), or a data frame
 * without one. */
enum etun_parse etun_frame_parse(const uint8_t *buf, size_t n,
				 struct etun_frame *f, size_t *used);

/* Serial-number order of 32-bit sequence numbers (RFC 1982). */
static inline int32_t
etun_seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

#endif
