/*
 * itmctl_controller.c - itmctl commands about nodes, through the
 * controller (--controller, $ITM_CONTROLLER): nodes, stats [NODE], and
 * module load / unload / list NODE.  The controller asks the node's agent
 * and relays its reply, so the agent commands' printers serve here too.
 */
#include <stdio.h>
#include <string.h>

#include "itmctl.h"

int
cmd_nodes(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodesRequest q = ITM__V1__NODES_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_NODES, &q.base, &r);
	if (rc)
		return rc;
	ic->out->nodes((Itm__V1__NodesReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_controllers(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__ControllersRequest q = ITM__V1__CONTROLLERS_REQUEST__INIT;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_CONTROLLERS, &q.base,
				    &r);
	if (rc)
		return rc;
	ic->out->controllers((Itm__V1__ControllersReply *)r);
	protobuf_c_message_free_unpacked(r, NULL);
	return ITMCTL_EXIT_OK;
}

/* "itmctl: stats: node n3: unreachable: connection refused" */
static void
node_error(const struct parse_result *res, const Itm__V1__NodeResult *e)
{
	fprintf(stderr, "itmctl: %s: node %s: %s%s%s\n", res->cmd, e->node,
		e->result ? output_outcome_name(e->result) : "error",
		*e->detail ? ": " : "", e->detail);
}

/* stats NODE: the agent's own reply, printed as "stats --agent" does. */
static int
one_node_stats(struct itmctl *ic, const struct parse_result *res,
	       const Itm__V1__NodeStatsReply *r)
{
	for (size_t i = 0; i < r->n_errors; i++)
		node_error(res, r->errors[i]);
	if (r->n_errors)
		return ITMCTL_EXIT_ERR;
	if (r->n_nodes != 1) {
		fprintf(stderr,
			"itmctl: %s: the controller answered for %zu "
			"nodes, not for %s alone\n",
			res->cmd, r->n_nodes, res->node);
		return ITMCTL_EXIT_ERR;
	}
	ic->out->stats(r->nodes[0]);
	return ITMCTL_EXIT_OK;
}

/* stats [NODE] [--module M]: one node, or every node in one table. */
int
cmd_node_stats(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodeStatsRequest q = ITM__V1__NODE_STATS_REQUEST__INIT;
	Itm__V1__NodeStatsReply *r;
	int rc;

	q.node = (char *)(res->node ? res->node : "");
	q.module = (char *)(res->module ? res->module : "");
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_NODE_STATS, &q.base,
				    (ProtobufCMessage **)&r);
	if (rc)
		return rc;
	if (res->node) {
		rc = one_node_stats(ic, res, r);
	} else {
		ic->out->overlay_stats(r);
		rc = r->n_errors ? ITMCTL_EXIT_PARTIAL : ITMCTL_EXIT_OK;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

/* One NodeModuleRequest for @method; *@r is the caller's to free. */
static int
node_module_call(struct itmctl *ic, const struct parse_result *res,
		 enum itm_method method, Itm__V1__NodeModuleReply **r)
{
	Itm__V1__NodeModuleRequest q = ITM__V1__NODE_MODULE_REQUEST__INIT;

	q.node = (char *)res->node;
	q.name = (char *)(res->name ? res->name : "");
	q.n_params = res->n_params;
	q.params = (char **)res->params;
	return itmctl_controller_call(ic, method, &q.base,
				      (ProtobufCMessage **)r);
}

int
cmd_node_module_load(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__LoadModuleReply none = ITM__V1__LOAD_MODULE_REPLY__INIT;
	Itm__V1__NodeModuleReply *r;
	int rc;

	rc = check_params(res);
	if (!rc)
		rc = node_module_call(ic, res, ITM_CONTROLLER_NODE_LOAD_MODULE,
				      &r);
	if (rc)
		return rc;
	none.name = (char *)res->name;
	ic->out->loaded(res->node, r->loaded ? r->loaded : &none, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_node_module_unload(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodeModuleReply *r;
	int rc;

	rc = node_module_call(ic, res, ITM_CONTROLLER_NODE_UNLOAD_MODULE, &r);
	if (rc)
		return rc;
	ic->out->unloaded(res->node, res->name, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return ITMCTL_EXIT_OK;
}

int
cmd_node_module_list(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__ListModulesReply none = ITM__V1__LIST_MODULES_REPLY__INIT;
	Itm__V1__NodeModuleReply *r;
	int rc;

	rc = node_module_call(ic, res, ITM_CONTROLLER_NODE_LIST_MODULES, &r);
	if (rc)
		return rc;
	ic->out->modules(res->node, r->list ? r->list : &none, &r->base);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return ITMCTL_EXIT_OK;
}

/* NodeRoutes for @node ("" every node); *@r is the caller's to free. */
static int
node_routes_call(struct itmctl *ic, const char *node,
		 Itm__V1__NodeRoutesReply **r)
{
	Itm__V1__NodeRoutesRequest q = ITM__V1__NODE_ROUTES_REQUEST__INIT;

	q.node = (char *)node;
	return itmctl_controller_call(ic, ITM_CONTROLLER_NODE_ROUTES, &q.base,
				      (ProtobufCMessage **)r);
}

int
cmd_node_routes(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodeRoutesReply *r;
	int rc = node_routes_call(ic, res->node ? res->node : "", &r);

	if (rc)
		return rc;
	ic->out->node_routes(r);
	rc = r->n_errors ? ITMCTL_EXIT_PARTIAL : ITMCTL_EXIT_OK;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

int
cmd_paths(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodeRoutesReply *r;
	int rc;

	(void)res;
	if ((rc = node_routes_call(ic, "", &r)) != 0)
		return rc;
	ic->out->paths(r);
	rc = r->n_errors ? ITMCTL_EXIT_PARTIAL : ITMCTL_EXIT_OK;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}
