/*
 * itmctl.h - what itmctl's files share: the run context built from the
 * options, the RPC helper that prints errors, and the command functions
 * the dispatch table in itmctl.c points to.
 */
#ifndef ITMCTL_H
#define ITMCTL_H

#include <stdio.h>

#include "itm_rpc.h"
#include "output.h"
#include "parser.h"

/* Exit codes. */
#define CTL_OK	    0
#define CTL_ERR	    1 /* unreachable, or the server said no */
#define CTL_USAGE   2
#define CTL_PARTIAL 3 /* done, but some nodes were not reached */

#define CTL_DEFAULT_AGENT      "unix:/run/itm/agent.sock"
#define CTL_DEFAULT_CONTROLLER "127.0.0.1:7700"
#define CTL_DEFAULT_TIMEOUT    5000
#define CTL_APPLY_TIMEOUT      30000 /* apply and rollback push to nodes */

struct ctl {
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
 * Prints "itmctl: CMD: agent at ADDR: CODE: message" and returns CTL_ERR
 * on failure; on CTL_OK *@reply is the caller's to free.
 */
int ctl_call(struct ctl *ctl, const char *who, const char *addr,
	     enum itm_method method, const ProtobufCMessage *req,
	     ProtobufCMessage **reply);

/* ctl_call() without the printing: the status is left in @st. */
int ctl_call_status(struct ctl *ctl, const char *who, const char *addr,
		    enum itm_method method, const ProtobufCMessage *req,
		    ProtobufCMessage **reply, struct itm_rpc_status *st);
/* How ctl_call() reports a failed call, with a hint when the controller
 * cannot be reached. */
void ctl_print_failure(struct ctl *ctl, const char *who, const char *addr,
		       const struct itm_rpc_status *st);

/* itmctl_agent.c: commands that talk to one agent. */
int cmd_status(struct ctl *ctl, const struct parse_result *res);
int cmd_module_load(struct ctl *ctl, const struct parse_result *res);
int cmd_module_unload(struct ctl *ctl, const struct parse_result *res);
int cmd_module_list(struct ctl *ctl, const struct parse_result *res);
int cmd_stats(struct ctl *ctl, const struct parse_result *res);
int cmd_table(struct ctl *ctl, const struct parse_result *res);
/* Parameters are "key=value": CTL_USAGE with a message if one is not. */
int check_params(const struct parse_result *res);

/* itmctl_controller.c: commands that go through the controller. */
int cmd_nodes(struct ctl *ctl, const struct parse_result *res);
int cmd_node_stats(struct ctl *ctl, const struct parse_result *res);
int cmd_node_module_load(struct ctl *ctl, const struct parse_result *res);
int cmd_node_module_unload(struct ctl *ctl, const struct parse_result *res);
int cmd_node_module_list(struct ctl *ctl, const struct parse_result *res);

/* itmctl_topology.c: topology apply / show / diff / history / rollback. */
int cmd_topo_apply(struct ctl *ctl, const struct parse_result *res);
int cmd_topo_show(struct ctl *ctl, const struct parse_result *res);
int cmd_topo_diff(struct ctl *ctl, const struct parse_result *res);
int cmd_topo_history(struct ctl *ctl, const struct parse_result *res);
int cmd_topo_rollback(struct ctl *ctl, const struct parse_result *res);

/* itmctl_help.c */
void help_usage(FILE *f);
void help_full(FILE *f);
/* Help for the commands whose words start with @words (all when n is 0). */
int help_topics(const char *const *words, size_t n);

#endif /* ITMCTL_H */
