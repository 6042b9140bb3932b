/*
 * delayq.c - a bounded min-heap of held packets (see delayq.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "delayq.h"

#define DELAYQ_MAX (1u << 20)

int
delayq_init(struct delayq *q, uint32_t cap)
{
	q->n = 0;
	q->next_seq = 0;
	q->cap = 0;
	q->v = NULL;
	if (cap == 0 || cap > DELAYQ_MAX)
		return -EINVAL;
	if ((q->v = calloc(cap, sizeof(*q->v))) == NULL)
		return -ENOMEM;
	q->cap = cap;
	return 0;
}

void
delayq_free(struct delayq *q)
{
	free(q->v);
	q->v = NULL;
	q->n = q->cap = 0;
}

static int
before(const struct delayq_item *a, const struct delayq_item *b)
{
	if (a->due_us != b->due_us)
		return a->due_us < b->due_us;
	return a->seq < b->seq;
}

static void
swap(struct delayq_item *a, struct delayq_item *b)
{
	struct delayq_item t = *a;

	*a = *b;
	*b = t;
}

int
delayq_push(struct delayq *q, uint32_t id, uint64_t due_us)
{
	uint32_t i;

	if (q->n == q->cap)
		return -ENOSPC;
	i = q->n++;
	q->v[i] = (struct delayq_item){
		.due_us = due_us,
		.seq = q->next_seq++,
		.id = id,
	};
	while (i > 0 && before(&q->v[i], &q->v[(i - 1) / 2])) {
		swap(&q->v[i], &q->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

const struct delayq_item *
delayq_peek(const struct delayq *q)
{
	return q->n ? &q->v[0] : NULL;
}

/* Move the item at @i down until both children are due after it. */
static void
sift_down(struct delayq *q, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && before(&q->v[l], &q->v[m]))
			m = l;
		if (r < q->n && before(&q->v[r], &q->v[m]))
			m = r;
		if (m == i)
			return;
		swap(&q->v[i], &q->v[m]);
		i = m;
	}
}

int
delayq_pop(struct delayq *q, struct delayq_item *out)
{
	if (q->n == 0)
		return -ENOENT;
	*out = q->v[0];
	q->v[0] = q->v[--q->n];
	sift_down(q, 0);
	return 0;
}
