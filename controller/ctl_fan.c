/*
 * ctl_fan.c - what the controller's calls to agents come to on each node:
 * the outcome of a push, a placement or a forwarded call (ctl.h's enum
 * ctl_outcome, itm.proto's Outcome), and its name for the log.
 */
#include "ctl.h"

static const char *const outcome_names[] = {
	[CTL_OUTCOME_NONE] = "-",
	[CTL_OUTCOME_UPDATED] = "updated",
	[CTL_OUTCOME_UNCHANGED] = "unchanged",
	[CTL_OUTCOME_UNREACHABLE] = "unreachable",
	[CTL_OUTCOME_REFUSED] = "refused",
};

const char *
ctl_outcome_name(enum ctl_outcome o)
{
	if ((unsigned int)o >= sizeof(outcome_names) / sizeof(*outcome_names))
		return "?";
	return outcome_names[o];
}

enum ctl_outcome
ctl_outcome_of(int code)
{
	switch (code) {
	case ITM_RPC_OK: return CTL_OUTCOME_NONE;
	case ITM_RPC_UNAVAILABLE:
	case ITM_RPC_DEADLINE_EXCEEDED:
	case ITM_RPC_CANCELLED: return CTL_OUTCOME_UNREACHABLE;
	default: return CTL_OUTCOME_REFUSED;
	}
}
