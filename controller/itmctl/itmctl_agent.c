/*
 * itmctl_agent.c - itmctl commands that talk to one agent directly
 * (--agent): status, module load / unload / list, stats, table.  Each builds its
 * request from the parse result, makes one call and hands the reply to
 * the chosen output.
 */
#include <stdio.h>
#include <string.h>

#include "itmctl.h"

int
cmd_status(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__StatusRequest q = ITM__V1__STATUS_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_agent_call(ic, ITM_AGENT_GET_STATUS, &q.base, &r);
	if (rc)
		return rc;
	ic->out->status((Itm__V1__StatusReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

/* Parameters are "key=value" with a key of letters, digits, '_' or '-'. */
int
check_params(const struct parse_result *res)
{
	for (size_t i = 0; i < res->n_params; i++) {
		const char *p = res->params[i];
		size_t k = strspn(p, "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.");

		if (k == 0 || p[k] != '=') {
			fprintf(stderr,
				"itmctl: %s: bad parameter '%s' "
				"(expected key=value)\n",
				res->cmd, p);
			return ITMCTL_EXIT_USAGE;
		}
	}
	return 0;
}

int
cmd_module_load(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__LoadModuleRequest q = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	rc = check_params(res);
	if (rc)
		return rc;
	q.name = (char *)res->name;
	q.n_params = res->n_params;
	q.params = (char **)res->params;
	rc = itmctl_agent_call(ic, ITM_AGENT_LOAD_MODULE, &q.base, &r);
	if (rc)
		return rc;
	ic->out->loaded(NULL, (Itm__V1__LoadModuleReply *)r, r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

int
cmd_module_unload(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__UnloadModuleRequest q = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	q.name = (char *)res->name;
	rc = itmctl_agent_call(ic, ITM_AGENT_UNLOAD_MODULE, &q.base, &r);
	if (rc)
		return rc;
	ic->out->unloaded(NULL, res->name, r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

int
cmd_module_list(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__ListModulesRequest q = ITM__V1__LIST_MODULES_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_agent_call(ic, ITM_AGENT_LIST_MODULES, &q.base, &r);
	if (rc)
		return rc;
	ic->out->modules(NULL, (Itm__V1__ListModulesReply *)r, r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

/* Without --agent or $ITM_AGENT, "stats" is the whole overlay's. */
int
cmd_stats(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__StatsRequest q = ITM__V1__STATS_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	if (!ic->agent_given)
		return cmd_node_stats(ic, res);
	q.module = (char *)(res->module ? res->module : "");
	rc = itmctl_agent_call(ic, ITM_AGENT_GET_STATS, &q.base, &r);
	if (rc)
		return rc;
	ic->out->stats((Itm__V1__StatsReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

int
cmd_table(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__GetTableRequest q = ITM__V1__GET_TABLE_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_agent_call(ic, ITM_AGENT_GET_TABLE, &q.base, &r);
	if (rc)
		return rc;
	ic->out->table((Itm__V1__NeighbourTable *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}

/* Without --agent or $ITM_AGENT, "routes" is every node's. */
int
cmd_routes(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__RoutesRequest q = ITM__V1__ROUTES_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	if (!ic->agent_given)
		return cmd_node_routes(ic, res);
	rc = itmctl_agent_call(ic, ITM_AGENT_GET_ROUTES, &q.base, &r);
	if (rc)
		return rc;
	ic->out->routes((Itm__V1__RoutesReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return 0;
}
