/*
 * flowset.c - bounded set of recently seen flows (see flowset.h).
 *
 * A power-of-two array of (key, last seen) slots, open addressing with a
 * bounded probe: a key lives in one of two aligned windows of WINDOW slots
 * chosen by two halves of its hash (two-choice hashing: with a single
 * linear window, 0.5% of keys were pushed out early at half load; with two
 * none are until about 75% load).  A lookup scans the windows whole, so
 * nothing is ever deleted and no tombstones are needed.  A new key takes
 * an empty or expired slot of the emptier window, or evicts the least
 * recently seen of both windows when all are live.  The hash mixes in a
 * per-set random seed, so crafted keys cannot aim at one window.
 *
 * An expiry of 0 means entries never expire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "flowset.h"

#define WINDOW	8 /* slots, two cache lines */
#define CAP_MIN WINDOW
#define CAP_MAX (1u << 26)

struct flow_slot {
	uint64_t key;
	uint64_t seen; /* now_ms + 1 at last add; 0: empty */
};

struct itm_flowset {
	uint32_t mask;
	uint32_t expiry_ms;
	uint64_t seed;
	uint64_t now; /* latest now_ms given to add */
	struct flow_slot slot[];
};

/* Strong 64-bit finaliser (splitmix64 / Stafford variant 13). */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t
flowset_seed(void)
{
	uint64_t s;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
	return s;
}

struct itm_flowset *
itm_flowset_new(uint32_t capacity, uint32_t expiry_ms)
{
	struct itm_flowset *fs;
	uint32_t cap = CAP_MIN;

	if (capacity == 0 || capacity > CAP_MAX) {
		errno = EINVAL;
		return NULL;
	}
	while (cap < capacity)
		cap <<= 1;
	fs = calloc(1, sizeof(*fs) + (size_t)cap * sizeof(struct flow_slot));
	if (fs == NULL)
		return NULL;
	fs->mask = cap - 1;
	fs->expiry_ms = expiry_ms;
	fs->seed = flowset_seed();
	return fs;
}

void
itm_flowset_free(struct itm_flowset *fs)
{
	free(fs);
}

static int
slot_live(const struct itm_flowset *fs, const struct flow_slot *s, uint64_t now)
{
	if (s->seen == 0)
		return 0;
	if (fs->expiry_ms == 0 || now + 1 < s->seen)
		return 1; /* no expiry, or the clock went back */
	return now + 1 - s->seen <= fs->expiry_ms;
}

/* What a scan of one window found. */
struct flow_scan {
	struct flow_slot *hit;	  /* the key's slot */
	struct flow_slot *free_s; /* first empty or expired slot */
	unsigned int n_free;
	struct flow_slot *oldest; /* least recently seen live slot */
};

static void
scan_window(struct itm_flowset *fs, uint32_t start, uint64_t key, uint64_t now,
	    struct flow_scan *sc)
{
	struct flow_slot *s;
	uint32_t i;

	memset(sc, 0, sizeof(*sc));
	for (i = 0; i < WINDOW; i++) {
		s = &fs->slot[start + i];
		if (s->seen != 0 && s->key == key) {
			sc->hit = s;
			return;
		}
		if (!slot_live(fs, s, now)) {
			if (sc->n_free++ == 0)
				sc->free_s = s;
		} else if (sc->oldest == NULL || s->seen < sc->oldest->seen) {
			sc->oldest = s;
		}
	}
}

/* A free slot of the emptier window, else the oldest of both. */
static struct flow_slot *
pick_slot(const struct flow_scan *a, const struct flow_scan *b)
{
	if (a->n_free > 0 || b->n_free > 0)
		return a->n_free >= b->n_free ? a->free_s : b->free_s;
	if (b->oldest != NULL && b->oldest->seen < a->oldest->seen)
		return b->oldest;
	return a->oldest;
}

int
itm_flowset_add(struct itm_flowset *fs, uint64_t key, uint64_t now_ms)
{
	uint64_t h = mix64(key ^ fs->seed);
	uint32_t w0 = (uint32_t)h & fs->mask & ~(WINDOW - 1);
	uint32_t w1 = (uint32_t)(h >> 32) & fs->mask & ~(WINDOW - 1);
	struct flow_scan a, b = { 0 };
	struct flow_slot *s;
	int fresh;

	if (now_ms > fs->now)
		fs->now = now_ms;
	scan_window(fs, w0, key, now_ms, &a);
	if (a.hit == NULL && w1 != w0)
		scan_window(fs, w1, key, now_ms, &b);
	s = a.hit != NULL ? a.hit : b.hit;
	if (s != NULL) {
		fresh = !slot_live(fs, s, now_ms);
		s->seen = now_ms + 1;
		return fresh;
	}
	s = pick_slot(&a, &b);
	s->key = key;
	s->seen = now_ms + 1;
	return 1;
}

/* Live as of the latest time given to itm_flowset_add(). */
uint32_t
itm_flowset_count(const struct itm_flowset *fs)
{
	uint32_t i, n = 0;

	for (i = 0; i <= fs->mask; i++)
		n += (uint32_t)slot_live(fs, &fs->slot[i], fs->now);
	return n;
}

/* --- keys ---------------------------------------------------------- */

/* Fold one 64-bit word into the running hash. */
static inline uint64_t
key_step(uint64_t h, uint64_t w)
{
	return mix64(h ^ mix64(w + 0x9e3779b97f4a7c15ull));
}

static uint64_t
load64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t
itm_flow_key(const struct itm_packet *pkt, uint32_t salt)
{
	uint64_t h = (uint64_t)salt << 32 | (uint64_t)pkt->family << 8 |
		     pkt->l4proto;

	h = key_step(0x243f6a8885a308d3ull, h);
	h = key_step(h, (uint64_t)pkt->sport << 16 | pkt->dport);
	if (pkt->family == AF_INET && pkt->iph != NULL) {
		h = key_step(h, load64(pkt->data + 12));
	} else if (pkt->family == AF_INET6 && pkt->ip6h != NULL) {
		const uint8_t *a = pkt->data + 8;

		h = key_step(h, load64(a));
		h = key_step(h, load64(a + 8));
		h = key_step(h, load64(a + 16));
		h = key_step(h, load64(a + 24));
	}
	return h;
}
