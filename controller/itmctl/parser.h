/*
 * parser.h - itmctl's command line grammar, as tables of tokens (in the
 * style of bgpctl's parser.c): each table lists what may come next, each
 * matched token may set the action and fills one field of the result.
 */
#ifndef ITMCTL_PARSER_H
#define ITMCTL_PARSER_H

#include <stddef.h>
#include <stdint.h>

enum action {
	ACT_NONE,
	ACT_HELP,
	/* Talk to one agent directly. */
	ACT_STATUS,
	ACT_MODULE_LOAD,
	ACT_MODULE_UNLOAD,
	ACT_MODULE_LIST,
	ACT_STATS,
	ACT_TABLE,
	ACT_ROUTES,
	ACT_NODE_ROUTES,
	ACT_PATHS,
	/* Through the controller. */
	ACT_NODES,
	ACT_CONTROLLERS,
	ACT_TOPO_APPLY,
	ACT_TOPO_SHOW,
	ACT_TOPO_DIFF,
	ACT_TOPO_HISTORY,
	ACT_TOPO_ROLLBACK,
	ACT_NODE_STATS,
	ACT_NODE_MODULE_LOAD,
	ACT_NODE_MODULE_UNLOAD,
	ACT_NODE_MODULE_LIST,
	/* Either: one agent with --agent, else the controller. */
	ACT_TUNNELS,
	ACT_MAX
};

#define PARSE_MAX_PARAMS 64
#define PARSE_MAX_HELP	 4

/* Every pointer points into the argv given to parse(). */
struct parse_result {
	enum action action;
	char cmd[64]; /* matched keywords: "module load" */
	const char *node;
	const char *name;    /* module name */
	const char *module;  /* --module filter */
	const char *file;    /* topology apply / diff */
	uint64_t generation; /* topology show / rollback, 0 = none */
	int dry_run;	     /* topology apply --dry-run */
	int watch;	     /* tunnels --watch */
	const char *params[PARSE_MAX_PARAMS]; /* "key=value" */
	size_t n_params;
	const char *help[PARSE_MAX_HELP]; /* help TOPIC... */
	size_t n_help;
};

/*
 * Options allowed anywhere on the line (--agent, -o...).  Called for every
 * word starting with '-'; returns how many words it used (1 or 2), 0 when
 * the word is not a global option, or -1 with a message in @err.
 */
typedef int (*parse_opt_cb)(void *arg, int argc, char **argv, char *err,
			    size_t errlen);

/* 0, or -1 with a one-line message in @err (a usage error). */
int parse(int argc, char **argv, struct parse_result *res, parse_opt_cb opt,
	  void *opt_arg, char *err, size_t errlen);

#endif /* ITMCTL_PARSER_H */
