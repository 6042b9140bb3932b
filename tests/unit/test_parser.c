/*
 * test_parser.c - itmctl's command grammar (controller/parser.c): command
 * lines in, parse results or error messages out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parser.h"

struct opts {
	const char *output;
	int n_seen;
};

/* A stand-in global option handler: "-o X" and "--agent X". */
static int
opt_cb(void *arg, int argc, char **argv, char *err, size_t len)
{
	struct opts *o = arg;

	if (strcmp(argv[0], "-o") && strcmp(argv[0], "--agent"))
		return 0;
	if (argc < 2) {
		snprintf(err, len, "option %s needs a value", argv[0]);
		return -1;
	}
	if (!strcmp(argv[0], "-o"))
		o->output = argv[1];
	o->n_seen++;
	return 2;
}

/* Split @line on spaces into @argv (kept in @buf). */
static int
split(const char *line, char *buf, size_t len, char **argv)
{
	int n = 0;

	snprintf(buf, len, "%s", line);
	for (char *save, *w = strtok_r(buf, " ", &save); w;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	return n;
}

static int
run(const char *line, struct parse_result *res, struct opts *o, char *err,
    size_t errlen)
{
	static char buf[512];
	static char *argv[64];
	int argc = split(line, buf, sizeof(buf), argv);

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	return parse(argc, argv, res, opt_cb, o, err, errlen);
}

static const char *
str(const char *s)
{
	return s ? s : "(null)";
}

static void
test_grammar(void **state)
{
	static const struct {
		const char *line;
		enum action action;
		const char *cmd, *node, *name, *module;
		size_t n_params;
	} cases[] = {
		{ "status", ACT_STATUS, "status", NULL, NULL, NULL, 0 },
		{ "statu", ACT_STATUS, "status", NULL, NULL, NULL, 0 },
		{ "stats --mod q", ACT_STATS, "stats", NULL, NULL, "q", 0 },
		{ "module load qosmod", ACT_MODULE_LOAD, "module load", NULL,
		  "qosmod", NULL, 0 },
		{ "mod lo qosmod threshold=20 classes=3", ACT_MODULE_LOAD,
		  "module load", NULL, "qosmod", NULL, 2 },
		{ "module load n1 qosmod threshold=20", ACT_NODE_MODULE_LOAD,
		  "module load", "n1", "qosmod", NULL, 1 },
		{ "module unload qosmod", ACT_MODULE_UNLOAD, "module unload",
		  NULL, "qosmod", NULL, 0 },
		{ "module unload n1 qosmod", ACT_NODE_MODULE_UNLOAD,
		  "module unload", "n1", "qosmod", NULL, 0 },
		{ "module list", ACT_MODULE_LIST, "module list", NULL, NULL,
		  NULL, 0 },
		{ "module list n2", ACT_NODE_MODULE_LIST, "module list", "n2",
		  NULL, NULL, 0 },
		{ "stats", ACT_STATS, "stats", NULL, NULL, NULL, 0 },
		{ "stats --module qosmod", ACT_STATS, "stats", NULL, NULL,
		  "qosmod", 0 },
		{ "stats n1", ACT_NODE_STATS, "stats", "n1", NULL, NULL, 0 },
		{ "stats n1 --module qosmod", ACT_NODE_STATS, "stats", "n1",
		  NULL, "qosmod", 0 },
		{ "stats --module qosmod n1", ACT_NODE_STATS, "stats", "n1",
		  NULL, "qosmod", 0 },
		{ "nodes", ACT_NODES, "nodes", NULL, NULL, NULL, 0 },
		{ "topology history", ACT_TOPO_HISTORY, "topology history",
		  NULL, NULL, NULL, 0 },
		{ "topo sh", ACT_TOPO_SHOW, "topology show", NULL, NULL, NULL,
		  0 },
		{ "topology show --generation 3", ACT_TOPO_SHOW,
		  "topology show", NULL, NULL, NULL, 0 },
		{ "table", ACT_TABLE, "table", NULL, NULL, NULL, 0 },
		{ "help", ACT_HELP, "help", NULL, NULL, NULL, 0 },
	};
	struct parse_result res;
	struct opts o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run(cases[i].line, &res, &o, err, sizeof(err));

		if (rc)
			fprintf(stderr, "'%s': %s\n", cases[i].line, err);
		assert_int_equal(rc, 0);
		assert_int_equal(res.action, cases[i].action);
		assert_string_equal(res.cmd, cases[i].cmd);
		assert_string_equal(str(res.node), str(cases[i].node));
		assert_string_equal(str(res.name), str(cases[i].name));
		assert_string_equal(str(res.module), str(cases[i].module));
		assert_int_equal(res.n_params, cases[i].n_params);
	}
}

static void
test_arguments(void **state)
{
	struct parse_result res;
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(run("module load qosmod a=1 b=x=y", &res, &o, err,
			     sizeof(err)),
			 0);
	assert_string_equal(res.params[0], "a=1");
	assert_string_equal(res.params[1], "b=x=y");
	assert_int_equal(run("topology apply --dry-run topo.yaml", &res, &o,
			     err, sizeof(err)),
			 0);
	assert_int_equal(res.action, ACT_TOPO_APPLY);
	assert_string_equal(res.file, "topo.yaml");
	assert_int_equal(res.dry_run, 1);
	assert_int_equal(run("topology apply - --dry-run", &res, &o, err,
			     sizeof(err)),
			 0);
	assert_string_equal(res.file, "-");
	assert_int_equal(res.dry_run, 1);
	assert_int_equal(run("topology rollback 12", &res, &o, err,
			     sizeof(err)),
			 0);
	assert_int_equal(res.action, ACT_TOPO_ROLLBACK);
	assert_int_equal(res.generation, 12);
	assert_int_equal(run("topology show --generation 4", &res, &o, err,
			     sizeof(err)),
			 0);
	assert_int_equal(res.action, ACT_TOPO_SHOW);
	assert_int_equal(res.generation, 4);
	assert_int_equal(run("topology show 5", &res, &o, err, sizeof(err)), 0);
	assert_int_equal(res.generation, 5);
	assert_int_equal(run("help module load", &res, &o, err, sizeof(err)),
			 0);
	assert_int_equal(res.n_help, 2);
	assert_string_equal(res.help[1], "load");
}

/* Global options are taken wherever they are. */
static void
test_options_anywhere(void **state)
{
	struct parse_result res;
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(
		run("-o json module --agent /x load qosmod k=v -o table", &res,
		    &o, err, sizeof(err)),
		0);
	assert_int_equal(res.action, ACT_MODULE_LOAD);
	assert_string_equal(o.output, "table");
	assert_int_equal(o.n_seen, 3);
	assert_int_equal(res.n_params, 1);
	assert_int_equal(run("", &res, &o, err, sizeof(err)), 0);
	assert_int_equal(res.action, ACT_NONE);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *line, *err;
	} cases[] = {
		{ "bogus", "unknown command 'bogus' (try 'itmctl help')" },
		{ "s", "ambiguous 's': status or stats" },
		{ "stat", "ambiguous 'stat': status or stats" },
		{ "stats --", "stats: unknown option '--'" },
		{ "module", "module: expected load, unload or list" },
		{ "module x",
		  "module: unexpected 'x'; expected load, unload or list" },
		{ "module load", "module load: missing MODULE" },
		{ "module load q =v", "module load: unexpected '=v'; expected "
				      "key=value or MODULE" },
		{ "module load n1 q k=v extra",
		  "module load: unexpected 'extra'; "
		  "expected key=value" },
		{ "module unload a b c", "module unload: unexpected 'c'" },
		{ "status now", "status: unexpected 'now'" },
		{ "stats --module", "stats: missing MODULE" },
		{ "stats --bogus", "stats: unknown option '--bogus'" },
		{ "topology rollback",
		  "topology rollback: missing GENERATION" },
		{ "topology rollback 0",
		  "topology rollback: bad generation '0'" },
		{ "topology rollback x", "topology rollback: unexpected 'x'; "
					 "expected GENERATION" },
		{ "topology apply",
		  "topology apply: missing --dry-run or FILE" },
		{ "status -o", "option -o needs a value" },
	};
	struct parse_result res;
	struct opts o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(cases[i].line, &res, &o, err, sizeof(err)),
				 -1);
		assert_string_equal(err, cases[i].err);
	}
}

static void
test_too_many_params(void **state)
{
	char line[2048] = "module load q";
	struct parse_result res;
	struct opts o;
	char err[256];
	static char buf[2048];
	static char *argv[PARSE_MAX_PARAMS + 8];
	int argc;

	(void)state;
	for (int i = 0; i <= PARSE_MAX_PARAMS; i++)
		strcat(line, " k=v");
	argc = split(line, buf, sizeof(buf), argv);
	assert_int_equal(parse(argc, argv, &res, opt_cb, &o, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "module load: more than 64 parameters");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_options_anywhere),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
