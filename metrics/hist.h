/*
 * hist.h - a histogram one thread observes into (the controller's loop)
 * and exports in the exposition format.  Fixed upper bounds in seconds.
 */
#ifndef ITM_METRICS_HIST_H
#define ITM_METRICS_HIST_H

#include <stdint.h>

#include "expo.h"

#define METRICS_HIST_MAX 16

struct metrics_hist {
	double bounds[METRICS_HIST_MAX];
	uint64_t cumulative[METRICS_HIST_MAX]; /* observations <= bound */
	unsigned int n;
	uint64_t count;
	double sum;
};

/* @n bounds (at most METRICS_HIST_MAX), ascending. */
void metrics_hist_init(struct metrics_hist *h, const double *bounds,
		       unsigned int n);
void metrics_hist_observe(struct metrics_hist *h, double seconds);
/* @h as expo_histogram() takes it (pointing into @h). */
void metrics_hist_expo(const struct metrics_hist *h, struct expo_hist *out);

#endif /* ITM_METRICS_HIST_H */
