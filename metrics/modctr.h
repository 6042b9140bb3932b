/*
 * modctr.h - a module counter (itm_register_counter) as a Prometheus series.
 *
 * A module names a counter NAME or NAME{k=v,...} (values quoted or not,
 * at most MODCTR_LABELS labels): the series is itm_module_NAME with the
 * labels module="<module>" and k="v"...  Conventions a module follows to
 * get good metrics for free:
 *   - NAME ending in _total is a counter, anything else a gauge;
 *   - NAME ending in _us or _ms is exported in seconds (_seconds, the
 *     value scaled), as Prometheus wants base units;
 *   - labels name things with few values (a node, a path, a class), never
 *     a flow: each module has at most 64 counters anyway.
 * Characters a name may not hold become '_'; a label called module or le
 * is dropped.  Pure: no allocation, no I/O.
 */
#ifndef ITM_METRICS_MODCTR_H
#define ITM_METRICS_MODCTR_H

#include <stdint.h>

#define MODCTR_LABELS	 4
#define MODCTR_NAME_MAX	 96
#define MODCTR_VALUE_MAX 64

struct modctr {
	char family[MODCTR_NAME_MAX]; /* itm_module_... */
	int counter;		      /* 1: _total, a counter; 0: gauge */
	double scale;		      /* value * scale = exported value */
	char lname[MODCTR_LABELS][MODCTR_NAME_MAX];
	char lvalue[MODCTR_LABELS][MODCTR_VALUE_MAX];
	unsigned int n_labels;
};

/* Map counter @name; -1 when nothing usable is left of it (empty). */
int modctr_parse(const char *name, struct modctr *out);

#endif /* ITM_METRICS_MODCTR_H */
