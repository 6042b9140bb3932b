/*
 * probesched.h - which probes go out at a tick: itmroute's probe
 * schedule, bounded by a budget.  Pure: the caller passes the
 * destinations (pathsel.h) and the time, and sends what comes back
 * (unit-tested in tests/unit/test_itmroute.c).
 *
 * A probe's cost is what it puts on the mesh's links, in IP bytes: a
 * direct one 2 datagrams (probe, ACK), one through a neighbour 4 (probe
 * and ACK, each relayed once).  Every node probing alike, what one node
 * sends (its probes, its answers, its relaying) is the cost of its own
 * probing; the budget bounds it with a token bucket (rate budget_Bps,
 * depth half a second).  At each tick, in this order, as long as there
 * are tokens:
 *
 *   1. fast: the path in use and the direct path of every destination
 *      (every interval_ms: a dead path is noticed within dead_probes
 *      intervals);
 *   2. burst: all alternatives of a destination whose path in use has a
 *      probe overdue (suspect or dead, for at most stale_ms after its
 *      last answer), so that the detour is chosen from fresh numbers;
 *   3. stale: alternatives not probed for stale_ms, oldest first;
 *   4. the other alternatives, oldest first, none more often than every
 *      interval_ms, while the bucket keeps half its depth for bursts.
 *
 * Destinations take turns at the head of steps 1 and 2, so that a budget
 * too small even for the fast set shares it out.  On average at most
 * budget_Bps go out, at any mesh size; with budget to spare every path is
 * probed every interval_ms (as without a budget).
 */
#ifndef ITMROUTE_PROBESCHED_H
#define ITMROUTE_PROBESCHED_H

#include <stddef.h>
#include <stdint.h>

#include "pathsel.h"

#define ITMR_PROBE_IP_BYTES 60 /* 20 IP + 8 UDP + 32 probe */
#define ITMR_SCHED_MAX	    (64 * ITMR_MAX_PATHS)

struct itmr_sched_cfg {
	uint32_t interval_ms; /* the fast interval */
	uint32_t budget_Bps;  /* IP bytes per second, as costed above */
	uint32_t stale_ms;    /* alternatives older than this go first */
	uint32_t dead_probes; /* as in itmr_sel_cfg */
};

/* One probe to send: destination @dest (index in the caller's array),
 * its path @path. */
struct itmr_sched_probe {
	uint16_t dest, path;
};

struct itmr_sched {
	uint64_t tokens;  /* bytes */
	uint64_t last_ns; /* the last tick, 0: none yet */
	unsigned int turn;
	/* scratch of one tick */
	struct itmr_sched_cand {
		uint64_t age_ns;
		uint16_t dest, path;
	} cand[ITMR_SCHED_MAX];
	uint8_t picked[64][ITMR_MAX_PATHS];
};

void itmr_sched_init(struct itmr_sched *s);

/* The cost in IP bytes of one probe of @p. */
uint32_t itmr_sched_cost(const struct itmr_path *p);

/* The probes to send at @now_ns for the @n_dests destinations @dests (at
 * most 64), after itmr_dest_decide() of each: written to @out (room for
 * ITMR_SCHED_MAX); returns how many.  The caller sends each and marks it
 * with itmr_path_sent(). */
size_t itmr_sched_tick(struct itmr_sched *s, struct itmr_dest *const *dests,
		       size_t n_dests, uint64_t now_ns,
		       const struct itmr_sched_cfg *c,
		       struct itmr_sched_probe *out);

/* Expected figures of a full mesh of @n nodes, every path answering,
 * the direct paths in use: bytes/s sent by one node, and how often (ms)
 * each alternative is probed. */
void itmr_sched_expect(unsigned int n, const struct itmr_sched_cfg *c,
		       uint64_t *bytes_per_s, uint64_t *alt_every_ms);

#endif
