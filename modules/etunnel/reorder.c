/*
 * reorder.c - the exit's bounded reorder buffer (reorder.h).
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "reorder.h"

struct slot {
	uint8_t *buf;
	uint32_t cap;
	uint16_t len;
	uint8_t flags;
	uint8_t used;
	uint8_t done;	   /* done_seq was delivered */
	uint32_t done_seq; /* the last seq of this slot delivered */
	uint64_t t_us;	   /* arrival */
};

struct etun_reorder {
	struct slot *slots;
	uint32_t mask;
	uint32_t max_bytes, wait_us;
	uint32_t next; /* the seq to deliver next */
	int started;
	unsigned int held;
	uint64_t held_bytes;
	uint64_t gap_since; /* oldest arrival among held packets */
	etun_deliver_cb cb;
	void *arg;
	struct etun_reorder_stats st;
};

struct etun_reorder *
etun_reorder_new(unsigned int window, uint32_t max_bytes, uint32_t wait_us,
		 etun_deliver_cb cb, void *arg)
{
	struct etun_reorder *r = calloc(1, sizeof(*r));
	uint32_t w = 1;

	while (w < window && w < 65536)
		w <<= 1;
	if (r == NULL || (r->slots = calloc(w, sizeof(*r->slots))) == NULL) {
		free(r);
		return NULL;
	}
	r->mask = w - 1;
	r->max_bytes = max_bytes;
	r->wait_us = wait_us;
	r->cb = cb;
	r->arg = arg;
	return r;
}

void
etun_reorder_free(struct etun_reorder *r)
{
	if (r == NULL)
		return;
	for (uint32_t i = 0; i <= r->mask; i++)
		free(r->slots[i].buf);
	free(r->slots);
	free(r);
}

static void
slot_out(struct etun_reorder *r, struct slot *s)
{
	s->used = 0;
	r->held--;
	r->held_bytes -= s->len;
	r->st.delivered++;
	r->cb(s->buf, s->len, s->flags, r->arg);
}

/* Deliver the run of packets present from next on. */
static void
release_run(struct etun_reorder *r)
{
	struct slot *s;

	while (r->held && (s = &r->slots[r->next & r->mask])->used) {
		s->done = 1;
		s->done_seq = r->next;
		slot_out(r, s);
		r->next++;
	}
}

/* Skip the gap at the head: next moves to the oldest held seq.  Returns
 * the oldest arrival time among what is still held after the run. */
static void
skip_gap(struct etun_reorder *r)
{
	uint32_t i;

	for (i = 0; i <= r->mask && !r->slots[(r->next + i) & r->mask].used;
	     i++)
		;
	r->next += i;
	release_run(r);
	r->gap_since = UINT64_MAX;
	for (i = 0; r->held && i <= r->mask; i++) {
		struct slot *s = &r->slots[i];

		if (s->used && s->t_us < r->gap_since)
			r->gap_since = s->t_us;
	}
}

static void
flush_all(struct etun_reorder *r)
{
	while (r->held)
		skip_gap(r);
}

void
etun_reorder_set_wait(struct etun_reorder *r, uint32_t wait_us)
{
	r->wait_us = wait_us;
}

void
etun_reorder_reset(struct etun_reorder *r)
{
	flush_all(r);
	for (uint32_t i = 0; i <= r->mask; i++)
		r->slots[i].done = 0;
	r->started = 0;
}

static int
slot_store(struct slot *s, uint8_t flags, const uint8_t *pkt, uint16_t len,
	   uint64_t now_us)
{
	if (s->cap < len) {
		uint8_t *b = realloc(s->buf, len);

		if (b == NULL)
			return -1;
		s->buf = b;
		s->cap = len;
	}
	memcpy(s->buf, pkt, len);
	s->len = len;
	s->flags = flags;
	s->used = 1;
	s->t_us = now_us;
	return 0;
}

/* Make room for @seq (@len bytes): flush when it lies beyond the window
 * or would pass the byte limit. */
static void
make_room(struct etun_reorder *r, uint32_t seq, uint16_t len)
{
	if ((uint32_t)etun_seq_diff(seq, r->next) <= r->mask &&
	    r->held_bytes + len <= r->max_bytes)
		return;
	r->st.overflow++;
	flush_all(r);
	if ((uint32_t)etun_seq_diff(seq, r->next) > r->mask)
		r->next = seq;
}

void
etun_reorder_push(struct etun_reorder *r, uint32_t seq, uint8_t flags,
		  const uint8_t *pkt, uint16_t len, uint64_t now_us)
{
	struct slot *s;

	if (!r->started) {
		r->started = 1;
		r->next = seq;
	}
	if (etun_seq_diff(seq, r->next) < 0) {
		s = &r->slots[seq & r->mask];
		if (s->done && s->done_seq == seq) {
			r->st.dups++; /* the entry sent it twice */
			return;
		}
		s->done = 1;
		s->done_seq = seq;
		r->st.late++;
		r->st.delivered++;
		r->cb(pkt, len, flags, r->arg);
		return;
	}
	make_room(r, seq, len);
	s = &r->slots[seq & r->mask];
	if (s->used) {
		r->st.dups++;
		return;
	}
	if (slot_store(s, flags, pkt, len, now_us) < 0)
		return;
	if (r->held++ == 0)
		r->gap_since = now_us;
	r->held_bytes += len;
	if (seq == r->next) {
		release_run(r);
		/* A new gap at the head: it waits from now.  (Packets held
		 * behind it may have waited already: at most twice the wait
		 * in all, and no scan of the window per packet.) */
		r->gap_since = now_us;
	}
}

void
etun_reorder_tick(struct etun_reorder *r, uint64_t now_us)
{
	while (r->held && now_us - r->gap_since >= r->wait_us) {
		r->st.gaps++;
		skip_gap(r);
	}
}

unsigned int
etun_reorder_held(const struct etun_reorder *r)
{
	return r->held;
}

const struct etun_reorder_stats *
etun_reorder_stats(const struct etun_reorder *r)
{
	return &r->st;
}
