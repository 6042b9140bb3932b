/*
 * flowtab.c - fixed-size hash table with an LRU list, all by index into
 * one array allocated at creation.
 */
#include <stdlib.h>
#include <string.h>

#include "flowtab.h"

#define NIL UINT32_MAX

struct slot {
	struct flow f;
	uint32_t hnext;	     /* hash chain */
	uint32_t prev, next; /* LRU: head = newest */
	uint8_t used;
};

struct flowtab {
	struct slot *slots;
	uint32_t *buckets;
	uint32_t cap, nbuckets, count;
	uint32_t head, tail, free; /* free list through hnext */
};

static uint32_t
hash_key(const struct flow_key *k)
{
	const uint32_t *w = (const uint32_t *)k;
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(*k) / 4; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

struct flowtab *
flowtab_new(uint32_t capacity)
{
	struct flowtab *t = calloc(1, sizeof(*t));
	uint32_t nb = 16;

	if (t == NULL)
		return NULL;
	while (nb < capacity)
		nb <<= 1;
	t->slots = calloc(capacity, sizeof(*t->slots));
	t->buckets = malloc(nb * sizeof(*t->buckets));
	if (t->slots == NULL || t->buckets == NULL) {
		flowtab_free(t);
		return NULL;
	}
	memset(t->buckets, 0xff, nb * sizeof(*t->buckets));
	t->cap = capacity;
	t->nbuckets = nb;
	t->head = t->tail = NIL;
	for (uint32_t i = 0; i < capacity; i++)
		t->slots[i].hnext = i + 1 < capacity ? i + 1 : NIL;
	t->free = capacity ? 0 : NIL;
	return t;
}

void
flowtab_free(struct flowtab *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t->buckets);
	free(t);
}

static void
lru_unlink(struct flowtab *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	if (s->prev != NIL)
		t->slots[s->prev].next = s->next;
	else
		t->head = s->next;
	if (s->next != NIL)
		t->slots[s->next].prev = s->prev;
	else
		t->tail = s->prev;
}

static void
lru_push(struct flowtab *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	s->prev = NIL;
	s->next = t->head;
	if (t->head != NIL)
		t->slots[t->head].prev = i;
	t->head = i;
	if (t->tail == NIL)
		t->tail = i;
}

struct flow *
flowtab_find(struct flowtab *t, const struct flow_key *k, uint64_t now_ms)
{
	uint32_t i = t->buckets[hash_key(k) & (t->nbuckets - 1)];

	for (; i != NIL; i = t->slots[i].hnext)
		if (memcmp(&t->slots[i].f.key, k, sizeof(*k)) == 0) {
			t->slots[i].f.last_ms = now_ms;
			lru_unlink(t, i);
			lru_push(t, i);
			return &t->slots[i].f;
		}
	return NULL;
}

static void
slot_remove(struct flowtab *t, uint32_t i)
{
	uint32_t *pp =
		&t->buckets[hash_key(&t->slots[i].f.key) & (t->nbuckets - 1)];

	while (*pp != i)
		pp = &t->slots[*pp].hnext;
	*pp = t->slots[i].hnext;
	lru_unlink(t, i);
	t->slots[i].used = 0;
	t->slots[i].hnext = t->free;
	t->free = i;
	t->count--;
}

struct flow *
flowtab_add(struct flowtab *t, const struct flow_key *k, uint64_t now_ms,
	    int *evicted)
{
	uint32_t b = hash_key(k) & (t->nbuckets - 1), i;

	*evicted = 0;
	if (t->free == NIL) {
		slot_remove(t, t->tail);
		*evicted = 1;
	}
	i = t->free;
	t->free = t->slots[i].hnext;
	memset(&t->slots[i].f, 0, sizeof(t->slots[i].f));
	t->slots[i].f.key = *k;
	t->slots[i].f.last_ms = now_ms;
	t->slots[i].used = 1;
	t->slots[i].hnext = t->buckets[b];
	t->buckets[b] = i;
	lru_push(t, i);
	t->count++;
	return &t->slots[i].f;
}

uint32_t
flowtab_expire(struct flowtab *t, uint64_t now_ms, uint64_t idle_ms)
{
	uint32_t n = 0;

	while (t->tail != NIL &&
	       now_ms - t->slots[t->tail].f.last_ms > idle_ms) {
		slot_remove(t, t->tail);
		n++;
	}
	return n;
}

uint32_t
flowtab_count(const struct flowtab *t)
{
	return t->count;
}
