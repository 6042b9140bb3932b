/*
 * probesched.c - the probe schedule under a budget (probesched.h).
 * Pure: the caller passes the time.
 */
#include <stdlib.h>
#include <string.h>

#include "probesched.h"

#define MS  1000000ull
#define SEC 1000000000ull

/* One tick's picking: the output and the bucket it spends. */
struct sched_pick {
	struct itmr_sched *s;
	struct itmr_dest *const *dests;
	struct itmr_sched_probe *out;
	size_t n;
};

void
itmr_sched_init(struct itmr_sched *s)
{
	s->tokens = 0;
	s->last_ns = 0;
	s->turn = 0;
}

uint32_t
itmr_sched_cost(const struct itmr_path *p)
{
	return (p->via ? 4 : 2) * ITMR_PROBE_IP_BYTES;
}

/* Half a second of budget, and room for a probe at least. */
static uint64_t
depth(const struct itmr_sched_cfg *c)
{
	uint64_t d = c->budget_Bps / 2;

	return d < 4 * ITMR_PROBE_IP_BYTES ? 4 * ITMR_PROBE_IP_BYTES : d;
}

static void
refill(struct itmr_sched *s, uint64_t now_ns, const struct itmr_sched_cfg *c)
{
	if (s->last_ns == 0 || now_ns < s->last_ns)
		s->tokens = depth(c); /* start full: every path probed soon */
	else
		s->tokens += (now_ns - s->last_ns) * c->budget_Bps / SEC;
	if (s->tokens > depth(c))
		s->tokens = depth(c);
	s->last_ns = now_ns;
}

/* Pick path @k of destination @i if the bucket keeps @floor after it. */
static int
pick(struct sched_pick *pk, unsigned int i, unsigned int k, uint64_t floor)
{
	const struct itmr_path *p = &pk->dests[i]->paths[k];
	uint32_t cost = itmr_sched_cost(p);

	if (pk->s->picked[i][k])
		return 1;
	if (pk->s->tokens < floor + cost)
		return 0;
	pk->s->tokens -= cost;
	pk->s->picked[i][k] = 1;
	pk->out[pk->n++] =
		(struct itmr_sched_probe){ (uint16_t)i, (uint16_t)k };
	return 1;
}

/* The path in use has a probe overdue, and answered not long ago. */
static int
in_trouble(const struct itmr_dest *d, uint64_t now_ns,
	   const struct itmr_sched_cfg *c)
{
	const struct itmr_path *p;

	if (d->cur < 0)
		return 0;
	p = &d->paths[d->cur];
	return (p->overdue > 0 || !p->alive) && p->last_ack_ns != 0 &&
	       now_ns - p->last_ack_ns <= (uint64_t)c->stale_ms * MS;
}

/* Steps 1 and 2: the fast set, then the bursts, destinations in turn. */
static void
pick_fast_and_bursts(struct sched_pick *pk, size_t n_dests, uint64_t now_ns,
		     const struct itmr_sched_cfg *c)
{
	unsigned int next = (pk->s->turn + 1) % n_dests, starved = 0;

	for (size_t j = 0; j < n_dests; j++) {
		unsigned int i = (unsigned int)((pk->s->turn + j) % n_dests);
		const struct itmr_dest *d = pk->dests[i];
		int ok = d->n_paths == 0 || pick(pk, i, 0, 0);

		if (d->cur > 0)
			ok &= pick(pk, i, (unsigned int)d->cur, 0);
		if (!ok && !starved++)
			next = i; /* the first left out leads next time */
	}
	for (size_t j = 0; j < n_dests; j++) {
		unsigned int i = (unsigned int)((pk->s->turn + j) % n_dests);
		const struct itmr_dest *d = pk->dests[i];

		if (!in_trouble(d, now_ns, c))
			continue;
		for (unsigned int k = 1; k < d->n_paths; k++)
			pick(pk, i, k, 0);
	}
	pk->s->turn = next;
}

static int
older_first(const void *a, const void *b)
{
	const struct itmr_sched_cand *x = a, *y = b;

	return x->age_ns < y->age_ns ? 1 : x->age_ns > y->age_ns ? -1 : 0;
}

/* Steps 3 and 4: the alternatives not picked, oldest first. */
static void
pick_alternatives(struct sched_pick *pk, size_t n_dests, uint64_t now_ns,
		  const struct itmr_sched_cfg *c)
{
	struct itmr_sched_cand *cand = pk->s->cand;
	uint64_t min_age = (uint64_t)c->interval_ms * MS / 2;
	size_t n = 0;

	for (unsigned int i = 0; i < n_dests; i++) {
		const struct itmr_dest *d = pk->dests[i];

		for (unsigned int k = 1; k < d->n_paths; k++) {
			const struct itmr_path *p = &d->paths[k];
			uint64_t age = p->last_sent_ns == 0
					       ? UINT64_MAX
					       : now_ns - p->last_sent_ns;

			if (!pk->s->picked[i][k] && age >= min_age)
				cand[n++] = (struct itmr_sched_cand){
					age, (uint16_t)i, (uint16_t)k
				};
		}
	}
	qsort(cand, n, sizeof(cand[0]), older_first);
	for (size_t j = 0; j < n; j++) {
		int stale = cand[j].age_ns >= (uint64_t)c->stale_ms * MS;

		if (!pick(pk, cand[j].dest, cand[j].path,
			  stale ? 0 : depth(c) / 2))
			break; /* every alternative costs the same */
	}
}

size_t
itmr_sched_tick(struct itmr_sched *s, struct itmr_dest *const *dests,
		size_t n_dests, uint64_t now_ns, const struct itmr_sched_cfg *c,
		struct itmr_sched_probe *out)
{
	struct sched_pick pk = { .s = s, .dests = dests, .out = out };

	if (n_dests > 64)
		n_dests = 64;
	refill(s, now_ns, c);
	memset(s->picked, 0, sizeof(s->picked));
	if (n_dests == 0)
		return 0;
	pick_fast_and_bursts(&pk, n_dests, now_ns, c);
	pick_alternatives(&pk, n_dests, now_ns, c);
	return pk.n;
}

void
itmr_sched_expect(unsigned int n, const struct itmr_sched_cfg *c,
		  uint64_t *bytes_per_s, uint64_t *alt_every_ms)
{
	uint64_t iv = c->interval_ms ? c->interval_ms : 1;
	uint64_t alts = n > 2 ? (uint64_t)(n - 1) * (n - 2) : 0;
	uint64_t fast =
		(n > 1 ? n - 1 : 0) * 2ull * ITMR_PROBE_IP_BYTES * 1000 / iv;
	uint64_t alt_round = alts * 4 * ITMR_PROBE_IP_BYTES; /* bytes */

	if (fast + alt_round * 1000 / iv <= c->budget_Bps) {
		*bytes_per_s = fast + alt_round * 1000 / iv;
		*alt_every_ms = alts ? iv : 0;
	} else if (fast >= c->budget_Bps) {
		*bytes_per_s = c->budget_Bps;
		*alt_every_ms = UINT64_MAX; /* never */
	} else {
		*bytes_per_s = c->budget_Bps;
		*alt_every_ms = alt_round * 1000 / (c->budget_Bps - fast);
	}
}
