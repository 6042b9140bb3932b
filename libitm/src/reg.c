/*
 * reg.c - allocation of the packet-path state of a registration.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reg.h"

/* Distinct (flow, class) pairs remembered for the "flows" counter. */
#define REG_FLOWSET_SIZE   16384
#define REG_FLOW_EXPIRY_MS 120000

struct itm__reg *
itm__reg_new(struct itm_info *info, itm_where hook, uint64_t seq)
{
	struct itm__reg *reg;

	reg = calloc(1, sizeof(*reg));
	if (reg == NULL)
		return NULL;
	reg->cls = calloc(ITM_CLASS_MAX + 1, sizeof(*reg->cls));
	reg->flows = itm_flowset_new(REG_FLOWSET_SIZE, REG_FLOW_EXPIRY_MS);
	if (reg->cls == NULL || reg->flows == NULL) {
		itm__reg_free(reg);
		return NULL;
	}
	reg->info = info;
	reg->hook = hook;
	reg->priority = info->priority;
	reg->seq = seq;
	return reg;
}

int
itm__info_may_settle(const struct itm_info *info, unsigned int api_minor)
{
	if (api_minor < 4)
		return 1;
	return (info->flags & ITM_MAY_SETTLE) != 0;
}

void
itm__reg_free(struct itm__reg *reg)
{
	if (reg == NULL)
		return;
	if (reg->flows)
		itm_flowset_free(reg->flows);
	free(reg->cls);
	free(reg);
}

void
itm__reg_totals(const struct itm__reg *reg, struct itm__class_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c <= ITM_CLASS_MAX; c++) {
		out->packets += reg->cls[c].packets;
		out->bytes += reg->cls[c].bytes;
		out->flows += reg->cls[c].flows;
	}
}
