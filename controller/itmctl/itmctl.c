/*
 * itmctl.c - the operator CLI: global options, the command table and the
 * one RPC helper every command uses.  The grammar lives in parser.c, the
 * commands in itmctl_agent.c (one agent), itmctl_controller.c and
 * itmctl_topology.c (through the controller), output in output*.c.
 *
 * Exit status: 0 success, 1 RPC or server error, 2 usage error, 3 done
 * but some nodes could not be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/support/log.h>

#include "itm_fields.h"
#include "itmctl.h"

#ifndef ITM_VERSION
#define ITM_VERSION "unknown"
#endif

/* What runs each action (see parser.c for the grammar side). */
static const struct command {
	enum action action;
	int (*run)(struct itmctl *ic, const struct parse_result *res);
} commands[] = {
	{ ACT_STATUS, cmd_status },
	{ ACT_MODULE_LOAD, cmd_module_load },
	{ ACT_MODULE_UNLOAD, cmd_module_unload },
	{ ACT_MODULE_LIST, cmd_module_list },
	{ ACT_STATS, cmd_stats },
	{ ACT_TABLE, cmd_table },
	{ ACT_ROUTES, cmd_routes },
	{ ACT_NODE_ROUTES, cmd_node_routes },
	{ ACT_PATHS, cmd_paths },
	{ ACT_NODES, cmd_nodes },
	{ ACT_CONTROLLERS, cmd_controllers },
	{ ACT_TOPO_APPLY, cmd_topo_apply },
	{ ACT_TOPO_SHOW, cmd_topo_show },
	{ ACT_TOPO_DIFF, cmd_topo_diff },
	{ ACT_TOPO_HISTORY, cmd_topo_history },
	{ ACT_TOPO_ROLLBACK, cmd_topo_rollback },
	{ ACT_NODE_STATS, cmd_node_stats },
	{ ACT_NODE_MODULE_LOAD, cmd_node_module_load },
	{ ACT_NODE_MODULE_UNLOAD, cmd_node_module_unload },
	{ ACT_NODE_MODULE_LIST, cmd_node_module_list },
	{ ACT_TUNNELS, cmd_tunnels },
};

/* ------------------------------------------------------------------ */
/* Global options                                                       */
/* ------------------------------------------------------------------ */

static void
set_addr(char *dst, size_t len, const char *addr)
{
	snprintf(dst, len, "%s%s", addr[0] == '/' ? "unix:" : "", addr);
}

static int
opt_agent(struct itmctl *ic, const char *v, char *err, size_t len)
{
	(void)err;
	(void)len;
	set_addr(ic->agent, sizeof(ic->agent), v);
	ic->agent_given = 1;
	return 0;
}

static int
opt_controller(struct itmctl *ic, const char *v, char *err, size_t len)
{
	(void)err;
	(void)len;
	set_addr(ic->controller, sizeof(ic->controller), v);
	ic->controller_from = "--controller";
	return 0;
}

static int
opt_output(struct itmctl *ic, const char *v, char *err, size_t len)
{
	if (!strcmp(v, "table"))
		ic->out = &output_table;
	else if (!strcmp(v, "json"))
		ic->out = &output_json;
	else {
		snprintf(err, len, "-o: unknown format '%s' (table or json)",
			 v);
		return -1;
	}
	return 0;
}

static int
opt_timeout(struct itmctl *ic, const char *v, char *err, size_t len)
{
	char *end;
	long ms;

	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno || *end || end == v || ms <= 0 || ms > 3600 * 1000) {
		snprintf(err, len,
			 "--timeout: not a number of milliseconds "
			 "(1 to 3600000): '%s'",
			 v);
		return -1;
	}
	ic->timeout_ms = ms;
	ic->timeout_given = 1;
	return 0;
}

static int
opt_tls(struct itmctl *ic, const char *name, const char *v, const char **slot,
	char *err, size_t len)
{
	if (access(v, R_OK) < 0) {
		snprintf(err, len, "--%s: %s: %s", name, v, strerror(errno));
		return -1;
	}
	*slot = v;
	ic->use_tls = 1;
	return 0;
}

static int
opt_tls_ca(struct itmctl *ic, const char *v, char *err, size_t len)
{
	return opt_tls(ic, "tls-ca", v, &ic->tls.ca_file, err, len);
}

static int
opt_tls_cert(struct itmctl *ic, const char *v, char *err, size_t len)
{
	return opt_tls(ic, "tls-cert", v, &ic->tls.cert_file, err, len);
}

static int
opt_tls_key(struct itmctl *ic, const char *v, char *err, size_t len)
{
	return opt_tls(ic, "tls-key", v, &ic->tls.key_file, err, len);
}

static int
opt_tls_name(struct itmctl *ic, const char *v, char *err, size_t len)
{
	(void)err;
	(void)len;
	ic->tls.server_name = v;
	return 0;
}

static int
opt_help(struct itmctl *ic, const char *v, char *err, size_t len)
{
	(void)v;
	(void)err;
	(void)len;
	ic->want_help = 1;
	return 0;
}

static int
opt_version(struct itmctl *ic, const char *v, char *err, size_t len)
{
	(void)v;
	(void)err;
	(void)len;
	ic->want_version = 1;
	return 0;
}

static const struct option_def {
	const char *name;
	char letter;
	int has_arg;
	int (*set)(struct itmctl *ic, const char *v, char *err, size_t len);
} options[] = {
	{ "agent", 0, 1, opt_agent },
	{ "controller", 0, 1, opt_controller },
	{ "output", 'o', 1, opt_output },
	{ "timeout", 0, 1, opt_timeout },
	{ "tls-ca", 0, 1, opt_tls_ca },
	{ "tls-cert", 0, 1, opt_tls_cert },
	{ "tls-key", 0, 1, opt_tls_key },
	{ "tls-name", 0, 1, opt_tls_name },
	{ "help", 'h', 0, opt_help },
	{ "version", 'V', 0, opt_version },
};

/* @w is "--name", "--name=value", "-x" or "-xvalue"; *@inline_v is set to
 * the value given in the same word, if any. */
static const struct option_def *
find_option(const char *w, const char **inline_v)
{
	*inline_v = NULL;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option_def *o = &options[i];
		size_t n = strlen(o->name);

		if (w[1] == '-' && !strncmp(w + 2, o->name, n) &&
		    (w[2 + n] == '\0' || (w[2 + n] == '=' && o->has_arg))) {
			*inline_v = w[2 + n] ? w + 3 + n : NULL;
			return o;
		}
		if (w[1] != '-' && o->letter && w[1] == o->letter &&
		    (w[2] == '\0' || o->has_arg)) {
			*inline_v = w[2] ? w + 2 : NULL;
			return o;
		}
	}
	return NULL;
}

/* parse_opt_cb: a global option, wherever it appears. */
static int
global_option(void *arg, int argc, char **argv, char *err, size_t len)
{
	const struct option_def *o;
	const char *v;

	o = find_option(argv[0], &v);
	if (!o)
		return 0;
	if (o->has_arg && !v && argc < 2) {
		snprintf(err, len, "option %s needs a value", argv[0]);
		return -1;
	}
	if (o->has_arg && !v)
		return o->set(arg, argv[1], err, len) ? -1 : 2;
	return o->set(arg, v, err, len) ? -1 : 1;
}

/* ------------------------------------------------------------------ */
/* RPC                                                                  */
/* ------------------------------------------------------------------ */

/* The server's message, one line per line it has (a controller's list of
 * topology errors is one message). */
void
itmctl_print_failure(struct itmctl *ic, const char *who, const char *addr,
		     const struct itm_rpc_status *st)
{
	static char m[4 * ITM_RPC_MSG_MAX];

	itm_text_escape_lines(st->message, m, sizeof(m));
	fprintf(stderr, "itmctl: %s: %s at %s: %s", ic->res->cmd, who, addr,
		itm_rpc_code_name(st->code));
	if (!strchr(m, '\n'))
		fprintf(stderr, "%s%s\n", *m ? ": " : "", m);
	else
		fprintf(stderr, ":\n%s%s", m,
			m[strlen(m) - 1] == '\n' ? "" : "\n");
	if (st->code == ITM_RPC_UNAVAILABLE && !strcmp(who, "controller"))
		fprintf(stderr,
			"itmctl: is itm-controller running at %s (the "
			"address from %s)?  Give its address with "
			"--controller ADDR or ITM_CONTROLLER.\n",
			addr, ic->controller_from);
}

int
itmctl_call_status(struct itmctl *ic, const char *who, const char *addr,
		   enum itm_method method, const ProtobufCMessage *req,
		   ProtobufCMessage **reply, struct itm_rpc_status *st,
		   Itm__V1__TopologyFaults **faults)
{
	struct itm_rpc_client *c;
	int rc;

	rc = itm_rpc_client_new(&c, addr, ic->use_tls ? &ic->tls : NULL);
	if (rc) {
		st->code = ITM_RPC_INTERNAL;
		snprintf(st->message, sizeof(st->message), "%s", strerror(-rc));
		return ITMCTL_EXIT_ERR;
	}
	rc = itm_rpc_call_detail(c, method, req, reply, ic->timeout_ms, st,
				 &itm__v1__topology_faults__descriptor,
				 (ProtobufCMessage **)faults);
	itm_rpc_client_free(c);
	return rc ? ITMCTL_EXIT_ERR : ITMCTL_EXIT_OK;
}

int
itmctl_call(struct itmctl *ic, const char *who, const char *addr,
	    enum itm_method method, const ProtobufCMessage *req,
	    ProtobufCMessage **reply)
{
	struct itm_rpc_status st;
	int rc;

	rc = itmctl_call_status(ic, who, addr, method, req, reply, &st, NULL);
	if (rc)
		itmctl_print_failure(ic, who, addr, &st);
	return rc;
}

int
itmctl_agent_call(struct itmctl *ic, enum itm_method method,
		  const ProtobufCMessage *req, ProtobufCMessage **reply)
{
	return itmctl_call(ic, "agent", ic->agent, method, req, reply);
}

int
itmctl_controller_call(struct itmctl *ic, enum itm_method method,
		       const ProtobufCMessage *req, ProtobufCMessage **reply)
{
	return itmctl_call(ic, "controller", ic->controller, method, req,
			   reply);
}

/* gRPC logs its own view of failures to stderr; ours is clearer. */
static void
quiet_log(gpr_log_func_args *args)
{
	(void)args;
}

static void
itmctl_init(struct itmctl *ic)
{
	const char *a = getenv("ITM_AGENT"), *c = getenv("ITM_CONTROLLER");

	memset(ic, 0, sizeof(*ic));
	set_addr(ic->agent, sizeof(ic->agent),
		 a && *a ? a : ITMCTL_AGENT_DEFAULT);
	set_addr(ic->controller, sizeof(ic->controller),
		 c && *c ? c : ITM_CONTROLLER_ADDR_DEFAULT);
	ic->agent_given = a && *a;
	ic->controller_from = c && *c ? "ITM_CONTROLLER" : "the default";
	ic->timeout_ms = ITMCTL_TIMEOUT_MS;
	ic->out = &output_table;
	if (!getenv("GRPC_VERBOSITY"))
		gpr_set_log_function(quiet_log);
}

/* --help after (part of) a command: help for what was typed so far. */
static int
help_for(const struct parse_result *res)
{
	char buf[sizeof(res->cmd)], *save, *w;
	const char *words[8];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", res->cmd);
	for (w = strtok_r(buf, " ", &save); w && n < 8;
	     w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	return help_topics(words, n);
}

static int
run(struct itmctl *ic, const struct parse_result *res)
{
	if (res->action == ACT_HELP)
		return help_topics(res->help, res->n_help);
	if (ic->use_tls && (!ic->tls.cert_file != !ic->tls.key_file)) {
		fprintf(stderr,
			"itmctl: --tls-cert and --tls-key go together\n");
		return ITMCTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].action == res->action)
			return commands[i].run(ic, res);
	}
	help_usage(stderr);
	return ITMCTL_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	struct parse_result res;
	struct itmctl ic;
	char err[256];
	int rc;

	itmctl_init(&ic);
	rc = parse(argc - 1, argv + 1, &res, global_option, &ic, err,
		   sizeof(err));
	ic.res = &res;
	if (ic.want_version) {
		printf("itmctl %s\n", ITM_VERSION);
		return ITMCTL_EXIT_OK;
	}
	if (ic.want_help)
		return help_for(&res) == ITMCTL_EXIT_OK ? ITMCTL_EXIT_OK
							: ITMCTL_EXIT_USAGE;
	if (rc) {
		fprintf(stderr, "itmctl: %s\n", err);
		return ITMCTL_EXIT_USAGE;
	}
	return run(&ic, &res);
}
