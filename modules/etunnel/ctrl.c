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

unsigned int
etun_ctrl_step(const struct etun_ctrl *c, const struct etun_ctrl_in *in,
	       enum etun_state *state)
{
	double b = (double)c->target_bps, g = (double)in->goodput_bps;
	unsigned int n = in->conns ? in->conns : c->min_conns;

	if (g > b * (1 + c->band)) {
		*state = ETUN_ST_SHRINKING;
		n = clamp_step(c, n, floor(n * b / g));
	} else if (g >= b * (1 - c->band)) {
		*state = ETUN_ST_HOLDING;
	} else if (!in->backlogged) {
		*state = ETUN_ST_IDLE;
	} else if (n >= c->max_conns) {
		*state = ETUN_ST_UNREACHABLE;
		n = c->max_conns;
	} else {
		*state = ETUN_ST_GROWING;
		n = clamp_step(c, n, g > 0 ? ceil(n * b / g) : n * 2.0);
		if (n <= in->conns && n < c->max_conns)
			n = in->conns + 1;
	}
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
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s]
								  : "?";
}
