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
 * its bounds.  Old exits refuse it as an unknown flag.  Bit 3
 * (ETUN_F_STREAM) marks a frame of a split TCP connection (tcp=split):
 * seq is the stream's id and the payload a stream frame (below), never a
 * packet; it travels both ways.  seq counts
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
#define ETUN_F_STREAM	   0x08 /* a split-TCP stream frame (below) */
#define ETUN_F_CONTROL	   (ETUN_F_HELLO | ETUN_F_WAIT) /* no packet */
#define ETUN_F_KNOWN	   (ETUN_F_SHORT | ETUN_F_CONTROL | ETUN_F_STREAM)

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
 * or flag, a HELLO or WAIT with a packet (or both flags), a data frame
 * without one, or a stream frame shorter than its head or with another
 * flag. */
enum etun_parse etun_frame_parse(const uint8_t *buf, size_t n,
				 struct etun_frame *f, size_t *used);

/*
 * A stream frame's payload (ETUN_F_STREAM): a 12-byte head, then the
 * addresses when ETUN_SF_OPEN is set, then the stream's bytes (DATA).
 *
 *	0      1       2          4                12
 *	+------+-------+----------+----------------+-------------+------+
 *	| type | sflag | reserved | offset (64)    | [addresses] | data |
 *	+------+-------+----------+----------------+-------------+------+
 *
 * DATA: the bytes at offset..; FIN: the stream ends at offset; RST: the
 * connection was reset; ACK: the receiver delivered offset bytes to its
 * socket (the sender's credit), with ETUN_SF_FIN_DONE also the end.
 * ETUN_SF_OPEN (entry to exit, DATA and FIN, until the exit's first ACK):
 * 12 bytes follow: the client's address and port, the original
 * destination's address and port (network order), so whichever frame
 * arrives first opens the stream at the exit.
 */
#define ETUN_SF_HEAD	 12
#define ETUN_SF_ADDRS	 12
#define ETUN_SF_OPEN	 0x01
#define ETUN_SF_FIN_DONE 0x02
#define ETUN_SF_KNOWN	 (ETUN_SF_OPEN | ETUN_SF_FIN_DONE)

enum etun_sf_type { ETUN_SF_DATA = 1, ETUN_SF_FIN, ETUN_SF_RST, ETUN_SF_ACK };

struct etun_sframe {
	uint32_t id;
	uint8_t type, sflags;
	uint64_t off;
	uint32_t saddr, daddr; /* network order, with ETUN_SF_OPEN */
	uint16_t sport, dport; /* host order */
	const uint8_t *data;
	uint32_t len;
};

/* Write a stream frame's frame header and head into @hdr (8 + 12 bytes,
 * + 12 with ETUN_SF_OPEN: the addresses from @sf); @datalen bytes of
 * data follow it.  Returns the bytes written into @hdr. */
size_t etun_sframe_hdr(uint8_t *hdr, const struct etun_sframe *sf,
		       uint32_t datalen);

/* Parse the payload of an ETUN_F_STREAM frame.  -1 when it is not a
 * stream frame: short, unknown type or flag, reserved bits set, data on
 * anything but DATA, addresses on RST or ACK. */
int etun_sframe_parse(const struct etun_frame *f, struct etun_sframe *sf);

/* Serial-number order of 32-bit sequence numbers (RFC 1982). */
static inline int32_t
etun_seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

#endif
