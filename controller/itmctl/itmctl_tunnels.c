/*
 * itmctl_tunnels.c - `itmctl tunnels [NODE] [--watch]`: the elastic
 * tunnels (modules/etunnel) with their target, goodput, pool and state;
 * from one agent (--agent: GetTunnels) or through the controller
 * (NodeTunnels: every node, or NODE).  --watch prints again every second
 * until interrupted.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "itmctl.h"

/* One agent's reply as the controller's, so one printer serves both. */
static int
agent_tunnels(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__TunnelsRequest q = ITM__V1__TUNNELS_REQUEST__INIT;
	Itm__V1__NodeTunnelsReply all = ITM__V1__NODE_TUNNELS_REPLY__INIT;
	Itm__V1__TunnelsReply *one;
	ProtobufCMessage *r;
	int rc;

	(void)res;
	rc = itmctl_agent_call(ic, ITM_AGENT_GET_TUNNELS, &q.base, &r);
	if (rc)
		return rc;
	one = (Itm__V1__TunnelsReply *)r;
	all.nodes = &one;
	all.n_nodes = 1;
	ic->out->tunnels(&all);
	protobuf_c_message_free_unpacked(r, NULL);
	return ITMCTL_EXIT_OK;
}

static int
controller_tunnels(struct itmctl *ic, const struct parse_result *res)
{
	Itm__V1__NodeTunnelsRequest q = ITM__V1__NODE_TUNNELS_REQUEST__INIT;
	Itm__V1__NodeTunnelsReply *r;
	int rc;

	q.node = (char *)(res->node ? res->node : "");
	rc = itmctl_controller_call(ic, ITM_CONTROLLER_NODE_TUNNELS, &q.base,
				    (ProtobufCMessage **)&r);
	if (rc)
		return rc;
	ic->out->tunnels(r);
	rc = r->n_errors ? ITMCTL_EXIT_PARTIAL : ITMCTL_EXIT_OK;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

int
cmd_tunnels(struct itmctl *ic, const struct parse_result *res)
{
	int rc;

	if (ic->agent_given && res->node) {
		fprintf(stderr, "itmctl: tunnels: NODE goes through the "
				"controller: drop --agent or NODE\n");
		return ITMCTL_EXIT_USAGE;
	}
	for (;;) {
		if (res->watch && ic->out == &output_table) {
			time_t now = time(NULL);

			printf("\n%s", ctime(&now));
		}
		rc = ic->agent_given ? agent_tunnels(ic, res)
				     : controller_tunnels(ic, res);
		if (!res->watch || rc == ITMCTL_EXIT_ERR)
			return rc;
		fflush(stdout);
		sleep(1);
	}
}
