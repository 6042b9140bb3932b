/*
 * test_store.c - the controller's SQLite store, checked through its API
 * and by reading the database file with SQLite directly: schema and
 * pragmas, refusal of foreign or newer databases, generations and their
 * YAML, per-node table generations across applies and rollbacks, agent
 * liveness, module placements and the migration that added them, and
 * atomicity of an apply under kill -9.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

static char dir[] = "/tmp/itm-test-store-XXXXXX";
static char db[160];
static int seq;

/* A fresh database path for each test. */
static int
fresh_db(void **state)
{
	snprintf(db, sizeof(db), "%s/t%d.db", dir, ++seq);
	return 0;
}

/* One integer from @sql on its own connection to the file. */
static long long
sql_int(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static char *
sql_text(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	char *v = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static struct store *
open_ok(void)
{
	struct store *st;
	char err[256];

	if (store_open(&st, db, err, sizeof(err)) != 0)
		fail_msg("store_open: %s", err);
	return st;
}

/* Square n1..n4 (plus n5 alone); @cost34 varies one link. */
static char *
square(const char *cost34)
{
	char *y;

	assert_true(
		asprintf(
			&y,
			"comment: square\n"
			"nodes:\n"
			"  - {name: n1, mgmt: 10.99.0.1:7701, overlay: 10.200.0.1,"
			" labels: {site: east, role: edge},"
			" modules: [{name: qosmod, params: {threshold: 20}}]}\n"
			"  - {name: n2, mgmt: 10.99.0.2:7701, overlay: 10.200.0.2}\n"
			"  - {name: n3, mgmt: 10.99.0.3:7701, overlay: 10.200.0.3}\n"
			"  - {name: n4, mgmt: 10.99.0.4:7701, overlay: 10.200.0.4}\n"
			"  - {name: n5, mgmt: 10.99.0.5:7701, overlay: 10.200.0.5}\n"
			"links:\n"
			"  - {between: [n1, n2], cost: 10, bandwidth: 100mbit}\n"
			"  - {between: [n2, n3], cost: 10}\n"
			"  - {between: [n3, n4], cost: %s}\n"
			"  - {between: [n4, n1], cost: 10}\n",
			cost34) > 0);
	return y;
}

static uint64_t
apply_ok(struct store *st, const char *yaml)
{
	struct topo_errors errs;
	uint64_t gen = 0;

	topo_errors_init(&errs);
	if (store_apply(st, yaml, strlen(yaml), "sq.yaml", NULL, 0, &errs,
			&gen) != 0) {
		topo_errors_print(&errs, stderr);
		fail_msg("apply: %s", store_errmsg(st));
	}
	return gen;
}

static void
schema_and_pragmas(void **state)
{
	struct store *st = open_ok();
	char *mode;

	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
	assert_int_equal(sql_int("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int("PRAGMA application_id"), 0x49544d31);
	mode = sql_text("PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(sql_int("SELECT count(*) FROM sqlite_schema WHERE "
				 "type = 'table' AND name IN ('generations', "
				 "'nodes', 'links', 'node_labels', 'modules', "
				 "'module_params', 'agents')"),
			 7);
	/* Opening again migrates nothing and keeps the version. */
	st = open_ok();
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
}

static void
refuse_foreign(void **state)
{
	struct store *st;
	char err[256];
	sqlite3 *h;
	FILE *f;

	/* Some other application's database. */
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t (x)", 0, 0, 0), 0);
	sqlite3_close(h);
	assert_int_equal(store_open(&st, db, err, sizeof(err)), -EBADMSG);
	assert_null(st);
	assert_non_null(strstr(err, "not an itm-controller database"));
	/* Not a database at all. */
	f = fopen(db, "w");
	fputs("this is not SQLite, just text that is long enough to have a "
	      "header of one hundred bytes or so, which SQLite reads first "
	      "and then refuses.\n",
	      f);
	fclose(f);
	unlink(strcat(strcpy(err, db), "-wal"));
	assert_int_equal(store_open(&st, db, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "not a database"));
	/* A directory that does not exist. */
	assert_int_not_equal(store_open(&st, "/nonexistent/dir/x.db", err,
					sizeof(err)),
			     0);
	assert_non_null(strstr(err, "/nonexistent/dir/x.db: "));
}

static void
refuse_newer(void **state)
{
	struct store *st = open_ok();
	char err[256];
	sqlite3 *h;

	store_close(st);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", 0, 0, 0),
			 0);
	sqlite3_close(h);
	assert_int_equal(store_open(&st, db, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "schema version 99 is newer"));
}

static void
apply_and_read_back(void **state)
{
	struct store *st = open_ok();
	char *y = square("10"), *text;
	struct store_gen *h, info;
	struct topo_config *cfg;
	struct neigh_set *set;
	size_t n, len;
	uint64_t cur;

	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 0);
	assert_int_equal(apply_ok(st, y), 1);
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	/* History and the exact YAML. */
	assert_int_equal(store_history(st, &h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].id, 1);
	assert_int_equal(h[0].n_nodes, 5);
	assert_int_equal(h[0].n_links, 4);
	assert_string_equal(h[0].comment, "square");
	assert_string_equal(h[0].source, "sq.yaml");
	assert_int_equal(h[0].rollback_of, 0);
	assert_int_equal(strlen(h[0].applied_at), 24);
	store_history_free(h, n);
	assert_int_equal(store_yaml(st, 0, &text, &len, &info), 0);
	assert_string_equal(text, y);
	assert_int_equal(len, strlen(y));
	assert_int_equal(strlen(info.sha256), 64);
	free(text);
	free(info.comment);
	free(info.source);
	/* The topology and tables come back from the database. */
	assert_int_equal(store_topology(st, 1, &cfg, &set), 0);
	assert_int_equal(cfg->n_nodes, 5);
	assert_int_equal(set->n, 5);
	neigh_set_free(set);
	topo_config_free(cfg);
	assert_int_equal(store_yaml(st, 7, &text, &len, NULL), -ENOENT);
	store_close(st);
	/* The rows, read with SQLite itself. */
	assert_int_equal(sql_int("SELECT bandwidth_kbps FROM links WHERE gen = 1"
				 " AND a = 'n1' AND b = 'n2'"),
			 100000);
	assert_int_equal(sql_int("SELECT count(*) FROM node_labels WHERE gen = 1"
				 " AND node = 'n1'"),
			 2);
	assert_int_equal(sql_int("SELECT count(*) FROM module_params WHERE "
				 "module = 'qosmod' AND key = 'threshold' AND "
				 "value = '20'"),
			 1);
	free(y);
}

/* want_gen of each node n1..n5 as "1 1 2 2 1". */
static void
wants(struct store *st, char *out, size_t len)
{
	struct store_node *v;
	size_t n, o = 0;

	assert_int_equal(store_nodes(st, &v, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%llu", i ? " " : "",
				      (unsigned long long)v[i].want_gen);
	store_nodes_free(v, n);
}

static void
table_generations(void **state)
{
	struct store *st = open_ok();
	char *a = square("10"), *b = square("20"), w[64];
	struct topo_errors errs;
	struct store_gen *h;
	uint64_t gen;
	size_t n;

	topo_errors_init(&errs);
	apply_ok(st, a);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 1 1 1");
	assert_int_equal(apply_ok(st, b), 2); /* n3-n4 cost changed */
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	assert_int_equal(apply_ok(st, b), 3); /* same again: no change */
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	assert_int_equal(store_rollback(st, 1, &errs, &gen), 0);
	assert_int_equal(gen, 4);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 4 4 1");
	assert_int_equal(store_history(st, &h, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(h[3].rollback_of, 1);
	assert_string_equal(h[3].comment, "rollback to generation 1");
	assert_string_equal(h[3].sha256, h[0].sha256);
	store_history_free(h, n);
	assert_int_equal(store_rollback(st, 9, &errs, &gen), -ENOENT);
	assert_int_equal(store_rollback(st, 0, &errs, &gen), -ENOENT);
	assert_int_equal(errs.n, 0);
	store_close(st);
	free(a);
	free(b);
}

static void
liveness(void **state)
{
	struct store *st = open_ok();
	char *y = square("10");
	struct store_node *v;
	size_t n;

	apply_ok(st, y);
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "n1");
	assert_string_equal(v[0].labels, "role=edge,site=east");
	assert_string_equal(v[0].agent_addr, "");
	assert_int_equal(v[0].last_seen_ms, 0);
	assert_int_equal(v[0].acked_gen, 0);
	assert_int_equal(strlen(v[0].digest), 64);
	store_nodes_free(v, n);

	assert_int_equal(store_agent_seen(st, "n2", "10.99.0.2:7701", "0.1.0",
					  1000),
			 0);
	assert_int_equal(store_agent_seen(st, "n2", NULL, NULL, 2000), 0);
	assert_int_equal(store_agent_ack(st, "n2", 1), 0);
	assert_int_equal(store_agent_ack(st, "n3", 1), 0); /* no join yet */
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_string_equal(v[1].agent_addr, "10.99.0.2:7701");
	assert_string_equal(v[1].version, "0.1.0");
	assert_int_equal(v[1].last_seen_ms, 2000);
	assert_int_equal(v[1].acked_gen, 1);
	assert_int_equal(v[2].acked_gen, 1);
	assert_int_equal(v[2].last_seen_ms, 0);
	store_nodes_free(v, n);

	/* A push round's acknowledgements, in one transaction. */
	const char *names[] = { "n1", "n3", "n4" };
	const uint64_t gens[] = { 7, 8, 9 };
	assert_int_equal(store_agent_acks(st, names, gens, 3), 0);
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(v[0].acked_gen, 7);
	assert_int_equal(v[1].acked_gen, 1); /* not in the round */
	assert_int_equal(v[2].acked_gen, 8);
	assert_int_equal(v[3].acked_gen, 9);
	assert_string_equal(v[1].agent_addr, "10.99.0.2:7701");
	store_nodes_free(v, n);
	store_close(st);
	free(y);
}

static void
bad_apply_stores_nothing(void **state)
{
	struct store *st = open_ok();
	char *y = square("10"), *bad = square("0");
	struct topo_errors errs;
	uint64_t gen = 77, cur;

	apply_ok(st, y);
	topo_errors_init(&errs);
	assert_int_equal(store_apply(st, bad, strlen(bad), "bad.yaml", NULL, 0,
				     &errs, &gen),
			 -EINVAL);
	assert_int_equal(gen, 77);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.lines[0], "bad.yaml:11: links[2].cost: must "
					   "be an integer 1..65535, got '0'");
	assert_non_null(strstr(store_errmsg(st), "not applied"));
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	topo_errors_free(&errs);
	store_close(st);
	free(y);
	free(bad);
}

/* What the controller placed on each agent: upsert, list, forget. */
static void
placements(void **state)
{
	struct store *st = open_ok();
	struct store_placement *p;
	size_t n;

	assert_int_equal(store_placements(st, "n1", &p, &n), 0);
	assert_int_equal(n, 0);
	store_placements_free(p, n);
	assert_int_equal(store_placement_set(st, "n1", "qosmod", "threshold=20",
					     1, 1000),
			 0);
	assert_int_equal(store_placement_set(st, "n1", "fig13", "", 1, 1000),
			 0);
	assert_int_equal(store_placement_set(st, "n2", "qosmod", "", 1, 1000),
			 0);
	assert_int_equal(store_placement_set(st, "n1", "qosmod", "threshold=30",
					     2, 2000),
			 0);
	assert_int_equal(store_placements(st, "n1", &p, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(p[0].module, "fig13");
	assert_string_equal(p[0].params, "");
	assert_string_equal(p[1].module, "qosmod");
	assert_string_equal(p[1].params, "threshold=30");
	assert_int_equal(p[1].gen, 2);
	store_placements_free(p, n);
	assert_int_equal(store_placement_del(st, "n1", "qosmod"), 0);
	assert_int_equal(store_placement_del(st, "n1", "nosuch"), 0);
	store_close(st);
	assert_int_equal(sql_int("SELECT count(*) FROM placements"), 2);
}

/* A schema 1 file (before placements) is migrated in place. */
static void
migrate_from_1(void **state)
{
	struct store *st = open_ok();
	sqlite3 *h;

	store_close(st);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
				      "DROP TABLE placements; PRAGMA "
				      "user_version = 1",
				      0, 0, 0),
			 SQLITE_OK);
	sqlite3_close(h);
	st = open_ok();
	assert_int_equal(store_schema_version(st), 2);
	assert_int_equal(store_placement_set(st, "n1", "qosmod", "", 1, 1), 0);
	store_close(st);
	assert_int_equal(sql_int("SELECT count(*) FROM placements"), 1);
}

/* Fork a child that applies @yaml with the pause hook on; return its pid
 * once it is inside the transaction. */
static pid_t
paused_apply(const char *yaml, const char *flag)
{
	pid_t pid;

	unlink(flag);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct topo_errors errs;
		struct store *st;
		uint64_t gen;

		setenv(STORE_PAUSE_ENV, flag, 1);
		topo_errors_init(&errs);
		if (store_open(&st, db, NULL, 0) != 0 ||
		    store_apply(st, yaml, strlen(yaml), "c.yaml", NULL, 0,
				&errs, &gen) != 0)
			_exit(1);
		_exit(0);
	}
	for (int i = 0; i < 1000 && access(flag, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(flag, F_OK), 0);
	return pid;
}

static void
integrity(void)
{
	char *ok = sql_text("PRAGMA integrity_check");

	assert_string_equal(ok, "ok");
	free(ok);
	assert_int_equal(
		sql_int("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void
kill_mid_apply(void **state)
{
	struct store *st = open_ok();
	char *a = square("10"), *b = square("20"), flag[200], w[64];
	int status;
	uint64_t cur;
	pid_t pid;

	apply_ok(st, a);
	store_close(st);
	snprintf(flag, sizeof(flag), "%s/paused", dir);
	pid = paused_apply(b, flag);
	/* Inside the transaction: the new rows exist for the child only. */
	assert_int_equal(sql_int("SELECT max(id) FROM generations"), 1);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	unlink(flag);

	st = open_ok();
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	store_close(st);
	integrity();
	assert_int_equal(sql_int("SELECT count(*) FROM nodes WHERE gen <> 1"),
			 0);
	assert_int_equal(sql_int("SELECT count(*) FROM links WHERE gen <> 1"),
			 0);

	/* The same apply without a kill stores generation 2 whole. */
	st = open_ok();
	assert_int_equal(apply_ok(st, b), 2);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	store_close(st);
	free(a);
	free(b);
}

/* Every stored generation must be whole: as many node and link rows as
 * its YAML says. */
static void
generations_whole(void)
{
	struct store *st = open_ok();
	struct topo_config *cfg;
	struct store_gen *h;
	size_t n;

	assert_int_equal(store_history(st, &h, &n), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(store_topology(st, h[i].id, &cfg, NULL), 0);
		assert_int_equal(h[i].n_nodes, cfg->n_nodes);
		assert_int_equal(h[i].n_links, cfg->n_links);
		topo_config_free(cfg);
	}
	store_history_free(h, n);
	store_close(st);
}

/* kill -9 at random moments of a child applying in a loop. */
static void
kill_random(void **state)
{
	char *a = square("10"), *b = square("20");
	struct store *st = open_ok();

	apply_ok(st, a);
	store_close(st);
	srand((unsigned)time(NULL));
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct topo_errors errs;
			uint64_t gen;

			topo_errors_init(&errs);
			if (store_open(&st, db, NULL, 0) != 0)
				_exit(1);
			for (int i = 0;; i++) {
				const char *y = i % 2 ? a : b;

				store_apply(st, y, strlen(y), "r.yaml", NULL, 0,
					    &errs, &gen);
			}
		}
		usleep((useconds_t)(rand() % 40000 + 1000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		integrity();
		generations_whole();
	}
	assert_true(sql_int("SELECT max(id) FROM generations") > 1);
	free(a);
	free(b);
}

static int
setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(schema_and_pragmas, fresh_db),
		cmocka_unit_test_setup(refuse_foreign, fresh_db),
		cmocka_unit_test_setup(refuse_newer, fresh_db),
		cmocka_unit_test_setup(apply_and_read_back, fresh_db),
		cmocka_unit_test_setup(table_generations, fresh_db),
		cmocka_unit_test_setup(liveness, fresh_db),
		cmocka_unit_test_setup(bad_apply_stores_nothing, fresh_db),
		cmocka_unit_test_setup(placements, fresh_db),
		cmocka_unit_test_setup(migrate_from_1, fresh_db),
		cmocka_unit_test_setup(kill_mid_apply, fresh_db),
		cmocka_unit_test_setup(kill_random, fresh_db),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
