/*
 * oldabi.c - a test-only in-agent module as one built against plugin ABI
 * 1.3, before itm_info had `flags` (ITM_MAY_SETTLE): its descriptor says
 * minor 3 and its registration is allocated at the old size, so a
 * sanitized agent that read `flags` would be caught.  The agent must take
 * it to settle, as before: its hook gets the conntrack rules.
 * tests/integ/agent_settle_rules.sh loads it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <itm_plugin.h>

/* struct itm_info as ABI 1.3 had it: everything before flags. */
#define OLDABI_INFO_SIZE offsetof(struct itm_info, flags)

static int
oldabi_class(itm_where h, struct itm_packet *p)
{
	return 0; /* sees everything, decides nothing */
}

static int
oldabi_load(struct itm_module *m, const struct itm_params *p)
{
	struct itm_info full = { .label = "oldabi",
				 .class_func = oldabi_class };
	void *in = malloc(OLDABI_INFO_SIZE);
	int rc;

	if (in == NULL)
		return -ENOMEM;
	itm_interest_init(&full.interest);
	itm_interest_add_protocol(&full.interest, IPPROTO_TCP);
	memcpy(in, &full, OLDABI_INFO_SIZE);
	m->priv = in;
	rc = itm_register_hook(ITM_IP_FORWARD, in);
	if (rc < 0) {
		itm_module_error(m, "register: %s", itm_last_error());
		free(in);
	}
	return rc;
}

static void
oldabi_unload(struct itm_module *m)
{
	free(m->priv); /* the agent unregisters the hook */
}

__attribute__((visibility("default"))) const struct itm_plugin itm_plugin = {
	.abi = (ITM_PLUGIN_ABI_MAJOR << 16) | 3,
	.size = sizeof(struct itm_plugin),
	.name = "oldabi",
	.version = "1.0",
	.description = "test module: built as for plugin ABI 1.3",
	.load = oldabi_load,
	.unload = oldabi_unload,
};
