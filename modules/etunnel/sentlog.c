/*
 * sentlog.c - the entry's ring of frames sent lately (sentlog.h).
 */
#include <stdlib.h>
#include <string.h>

#include "sentlog.h"

struct etun_sentlog {
	struct etun_sent *ring;
	unsigned int size, head, n; /* head: the next slot to fill */
	uint16_t mtu;
};

struct etun_sentlog *
etun_sentlog_new(unsigned int frames, uint16_t mtu)
{
	struct etun_sentlog *l = calloc(1, sizeof(*l));

	if (l == NULL || frames == 0 ||
	    (l->ring = calloc(frames, sizeof(*l->ring))) == NULL) {
		free(l);
		return NULL;
	}
	l->size = frames;
	l->mtu = mtu;
	for (unsigned int i = 0; i < frames; i++)
		if ((l->ring[i].pkt = malloc(mtu)) == NULL) {
			etun_sentlog_free(l);
			return NULL;
		}
	return l;
}

void
etun_sentlog_free(struct etun_sentlog *l)
{
	if (l == NULL)
		return;
	for (unsigned int i = 0; i < l->size; i++)
		free(l->ring[i].pkt);
	free(l->ring);
	free(l);
}

void
etun_sentlog_add(struct etun_sentlog *l, uint16_t conn, uint64_t end,
		 uint32_t seq, uint8_t cls, const uint8_t *pkt, uint16_t len)
{
	struct etun_sent *s = &l->ring[l->head];

	if (len > l->mtu)
		return;
	memcpy(s->pkt, pkt, len);
	s->end = end;
	s->seq = seq;
	s->conn = conn;
	s->len = len;
	s->cls = cls;
	s->resent = 0;
	s->live = 1;
	l->head = (l->head + 1) % l->size;
	if (l->n < l->size)
		l->n++;
}

void
etun_sentlog_forget(struct etun_sentlog *l, uint16_t conn)
{
	for (unsigned int i = 0; i < l->size; i++)
		if (l->ring[i].conn == conn)
			l->ring[i].live = 0;
}

unsigned int
etun_sentlog_unacked(struct etun_sentlog *l, uint16_t conn, uint64_t acked,
		     int (*cb)(const struct etun_sent *s, void *arg), void *arg)
{
	unsigned int took = 0, first = (l->head + l->size - l->n) % l->size;

	for (unsigned int k = 0, m = l->n; k < m; k++) {
		struct etun_sent *s = &l->ring[(first + k) % l->size];

		if (!s->live || s->conn != conn || s->resent || s->end <= acked)
			continue;
		if (!cb(s, arg))
			break;
		s->resent = 1;
		took++;
	}
	return took;
}
