/*
 * delayq.h - the packets a delay line holds, ordered by when each is due.
 *
 * A bounded binary min-heap keyed by (due time, arrival number): packets
 * with different delays leave in the order they fall due, and packets due
 * at the same time leave in the order they came, so a flow whose delay does
 * not change is never reordered.  The storage is allocated once, at
 * delayq_init(); pushing and popping never allocate.
 */
#ifndef ITM_DELAYQ_H
#define ITM_DELAYQ_H

#include <stddef.h>
#include <stdint.h>

struct delayq_item {
	uint64_t due_us; /* when the packet may leave */
	uint64_t seq;	 /* arrival number: ties leave first in, first out */
	uint32_t id;	 /* the packet's NFQUEUE id */
};

struct delayq {
	struct delayq_item *v;
	uint32_t n, cap;
	uint64_t next_seq;
};

/* Room for @cap packets (1..2^20).  Returns 0, -EINVAL or -ENOMEM. */
int delayq_init(struct delayq *q, uint32_t cap);
void delayq_free(struct delayq *q);

/* Hold packet @id until @due_us.  -ENOSPC when full (nothing changed). */
int delayq_push(struct delayq *q, uint32_t id, uint64_t due_us);

/* The packet due first, or NULL when empty; valid until the next change. */
const struct delayq_item *delayq_peek(const struct delayq *q);

/* Take the packet due first into *@out.  -ENOENT when empty. */
int delayq_pop(struct delayq *q, struct delayq_item *out);

#endif /* ITM_DELAYQ_H */
