/*
 * reorder.h - the exit's reorder buffer: packets arrive over several
 * connections and leave in sequence order.
 *
 * Bounded three ways: a window of slots (a packet further ahead than the
 * window flushes what is held), a byte limit (likewise), and a wait: a gap
 * at the head is given up after wait_us, so one connection in loss
 * recovery holds the others back for at most that long (head-of-line
 * blocking).  A late packet (its seq already passed) is delivered at once:
 * the user's TCP copes with reordering better than with loss; a second
 * copy of one delivered (the entry sends the frames of a stuck connection
 * again) is dropped, within the last window of sequence numbers.  Slots keep
 * their buffers, so the steady state allocates nothing.  Pure code: time
 * is passed in, packets leave through a callback.
 */
#ifndef ETUN_REORDER_H
#define ETUN_REORDER_H

#include <stdint.h>

typedef void (*etun_deliver_cb)(const uint8_t *pkt, uint16_t len, uint8_t flags,
				void *arg);

struct etun_reorder_stats {
	uint64_t delivered; /* packets out, in order or not */
	uint64_t late;	    /* arrived after their seq was passed */
	uint64_t gaps;	    /* head gaps given up after the wait */
	uint64_t overflow;  /* flushes forced by window or bytes */
	uint64_t dups;	    /* a seq held or delivered already */
};

struct etun_reorder;

/* @window slots (rounded up to a power of two, at most 65536), at most
 * @max_bytes held, a head gap waited for at most @wait_us.  NULL: ENOMEM. */
struct etun_reorder *etun_reorder_new(unsigned int window, uint32_t max_bytes,
				      uint32_t wait_us, etun_deliver_cb cb,
				      void *arg);
void etun_reorder_free(struct etun_reorder *r);
/* A new longest wait for a head gap (from the next gap on). */
void etun_reorder_set_wait(struct etun_reorder *r, uint32_t wait_us);
/* Forget the order (a new session at the entry): what is held leaves. */
void etun_reorder_reset(struct etun_reorder *r);
void etun_reorder_push(struct etun_reorder *r, uint32_t seq, uint8_t flags,
		       const uint8_t *pkt, uint16_t len, uint64_t now_us);
/* Give up a head gap older than the wait.  Only the caller knows whether
 * the missing packets are still unread in its sockets (after the process
 * was not scheduled for a while, say): read them first. */
void etun_reorder_tick(struct etun_reorder *r, uint64_t now_us);
unsigned int etun_reorder_held(const struct etun_reorder *r);
const struct etun_reorder_stats *etun_reorder_stats(
	const struct etun_reorder *r);

#endif
