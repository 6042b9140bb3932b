/*
 * hist.c - see hist.h.
 */
#include <string.h>

#include "hist.h"

void
metrics_hist_init(struct metrics_hist *h, const double *bounds, unsigned int n)
{
	memset(h, 0, sizeof(*h));
	if (n > METRICS_HIST_MAX)
		n = METRICS_HIST_MAX;
	memcpy(h->bounds, bounds, n * sizeof(*bounds));
	h->n = n;
}

void
metrics_hist_observe(struct metrics_hist *h, double seconds)
{
	for (unsigned int i = 0; i < h->n; i++)
		if (seconds <= h->bounds[i])
			h->cumulative[i]++;
	h->count++;
	h->sum += seconds;
}

void
metrics_hist_expo(const struct metrics_hist *h, struct expo_hist *out)
{
	*out = (struct expo_hist){ .bounds = h->bounds,
				   .cumulative = h->cumulative,
				   .n_bounds = h->n,
				   .count = h->count,
				   .sum = h->sum };
}
