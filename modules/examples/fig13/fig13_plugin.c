/*
 * fig13_plugin.c - Figure 13 as an in-agent module:
 *   itmctl module load fig13 tos=0x55 new_dport=5555 proto=tcp dport=80
 * proto=any (with new_dport=0) rewrites the TOS of every IPv4 packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <itm_plugin.h>

#include "fig13.h"

/* One loaded instance: m->priv. */
struct fig13_mod {
	struct itm_info info;
	struct fig13_conf conf; /* the callbacks' pkt->priv */
};

static const struct itm_param_spec params[] = {
	{ "tos", ITM_PARAM_UINT, "0x55", 0, 255, "TOS byte to write" },
	{ "new_dport", ITM_PARAM_UINT, "5555", 0, 65535,
	  "destination port to write (0: keep)" },
	{ "proto", ITM_PARAM_STRING, "tcp", 0, 8, "tcp, udp or any" },
	{ "dport", ITM_PARAM_UINT, "0", 0, 65535,
	  "only packets to this port (0: any)" },
	{ "hook", ITM_PARAM_STRING, "forward", 0, 16, "hook" },
	{ "priority", ITM_PARAM_INT, "0", -1000, 1000, "order at the hook" },
	{ .name = NULL }
};

/* Check the parameters; the hook in *@hook. */
static int
fig13_check(struct itm_module *m, const struct itm_params *p, int *hook)
{
	const char *proto = itm_param_str(p, "proto");

	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
	    strcmp(proto, "any") != 0) {
		itm_module_error(m, "proto: '%s': use tcp, udp or any", proto);
		return -EINVAL;
	}
	if (strcmp(proto, "any") == 0 && itm_param_uint(p, "dport")) {
		itm_module_error(m, "dport: needs proto=tcp or proto=udp");
		return -EINVAL;
	}
	*hook = itm_hook_from_name(itm_param_str(p, "hook"));
	if (*hook < 0) {
		itm_module_error(m, "hook: '%s': no such hook",
				 itm_param_str(p, "hook"));
		return -EINVAL;
	}
	return 0;
}

static void
fig13_interest(struct itm_interest *in, const struct itm_params *p)
{
	const char *proto = itm_param_str(p, "proto");
	uint16_t dport = (uint16_t)itm_param_uint(p, "dport");

	itm_interest_init(in);
	if (strcmp(proto, "any") != 0)
		itm_interest_add_protocol(in, proto[0] == 't' ? IPPROTO_TCP
							      : IPPROTO_UDP);
	if (dport)
		itm_interest_add_dst_port(in, dport, dport);
}

static int
fig13_load(struct itm_module *m, const struct itm_params *p)
{
	struct fig13_mod *f;
	int hook, rc;

	if ((rc = fig13_check(m, p, &hook)) < 0)
		return rc;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -ENOMEM;
	f->conf.tos = (uint8_t)itm_param_uint(p, "tos");
	f->conf.new_dport = (uint16_t)itm_param_uint(p, "new_dport");
	fig13_info(&f->info, "fig13", &f->conf);
	f->info.priority = (int)itm_param_int(p, "priority");
	fig13_interest(&f->info.interest, p);
	itm_register_counter("rewritten", &f->conf.rewritten);
	rc = itm_register_hook((itm_where)hook, &f->info);
	if (rc < 0) {
		free(f);
		return rc;
	}
	m->priv = f;
	return 0;
}

static void
fig13_unload(struct itm_module *m)
{
	struct fig13_mod *f = m->priv;

	itm_unregister_hook(f->info.hook, &f->info);
	free(f);
	m->priv = NULL;
}

ITM_PLUGIN(.name = "fig13", .version = "1.0",
	   .description =
		   "the paper's Figure 13: rewrite TOS and destination port",
	   .params = params, .load = fig13_load, .unload = fig13_unload, );
