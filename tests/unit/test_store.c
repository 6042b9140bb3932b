/*
 * test_store.c - the controller's store (controller/store.h), given
 * topologies parsed here as the controller parses them.
 *
 * The API tests run once per backend in backends[] (SQLite, and etcd: a
 * real etcd started here on loopback, skipped only when etcd is not
 * installed): generations stored whole with their YAML, the table
 * generations stored as given, what a store refuses, agent liveness,
 * module placements.  The SQLite tests then read the database file with
 * SQLite itself: schema and pragmas, refusal of foreign or newer
 * databases, the rows of an apply, the migration that added placements,
 * and atomicity of an apply under kill -9.  The etcd tests read the keys
 * with an etcd client: the values of an apply, refusal of foreign or
 * newer stores and of bad addresses, kill -9 mid-apply, and two applies
 * racing (compare-and-swap on the generation).
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
#include <uv.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "etcd_kv.h"
#include "etcd_server.h"
#include "store.h"
#include "store_values.pb-c.h"

static char dir[] = "/tmp/itm-test-store-XXXXXX";
static char db[200]; /* the SQLite tests' file */
static int seq;

/* ------------------------------------------------------------------ */
/* Backends                                                             */
/* ------------------------------------------------------------------ */

/* A backend: how to name a fresh, empty store of it. */
struct backend {
	const char *name;
	void (*fresh)(char *where, size_t len);
};

static void
sqlite_fresh(char *where, size_t len)
{
	snprintf(where, len, "%s/t%d.db", dir, ++seq);
}

static struct etcd_server etcd;

/* A prefix of its own in the one etcd of this run. */
static void
etcd_fresh(char *where, size_t len)
{
	snprintf(where, len, "etcd://127.0.0.1:%d/t%d", etcd.client_port,
		 ++seq);
}

static const struct backend backends[] = {
	{ "sqlite", sqlite_fresh },
	{ "etcd", etcd_fresh },
};

static const struct backend *backend = &backends[0];
static char where[200]; /* the current test's store */

static int
fresh(void **state)
{
	backend->fresh(where, sizeof(where));
	snprintf(db, sizeof(db), "%s", where);
	return 0;
}

static struct store *
open_ok(void)
{
	struct store *st;
	char err[256];

	if (store_open(&st, where, err, sizeof(err)) != 0)
		fail_msg("store_open %s: %s", where, err);
	return st;
}

/* ------------------------------------------------------------------ */
/* Topologies, parsed as the controller does before it stores one       */
/* ------------------------------------------------------------------ */

struct parsed {
	char *yaml;
	struct topo_config *topo;
	struct neigh_set *tables;
	uint64_t *gens; /* as given to the store */
};

/* p->yaml parsed, its tables computed, all new. */
static void
parse_yaml(struct parsed *p)
{
	struct topo_errors errs;

	topo_errors_init(&errs);
	if (topo_parse(p->yaml, strlen(p->yaml), "sq.yaml", &p->topo, &errs)) {
		topo_errors_print(&errs, stderr);
		fail_msg("topology does not parse");
	}
	assert_int_equal(neigh_build(p->topo, &p->tables), 0);
	p->gens = calloc(p->tables->n, sizeof(*p->gens)); /* all new */
	assert_non_null(p->gens);
}

/* Square n1..n4 (plus n5 alone); @cost34 varies one link. */
static void
square(struct parsed *p, const char *cost34)
{
	memset(p, 0, sizeof(*p));
	assert_true(
		asprintf(
			&p->yaml,
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
	parse_yaml(p);
}

/* A line of @n nodes, m000 -- m001 -- ... */
static void
line(struct parsed *p, int n)
{
	size_t len = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	assert_non_null(f = open_memstream(&p->yaml, &len));
	fprintf(f, "comment: line\nnodes:\n");
	for (int i = 0; i < n; i++)
		fprintf(f,
			"  - {name: m%03d, mgmt: 10.98.%d.%d:7701,"
			" overlay: 10.201.%d.%d}\n",
			i, i / 250, i % 250 + 1, i / 250, i % 250 + 1);
	fprintf(f, "links:\n");
	for (int i = 1; i < n; i++)
		fprintf(f, "  - {between: [m%03d, m%03d], cost: 10}\n", i - 1,
			i);
	assert_int_equal(fclose(f), 0);
	parse_yaml(p);
}

static void
parsed_free(struct parsed *p)
{
	free(p->gens);
	neigh_set_free(p->tables);
	topo_config_free(p->topo);
	free(p->yaml);
}

static int
apply_as(struct store *st, const struct parsed *p, const char *comment,
	 uint64_t rollback_of, uint64_t *gen)
{
	struct store_apply in = {
		.yaml = p->yaml,
		.len = strlen(p->yaml),
		.source = "sq.yaml",
		.comment = comment,
		.rollback_of = rollback_of,
		.topo = p->topo,
		.tables = p->tables,
		.table_gens = p->gens,
	};

	return store_apply(st, &in, gen);
}

static uint64_t
apply_ok(struct store *st, const struct parsed *p)
{
	uint64_t gen = 0;

	if (apply_as(st, p, p->topo->comment, 0, &gen) != 0)
		fail_msg("apply: %s", store_errmsg(st));
	return gen;
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

/* @p's table generations against what @st holds now, as the controller
 * computes them (neigh_table_gens over the current generation). */
static void
gens_against(struct store *st, struct parsed *p, const struct parsed *cur)
{
	struct store_node *v;
	uint64_t *prev;
	size_t n;

	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, cur->tables->n);
	prev = calloc(n, sizeof(*prev));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].name, cur->tables->tables[i].node);
		assert_string_equal(v[i].digest, cur->tables->tables[i].digest);
		prev[i] = v[i].want_gen;
	}
	neigh_table_gens(cur->tables, prev, p->tables, p->gens);
	free(prev);
	store_nodes_free(v, n);
}

static void
sha256_hex(const char *s, char out[65])
{
	unsigned char h[32];
	unsigned int n = 0;

	assert_true(EVP_Digest(s, strlen(s), h, &n, EVP_sha256(), NULL));
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ------------------------------------------------------------------ */
/* The API, on every backend                                            */
/* ------------------------------------------------------------------ */

static void
apply_and_read_back(void **state)
{
	struct store *st = open_ok();
	struct store_gen *h, info;
	struct store_node *v;
	struct parsed p;
	char *text, sha[65];
	size_t n, len;
	uint64_t cur;

	square(&p, "10");
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 0);
	assert_int_equal(store_yaml(st, 0, &text, &len, NULL), -ENOENT);
	assert_int_equal(apply_ok(st, &p), 1);
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	/* History: what was given, counted. */
	assert_int_equal(store_history(st, &h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0].id, 1);
	assert_int_equal(h[0].n_nodes, 5);
	assert_int_equal(h[0].n_links, 4);
	assert_string_equal(h[0].comment, "square");
	assert_string_equal(h[0].source, "sq.yaml");
	assert_int_equal(h[0].rollback_of, 0);
	assert_int_equal(strlen(h[0].applied_at), 24);
	sha256_hex(p.yaml, sha);
	assert_string_equal(h[0].sha256, sha);
	store_history_free(h, n);
	/* The exact YAML, current and by number. */
	assert_int_equal(store_yaml(st, 0, &text, &len, &info), 0);
	assert_string_equal(text, p.yaml);
	assert_int_equal(len, strlen(p.yaml));
	assert_int_equal(info.id, 1);
	free(text);
	store_gen_clear(&info);
	assert_int_equal(store_yaml(st, 1, &text, &len, NULL), 0);
	free(text);
	assert_int_equal(store_yaml(st, 7, &text, &len, NULL), -ENOENT);
	assert_null(text);
	/* The nodes with their digests, labels and table generations. */
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].name, p.tables->tables[i].node);
		assert_string_equal(v[i].digest, p.tables->tables[i].digest);
		assert_int_equal(v[i].want_gen, 1);
	}
	assert_string_equal(v[0].mgmt, "10.99.0.1:7701");
	assert_string_equal(v[0].overlay, "10.200.0.1");
	assert_string_equal(v[0].labels, "role=edge,site=east");
	assert_string_equal(v[1].labels, "");
	store_nodes_free(v, n);
	store_close(st);
	parsed_free(&p);
}

/* Table generations are stored as given (0: this generation); the
 * controller's rule (neigh_table_gens) re-versions only changed tables. */
static void
table_generations(void **state)
{
	struct store *st = open_ok();
	struct parsed a, b, c;
	struct store_gen *h;
	char w[64];
	uint64_t gen;
	size_t n;

	square(&a, "10");
	square(&b, "20");
	square(&c, "10");
	apply_ok(st, &a);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 1 1 1");
	gens_against(st, &b, &a);
	assert_int_equal(apply_ok(st, &b), 2); /* n3-n4 cost changed */
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	gens_against(st, &b, &b);
	assert_int_equal(apply_ok(st, &b), 3); /* same again: no change */
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	/* A rollback to 1: generation 1's YAML again, as a new one. */
	gens_against(st, &c, &b);
	assert_int_equal(apply_as(st, &c, "rollback to generation 1", 1, &gen),
			 0);
	assert_int_equal(gen, 4);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 4 4 1");
	assert_int_equal(store_history(st, &h, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(h[3].rollback_of, 1);
	assert_string_equal(h[3].comment, "rollback to generation 1");
	assert_string_equal(h[3].sha256, h[0].sha256);
	store_history_free(h, n);
	/* Whatever the caller says, even for a table that did not change. */
	for (size_t i = 0; i < c.tables->n; i++)
		c.gens[i] = i + 1;
	assert_int_equal(apply_ok(st, &c), 5);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 2 3 4 5");
	store_close(st);
	parsed_free(&a);
	parsed_free(&b);
	parsed_free(&c);
}

/* What does not hold together is refused and stores nothing. */
static void
refuses_incoherent(void **state)
{
	struct store *st = open_ok();
	struct parsed a, b;
	struct store_apply in = { 0 };
	uint64_t gen = 77, cur;

	square(&a, "10");
	square(&b, "20");
	apply_ok(st, &a);
	assert_int_equal(store_apply(st, &in, &gen), -EINVAL);
	assert_non_null(strstr(store_errmsg(st), "nothing to store"));
	/* One table fewer than nodes. */
	b.tables->n--;
	assert_int_equal(apply_as(st, &b, NULL, 0, &gen), -EINVAL);
	assert_non_null(strstr(store_errmsg(st), "one table per node"));
	b.tables->n++;
	/* Tables in another order than the nodes. */
	struct neigh_table t = b.tables->tables[0];
	b.tables->tables[0] = b.tables->tables[1];
	b.tables->tables[1] = t;
	assert_int_equal(apply_as(st, &b, NULL, 0, &gen), -EINVAL);
	assert_non_null(strstr(store_errmsg(st), "node order"));
	b.tables->tables[1] = b.tables->tables[0];
	b.tables->tables[0] = t;
	assert_int_equal(gen, 77);
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	store_close(st);
	parsed_free(&a);
	parsed_free(&b);
}

static void
liveness(void **state)
{
	struct store *st = open_ok();
	struct store_node *v;
	struct parsed p;
	size_t n;

	square(&p, "10");
	apply_ok(st, &p);
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "n1");
	assert_string_equal(v[0].agent_addr, "");
	assert_int_equal(v[0].last_seen_ms, 0);
	assert_int_equal(v[0].acked_gen, 0);
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

	/* A push round's acknowledgements, at once. */
	const char *names[] = { "n1", "n3", "n4" };
	const uint64_t gens[] = { 7, 8, 9 };
	assert_int_equal(store_agent_acks(st, names, gens, 3), 0);
	assert_int_equal(store_agent_acks(st, names, gens, 0), 0);
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(v[0].acked_gen, 7);
	assert_int_equal(v[1].acked_gen, 1); /* not in the round */
	assert_int_equal(v[2].acked_gen, 8);
	assert_int_equal(v[3].acked_gen, 9);
	assert_string_equal(v[1].agent_addr, "10.99.0.2:7701");
	store_nodes_free(v, n);
	store_close(st);
	parsed_free(&p);
}

/* The liveness of many agents at once (the controller's flush): joins
 * and heartbeats mixed, what is not given kept, acks kept. */
static void
liveness_batch(void **state)
{
	struct store *st = open_ok();
	struct store_node *v;
	struct parsed p;
	size_t n;

	square(&p, "10");
	apply_ok(st, &p);
	assert_int_equal(store_agent_seen(st, "n2", "10.99.0.2:7701", "0.1.0",
					  1000),
			 0);
	assert_int_equal(store_agent_ack(st, "n2", 4), 0);
	const struct store_seen seen[] = {
		{ "n1", "10.99.0.1:7701", "0.2.0", 3000 }, /* a join */
		{ "n2", NULL, NULL, 5000 },		   /* heartbeats */
		{ "n3", NULL, NULL, 6000 },		   /* never joined */
	};
	assert_int_equal(store_agents_seen(st, seen, 3), 0);
	assert_int_equal(store_agents_seen(st, seen, 0), 0);
	assert_int_equal(store_agent_ack(st, "n2", 5), 0); /* after it */
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].agent_addr, "10.99.0.1:7701");
	assert_string_equal(v[0].version, "0.2.0");
	assert_int_equal(v[0].last_seen_ms, 3000);
	assert_string_equal(v[1].agent_addr, "10.99.0.2:7701");
	assert_string_equal(v[1].version, "0.1.0");
	assert_int_equal(v[1].last_seen_ms, 5000);
	assert_int_equal(v[1].acked_gen, 5);
	assert_string_equal(v[2].agent_addr, "");
	assert_int_equal(v[2].last_seen_ms, 6000);
	assert_int_equal(v[3].last_seen_ms, 0);
	store_nodes_free(v, n);
	store_close(st);
	parsed_free(&p);
}

/* More agents than one etcd Txn takes (100 puts), and joins among them. */
static void
liveness_batch_many(void **state)
{
	struct store *st = open_ok();
	struct store_seen seen[250];
	struct store_node *v;
	struct parsed p;
	size_t n;

	line(&p, 250);
	apply_ok(st, &p);
	for (int i = 0; i < 250; i++) {
		seen[i].node = p.topo->nodes[i].name;
		seen[i].addr = i % 7 ? NULL : p.topo->nodes[i].mgmt;
		seen[i].version = i % 7 ? NULL : "0.3.0";
		seen[i].seen_ms = 10000 + i;
	}
	assert_int_equal(store_agents_seen(st, seen, 250), 0);
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(n, 250);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].name, seen[i].node);
		assert_int_equal(v[i].last_seen_ms, 10000 + i);
		assert_string_equal(v[i].version, i % 7 ? "" : "0.3.0");
	}
	store_nodes_free(v, n);
	store_close(st);
	parsed_free(&p);
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
	assert_int_equal(store_placements(st, "n1", &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].module, "fig13");
	store_placements_free(p, n);
	assert_int_equal(store_placements(st, "n2", &p, &n), 0);
	assert_int_equal(n, 1);
	store_placements_free(p, n);
	store_close(st);
}

/* The nodes with any placement, in one read, sorted as strcmp does
 * ("a-b" sorts before "a/..." among etcd's keys). */
static void
placed_nodes(void **state)
{
	struct store *st = open_ok();
	char **v;
	size_t n;

	assert_int_equal(store_placed_nodes(st, &v, &n), 0);
	assert_int_equal(n, 0);
	store_names_free(v, n);
	assert_int_equal(store_placement_set(st, "n1", "qosmod", "", 1, 1), 0);
	assert_int_equal(store_placement_set(st, "n1", "fig13", "", 1, 1), 0);
	assert_int_equal(store_placement_set(st, "n1-b", "fig13", "", 1, 1), 0);
	assert_int_equal(store_placement_set(st, "n10", "qosmod", "", 1, 1), 0);
	assert_int_equal(store_placement_set(st, "n2", "qosmod", "", 1, 1), 0);
	assert_int_equal(store_placement_del(st, "n2", "qosmod"), 0);
	assert_int_equal(store_placed_nodes(st, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "n1");
	assert_string_equal(v[1], "n1-b");
	assert_string_equal(v[2], "n10");
	store_names_free(v, n);
	store_close(st);
}

/* Whatever is open, reopened, holds the same. */
static void
reopen_keeps_all(void **state)
{
	struct store *st = open_ok();
	struct parsed p;
	char w[64];
	uint64_t cur;

	square(&p, "10");
	apply_ok(st, &p);
	assert_int_equal(store_agent_ack(st, "n2", 1), 0);
	store_close(st);
	st = open_ok();
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 1 1 1");
	store_close(st);
	parsed_free(&p);
}

/* ------------------------------------------------------------------ */
/* SQLite: the file itself                                              */
/* ------------------------------------------------------------------ */

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
				 "'module_params', 'agents', 'placements')"),
			 8);
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
	assert_int_equal(store_open(&st, "", err, sizeof(err)), -EINVAL);
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

/* The rows of an apply, read with SQLite itself. */
static void
apply_rows(void **state)
{
	struct store *st = open_ok();
	struct parsed p;

	square(&p, "10");
	apply_ok(st, &p);
	store_close(st);
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
	assert_int_equal(sql_int("SELECT count(*) FROM nodes WHERE gen = 1 AND"
				 " table_gen = 1"),
			 5);
	assert_int_equal(sql_int("SELECT count(*) FROM placements"), 0);
	parsed_free(&p);
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

/* Edit the file by hand, as an operator with the sqlite3 shell would
 * (foreign keys off there by default). */
static void
hand_edit(const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, 0, 0, 0) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

/* A damaged store refuses every write, saying how to recover; nothing
 * reaches the file (issue 8, item 6). */
static void
refuses_writes(struct store *st, struct parsed *p)
{
	uint64_t gen = 0;

	assert_true(store_damaged(st));
	assert_int_equal(apply_as(st, p, "x", 0, &gen), -EROFS);
	assert_non_null(strstr(store_errmsg(st), "is damaged, writes are "
						 "refused"));
	assert_non_null(strstr(store_errmsg(st), ".recover"));
	assert_int_equal(store_agent_ack(st, "n2", 1), -EROFS);
	assert_int_equal(store_placement_set(st, "n1", "m", "", 1, 1), -EROFS);
}

/* Rows edited by hand: a link to a deleted node, a cost of 0. */
static void
check_hand_edits(void **state)
{
	struct store *st = open_ok();
	struct parsed p;

	square(&p, "10");
	apply_ok(st, &p);
	assert_int_equal(store_check(st, 1), 0);
	store_close(st);
	hand_edit("DELETE FROM nodes WHERE gen = 1 AND name = 'n3'");
	st = open_ok();
	assert_int_equal(store_check(st, 0), -EBADMSG);
	assert_non_null(strstr(store_errmsg(st), "a row of links refers to a "
						 "missing row of nodes"));
	refuses_writes(st, &p);
	store_close(st);
	assert_int_equal(sql_int("SELECT count(*) FROM generations"), 1);

	fresh(state);
	st = open_ok();
	apply_ok(st, &p);
	store_close(st);
	hand_edit("PRAGMA ignore_check_constraints = ON; UPDATE links SET "
		  "cost = 0 WHERE a = 'n1' AND b = 'n2'");
	st = open_ok();
	assert_int_equal(store_check(st, 1), -EBADMSG);
	if (!strstr(store_errmsg(st), "1 links with a cost"))
		fail_msg("check said: %s", store_errmsg(st));
	refuses_writes(st, &p);
	store_close(st);
	parsed_free(&p);
}

/* Garbage in the middle of the file: the quick check at start-up finds
 * it, and so does the full one. */
static void
check_garbage(void **state)
{
	struct store *st = open_ok();
	char junk[4096];
	struct parsed p;
	FILE *f;
	long size;

	square(&p, "10");
	for (int i = 0; i < 20; i++)
		apply_ok(st, &p);
	store_close(st);
	f = fopen(db, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	assert_true(size >= 4 * 4096);
	memset(junk, 0x5a, sizeof(junk));
	fseek(f, (size / 2) & ~4095L, SEEK_SET);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	for (int full = 0; full <= 1; full++) {
		char err[256];

		if (store_open(&st, db, err, sizeof(err)) < 0)
			continue; /* refused at open: fine too */
		assert_int_equal(store_check(st, full), -EBADMSG);
		refuses_writes(st, &p);
		store_close(st);
	}
	parsed_free(&p);
}

/* Fork a child that applies @p with the pause hook on; return its pid
 * once it is inside the transaction. */
static pid_t
paused_apply(const struct parsed *p, const char *flag)
{
	pid_t pid;

	unlink(flag);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		uint64_t gen;

		setenv(STORE_PAUSE_ENV, flag, 1);
		if (store_open(&st, db, NULL, 0) != 0 ||
		    apply_as(st, p, NULL, 0, &gen) != 0)
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
	struct parsed a, b;
	char flag[200], w[64];
	int status;
	uint64_t cur;
	pid_t pid;

	square(&a, "10");
	square(&b, "20");
	apply_ok(st, &a);
	gens_against(st, &b, &a);
	store_close(st);
	snprintf(flag, sizeof(flag), "%s/paused", dir);
	pid = paused_apply(&b, flag);
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
	assert_int_equal(apply_ok(st, &b), 2);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	store_close(st);
	parsed_free(&a);
	parsed_free(&b);
}

/* Every stored generation must be whole: as many node and link rows as
 * its YAML, parsed again, says. */
static void
generations_whole(void)
{
	struct store *st = open_ok();
	struct topo_config *cfg;
	struct topo_errors errs;
	struct store_gen *h;
	size_t n, len;
	char *yaml;

	assert_int_equal(store_history(st, &h, &n), 0);
	topo_errors_init(&errs);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(store_yaml(st, h[i].id, &yaml, &len, NULL), 0);
		assert_int_equal(topo_parse(yaml, len, NULL, &cfg, &errs), 0);
		assert_int_equal(h[i].n_nodes, cfg->n_nodes);
		assert_int_equal(h[i].n_links, cfg->n_links);
		topo_config_free(cfg);
		free(yaml);
	}
	store_history_free(h, n);
	store_close(st);
}

/* kill -9 at random moments of a child applying in a loop. */
static void
kill_random(void **state)
{
	struct store *st = open_ok();
	struct parsed a, b;

	square(&a, "10");
	square(&b, "20");
	apply_ok(st, &a);
	store_close(st);
	srand((unsigned)time(NULL));
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			uint64_t gen;

			if (store_open(&st, db, NULL, 0) != 0)
				_exit(1);
			for (int i = 0;; i++)
				apply_as(st, i % 2 ? &a : &b, NULL, 0, &gen);
		}
		usleep((useconds_t)(rand() % 40000 + 1000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		integrity();
		generations_whole();
	}
	assert_true(sql_int("SELECT max(id) FROM generations") > 1);
	parsed_free(&a);
	parsed_free(&b);
}

/* ------------------------------------------------------------------ */
/* etcd: the keys themselves                                            */
/* ------------------------------------------------------------------ */

/* The store's prefix in etcd: "/t7/" of "etcd://127.0.0.1:P/t7". */
static const char *
etcd_prefix(char *buf, size_t len)
{
	snprintf(buf, len, "%s/", strchr(where + strlen("etcd://"), '/'));
	return buf;
}

static struct etcd_kv *
etcd_client(void)
{
	struct etcd_kv *kv;
	char ep[64], err[256];

	snprintf(ep, sizeof(ep), "127.0.0.1:%d", etcd.client_port);
	if (etcd_kv_open(&kv, ep, NULL, err, sizeof(err)) != 0)
		fail_msg("etcd client: %s", err);
	return kv;
}

/* Put @len bytes of @val at the store's prefix + @key, with a client of
 * our own. */
static void
etcd_raw_put_bin(const char *key, const void *val, size_t len)
{
	struct etcd_kv *kv = etcd_client();
	char k[300], pre[200], err[256];

	snprintf(k, sizeof(k), "%s%s", etcd_prefix(pre, sizeof(pre)), key);
	if (etcd_put(kv, k, val, len, err, sizeof(err)) != 0)
		fail_msg("etcd put %s: %s", k, err);
	etcd_kv_close(kv);
}

static void
etcd_raw_put(const char *key, const char *val)
{
	etcd_raw_put_bin(key, val, strlen(val));
}

/* The value of the store's prefix + @key, unpacked as @desc. */
static ProtobufCMessage *
etcd_raw_get(const char *key, const ProtobufCMessageDescriptor *desc)
{
	struct etcd_kv *kv = etcd_client();
	Etcdserverpb__RangeResponse *r;
	ProtobufCMessage *m;
	char k[300], pre[200], err[256];

	snprintf(k, sizeof(k), "%s%s", etcd_prefix(pre, sizeof(pre)), key);
	if (etcd_range(kv, k, 0, &r, err, sizeof(err)) != 0)
		fail_msg("etcd range %s: %s", k, err);
	assert_int_equal(r->n_kvs, 1);
	m = protobuf_c_message_unpack(desc, NULL, r->kvs[0]->value.len,
				      r->kvs[0]->value.data);
	assert_non_null(m);
	etcd_kv_free(r);
	etcd_kv_close(kv);
	return m;
}

/* The raw value of the store's prefix + @key into @buf ("" when absent). */
static void
etcd_raw_value(const char *key, char *buf, size_t len)
{
	struct etcd_kv *kv = etcd_client();
	Etcdserverpb__RangeResponse *r;
	char k[300], pre[200], err[256];

	snprintf(k, sizeof(k), "%s%s", etcd_prefix(pre, sizeof(pre)), key);
	if (etcd_range(kv, k, 0, &r, err, sizeof(err)) != 0)
		fail_msg("etcd range %s: %s", k, err);
	buf[0] = '\0';
	if (r->n_kvs == 1)
		snprintf(buf, len, "%.*s", (int)r->kvs[0]->value.len,
			 (const char *)r->kvs[0]->value.data);
	etcd_kv_free(r);
	etcd_kv_close(kv);
}

/* Liveness keys: a heartbeat is a put of P/seen/NODE alone; a join also
 * writes P/agent/NODE; an agent record from before P/seen/ still counts. */
static void
etcd_seen_keys(void **state)
{
	Itm__Store__V1__Agent a = ITM__STORE__V1__AGENT__INIT;
	struct store *st = open_ok();
	const struct store_seen beat = { "n3", NULL, NULL, 6000 };
	struct store_node *v;
	struct parsed p;
	char val[64];
	uint8_t buf[64];
	size_t n;

	square(&p, "10");
	apply_ok(st, &p);
	assert_int_equal(store_agents_seen(st, &beat, 1), 0);
	etcd_raw_value("seen/n3", val, sizeof(val));
	assert_string_equal(val, "6000");
	etcd_raw_value("agent/n3", val, sizeof(val));
	assert_string_equal(val, ""); /* no record written */
	assert_int_equal(store_agent_seen(st, "n2", "10.99.0.2:7701", "0.1.0",
					  7000),
			 0);
	etcd_raw_value("seen/n2", val, sizeof(val));
	assert_string_equal(val, "7000");
	a.addr = "10.99.0.4:7701"; /* n4 as an older controller wrote it */
	a.last_seen_ms = 8000;
	assert_true(protobuf_c_message_pack(&a.base, buf) < sizeof(buf));
	etcd_raw_put_bin("agent/n4", buf,
			 protobuf_c_message_get_packed_size(&a.base));
	assert_int_equal(store_nodes(st, &v, &n), 0);
	assert_int_equal(v[1].last_seen_ms, 7000);
	assert_int_equal(v[2].last_seen_ms, 6000);
	assert_int_equal(v[3].last_seen_ms, 8000);
	assert_string_equal(v[3].agent_addr, "10.99.0.4:7701");
	store_nodes_free(v, n);
	store_close(st);
	parsed_free(&p);
}

/* The values of an apply, read with an etcd client. */
static void
etcd_apply_keys(void **state)
{
	struct store *st = open_ok();
	Itm__Store__V1__Topology *t;
	Itm__Store__V1__Generation *g;
	struct parsed p;

	square(&p, "10");
	apply_ok(st, &p);
	store_close(st);
	g = (Itm__Store__V1__Generation *)
		etcd_raw_get("gen/00000000000000000001",
			     &itm__store__v1__generation__descriptor);
	assert_int_equal(g->id, 1);
	assert_int_equal(g->n_nodes, 5);
	assert_string_equal(g->comment, "square");
	protobuf_c_message_free_unpacked(&g->base, NULL);
	t = (Itm__Store__V1__Topology *)
		etcd_raw_get("nodes/00000000000000000001",
			     &itm__store__v1__topology__descriptor);
	assert_int_equal(t->n_nodes, 5);
	assert_int_equal(t->n_links, 4);
	assert_string_equal(t->links[0]->a, "n1");
	assert_int_equal(t->links[0]->bandwidth_kbps, 100000);
	assert_string_equal(t->nodes[0]->labels, "role=edge,site=east");
	assert_int_equal(t->nodes[0]->n_modules, 1);
	assert_string_equal(t->nodes[0]->modules[0]->name, "qosmod");
	assert_string_equal(t->nodes[0]->modules[0]->params[0]->key,
			    "threshold");
	assert_string_equal(t->nodes[0]->modules[0]->params[0]->value, "20");
	assert_int_equal(t->nodes[3]->table_gen, 1);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	parsed_free(&p);
}

static void
etcd_refuse_foreign_newer(void **state)
{
	struct store *st;
	char err[512];

	etcd_raw_put("someone/else", "x");
	assert_int_equal(store_open(&st, where, err, sizeof(err)), -EBADMSG);
	assert_null(st);
	assert_non_null(strstr(err, "not an itm-controller store"));
	fresh(state);
	st = open_ok();
	store_close(st);
	etcd_raw_put("schema", "99");
	assert_int_equal(store_open(&st, where, err, sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "schema version 99 is newer"));
}

static void
etcd_refuse_address(void **state)
{
	struct store *st;
	char err[512];
	time_t t0 = time(NULL);

	assert_int_equal(store_open(&st, "etcd://", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no etcd endpoint"));
	assert_int_equal(store_open(&st, "etcd://a.example:1,b.example:2", err,
				    sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "must be IP addresses"));
	assert_int_equal(store_open(&st, "etcd://127.0.0.1:1/x?tls=1", err,
				    sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "options are ca="));
	/* Nobody there: a clear error, soon. */
	assert_int_equal(store_open(&st, "etcd://127.0.0.1:1", err,
				    sizeof(err)),
			 -EHOSTUNREACH);
	assert_null(st);
	assert_non_null(strstr(err, "etcd 127.0.0.1:1: UNAVAILABLE"));
	assert_true(time(NULL) - t0 <= ETCD_KV_DEADLINE_MS / 1000 + 1);
}

/* Run this binary again (a fresh process: gRPC does not survive fork) to
 * apply square(@cost) at @where with the pause hook on @flag; its pid once
 * it is paused inside the apply. */
static pid_t
etcd_paused_apply(const char *cost, const char *flag)
{
	pid_t pid;

	unlink(flag);
	if ((pid = fork()) == 0) {
		setenv(STORE_PAUSE_ENV, flag, 1);
		execl("/proc/self/exe", "test_store", "--apply", where, cost,
		      (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	for (int i = 0; i < 1000 && access(flag, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(flag, F_OK), 0);
	return pid;
}

/* test_store --apply WHERE COST: the child of etcd_paused_apply().  Exit
 * 0 when stored, 3 when another apply won the race, else 1. */
static int
child_apply(const char *at, const char *cost)
{
	struct store *st;
	struct parsed p;
	uint64_t gen;
	int rc;

	square(&p, cost);
	if (store_open(&st, at, NULL, 0) != 0)
		return 1;
	rc = apply_as(st, &p, "child", 0, &gen);
	if (rc == -EBUSY)
		fprintf(stderr, "child apply: %s\n", store_errmsg(st));
	store_close(st);
	parsed_free(&p);
	return rc == 0 ? 0 : rc == -EBUSY ? 3 : 1;
}

static void
etcd_kill_mid_apply(void **state)
{
	struct store *st = open_ok();
	struct parsed a, b;
	char flag[200], w[64];
	int status;
	uint64_t cur;
	pid_t pid;

	square(&a, "10");
	square(&b, "20");
	apply_ok(st, &a);
	snprintf(flag, sizeof(flag), "%s/paused", dir);
	pid = etcd_paused_apply("20", flag);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	unlink(flag);
	assert_int_equal(store_current(st, &cur), 0);
	assert_int_equal(cur, 1);
	gens_against(st, &b, &a);
	assert_int_equal(apply_ok(st, &b), 2);
	wants(st, w, sizeof(w));
	assert_string_equal(w, "1 1 2 2 1");
	store_close(st);
	generations_whole();
	parsed_free(&a);
	parsed_free(&b);
}

/* Two applies at once: the one that read generation 1 and commits after
 * the other is refused, and nothing of it is stored. */
static void
etcd_racing_applies(void **state)
{
	struct store *st = open_ok();
	struct store_gen *h;
	struct parsed a, b;
	char flag[200];
	int status;
	size_t n;
	pid_t pid;

	square(&a, "10");
	square(&b, "30");
	apply_ok(st, &a);
	snprintf(flag, sizeof(flag), "%s/paused", dir);
	pid = etcd_paused_apply("20", flag); /* read 1, will write 2 */
	assert_int_equal(apply_as(st, &b, "winner", 0, &(uint64_t){ 0 }), 0);
	unlink(flag);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(store_history(st, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[1].comment, "winner");
	store_history_free(h, n);
	store_close(st);
	generations_whole();
	parsed_free(&a);
	parsed_free(&b);
}

/* Leadership: one holder at a time, kept by calling again, given up at
 * resign or close, lost when not renewed within its time. */
static void
etcd_leadership(void **state)
{
	struct store *a = open_ok(), *b = open_ok();
	char who[128];

	assert_int_equal(store_lead(a, "A since 1", 2, who, sizeof(who)), 1);
	assert_string_equal(who, "A since 1");
	assert_int_equal(store_lead(b, "B since 2", 2, who, sizeof(who)), 0);
	assert_string_equal(who, "A since 1");
	assert_int_equal(store_lead(a, "A since 1", 2, who, sizeof(who)), 1);
	store_resign(a);
	assert_int_equal(store_lead(b, "B since 2", 2, who, sizeof(who)), 1);
	assert_int_equal(store_lead(a, "A since 3", 2, who, sizeof(who)), 0);
	assert_string_equal(who, "B since 2");
	store_close(b); /* resigns */
	assert_int_equal(store_lead(a, "A since 3", 2, who, sizeof(who)), 1);
	/* Not renewed: another takes over once its lease ran out. */
	b = open_ok();
	assert_int_equal(store_lead(b, "B since 4", 2, who, sizeof(who)), 0);
	sleep(3);
	assert_int_equal(store_lead(b, "B since 4", 2, who, sizeof(who)), 1);
	assert_int_equal(store_lead(a, "A since 3", 2, who, sizeof(who)), 0);
	assert_string_equal(who, "B since 4");
	store_close(a);
	store_close(b);
}

/* What a store's watch reported (store_watch()). */
struct watch_rec {
	int n;
	enum store_change what[16];
	uint64_t gen[16];
	char text[16][128];
};

static void
watch_rec_cb(void *arg, enum store_change what, uint64_t gen, const char *text)
{
	struct watch_rec *r = arg;

	assert_true(r->n < 16);
	r->what[r->n] = what;
	r->gen[r->n] = gen;
	snprintf(r->text[r->n++], sizeof(r->text[0]), "%s", text);
}

static void
tick_cb(uv_timer_t *t)
{
	(void)t;
}

/* Run @loop until @r holds @n reports, at most 5 s. */
static void
watch_wait(uv_loop_t *loop, struct watch_rec *r, int n)
{
	uint64_t end = uv_now(loop) + 5000;
	uv_timer_t t;

	uv_timer_init(loop, &t);
	uv_timer_start(&t, tick_cb, 100, 100);
	while (r->n < n && uv_now(loop) < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(r->n, n);
}

/* The watch: started (SYNC), then each write of another handle as it
 * happens: the current generation, the leader taken and given up. */
static void
etcd_watch(void **state)
{
	struct store *a = open_ok(), *b = open_ok();
	struct watch_rec r = { 0 };
	struct parsed p;
	uv_loop_t loop;
	char who[128];

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(store_watch(a, &loop, watch_rec_cb, &r), 0);
	watch_wait(&loop, &r, 1);
	assert_int_equal(r.what[0], STORE_SYNC);
	assert_non_null(strstr(r.text[0], "etcd watch from revision "));
	square(&p, "10");
	apply_ok(b, &p);
	watch_wait(&loop, &r, 2);
	assert_int_equal(r.what[1], STORE_CURRENT);
	assert_int_equal(r.gen[1], 1);
	assert_int_equal(store_lead(b, "B since 1", 2, who, sizeof(who)), 1);
	watch_wait(&loop, &r, 3);
	assert_int_equal(r.what[2], STORE_LEADER);
	assert_string_equal(r.text[2], "B since 1");
	store_resign(b);
	watch_wait(&loop, &r, 4);
	assert_int_equal(r.what[3], STORE_LEADER);
	assert_string_equal(r.text[3], "");
	store_unwatch(a);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(r.n, 4);
	store_close(a);
	store_close(b);
	parsed_free(&p);
}

/* ------------------------------------------------------------------ */
/* Copy between backends: SQLite to etcd and back                       */
/* ------------------------------------------------------------------ */

/* Three generations (one a rollback), liveness and placements. */
static void
fill_store(struct store *st)
{
	struct parsed a, b, c;
	uint64_t gen;

	square(&a, "10");
	square(&b, "20");
	square(&c, "10");
	apply_ok(st, &a);
	gens_against(st, &b, &a);
	apply_ok(st, &b);
	gens_against(st, &c, &b);
	assert_int_equal(apply_as(st, &c, "rollback to generation 1", 1, &gen),
			 0);
	assert_int_equal(store_agent_seen(st, "n2", "10.99.0.2:7701", "0.9",
					  1234),
			 0);
	assert_int_equal(store_agent_ack(st, "n2", 3), 0);
	assert_int_equal(store_placement_set(st, "n1", "qosmod", "threshold=20",
					     1, 1000),
			 0);
	parsed_free(&a);
	parsed_free(&b);
	parsed_free(&c);
}

/* Everything the API shows of @x and @y is the same. */
static void
same_content(struct store *x, struct store *y)
{
	struct store_gen *hx, *hy;
	struct store_node *nx, *ny;
	struct store_placement *px, *py;
	size_t n, m;

	assert_int_equal(store_history(x, &hx, &n), 0);
	assert_int_equal(store_history(y, &hy, &m), 0);
	assert_int_equal(n, m);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(hx[i].id, hy[i].id);
		assert_string_equal(hx[i].applied_at, hy[i].applied_at);
		assert_string_equal(hx[i].sha256, hy[i].sha256);
		assert_string_equal(hx[i].comment, hy[i].comment);
		assert_string_equal(hx[i].source, hy[i].source);
		assert_int_equal(hx[i].rollback_of, hy[i].rollback_of);
		assert_int_equal(hx[i].n_links, hy[i].n_links);
	}
	store_history_free(hx, n);
	store_history_free(hy, m);
	assert_int_equal(store_nodes(x, &nx, &n), 0);
	assert_int_equal(store_nodes(y, &ny, &m), 0);
	assert_int_equal(n, m);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(nx[i].name, ny[i].name);
		assert_string_equal(nx[i].labels, ny[i].labels);
		assert_string_equal(nx[i].digest, ny[i].digest);
		assert_int_equal(nx[i].want_gen, ny[i].want_gen);
		assert_string_equal(nx[i].agent_addr, ny[i].agent_addr);
		assert_int_equal(nx[i].last_seen_ms, ny[i].last_seen_ms);
		assert_int_equal(nx[i].acked_gen, ny[i].acked_gen);
	}
	store_nodes_free(nx, n);
	store_nodes_free(ny, m);
	assert_int_equal(store_placements(x, "n1", &px, &n), 0);
	assert_int_equal(store_placements(y, "n1", &py, &m), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m, 1);
	assert_string_equal(px[0].params, py[0].params);
	store_placements_free(px, n);
	store_placements_free(py, m);
}

static void
copy_sqlite_etcd_sqlite(void **state)
{
	struct store *sq, *et, *back;
	char err[512], w[64];
	size_t n;

	backend = &backends[0];
	fresh(state);
	sq = open_ok();
	fill_store(sq);
	backend = &backends[1];
	fresh(state);
	et = open_ok();
	assert_int_equal(store_copy(et, sq, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	same_content(sq, et);
	wants(et, w, sizeof(w));
	assert_string_equal(w, "1 1 3 3 1");
	/* Into a store that is not empty: refused, nothing added. */
	assert_int_equal(store_copy(et, sq, &n, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "not empty: it holds generation 3"));
	/* And back into a new SQLite file. */
	backend = &backends[0];
	fresh(state);
	back = open_ok();
	assert_int_equal(store_copy(back, et, &n, err, sizeof(err)), 0);
	same_content(sq, back);
	store_close(back);
	store_close(et);
	store_close(sq);
	backend = &backends[1];
}

/* ------------------------------------------------------------------ */

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

/* Start the etcd of this run; 0 when it is up, 1 to skip its tests. */
static int
etcd_up(void)
{
	int rc = etcd_server_start(&etcd, dir);

	if (rc == 1)
		printf("[  SKIPPED ] etcd backend: /usr/bin/etcd not installed "
		       "(Debian package etcd-server)\n");
	else if (rc < 0)
		fprintf(stderr, "etcd did not start (ITM_TEST_ETCD_VERBOSE=1 "
				"shows why)\n");
	return rc;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest api[] = {
		cmocka_unit_test_setup(apply_and_read_back, fresh),
		cmocka_unit_test_setup(table_generations, fresh),
		cmocka_unit_test_setup(refuses_incoherent, fresh),
		cmocka_unit_test_setup(liveness, fresh),
		cmocka_unit_test_setup(liveness_batch, fresh),
		cmocka_unit_test_setup(liveness_batch_many, fresh),
		cmocka_unit_test_setup(placements, fresh),
		cmocka_unit_test_setup(placed_nodes, fresh),
		cmocka_unit_test_setup(reopen_keeps_all, fresh),
	};
	const struct CMUnitTest sqlite[] = {
		cmocka_unit_test_setup(schema_and_pragmas, fresh),
		cmocka_unit_test_setup(refuse_foreign, fresh),
		cmocka_unit_test_setup(refuse_newer, fresh),
		cmocka_unit_test_setup(apply_rows, fresh),
		cmocka_unit_test_setup(migrate_from_1, fresh),
		cmocka_unit_test_setup(check_hand_edits, fresh),
		cmocka_unit_test_setup(check_garbage, fresh),
		cmocka_unit_test_setup(kill_mid_apply, fresh),
		cmocka_unit_test_setup(kill_random, fresh),
	};
	const struct CMUnitTest etcd_only[] = {
		cmocka_unit_test_setup(etcd_apply_keys, fresh),
		cmocka_unit_test_setup(etcd_seen_keys, fresh),
		cmocka_unit_test_setup(etcd_refuse_foreign_newer, fresh),
		cmocka_unit_test_setup(etcd_refuse_address, fresh),
		cmocka_unit_test_setup(etcd_kill_mid_apply, fresh),
		cmocka_unit_test_setup(etcd_racing_applies, fresh),
		cmocka_unit_test_setup(etcd_leadership, fresh),
		cmocka_unit_test_setup(etcd_watch, fresh),
		cmocka_unit_test(copy_sqlite_etcd_sqlite),
	};
	int failed = 0, etcd_rc;

	if (argc == 4 && strcmp(argv[1], "--apply") == 0)
		return child_apply(argv[2], argv[3]);
	if (setup(NULL) < 0)
		return 1;
	etcd_rc = etcd_up();
	for (size_t i = 0; i < sizeof(backends) / sizeof(*backends); i++) {
		backend = &backends[i];
		if (backend->fresh == etcd_fresh && etcd_rc != 0)
			continue;
		failed += _cmocka_run_group_tests(backend->name, api,
						  sizeof(api) / sizeof(*api),
						  NULL, NULL);
	}
	backend = &backends[0]; /* sqlite */
	failed +=
		cmocka_run_group_tests_name("sqlite file", sqlite, NULL, NULL);
	backend = &backends[1];
	if (etcd_rc == 0)
		failed += cmocka_run_group_tests_name("etcd keys", etcd_only,
						      NULL, NULL);
	etcd_server_stop(&etcd);
	teardown(NULL);
	return failed || etcd_rc < 0 ? 1 : 0;
}
