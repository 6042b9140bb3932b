/*
 * ctrl.h - the pool-size controller of the elastic tunnel.
 *
 * Each interval the entry measures the tunnel's goodput G (bytes the peer
 * acknowledged) and whether the pool was the limit (packets dropped at the
 * entry, or the entry queue not empty at the end of the interval: the
 * user's traffic wanted more than the pool carried).  The law:
 *
 *	backlogged, G < B (1 - band):  N' = ceil(N * B / G)   (grow)
 *	G > B (1 + band):              N' = floor(N * B / G)  (shrink)
 *	otherwise:                     N' = N                 (hold)
 *
 * clamped to [min, max] and to a quarter of N (plus one) per step.
 * A growth that raised G by less than a quarter of the relative growth of
 * N (+2.5 % for +10 %; the model gives more until N is far past N*) is
 * undone and not tried again for 5 intervals (state "saturated"; pools of
 * fewer than 4 grow freely, one noisy sample must not pin them): for one
 * user flow striped over the pool, more connections can lower G (README:
 * measured).
 * Why: with k competing TCP flows on a bottleneck C, N connections get
 * about G = N C / (N + k), so a connection gets C / (N + k) and
 * N' = N B / G = B (N + k) / C.  The fixed point is N* = B k / (C - B)
 * (the DESIGN note's formula) and the error shrinks by B / C each
 * interval (0.4 for 40 of 100 Mbit/s): no unknowns to estimate, no gains
 * to tune, no overshoot when the model holds.  A PI or AIMD law needs
 * gains matched to k, which is what changes.  The step limit is there
 * because the model does not hold for one user flow striped over the
 * pool: each connection's losses delay and reorder its packets at the
 * exit, the user's TCP backs off, goodput falls short, and a law that
 * trusted N B / G grew the pool to its maximum, which made it worse
 * (README: measured).  Without backlog the user sends less than the
 * target: the pool is not the limit, it holds.
 * Pure code.
 */
#ifndef ETUN_CTRL_H
#define ETUN_CTRL_H

#include <stdint.h>

enum etun_state {
	ETUN_ST_DOWN = 0,    /* no connection up: traffic on the normal path */
	ETUN_ST_HOLDING,     /* within the band */
	ETUN_ST_GROWING,     /* below target, pool grown */
	ETUN_ST_SHRINKING,   /* above target, pool shrunk */
	ETUN_ST_UNREACHABLE, /* below target at max_conns */
	ETUN_ST_IDLE,	     /* below target, not backlogged: demand-bound */
	ETUN_ST_EXIT,	     /* this end re-injects (the far end sizes) */
	ETUN_ST_SATURATED    /* below target, more connections did not help */
};

struct etun_ctrl {
	uint64_t target_bps;
	unsigned int min_conns, max_conns;
	double band; /* relative dead band, e.g. 0.03 */
	/* Memory of the last growth: from grew_from connections at g_before;
	 * after a growth that gained less than ETUN_CTRL_MIN_GAIN of what it
	 * added (relative), the pool goes back and waits ETUN_CTRL_COOLDOWN
	 * intervals before it tries again. */
	unsigned int grew_from, cooldown;
	uint64_t g_before;
};

#define ETUN_CTRL_MIN_GAIN    0.25 /* G +2.5 % for N +10 % */
#define ETUN_CTRL_COOLDOWN    5
#define ETUN_CTRL_FREE_GROWTH 4 /* below this a growth is never undone */

struct etun_ctrl_in {
	unsigned int conns; /* wanted now */
	uint64_t goodput_bps;
	int backlogged;
};

/* The pool size for the next interval; *@state says why. */
unsigned int etun_ctrl_step(struct etun_ctrl *c, const struct etun_ctrl_in *in,
			    enum etun_state *state);
const char *etun_state_name(enum etun_state s);

#endif
