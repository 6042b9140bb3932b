/*
 * entq.c - the entry's two-class bounded queue (entq.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "entq.h"

struct entq_slot {
	uint8_t *buf;
	uint32_t cap;
	uint16_t len;
};

struct entq_class {
	struct entq_slot *slots;
	unsigned int head, n;
	uint64_t bytes;
};

struct etun_entq {
	unsigned int max_pkts;
	uint32_t max_bytes;
	struct entq_class c[ETUN_CLS_N];
};

struct etun_entq *
etun_entq_new(unsigned int max_pkts, uint32_t max_bytes)
{
	struct etun_entq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->max_pkts = max_pkts ? max_pkts : 1;
	q->max_bytes = max_bytes;
	for (int i = 0; i < ETUN_CLS_N; i++) {
		q->c[i].slots = calloc(q->max_pkts, sizeof(struct entq_slot));
		if (q->c[i].slots == NULL) {
			etun_entq_free(q);
			return NULL;
		}
	}
	return q;
}

void
etun_entq_free(struct etun_entq *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < ETUN_CLS_N; i++) {
		for (unsigned int k = 0; q->c[i].slots && k < q->max_pkts; k++)
			free(q->c[i].slots[k].buf);
		free(q->c[i].slots);
	}
	free(q);
}

int
etun_entq_push(struct etun_entq *q, enum etun_class c, const uint8_t *pkt,
	       uint16_t len)
{
	struct entq_class *k = &q->c[c];
	struct entq_slot *s;

	if (k->n == q->max_pkts || k->bytes + len > q->max_bytes)
		return -ENOBUFS;
	s = &k->slots[(k->head + k->n) % q->max_pkts];
	if (s->cap < len) {
		uint8_t *b = realloc(s->buf, len);

		if (b == NULL)
			return -ENOMEM;
		s->buf = b;
		s->cap = len;
	}
	memcpy(s->buf, pkt, len);
	s->len = len;
	k->n++;
	k->bytes += len;
	return 0;
}

const uint8_t *
etun_entq_peek(const struct etun_entq *q, uint16_t *len, enum etun_class *c)
{
	for (int i = 0; i < ETUN_CLS_N; i++) {
		const struct entq_class *k = &q->c[i];

		if (k->n) {
			*len = k->slots[k->head].len;
			*c = (enum etun_class)i;
			return k->slots[k->head].buf;
		}
	}
	return NULL;
}

void
etun_entq_pop(struct etun_entq *q)
{
	for (int i = 0; i < ETUN_CLS_N; i++) {
		struct entq_class *k = &q->c[i];

		if (k->n) {
			k->bytes -= k->slots[k->head].len;
			k->head = (k->head + 1) % q->max_pkts;
			k->n--;
			return;
		}
	}
}

unsigned int
etun_entq_pkts(const struct etun_entq *q)
{
	return q->c[0].n + q->c[1].n;
}

uint64_t
etun_entq_bytes(const struct etun_entq *q)
{
	return q->c[0].bytes + q->c[1].bytes;
}
