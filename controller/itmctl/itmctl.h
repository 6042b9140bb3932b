/*
 * itmctl.h - what itmctl's files share: the run context built from the
 * options (struct itmctl), the RPC helper that prints errors, and the
 * command functions the dispatch table in itmctl.c points to.  itmctl
 * shares only proto/ (itm.proto's messages, itm_methods.h) with the
 * daemons.
 */
#ifndef ITMCTL_H
#define ITMCTL_H

#include <stdio.h>

#include "itm_rpc.h"
#include "output.h"
#include "parser.h"

/* Exit status. */
#define ITMCTL_EXIT_OK	    0
#define ITMCTL_EXIT_ERR	    1 /* unreachable, or the server said no */
#define ITMCTL_EXIT_USAGE   2
#define ITMCTL_EXIT_PARTIAL 3 /* done, but some nodes were not reached */

/* The controller's default address is ITM_CONTROLLER_ADDR_DEFAULT. */
#define ITMCTL_AGENT_DEFAULT	"unix:" ITM_AGENT_SOCKET_DEFAULT
#define ITMCTL_TIMEOUT_MS	5000
#define ITMCTL_APPLY_TIMEOUT_MS 30000 /* apply and rollback push to nodes */

/* One run of itmctl: what the options say. */
struct itmctl {
	char agent[256]; /* normalised: "/x" becomes "unix:/x" */
	int agent_given; /* --agent or $ITM_AGENT */
	char controller[256];
	const char *controller_from; /* "--controller", "ITM_CONTROLLER"... */
	int timeout_ms;
	int timeout_given;
	struct itm_rpc_tls tls;
	int use_tls;
	const struct output *out;
	int want_help;
	int want_version;
	const struct parse_result *res;
};

/*
 * One unary call to @addr (@who is "agent" or "controller", for errors).
 * Prints "itmctl: CMD: agent at ADDR: CODE: message" and returns ITMCTL_EXIT_ERR
 * on failure; on ITMCTL_EXIT_OK *@reply is the caller's to free.
 */
int itmctl_call(struct itmctl *ic, const char *who, const char *addr,
		enum itm_method method, const ProtobufCMessage *req,
		ProtobufCMessage **reply);

/* itmctl_call() to the agent (--agent) or to the controller. */
int itmctl_agent_call(struct itmctl *ic, enum itm_method method,
		      const ProtobufCMessage *req, ProtobufCMessage **reply);
int itmctl_controller_call(struct itmctl *ic, enum itm_method method,
			   const ProtobufCMessage *req,
			   ProtobufCMessage **reply);

/* itmctl_call() without the printing: the status is left in @st, and
 * with @faults (may be NULL) the faults of a refused topology, if the
 * controller sent them (the caller frees them). */
int itmctl_call_status(struct itmctl *ic, const char *who, const char *addr,
		       enum itm_method method, const ProtobufCMessage *req,
		       ProtobufCMessage **reply, struct itm_rpc_status *st,
		       Itm__V1__TopologyFaults **faults);
/* How itmctl_call() reports a failed call, with a hint when the controller
 * cannot be reached. */
void itmctl_print_failure(struct itmctl *ic, const char *who, const char *addr,
			  const struct itm_rpc_status *st);

/* itmctl_agent.c: commands that talk to one agent. */
int cmd_status(struct itmctl *ic, const struct parse_result *res);
int cmd_module_load(struct itmctl *ic, const struct parse_result *res);
int cmd_module_unload(struct itmctl *ic, const struct parse_result *res);
int cmd_module_list(struct itmctl *ic, const struct parse_result *res);
int cmd_stats(struct itmctl *ic, const struct parse_result *res);
int cmd_table(struct itmctl *ic, const struct parse_result *res);
int cmd_routes(struct itmctl *ic, const struct parse_result *res);
int cmd_node_routes(struct itmctl *ic, const struct parse_result *res);
int cmd_paths(struct itmctl *ic, const struct parse_result *res);
/* Parameters are "key=value": ITMCTL_EXIT_USAGE with a message if one is not. */
int check_params(const struct parse_result *res);

/* itmctl_controller.c: commands that go through the controller. */
int cmd_nodes(struct itmctl *ic, const struct parse_result *res);
int cmd_controllers(struct itmctl *ic, const struct parse_result *res);
int cmd_node_stats(struct itmctl *ic, const struct parse_result *res);
/* itmctl_tunnels.c: one agent (--agent) or through the controller. */
int cmd_tunnels(struct itmctl *ic, const struct parse_result *res);
int cmd_node_module_load(struct itmctl *ic, const struct parse_result *res);
int cmd_node_module_unload(struct itmctl *ic, const struct parse_result *res);
int cmd_node_module_list(struct itmctl *ic, const struct parse_result *res);

/* itmctl_topology.c: topology apply / show / diff / history / rollback. */
int cmd_topo_apply(struct itmctl *ic, const struct parse_result *res);
int cmd_topo_show(struct itmctl *ic, const struct parse_result *res);
int cmd_topo_diff(struct itmctl *ic, const struct parse_result *res);
int cmd_topo_history(struct itmctl *ic, const struct parse_result *res);
int cmd_topo_rollback(struct itmctl *ic, const struct parse_result *res);

/* itmctl_help.c */
void help_usage(FILE *f);
void help_full(FILE *f);
/* Help for the commands whose words start with @words (all when n is 0). */
int help_topics(const char *const *words, size_t n);

#endif /* ITMCTL_H */
