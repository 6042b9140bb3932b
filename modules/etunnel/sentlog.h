/*
 * sentlog.h - the entry's copies of the frames it sent lately, so the
 * frames held in a stuck pool connection can be sent again on another.
 *
 * A loss on one pool connection holds everything that connection has in
 * flight until its retransmission gets through: a round trip after fast
 * retransmit, 200 ms or more after a timeout.  Meanwhile the frames of
 * the other connections arrive; the exit waits for the gap a bounded
 * time, then gives it up, and the user's TCP takes the late packets for
 * loss.  The entry keeps the last frames sent (a ring, each with its
 * connection and the byte of that connection's stream where it ends);
 * when a connection stops making progress, the frames it holds that the
 * peer has not acknowledged are sent once more on the others (same
 * sequence number: the exit keeps whichever copy comes first).  Pure
 * code.
 */
#ifndef ETUN_SENTLOG_H
#define ETUN_SENTLOG_H

#include <stdint.h>

struct etun_sent {
	uint64_t end; /* the connection's stream byte after the frame */
	uint32_t seq;
	uint16_t conn; /* connection slot */
	uint16_t len;
	uint8_t cls;
	uint8_t resent; /* sent again already: never twice */
	uint8_t live;	/* 0: forgotten (its connection closed) */
	uint8_t *pkt;
};

struct etun_sentlog;

/* A ring of @frames copies of packets up to @mtu bytes.  NULL: ENOMEM. */
struct etun_sentlog *etun_sentlog_new(unsigned int frames, uint16_t mtu);
void etun_sentlog_free(struct etun_sentlog *l);
/* Keep a copy of a frame sent on connection @conn; the oldest copy goes
 * when the ring is full; a packet above the MTU is not kept. */
void etun_sentlog_add(struct etun_sentlog *l, uint16_t conn, uint64_t end,
		      uint32_t seq, uint8_t cls, const uint8_t *pkt,
		      uint16_t len);
/* Forget the frames of @conn (it closed: its stream starts again). */
void etun_sentlog_forget(struct etun_sentlog *l, uint16_t conn);
/* The frames of @conn that end after @acked (not acknowledged) and were
 * not sent again yet, oldest first, to @cb; each @cb took is marked sent
 * again; the walk stops at the first it did not take (returns 0).
 * Returns how many it took. */
unsigned int etun_sentlog_unacked(
	struct etun_sentlog *l, uint16_t conn, uint64_t acked,
	int (*cb)(const struct etun_sent *s, void *arg), void *arg);

#endif
