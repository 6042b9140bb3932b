/*
 * reg.h - a registration as the packet path sees it.
 *
 * Both hosts (itm-agent for in-agent modules, libitm for process modules)
 * wrap every struct itm_info they accept in a struct itm__reg, which holds
 * the counters the five callbacks feed and the state settlement needs.
 * itm_info.itm__reg points back to it.
 */
#ifndef ITM_REG_H
#define ITM_REG_H

#include <stdint.h>
#include "itm.h"
#include "flowset.h"

struct itm__class_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t flows;
};

/* Settlements a registration asked for, cached so only the first packet of
 * a kind costs a call to the host. */
#define ITM_REG_SETTLE_CACHE 8

struct itm__settle_slot {
	struct itm_settle spec;
	uint32_t mark; /* settle request bits, 0 = unused */
};

struct itm__reg {
	struct itm_info *info;
	itm_where hook;
	int priority;
	uint64_t seq; /* registration order */
	void *owner;  /* host's: module or lease */

	uint64_t packets;	      /* seen in user space */
	struct itm__class_stats *cls; /* [ITM_CLASS_MAX + 1] */
	struct itm_flowset *flows;

	/* Set by the host: alone in its stage.  Written and read with
	 * __atomic builtins: the agent's main thread sets it while its
	 * workers may be in a callback. */
	int can_settle;
	/* Declared ITM_MAY_SETTLE (or built before the declaration): set
	 * once by the host, from itm__info_may_settle(). */
	int may_settle;
	struct itm__settle_slot settle[ITM_REG_SETTLE_CACHE];
};

/* Allocate/free the packet-path state of a registration. */
struct itm__reg *itm__reg_new(struct itm_info *info, itm_where hook,
			      uint64_t seq);
void itm__reg_free(struct itm__reg *reg);

/* Whether @info, registered by code built against module API minor
 * @api_minor, may settle: ITM_MAY_SETTLE in its flags, or any module
 * built before minor 4 (its struct itm_info has no flags). */
int itm__info_may_settle(const struct itm_info *info, unsigned int api_minor);

/* Sum the registration's classes into @out (zeroed first). */
void itm__reg_totals(const struct itm__reg *reg, struct itm__class_stats *out);

#endif /* ITM_REG_H */
