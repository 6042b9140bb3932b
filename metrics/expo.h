/*
 * expo.h - the Prometheus text exposition format (version 0.0.4), written
 * into a growing buffer.  A family is announced once (HELP, TYPE), then its
 * samples follow; label values are escaped here, names are the caller's
 * (expo_name() makes any string a valid name).
 *
 * Errors stick: after an allocation failure every call is a no-op and
 * expo_finish() returns NULL.
 */
#ifndef ITM_EXPO_H
#define ITM_EXPO_H

#include <stddef.h>
#include <stdint.h>

enum expo_type { EXPO_COUNTER, EXPO_GAUGE, EXPO_HISTOGRAM };

struct expo {
	char *buf;
	size_t len, cap;
	int failed;
};

/* A label: name (valid, caller's) and value (any text, escaped). */
struct expo_label {
	const char *name;
	const char *value;
};

/* A histogram: cumulative counts per upper bound, then +Inf = count. */
struct expo_hist {
	const double *bounds;	    /* seconds, ascending */
	const uint64_t *cumulative; /* one per bound */
	unsigned int n_bounds;
	uint64_t count;
	double sum;
};

void expo_init(struct expo *e);
/* The text, NUL-terminated, the caller's to free; *@len its length. */
char *expo_finish(struct expo *e, size_t *len);
void expo_free(struct expo *e);

void expo_family(struct expo *e, const char *name, enum expo_type t,
		 const char *help);
void expo_sample(struct expo *e, const char *name, const struct expo_label *l,
		 unsigned int n, double v);
/* One histogram series of family @name (announced with EXPO_HISTOGRAM). */
void expo_histogram(struct expo *e, const char *name,
		    const struct expo_label *l, unsigned int n,
		    const struct expo_hist *h);

/* Copy @s into @out as a valid metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]*
 * (label names: no ':'), other bytes become '_'.  Truncates to @len - 1. */
void expo_name(char *out, size_t len, const char *s, int label);

#endif /* ITM_EXPO_H */
