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
#define CTL_OK		0
#define CTL_ERR		1	/* unreachable, or the server said no */
#define CTL_USAGE	2

#define CTL_DEFAULT_AGENT	"unix:/run/itm/agent.sock"
#define CTL_DEFAULT_CONTROLLER	"127.0.0.1:7700"
#define CTL_DEFAULT_TIMEOUT	5000

struct ctl {
	char agent[256];		/* normalised: "/x" becomes "unix:/x" */
	char controller[256];
	int timeout_ms;
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
	     const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *reply_desc,
	     ProtobufCMessage **reply);

/* itmctl_agent.c: commands that talk to one agent. */
int cmd_status(struct ctl *ctl, const struct parse_result *res);
int cmd_module_load(struct ctl *ctl, const struct parse_result *res);
int cmd_module_unload(struct ctl *ctl, const struct parse_result *res);
int cmd_module_list(struct ctl *ctl, const struct parse_result *res);
int cmd_stats(struct ctl *ctl, const struct parse_result *res);

/* itmctl_help.c */
void help_usage(FILE *f);
void help_full(FILE *f);
/* Help for the commands whose words start with @words (all when n is 0). */
int help_topics(const char *const *words, size_t n);

#endif /* ITMCTL_H */
