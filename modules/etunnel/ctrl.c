/*
 * ctrl.c - the pool-size law (ctrl.h explains it and why).
 */
#include <math.h>

#include "ctrl.h"

static unsigned int
clamp_step(const struct etun_ctrl *c, unsigned int n, double want)
{
	double hi = n + n / 4.0 + 1, lo = n - n / 4.0 - 1;

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

/* Below target and backlogged: grow, unless the last growth did not pay. */
static unsigned int
grow(struct etun_ctrl *c, unsigned int n, double b, double g,
     enum etun_state *state)
{
	unsigned int from = c->grew_from;

	c->grew_from = 0;
	if (from >= ETUN_CTRL_FREE_GROWTH && from < n &&
	    g < (double)c->g_before * (1 + ETUN_CTRL_MIN_GAIN * (n - from) /
						   (double)from)) {
		c->cooldown = ETUN_CTRL_COOLDOWN;
		*state = ETUN_ST_SATURATED;
		return from;
	}
	if (c->cooldown) {
		c->cooldown--;
		*state = ETUN_ST_SATURATED;
		return n;
	}
	if (n >= c->max_conns) {
		*state = ETUN_ST_UNREACHABLE;
		return c->max_conns;
	}
	*state = ETUN_ST_GROWING;
	c->grew_from = n;
	c->g_before = (uint64_t)g;
	from = clamp_step(c, n, g > 0 ? ceil(n * b / g) : n * 2.0);
	return from > n ? from : n + 1;
}

unsigned int
etun_ctrl_step(struct etun_ctrl *c, const struct etun_ctrl_in *in,
	       enum etun_state *state)
{
	double b = (double)c->target_bps, g = (double)in->goodput_bps;
	unsigned int n = in->conns ? in->conns : c->min_conns;

	if (g < b * (1 - c->band) && in->backlogged)
		return grow(c, n, b, g, state);
	c->grew_from = 0;
	c->cooldown = 0;
	if (g > b * (1 + c->band)) {
		*state = ETUN_ST_SHRINKING;
		return clamp_step(c, n, floor(n * b / g));
	}
	*state = g >= b * (1 - c->band) ? ETUN_ST_HOLDING : ETUN_ST_IDLE;
	return n;
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
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s]
								  : "?";
}
