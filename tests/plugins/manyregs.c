/*
 * manyregs.c - a test-only in-agent module with many registrations:
 * `count` of them at `hook`, registration i labelled "many<i>" and
 * interested in TCP to port `port` + i, so each is one rule and each shows
 * its own interest in ListModules.  tests/integ/agent_manyregs.sh loads it
 * to drive the agent's tables past their sizes (a ListModules reply with
 * more than 512 registrations, a stage with more than 64, an unload of
 * more than 256).  Every instance keeps its state in its own context.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <itm_plugin.h>

struct many {
	unsigned int n;
	itm_where hook;
	struct itm_info *info;
	char (*labels)[16];
};

static const struct itm_param_spec params[] = {
	{ "count", ITM_PARAM_UINT, "600", 1, 2000, "registrations" },
	{ "port", ITM_PARAM_UINT, "10000", 1, 63000,
	  "registration i wants TCP to port + i" },
	{ "hook", ITM_PARAM_STRING, "ip_out", 0, 16, "hook" },
	{ .name = NULL }
};

static void
many_free(struct many *c)
{
	free(c->info);
	free(c->labels);
	free(c);
}

static int
many_load(struct itm_module *m, const struct itm_params *p)
{
	struct many *c = calloc(1, sizeof(*c));
	int hook = itm_hook_from_name(itm_param_str(p, "hook"));
	unsigned int port = (unsigned int)itm_param_uint(p, "port");
	int rc = 0;

	if (c == NULL)
		return -ENOMEM;
	c->n = (unsigned int)itm_param_uint(p, "count");
	c->info = calloc(c->n, sizeof(*c->info));
	c->labels = calloc(c->n, sizeof(*c->labels));
	if (hook < 0 || c->info == NULL || c->labels == NULL ||
	    port + c->n > 65535) {
		itm_module_error(m, "hook, port or memory");
		many_free(c);
		return -EINVAL;
	}
	c->hook = (itm_where)hook;
	m->priv = c;
	for (unsigned int i = 0; i < c->n && rc == 0; i++) {
		struct itm_info *in = &c->info[i];

		snprintf(c->labels[i], sizeof(c->labels[i]), "many%u", i);
		in->label = c->labels[i];
		in->priv = c;
		itm_interest_init(&in->interest);
		itm_interest_add_protocol(&in->interest, IPPROTO_TCP);
		itm_interest_add_dst_port(&in->interest, (uint16_t)(port + i),
					  (uint16_t)(port + i));
		rc = itm_register_hook(c->hook, in);
	}
	if (rc < 0) {
		itm_module_error(m, "register: %s", itm_last_error());
		many_free(c); /* the agent takes what did register out */
	}
	return rc;
}

static void
many_unload(struct itm_module *m)
{
	many_free(m->priv); /* the agent unregisters the hooks */
}

ITM_PLUGIN(.name = "manyregs", .version = "1.0",
	   .description = "test module: many registrations", .params = params,
	   .load = many_load, .unload = many_unload, );
