/*
 * hookname.c - names of the five hook points, both ways.
 *
 * ITM's own names (PRE_ROUTE, ...) print; reading also takes the netfilter
 * chain names (PREROUTING, ...) and the C enum names (ITM_PRE_ROUTE), in
 * any case, so configs and command lines can use whichever they know.
 */
#include <stddef.h>
#include <strings.h>

#include "itm.h"

static const struct {
	const char *itm;
	const char *netfilter;
} hook_names[ITM_HOOK_MAX] = {
	[ITM_PRE_ROUTE] = { "PRE_ROUTE", "PREROUTING" },
	[ITM_IP_IN] = { "IP_IN", "INPUT" },
	[ITM_IP_FORWARD] = { "IP_FORWARD", "FORWARD" },
	[ITM_IP_OUT] = { "IP_OUT", "OUTPUT" },
	[ITM_POST_ROUTE] = { "POST_ROUTE", "POSTROUTING" },
};

const char *
itm_hook_name(itm_where where)
{
	if ((unsigned int)where >= ITM_HOOK_MAX)
		return NULL;
	return hook_names[where].itm;
}

int
itm_hook_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	if (strncasecmp(name, "ITM_", 4) == 0)
		name += 4;
	for (i = 0; i < ITM_HOOK_MAX; i++) {
		if (strcasecmp(name, hook_names[i].itm) == 0 ||
		    strcasecmp(name, hook_names[i].netfilter) == 0)
			return i;
	}
	return -1;
}
