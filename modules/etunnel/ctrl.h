/*
 * ctrl.h - the pool-size controller of the elastic tunnel.
 *
 * Each interval the entry measures the tunnel's goodput G (with split
 * TCP the users' bytes the exit acknowledged delivering, plus the packet
 * path's bytes the pool's TCP acknowledged; pool.c, interval_goodput)
 * and whether the pool was the limit (packets dropped at the entry, or
 * every connection full, lately: the user's traffic wanted more than the
 * pool carried).  G and the share of one connection G / N are smoothed
 * (EWMA, weight ETUN_CTRL_EWMA on the newest sample): Gs, ss; a share off
 * by more than ETUN_CTRL_JUMP the same way twice in a row is a new
 * competition (k changed) and the averages restart from the sample.  The
 * law:
 *
 *	N* = B / ss                        connections the target needs
 *	backlogged, Gs < B (1 - band):     N' = ceil(N*)     (grow)
 *	Gs > B (1 + band):                 N' = floor(N*)    (shrink)
 *	not backlogged, Gs < B (1 - band): N' = ceil(Gs / s_cap) + 1
 *	otherwise:                         N' = N            (hold)
 *
 * clamped to [min, max] and to a quarter of N (plus one) per step.
 * Why: with k competing TCP flows on a bottleneck C, a connection gets
 * about s = C / (N + k) (Altman et al.), the share the bottleneck gives
 * each flow; B / s = B (N + k) / C has the fixed point N* = B k / (C - B)
 * (the DESIGN note's formula) and its error shrinks by B / C each interval
 * (0.4 for 40 of 100 Mbit/s).  N' = N B / G is an integrating law already
 * (it moves until G = B), so a PI needs no separate I term, and its gain
 * comes from the measured share instead of a constant tuned for one k.
 * The smoothing keeps one noisy interval from moving the pool; averaging
 * G / N (not dividing by today's N) keeps s right while the pool changes.
 *
 * Saturation, on sustained evidence only: while a growth streak lasts
 * (below target and backlogged, interval after interval), its raw samples
 * (N, G) are kept; after at least ETUN_CTRL_SAT_MIN of them, over a pool
 * grown by a third or more, if the elasticity dG/dN * N/G is below
 * ETUN_CTRL_MIN_GAIN both for a line fitted to the streak and as the
 * median of its interval-to-interval steps (the model gives k / (N + k),
 * 0.6 at k = 16, N = 11), more connections do not help: the pool goes
 * back to where the streak began and waits ETUN_CTRL_COOLDOWN intervals
 * (state "saturated").  For one user flow striped over the pool that
 * happens: each connection's losses reorder its packets at the exit and
 * the user's TCP backs off (README: measured).  A single interval never
 * decides, and a k step inside a streak, which bends the fitted line, is
 * one outlier among the steps.  Without backlog the user sends less than
 * the target: the pool is not the limit; it shrinks towards what the
 * demand needs at the share a connection got when last backlogged,
 * ceil(Gs / s_cap) + 1 (one spare), step-bounded (state "demand below
 * target"), and holds while no such share is known.
 * The cap (cap=yes): the entry puts user bytes on the pool no faster
 * than B (struct etun_cap, a token bucket ETUN_CAP_MS deep), so a pool
 * that could carry more holds B instead of N shares of the bottleneck
 * (no whole N gives B: at k = 2 on 100 Mbit/s one connection gets 33,
 * two get 50).  An interval where the bucket, not the pool, was the
 * limit (capped, not backlogged) holds; the share measured then is the
 * cap's, not the bottleneck's, so it cannot say when the pool is too big
 * (the competition left).  Instead the law probes: after hold capped
 * intervals in a row, step connections less (step 1 at first, never
 * more than N / 4 + 1).  Still capped: the probe held, hold goes back to
 * ETUN_CTRL_PROBE_MIN and step doubles (a pool far too big shrinks in a
 * few probes).  Backlogged while a probe is pending (the pool, not the
 * cap, is the limit again): the pool goes back to where the probe
 * began, step back to 1, and hold doubles (up to ETUN_CTRL_PROBE_MAX),
 * so a pool at its right size dips
 * rarely, not every few seconds.  A pool that grows by the model (the
 * competition rose) probes soon again: hold back to the least (unless
 * the growth comes within ETUN_CTRL_PROBE_SETTLE intervals of a failed
 * probe: the smoothed goodput still remembers its dip).
 * Two kinds of interval say nothing of spare connections: capped but
 * with the smoothed goodput under the band (the pool stalled, the
 * bucket cut the catch-up after it: no probe counts it, and a pending
 * probe failed), and over the band while backlogged with the cap on (a
 * catch-up the bucket let in: hold, not shrink by the model).
 * The saturation rule judges the packet path's pathology: with split TCP
 * (no_saturation) no user's TCP is striped, and the rule only misread a
 * k step's slow growth as saturation (the pool held at 6 for 5 s at
 * k = 16, 14-21 Mbit/s: measured), so it is off there.
 * Loss storms: when k flows start at once (the k step), their slow
 * starts overflow the bottleneck's queue and every flow loses several
 * packets a window; the pool's connections time out, the exit waits for
 * their chunks, and goodput falls to a fifth for two or three seconds
 * (43 to 7 Mbit/s at the 16 -> 4 step; the plain flow beside it fell to
 * 2).  Growing then measures a share the storm, not the competition,
 * made: the pool went from 12 to 53 connections in 6 intervals and held
 * 40-53 at k = 4, where 3 carry the target (3 of 4 runs, measured).  So
 * a backlogged interval whose goodput fell under ETUN_CTRL_STORM of the
 * smoothed goodput, on no fewer connections than the last, holds the
 * pool (state "loss storm"), and so do the next ones while goodput stays
 * under ETUN_CTRL_STORM_END of where it fell from, ETUN_CTRL_STORM_MAX
 * intervals at most; their samples do not enter the averages.  (Ending
 * at half, a storm of 9, 14, 21, 9 Mbit/s ended at 21, and growing on the
 * rest took the pool from 13 to 40.)  A k step that is not a storm cuts
 * the share by a third at most (8 -> 16 at N = 9: 53 to 36 Mbit/s), not
 * by half, and a capped pool's goodput less; a collapse that lasts is
 * competition, and the law grows after ETUN_CTRL_STORM_MAX intervals.
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
	ETUN_ST_SATURATED,   /* below target, more connections did not help */
	ETUN_ST_STORM	     /* goodput collapsed: growth held a while */
};

#define ETUN_CTRL_EWMA	       0.5  /* weight of the newest sample */
#define ETUN_CTRL_JUMP	       0.25 /* share off by this twice: a new k */
#define ETUN_CTRL_MIN_GAIN     0.25 /* elasticity below which growth stops */
#define ETUN_CTRL_SAT_MIN      4    /* streak samples before judging */
#define ETUN_CTRL_SAT_SPAN     8    /* streak samples kept */
#define ETUN_CTRL_COOLDOWN     5
#define ETUN_CTRL_PROBE_MIN    2     /* capped intervals before a probe */
#define ETUN_CTRL_PROBE_MAX    24    /* ... after failed probes, at most */
#define ETUN_CTRL_PROBE_SETTLE 4     /* growth this soon after: its dip */
#define ETUN_CAP_MS	       30    /* depth of the cap's bucket, ms of B */
#define ETUN_CAP_TRIM_GAIN     0.5   /* of B - G per capped interval */
#define ETUN_CAP_QUEUE_MS      50    /* capped: the entry queue's long class */
#define ETUN_CAP_QUEUE_MIN     24000 /* ... bytes at least */
#define ETUN_CTRL_STORM	       0.5   /* of the smoothed goodput: a collapse */
#define ETUN_CTRL_STORM_END    0.75  /* ... of where it fell: it is over */
#define ETUN_CTRL_STORM_MAX    5     /* intervals a collapse holds growth */
#define ETUN_CTRL_FREE_GROWTH \
	4 /* a streak starting below this is never judged: one flow on a few  \
	   * connections must reach the model's N */

struct etun_ctrl {
	uint64_t target_bps;
	unsigned int min_conns, max_conns;
	double band;	   /* relative dead band, e.g. 0.03 */
	int no_saturation; /* split TCP: the saturation rule is off (below) */
	int cap;	   /* the entry caps at the target (struct etun_cap) */
	/* Smoothed goodput and share of one connection (bit/s); 0 before
	 * the first sample.  jump: the last sample's share was off by more
	 * than ETUN_CTRL_JUMP (+1 above, -1 below). */
	double g_avg, s_avg;
	int jump;
	/* The smoothed share of the last backlogged interval: what a
	 * connection can carry (a demand-bound share says less). */
	double s_cap;
	/* The current growth streak: raw samples, where it began. */
	unsigned int streak, streak_from, cooldown;
	double streak_n[ETUN_CTRL_SAT_SPAN], streak_g[ETUN_CTRL_SAT_SPAN];
	/* The cap's probes: capped intervals in a row, the intervals a
	 * probe waits (0: ETUN_CTRL_PROBE_MIN), a probe not yet judged. */
	unsigned int capped_for, probe_hold;
	unsigned int probe_step, probe_from; /* the last probe: from where */
	unsigned int probe_settle; /* intervals since a failed probe, down */
	int probing;
	/* A loss storm: the goodput it fell from, intervals it may still
	 * hold growth, intervals before the next may start; the pool of
	 * the last interval, and whether the pool or the cap was its limit
	 * (backlogged or capped) or it carried the target. */
	double storm_from;
	unsigned int storm_left, storm_quiet, n_last;
	int was_full;
};

struct etun_ctrl_in {
	unsigned int conns;   /* wanted now */
	unsigned int pending; /* of those, not up yet */
	uint64_t goodput_bps;
	int backlogged;
	int capped; /* the cap, not the pool, held the rate back */
};

/* The cap: a token bucket on the user bytes the entry puts on the pool.
 * tokens may go below zero by one chunk (a chunk larger than the bucket
 * still goes), by a bucket more for the SHORT class. */
struct etun_cap {
	double rate, depth, tokens; /* bytes/s, bytes, bytes */
	uint64_t last_us;
	int on;
};

/* The pool size for the next interval; *@state says why. */
unsigned int etun_ctrl_step(struct etun_ctrl *c, const struct etun_ctrl_in *in,
			    enum etun_state *state);
/* Forget the smoothed past (the pool went down, or the target changed). */
void etun_ctrl_reset(struct etun_ctrl *c);
const char *etun_state_name(enum etun_state s);

/* A bucket of @bps, ETUN_CAP_MS deep (at least @min_depth bytes), full;
 * @on = 0: every take succeeds. */
void etun_cap_init(struct etun_cap *b, uint64_t bps, uint32_t min_depth, int on,
		   uint64_t now_us);
/* May @len bytes go now?  1: yes (taken from the bucket), 0: wait.
 * @prio (the SHORT class): they may also take one bucket in advance, so
 * short flows do not queue behind the long ones' wait (the long class
 * pays it back). */
int etun_cap_take(struct etun_cap *b, uint32_t len, int prio, uint64_t now_us);
/* The pool did not take the @len bytes just allowed: back in. */
void etun_cap_undo(struct etun_cap *b, uint32_t len);
/* Once an interval, with its goodput @goodput_bps: @capped (the cap, not
 * the pool, was the limit) moves the bucket's rate towards making up what
 * the tunnel fell short of @target_bps, at most @max_over (a fraction)
 * above it; neither capped nor @backlogged (the users sent less) puts it
 * back to the target. */
void etun_cap_trim(struct etun_cap *b, uint64_t target_bps,
		   uint64_t goodput_bps, double max_over, int capped,
		   int backlogged);
/* The bucket filled at least halfway while bytes waited for the pool:
 * the pool, not the cap, is the limit (a stall to count). */
int etun_cap_pool_short(struct etun_cap *b, uint64_t now_us);

#endif
