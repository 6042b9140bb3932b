/*
 * parser.c - itmctl's command grammar as token tables (bgpctl parser.c
 * style).  Each table lists the tokens that may come next; a NOTOKEN entry
 * means the command may end there.  Keywords may be shortened to any
 * unique prefix ("mod lo qosmod").  Words starting with '-' are first
 * offered to the caller's global option handler, so options such as
 * "-o json" work anywhere on the line.
 *
 * To add a command: write its tables bottom-up (a table must be defined
 * before a table that points to it), hook the first one into t_main or a
 * sub-table, give the token that completes it an action from parser.h,
 * and map that action to a function in itmctl.c's command table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

enum token_type {
	NOTOKEN,  /* the command may end here */
	ENDTOKEN, /* end of a table */
	KEYWORD,
	FLAG,  /* keyword that sets dry_run, or watch (--watch) */
	NAME,  /* module name */
	NAME2, /* a second name: the first one was the NODE */
	NODE,
	MODULE, /* argument of --module */
	PARAM,	/* key=value */
	FILENAME,
	GENERATION,
	HELPTOPIC,
};

struct token {
	enum token_type type;
	const char *keyword; /* the keyword, or what to call the argument */
	enum action value;   /* set when this token matches */
	const struct token *next;
};

static const struct token t_end[] = { { NOTOKEN, "", ACT_NONE, NULL },
				      { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_help[] = { { NOTOKEN, "", ACT_NONE, NULL },
				       { HELPTOPIC, "COMMAND", ACT_NONE,
					 t_help },
				       { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_params[] = { { NOTOKEN, "", ACT_NONE, NULL },
					 { PARAM, "key=value", ACT_NONE,
					   t_params },
					 { ENDTOKEN, "", ACT_NONE, NULL } };

/* module load MODULE [k=v...]  |  module load NODE MODULE [k=v...] */
static const struct token t_load2[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ PARAM, "key=value", ACT_NONE, t_params },
	{ NAME2, "MODULE", ACT_NODE_MODULE_LOAD, t_params },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_load[] = { { NAME, "MODULE", ACT_MODULE_LOAD,
					 t_load2 },
				       { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_unload2[] = { { NOTOKEN, "", ACT_NONE, NULL },
					  { NAME2, "MODULE",
					    ACT_NODE_MODULE_UNLOAD, t_end },
					  { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_unload[] = { { NAME, "MODULE", ACT_MODULE_UNLOAD,
					   t_unload2 },
					 { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_list[] = { { NOTOKEN, "", ACT_NONE, NULL },
				       { NODE, "NODE", ACT_NODE_MODULE_LIST,
					 t_end },
				       { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_module[] = {
	{ KEYWORD, "load", ACT_NONE, t_load },
	{ KEYWORD, "unload", ACT_NONE, t_unload },
	{ KEYWORD, "list", ACT_MODULE_LIST, t_list },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

/* stats [--module M]  |  stats NODE [--module M]  |  stats --module M NODE */
static const struct token t_stats_mod_end[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ NODE, "NODE", ACT_NODE_STATS, t_end },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_stats_mod[] = { { MODULE, "MODULE", ACT_NONE,
					      t_stats_mod_end },
					    { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_stats_node_mod[] = {
	{ MODULE, "MODULE", ACT_NONE, t_end },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_stats_node[] = { { NOTOKEN, "", ACT_NONE, NULL },
					     { KEYWORD, "--module", ACT_NONE,
					       t_stats_node_mod },
					     { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_routes[] = { { NOTOKEN, "", ACT_NONE, NULL },
					 { NODE, "NODE", ACT_NODE_ROUTES,
					   t_end },
					 { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_stats[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ KEYWORD, "--module", ACT_NONE, t_stats_mod },
	{ NODE, "NODE", ACT_NODE_STATS, t_stats_node },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

/* tunnels [NODE] [--watch]  |  tunnels --watch [NODE] */
static const struct token t_tunnels_watch[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ FLAG, "--watch", ACT_NONE, t_end },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_tunnels_node[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ NODE, "NODE", ACT_NONE, t_end },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_tunnels[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ FLAG, "--watch", ACT_NONE, t_tunnels_node },
	{ NODE, "NODE", ACT_NONE, t_tunnels_watch },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

/* topology apply [--dry-run] FILE | show [[--generation] GEN] |
 * diff FILE | history | rollback GEN */
static const struct token t_apply_opts[] = { { NOTOKEN, "", ACT_NONE, NULL },
					     { FLAG, "--dry-run", ACT_NONE,
					       t_end },
					     { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_apply_file[] = { { FILENAME, "FILE", ACT_TOPO_APPLY,
					       t_end },
					     { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_apply[] = {
	{ FLAG, "--dry-run", ACT_NONE, t_apply_file },
	{ FILENAME, "FILE", ACT_TOPO_APPLY, t_apply_opts },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_show_gen[] = { { GENERATION, "GENERATION", ACT_NONE,
					     t_end },
					   { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_show[] = {
	{ NOTOKEN, "", ACT_NONE, NULL },
	{ KEYWORD, "--generation", ACT_NONE, t_show_gen },
	{ GENERATION, "GENERATION", ACT_NONE, t_end },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_diff[] = { { FILENAME, "FILE", ACT_TOPO_DIFF,
					 t_end },
				       { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_rollback[] = { { GENERATION, "GENERATION",
					     ACT_TOPO_ROLLBACK, t_end },
					   { ENDTOKEN, "", ACT_NONE, NULL } };

static const struct token t_topology[] = {
	{ KEYWORD, "apply", ACT_NONE, t_apply },
	{ KEYWORD, "show", ACT_TOPO_SHOW, t_show },
	{ KEYWORD, "diff", ACT_NONE, t_diff },
	{ KEYWORD, "history", ACT_TOPO_HISTORY, t_end },
	{ KEYWORD, "rollback", ACT_NONE, t_rollback },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static const struct token t_main[] = {
	{ KEYWORD, "status", ACT_STATUS, t_end },
	{ KEYWORD, "table", ACT_TABLE, t_end },
	{ KEYWORD, "routes", ACT_ROUTES, t_routes },
	{ KEYWORD, "paths", ACT_PATHS, t_end },
	{ KEYWORD, "module", ACT_NONE, t_module },
	{ KEYWORD, "stats", ACT_STATS, t_stats },
	{ KEYWORD, "nodes", ACT_NODES, t_end },
	{ KEYWORD, "controllers", ACT_CONTROLLERS, t_end },
	{ KEYWORD, "tunnels", ACT_TUNNELS, t_tunnels },
	{ KEYWORD, "topology", ACT_NONE, t_topology },
	{ KEYWORD, "help", ACT_HELP, t_help },
	{ ENDTOKEN, "", ACT_NONE, NULL }
};

static int
is_keyword(const struct token *t)
{
	return t->type == KEYWORD || t->type == FLAG;
}

static int
is_number(const char *w)
{
	if (!*w)
		return 0;
	for (; *w; w++)
		if (*w < '0' || *w > '9')
			return 0;
	return 1;
}

/* Does @w fit @t?  Keywords match by prefix here. */
static int
word_fits(const struct token *t, const char *w)
{
	const char *eq = strchr(w, '=');

	switch (t->type) {
	case KEYWORD:
	case FLAG:
		/* "--mod" may stand for "--module", but "-" is no prefix. */
		if (t->keyword[0] == '-' && (strncmp(w, "--", 2) || !w[2]))
			return 0;
		return *w && !strncmp(t->keyword, w, strlen(w));
	case NAME:
	case NAME2:
	case NODE:
	case MODULE: return *w && *w != '-' && !eq;
	case PARAM: return eq && eq != w && *w != '-';
	case FILENAME: return *w && (*w != '-' || !strcmp(w, "-"));
	case GENERATION: return is_number(w);
	case HELPTOPIC: return *w && *w != '-';
	default: return 0;
	}
}

/* "load, unload or list" */
static void
expected(const struct token *table, char *buf, size_t len)
{
	const struct token *t;
	size_t n = 0, i = 0, off = 0;

	for (t = table; t->type != ENDTOKEN; t++)
		n += t->type != NOTOKEN;
	buf[0] = '\0';
	for (t = table; t->type != ENDTOKEN && off < len; t++) {
		if (t->type == NOTOKEN)
			continue;
		i++;
		off += snprintf(buf + off, len - off, "%s%s",
				i == 1	 ? ""
				: i == n ? " or "
					 : ", ",
				t->keyword);
	}
}

static void
where(const struct parse_result *res, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", res->cmd, res->cmd[0] ? ": " : "");
}

/* "status or stats": the keywords starting with @w. */
static void
candidates(const struct token *table, const char *w, char *buf, size_t len)
{
	const struct token *t;
	size_t n = 0, i = 0, off = 0;

	for (t = table; t->type != ENDTOKEN; t++)
		n += is_keyword(t) && word_fits(t, w);
	buf[0] = '\0';
	for (t = table; t->type != ENDTOKEN && off < len; t++) {
		if (!is_keyword(t) || !word_fits(t, w))
			continue;
		i++;
		off += snprintf(buf + off, len - off, "%s%s",
				i == 1	 ? ""
				: i == n ? " or "
					 : ", ",
				t->keyword);
	}
}

/* Exact keyword, else unique keyword prefix, else the first argument. */
static const struct token *
match(const struct token *table, const char *w, const struct parse_result *res,
      char *err, size_t errlen)
{
	const struct token *t, *kw = NULL, *arg = NULL;
	char exp[160], at[80];
	int n_kw = 0;

	for (t = table; t->type != ENDTOKEN; t++) {
		if (is_keyword(t) && !strcmp(t->keyword, w))
			return t;
		if (!word_fits(t, w))
			continue;
		if (is_keyword(t)) {
			kw = t;
			n_kw++;
		} else if (!arg) {
			arg = t;
		}
	}
	if (n_kw == 1)
		return kw;
	where(res, at, sizeof(at));
	expected(table, exp, sizeof(exp));
	if (n_kw > 1) {
		candidates(table, w, exp, sizeof(exp));
		snprintf(err, errlen, "%sambiguous '%s': %s", at, w, exp);
	} else if (arg)
		return arg;
	else if (w[0] == '-' && w[1])
		snprintf(err, errlen, "%sunknown option '%s'", at, w);
	else if (table == t_main)
		snprintf(err, errlen,
			 "unknown command '%s' (try 'itmctl help')", w);
	else if (table == t_end)
		snprintf(err, errlen, "%sunexpected '%s'", at, w);
	else
		snprintf(err, errlen, "%sunexpected '%s'; expected %s", at, w,
			 exp);
	return NULL;
}

static void
cmd_append(struct parse_result *res, const char *kw)
{
	size_t off = strlen(res->cmd);

	snprintf(res->cmd + off, sizeof(res->cmd) - off, "%s%s", off ? " " : "",
		 kw);
}

static int
apply(const struct token *t, const char *w, struct parse_result *res, char *err,
      size_t errlen)
{
	switch (t->type) {
	case KEYWORD:
		if (t->keyword[0] != '-')
			cmd_append(res, t->keyword);
		break;
	case FLAG:
		if (strcmp(t->keyword, "--watch") == 0)
			res->watch = 1;
		else
			res->dry_run = 1;
		break;
	case NAME: res->name = w; break;
	case NAME2:
		res->node = res->name;
		res->name = w;
		break;
	case NODE: res->node = w; break;
	case MODULE: res->module = w; break;
	case PARAM:
		if (res->n_params == PARSE_MAX_PARAMS) {
			snprintf(err, errlen, "%s: more than %d parameters",
				 res->cmd, PARSE_MAX_PARAMS);
			return -1;
		}
		res->params[res->n_params++] = w;
		break;
	case FILENAME: res->file = w; break;
	case GENERATION:
		errno = 0;
		res->generation = strtoull(w, NULL, 10);
		if (errno || res->generation == 0) {
			snprintf(err, errlen, "%s: bad generation '%s'",
				 res->cmd, w);
			return -1;
		}
		break;
	case HELPTOPIC:
		if (res->n_help == PARSE_MAX_HELP) {
			snprintf(err, errlen, "help: too many words");
			return -1;
		}
		res->help[res->n_help++] = w;
		break;
	default: break;
	}
	if (t->value != ACT_NONE)
		res->action = t->value;
	return 0;
}

static int
may_end(const struct token *table)
{
	for (; table->type != ENDTOKEN; table++)
		if (table->type == NOTOKEN)
			return 1;
	return 0;
}

/* The words ran out in @table: say what was missing. */
static int
incomplete(const struct token *table, const struct parse_result *res, char *err,
	   size_t errlen)
{
	char exp[160];

	expected(table, exp, sizeof(exp));
	if (table[0].type != KEYWORD)
		snprintf(err, errlen, "%s: missing %s", res->cmd, exp);
	else
		snprintf(err, errlen, "%s: expected %s", res->cmd, exp);
	return -1;
}

int
parse(int argc, char **argv, struct parse_result *res, parse_opt_cb opt,
      void *opt_arg, char *err, size_t errlen)
{
	const struct token *table = t_main, *t;
	int i = 0, n;

	memset(res, 0, sizeof(*res));
	while (i < argc) {
		const char *w = argv[i];

		if (opt && w[0] == '-' && w[1]) {
			n = opt(opt_arg, argc - i, argv + i, err, errlen);
			if (n < 0)
				return -1;
			if (n > 0) {
				i += n;
				continue;
			}
		}
		t = match(table, w, res, err, errlen);
		if (!t || apply(t, w, res, err, errlen))
			return -1;
		table = t->next ? t->next : t_end;
		i++;
	}
	if (table != t_main && !may_end(table))
		return incomplete(table, res, err, errlen);
	return 0;
}
