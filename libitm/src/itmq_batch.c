/*
 * itmq_batch.c - merging NFQUEUE verdicts safely (see itmq_batch.h).
 *
 * The ring holds the ids handed out and not yet decided, oldest first.  A
 * verdict for the oldest one may extend the open run: every id below it is
 * decided, either inside the run or by a single verdict already emitted, so
 * a batch message for the run's last id touches nothing else.  A verdict
 * for a younger id is emitted alone and its ring slot marked done; the slot
 * is dropped once everything older is decided.
 */
#include <errno.h>
#include <stdlib.h>

#include "itmq_batch.h"

int
itmq_batch_init(struct itmq_batch *b, uint32_t cap, itmq_emit_cb emit,
		void *arg)
{
	uint32_t n = 16;

	while (n < cap && n < (1u << 24))
		n <<= 1;
	*b = (struct itmq_batch){ .mask = n - 1, .emit = emit, .arg = arg };
	b->ring = calloc(n, sizeof(*b->ring));
	return b->ring ? 0 : -ENOMEM;
}

void
itmq_batch_free(struct itmq_batch *b)
{
	free(b->ring);
	b->ring = NULL;
}

int
itmq_batch_received(struct itmq_batch *b, uint32_t id)
{
	struct itmq_pend *p;

	if (b->tail - b->head > b->mask)
		return -ENOSPC;
	p = &b->ring[b->tail++ & b->mask];
	p->id = id;
	p->done = 0;
	return 0;
}

uint32_t
itmq_batch_pending(const struct itmq_batch *b)
{
	return b->tail - b->head;
}

int
itmq_batch_close(struct itmq_batch *b)
{
	int batch = b->run_len > 1;

	if (b->run_len == 0)
		return 0;
	b->run_len = 0;
	return b->emit(b->arg, batch, b->run_last, &b->run_vd);
}

/* Drop decided slots at the head of the ring. */
static void
batch_advance(struct itmq_batch *b)
{
	while (b->head != b->tail && b->ring[b->head & b->mask].done)
		b->head++;
}

/* Take @id out of the undecided set.  Returns 1 when it was the oldest,
 * 0 when younger ones remained before it, -ENOENT when unknown. */
static int
batch_take(struct itmq_batch *b, uint32_t id)
{
	uint32_t i;

	if (b->head != b->tail && b->ring[b->head & b->mask].id == id) {
		b->head++;
		batch_advance(b);
		return 1;
	}
	for (i = b->head; i != b->tail; i++) {
		struct itmq_pend *p = &b->ring[i & b->mask];

		if (p->id == id && !p->done) {
			p->done = 1;
			return 0;
		}
	}
	return -ENOENT;
}

static int
vd_equal(const struct itmq_vd *a, const struct itmq_vd *b)
{
	return a->verdict == b->verdict && a->set_mark == b->set_mark &&
	       (!a->set_mark || a->mark == b->mark);
}

int
itmq_batch_verdict(struct itmq_batch *b, uint32_t id, const struct itmq_vd *vd,
		   int alone)
{
	int oldest, err;

	oldest = batch_take(b, id);
	if (oldest < 0)
		return oldest;
	if (alone)
		return itmq_batch_close(b);
	if (!oldest)
		return b->emit(b->arg, 0, id, vd);
	if (b->run_len > 0 && !vd_equal(&b->run_vd, vd)) {
		err = itmq_batch_close(b);
		if (err < 0)
			return err;
	}
	b->run_vd = *vd;
	b->run_last = id;
	b->run_len++;
	return 0;
}
