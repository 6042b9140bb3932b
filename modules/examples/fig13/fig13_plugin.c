/*
 * fig13_plugin.c - Figure 13 as an in-agent module:
 *   itmctl module load fig13 tos=0x55 new_dport=5555 proto=tcp dport=80
 * proto=any (with new_dport=0) rewrites the TOS of every IPv4 packet.
 */
#include <errno.h>
#include <string.h>

#include <itm_plugin.h>

#include "fig13.h"

static struct itm_info info;

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

static int
fig13_load(struct itm_module *m, const struct itm_params *p)
{
	const char *proto = itm_param_str(p, "proto");
	int hook = itm_hook_from_name(itm_param_str(p, "hook"));

	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
	    strcmp(proto, "any") != 0) {
		itm_module_error(m, "proto: '%s': use tcp, udp or any", proto);
		return -EINVAL;
	}
	if (strcmp(proto, "any") == 0 && itm_param_uint(p, "dport")) {
		itm_module_error(m, "dport: needs proto=tcp or proto=udp");
		return -EINVAL;
	}
	if (hook < 0) {
		itm_module_error(m, "hook: '%s': no such hook",
				 itm_param_str(p, "hook"));
		return -EINVAL;
	}
	fig13.tos = (uint8_t)itm_param_uint(p, "tos");
	fig13.new_dport = (uint16_t)itm_param_uint(p, "new_dport");
	memset(&info, 0, sizeof(info));
	fig13_info(&info, "fig13");
	info.priority = (int)itm_param_int(p, "priority");
	itm_interest_init(&info.interest);
	if (strcmp(proto, "any") != 0)
		itm_interest_add_protocol(&info.interest,
					  proto[0] == 't' ? IPPROTO_TCP
							  : IPPROTO_UDP);
	if (itm_param_uint(p, "dport"))
		itm_interest_add_dst_port(&info.interest,
					  (uint16_t)itm_param_uint(p, "dport"),
					  (uint16_t)itm_param_uint(p, "dport"));
	itm_register_counter("rewritten", &fig13.rewritten);
	return itm_register_hook((itm_where)hook, &info);
}

static void
fig13_unload(struct itm_module *m)
{
	itm_unregister_hook(info.hook, &info);
}

ITM_PLUGIN(.name = "fig13", .version = "1.0",
	   .description =
		   "the paper's Figure 13: rewrite TOS and destination port",
	   .params = params, .load = fig13_load, .unload = fig13_unload, );
