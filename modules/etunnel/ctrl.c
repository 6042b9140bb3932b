/*
 * ctrl.c - the pool-size law (ctrl.h explains it and why).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"

/* Up by half (plus one), down by a quarter (plus one) per interval: a
 * pool the cap's probes left small reaches the model's size after a k
 * step in 4 intervals from 1 (11 at k = 16), where a quarter took 6; too
 * many for a while costs nothing with the cap, too few costs the target. */
static unsigned int
clamp_step(const struct etun_ctrl *c, unsigned int n, double want)
{
	double hi = n + n / 2.0 + 1, lo = n - n / 4.0 - 1;

	if (want > hi)
		want = hi;
	if (want < lo)
		want = lo;
	if (want > c->max_conns)
		want = c->max_conns;
	if (want < c->min_conns)
		want = c->min_conns;
	return (unsigned int)want;
}

/* The connections the target needs at the measured share: B / s (twice
 * the pool when nothing got through). */
static double
model_conns(const struct etun_ctrl *c, unsigned int n)
{
	if (c->s_avg <= 0)
		return n * 2.0;
	return (double)c->target_bps / c->s_avg;
}

/* Smooth G and the share G / N; a share off by more than ETUN_CTRL_JUMP
 * the same way twice in a row is a new competition (k changed): start
 * again from the sample instead of creeping towards it. */
static void
smooth(struct etun_ctrl *c, unsigned int n, double g)
{
	double s = g / n;
	int jump = 0;

	if (c->s_avg > 0 && fabs(s / c->s_avg - 1) > ETUN_CTRL_JUMP)
		jump = s > c->s_avg ? 1 : -1;
	if (c->s_avg <= 0 || (jump && jump == c->jump)) {
		c->s_avg = s;
		c->g_avg = g;
		jump = 0;
	} else {
		c->s_avg += ETUN_CTRL_EWMA * (s - c->s_avg);
		c->g_avg += ETUN_CTRL_EWMA * (g - c->g_avg);
	}
	c->jump = jump;
}

/* Add a raw sample to the growth streak, oldest out when full. */
static void
streak_add(struct etun_ctrl *c, unsigned int n, double g)
{
	if (c->streak == 0)
		c->streak_from = n;
	if (c->streak == ETUN_CTRL_SAT_SPAN) {
		memmove(c->streak_n, c->streak_n + 1,
			(ETUN_CTRL_SAT_SPAN - 1) * sizeof(double));
		memmove(c->streak_g, c->streak_g + 1,
			(ETUN_CTRL_SAT_SPAN - 1) * sizeof(double));
		c->streak--;
	}
	c->streak_n[c->streak] = n;
	c->streak_g[c->streak] = g;
	c->streak++;
}

/* Elasticity dG/dN * N/G of the streak's samples fitted by least
 * squares (a k step inside the streak bends it: see pairs_elasticity). */
static double
fit_elasticity(const struct etun_ctrl *c)
{
	double mn = 0, mg = 0, sxy = 0, sxx = 0;
	unsigned int m = c->streak;

	for (unsigned int i = 0; i < m; i++) {
		mn += c->streak_n[i] / m;
		mg += c->streak_g[i] / m;
	}
	for (unsigned int i = 0; i < m; i++) {
		sxy += (c->streak_n[i] - mn) * (c->streak_g[i] - mg);
		sxx += (c->streak_n[i] - mn) * (c->streak_n[i] - mn);
	}
	return mg > 0 && sxx > 0 ? sxy / sxx * mn / mg : 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of the elasticities from one sample to the next where N
 * changed: one k step is one outlier among them; NAN when fewer than
 * ETUN_CTRL_SAT_MIN - 1 such pairs. */
static double
pairs_elasticity(const struct etun_ctrl *c)
{
	double e[ETUN_CTRL_SAT_SPAN];
	unsigned int m = 0;

	for (unsigned int i = 1; i < c->streak; i++) {
		double n0 = c->streak_n[i - 1], g0 = c->streak_g[i - 1];

		if (c->streak_n[i] == n0)
			continue;
		e[m++] = g0 > 0 ? (c->streak_g[i] - g0) / g0 /
					  ((c->streak_n[i] - n0) / n0)
				: 0;
	}
	if (m + 1 < ETUN_CTRL_SAT_MIN)
		return NAN;
	qsort(e, m, sizeof(e[0]), cmp_double);
	return m % 2 ? e[m / 2] : (e[m / 2 - 1] + e[m / 2]) / 2;
}

/* The streak says that G hardly grows with N: over a pool that grew by a
 * third or more, both the fitted line and the median step show an
 * elasticity below ETUN_CTRL_MIN_GAIN (the model gives k / (N + k)). */
static int
streak_saturated(const struct etun_ctrl *c)
{
	double lo = 1e9, hi = 0, pe;

	if (c->streak < ETUN_CTRL_SAT_MIN ||
	    c->streak_from < ETUN_CTRL_FREE_GROWTH)
		return 0;
	for (unsigned int i = 0; i < c->streak; i++) {
		lo = fmin(lo, c->streak_n[i]);
		hi = fmax(hi, c->streak_n[i]);
	}
	pe = pairs_elasticity(c);
	return hi - lo >= fmax(1, lo / 3) && !isnan(pe) &&
	       pe < ETUN_CTRL_MIN_GAIN &&
	       fit_elasticity(c) < ETUN_CTRL_MIN_GAIN;
}

/* Below target and backlogged: grow by the model, unless the streak shows
 * that more connections do not help. */
static unsigned int
grow(struct etun_ctrl *c, unsigned int n, double g, enum etun_state *state)
{
	double want;

	if (c->cooldown) {
		c->cooldown--;
		*state = ETUN_ST_SATURATED;
		return n;
	}
	streak_add(c, n, g);
	if (!c->no_saturation && streak_saturated(c)) {
		c->cooldown = ETUN_CTRL_COOLDOWN;
		c->streak = 0;
		*state = ETUN_ST_SATURATED;
		return c->streak_from < n ? c->streak_from : n;
	}
	if (n >= c->max_conns) {
		*state = ETUN_ST_UNREACHABLE;
		return c->max_conns;
	}
	*state = ETUN_ST_GROWING;
	want = ceil(model_conns(c, n) - 1e-9);
	return want > n ? clamp_step(c, n, want) : n;
}

/* Below target, not backlogged: the users send less than the pool
 * carries.  Shrink towards the connections their demand needs at the
 * share last measured while backlogged (the share now is the demand's,
 * not the bottleneck's), one spare: ceil(Gs / s_cap) + 1, step-bounded;
 * hold while no backlogged share is known. */
static unsigned int
demand_bound(struct etun_ctrl *c, unsigned int n, enum etun_state *state)
{
	double want;

	*state = ETUN_ST_IDLE;
	if (c->s_cap <= 0)
		return n;
	want = ceil(c->g_avg / c->s_cap - 1e-9) + 1;
	return want < n ? clamp_step(c, n, want) : n;
}

/* The cap, not the pool, was the limit: hold; after probe_hold such
 * intervals in a row, probe probe_step connections less (ctrl.h).  A
 * probe that stays capped held: the next waits the least and may take
 * twice as many (a pool far too big shrinks fast). */
static unsigned int
capped(struct etun_ctrl *c, unsigned int n, enum etun_state *state)
{
	unsigned int d;

	c->streak = 0;
	c->cooldown = 0;
	if (c->probing) {
		c->probing = 0;
		c->probe_hold = ETUN_CTRL_PROBE_MIN;
		c->probe_step *= 2;
	}
	if (c->probe_hold < ETUN_CTRL_PROBE_MIN)
		c->probe_hold = ETUN_CTRL_PROBE_MIN;
	*state = ETUN_ST_HOLDING;
	if (++c->capped_for < c->probe_hold || n <= c->min_conns)
		return n;
	d = c->probe_step ? c->probe_step : 1;
	d = d < n / 4 + 1 ? d : n / 4 + 1;
	d = d < n - c->min_conns ? d : n - c->min_conns;
	c->capped_for = 0;
	c->probing = 1;
	c->probe_step = d;
	c->probe_from = n;
	*state = ETUN_ST_SHRINKING;
	return n - d;
}

/* Backlogged after a probe (the pool, not the cap, was the limit: its
 * goodput is below the target, whatever one noisy sample says): the pool
 * it took back, and the next probe, one connection, waits twice as
 * long. */
static unsigned int
probe_failed(struct etun_ctrl *c, unsigned int n, enum etun_state *state)
{
	c->probing = 0;
	c->probe_step = 1;
	c->probe_settle = ETUN_CTRL_PROBE_SETTLE;
	c->probe_hold *= 2;
	if (c->probe_hold > ETUN_CTRL_PROBE_MAX)
		c->probe_hold = ETUN_CTRL_PROBE_MAX;
	*state = ETUN_ST_GROWING;
	n = n > c->probe_from ? n : c->probe_from;
	return n < c->max_conns ? n : c->max_conns;
}

/* Capped, not backlogged, but the smoothed goodput is under the band:
 * the pool stalled and the bucket cut its catch-up (at k = 16 twelve
 * connections carried 34 Mbit/s in an interval that waited on the
 * bucket).  No sign of spare connections: a pending probe failed, and
 * the next waits for probe_hold capped intervals that carried the
 * target (counting these, probes took the pool from 12 to 9 where 12
 * were needed: measured). */
static unsigned int
capped_short(struct etun_ctrl *c, unsigned int n, enum etun_state *state)
{
	c->capped_for = 0;
	if (c->probing)
		return probe_failed(c, n, state);
	*state = ETUN_ST_HOLDING;
	return n;
}

/* Below the band and backlogged, no probe pending: grow by the model; a
 * pool that grows has a new competition, its probes start over (not
 * while the averages still remember a failed probe's dip). */
static unsigned int
grow_new(struct etun_ctrl *c, unsigned int n, double g, enum etun_state *state)
{
	unsigned int want = grow(c, n, g, state);

	if (want > n && c->probe_settle == 0) {
		c->probe_hold = 0;
		c->probe_step = 1;
	}
	return want;
}

/* A loss storm (ctrl.h): backlogged, goodput under ETUN_CTRL_STORM of
 * the smoothed one on no fewer connections, after an interval where the
 * pool or the cap was the limit or that carried the target (else the
 * goodput it fell from was the users' demand, not what the pool carries);
 * it holds while goodput stays under ETUN_CTRL_STORM_END of where it fell
 * from, ETUN_CTRL_STORM_MAX intervals at most, and the next may start as
 * many intervals after it ended (the averages have taken in what it left
 * by then). */
static int
storm(struct etun_ctrl *c, const struct etun_ctrl_in *in, unsigned int n)
{
	double g = (double)in->goodput_bps;
	int hit;

	if (c->storm_left)
		hit = in->backlogged && g < ETUN_CTRL_STORM_END * c->storm_from;
	else
		hit = c->storm_quiet == 0 && in->backlogged && c->was_full &&
		      n >= c->n_last && g < ETUN_CTRL_STORM * c->g_avg;
	c->n_last = n;
	c->was_full = in->backlogged || in->capped ||
		      g >= (double)c->target_bps * (1 - c->band);
	if (hit && c->storm_left == 0) {
		c->storm_from = c->g_avg;
		c->storm_left = ETUN_CTRL_STORM_MAX;
	}
	if (hit && --c->storm_left == 0)
		c->storm_quiet = ETUN_CTRL_STORM_MAX;
	if (hit)
		return 1;
	if (c->storm_left)
		c->storm_quiet = ETUN_CTRL_STORM_MAX;
	else if (c->storm_quiet)
		c->storm_quiet--;
	c->storm_left = 0;
	return 0;
}

unsigned int
etun_ctrl_step(struct etun_ctrl *c, const struct etun_ctrl_in *in,
	       enum etun_state *state)
{
	double b = (double)c->target_bps, want;
	unsigned int n = in->conns ? in->conns : c->min_conns;

	if (storm(c, in, n)) {
		*state = ETUN_ST_STORM;
		return n;
	}
	smooth(c, n, (double)in->goodput_bps);
	if (in->backlogged)
		c->s_cap = c->s_avg;
	if (c->probe_settle)
		c->probe_settle--;
	if (in->capped && !in->backlogged)
		return c->g_avg >= b * (1 - c->band)
			       ? capped(c, n, state)
			       : capped_short(c, n, state);
	c->capped_for = 0;
	if (in->backlogged && c->probing) /* the pool fell short of the cap */
		return probe_failed(c, n, state);
	if (c->g_avg < b * (1 - c->band) && in->backlogged) {
		/* The last growth is not in place (a SYN lost in a loss
		 * storm waits a second): goodput cannot show it yet.
		 * Growing on regardless ran the pool to max_conns in 9 s,
		 * where it carried less than with 11. */
		if (in->pending && n < c->max_conns) {
			*state = ETUN_ST_GROWING;
			return n;
		}
		return grow_new(c, n, (double)in->goodput_bps, state);
	}
	c->streak = 0;
	c->cooldown = 0;
	/* Over the band with the cap on while the pool was the limit: the
	 * exit delivered what a stall held (the bucket lets no more than
	 * B, plus its trim, in), not spare: shrinking by the model on it
	 * took 11 connections to 9 at k = 16, and the next interval fell
	 * to 32 Mbit/s (measured). */
	if (c->g_avg > b * (1 + c->band) && c->cap && in->backlogged) {
		*state = ETUN_ST_HOLDING;
		return n;
	}
	if (c->g_avg > b * (1 + c->band)) {
		*state = ETUN_ST_SHRINKING;
		want = floor(model_conns(c, n) + 1e-9);
		return want < n ? clamp_step(c, n, want) : n;
	}
	if (c->g_avg >= b * (1 - c->band)) {
		*state = ETUN_ST_HOLDING;
		return n;
	}
	return demand_bound(c, n, state);
}

void
etun_ctrl_reset(struct etun_ctrl *c)
{
	c->g_avg = c->s_avg = c->s_cap = 0;
	c->jump = 0;
	c->streak = c->cooldown = 0;
	c->capped_for = c->probe_hold = c->probe_step = c->probe_from = 0;
	c->probe_settle = 0;
	c->probing = 0;
	c->storm_from = 0;
	c->storm_left = c->storm_quiet = c->n_last = 0;
	c->was_full = 0;
}

const char *
etun_state_name(enum etun_state s)
{
	static const char *const names[] = {
		[ETUN_ST_DOWN] = "peer down",
		[ETUN_ST_HOLDING] = "holding",
		[ETUN_ST_GROWING] = "growing",
		[ETUN_ST_SHRINKING] = "shrinking",
		[ETUN_ST_UNREACHABLE] = "target unreachable at max_conns",
		[ETUN_ST_IDLE] = "demand below target",
		[ETUN_ST_EXIT] = "exit",
		[ETUN_ST_SATURATED] = "saturated: more connections do not help",
		[ETUN_ST_STORM] = "loss storm: growth held",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s]
								  : "?";
}

static void
cap_refill(struct etun_cap *b, uint64_t now_us)
{
	if (now_us > b->last_us)
		b->tokens += b->rate * (double)(now_us - b->last_us) / 1e6;
	if (b->tokens > b->depth)
		b->tokens = b->depth;
	b->last_us = now_us;
}

void
etun_cap_init(struct etun_cap *b, uint64_t bps, uint32_t min_depth, int on,
	      uint64_t now_us)
{
	b->rate = (double)bps / 8;
	b->depth = fmax(b->rate * ETUN_CAP_MS / 1000, (double)min_depth);
	b->tokens = b->depth;
	b->last_us = now_us;
	b->on = on;
}

int
etun_cap_take(struct etun_cap *b, uint32_t len, int prio, uint64_t now_us)
{
	if (!b->on)
		return 1;
	cap_refill(b, now_us);
	if (b->tokens <= (prio ? -b->depth : 0))
		return 0;
	b->tokens -= len;
	return 1;
}

void
etun_cap_undo(struct etun_cap *b, uint32_t len)
{
	if (b->on)
		b->tokens += len;
}

/* What a pool stall left unsent is lost to a 30 ms bucket (a 250 ms one
 * burst into the bottleneck and did worse), so a capped tunnel held 1-5 %
 * under B.  Each capped interval the rate moves by ETUN_CAP_TRIM_GAIN of
 * B - G (an integral term), kept between B and (1 + max_over) B. */
void
etun_cap_trim(struct etun_cap *b, uint64_t target_bps, uint64_t goodput_bps,
	      double max_over, int capped, int backlogged)
{
	double base = (double)target_bps / 8;

	if (capped && !backlogged)
		b->rate += ETUN_CAP_TRIM_GAIN *
			   ((double)target_bps - (double)goodput_bps) / 8;
	else if (!backlogged)
		b->rate = base;
	b->rate = fmin(fmax(b->rate, base), base * (1 + max_over));
}

int
etun_cap_pool_short(struct etun_cap *b, uint64_t now_us)
{
	if (!b->on)
		return 1;
	cap_refill(b, now_us);
	return b->tokens >= b->depth / 2;
}
