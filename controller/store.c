/*
 * store.c - the store's SQLite backend (store.h, store_sqlite_ops): one
 * database file.  The only file of the controller that talks to SQLite.
 *
 * The schema is versioned with PRAGMA user_version and built by an ordered
 * list of migrations, each applied in its own transaction; the file is
 * marked with PRAGMA application_id so a stray database is refused rather
 * than "migrated".  Rows are per generation, so any past topology can be
 * queried; the YAML text of each generation is kept too and is what
 * rollback and restart read back.  An apply is one transaction.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

#define STORE_APP_ID  0x49544d31 /* "ITM1" */
#define STORE_BUSY_MS 5000

/* The handle: struct store first (store.h). */
struct sq {
	struct store base;
	sqlite3 *db;
};

static struct sq *
sq_of(struct store *st)
{
	return (struct sq *)st;
}

/* ------------------------------------------------------------------ */
/* Schema                                                               */
/* ------------------------------------------------------------------ */

/* migrations[i] takes the schema from version i to i + 1.  Append only. */
static const char *const migrations[] = {
	/* 1: generations with their YAML, per-generation topology rows,
	 *    agent liveness. */
	"CREATE TABLE generations ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  applied_at TEXT NOT NULL,"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  source TEXT NOT NULL DEFAULT '',"
	"  yaml TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  rollback_of INTEGER REFERENCES generations(id));"
	"CREATE TABLE nodes ("
	"  gen INTEGER NOT NULL REFERENCES generations(id),"
	"  name TEXT NOT NULL,"
	"  mgmt_addr TEXT NOT NULL,"
	"  overlay_addr TEXT NOT NULL,"
	"  table_digest TEXT NOT NULL,"
	"  table_gen INTEGER NOT NULL REFERENCES generations(id),"
	"  PRIMARY KEY (gen, name)) WITHOUT ROWID;"
	"CREATE TABLE node_labels ("
	"  gen INTEGER NOT NULL, node TEXT NOT NULL,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (gen, node, key),"
	"  FOREIGN KEY (gen, node) REFERENCES nodes(gen, name)) WITHOUT ROWID;"
	"CREATE TABLE links ("
	"  gen INTEGER NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,"
	"  cost INTEGER NOT NULL CHECK (cost BETWEEN 1 AND 65535),"
	"  latency_ms INTEGER NOT NULL CHECK (latency_ms >= 0),"
	"  bandwidth_kbps INTEGER NOT NULL CHECK (bandwidth_kbps >= 0),"
	"  PRIMARY KEY (gen, a, b), CHECK (a < b),"
	"  FOREIGN KEY (gen, a) REFERENCES nodes(gen, name),"
	"  FOREIGN KEY (gen, b) REFERENCES nodes(gen, name)) WITHOUT ROWID;"
	"CREATE TABLE modules ("
	"  gen INTEGER NOT NULL, node TEXT NOT NULL, name TEXT NOT NULL,"
	"  position INTEGER NOT NULL,"
	"  PRIMARY KEY (gen, node, name),"
	"  FOREIGN KEY (gen, node) REFERENCES nodes(gen, name)) WITHOUT ROWID;"
	"CREATE TABLE module_params ("
	"  gen INTEGER NOT NULL, node TEXT NOT NULL, module TEXT NOT NULL,"
	"  key TEXT NOT NULL, value TEXT NOT NULL, position INTEGER NOT NULL,"
	"  PRIMARY KEY (gen, node, module, key),"
	"  FOREIGN KEY (gen, node, module)"
	"    REFERENCES modules(gen, node, name)) WITHOUT ROWID;"
	"CREATE TABLE agents ("
	"  node TEXT PRIMARY KEY,"
	"  agent_addr TEXT NOT NULL DEFAULT '',"
	"  version TEXT NOT NULL DEFAULT '',"
	"  last_seen_ms INTEGER NOT NULL DEFAULT 0,"
	"  acked_gen INTEGER NOT NULL DEFAULT 0);",
	/* 2: the modules the controller placed on each node's agent. */
	"CREATE TABLE placements ("
	"  node TEXT NOT NULL, module TEXT NOT NULL,"
	"  params TEXT NOT NULL,"
	"  gen INTEGER NOT NULL,"
	"  placed_at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (node, module)) WITHOUT ROWID;",
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION,
	       "STORE_SCHEMA_VERSION must match the migrations");

/* ------------------------------------------------------------------ */
/* Errors and statement helpers                                         */
/* ------------------------------------------------------------------ */

static int
errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EBADMSG;
	case SQLITE_CONSTRAINT: return -EEXIST;
	default: return -EIO;
	}
}

static int
fail(struct sq *st, int rc, const char *what)
{
	snprintf(st->base.err, sizeof(st->base.err), "%s: %s", what,
		 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
	st->base.last = errno_of(rc) ? errno_of(rc) : -EIO;
	return st->base.last;
}

/* Bind @types ('t' text or NULL, 'i' int64_t) to @s from @ap. */
static int
bind_va(sqlite3_stmt *s, const char *types, va_list ap)
{
	int rc = SQLITE_OK;

	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 't') {
			const char *v = va_arg(ap, const char *);

			rc = v ? sqlite3_bind_text(s, i + 1, v, -1,
						   SQLITE_TRANSIENT)
			       : sqlite3_bind_null(s, i + 1);
		} else {
			rc = sqlite3_bind_int64(s, i + 1,
						(sqlite3_int64)va_arg(ap,
								      int64_t));
		}
	}
	return rc;
}

/* A prepared and bound statement, or NULL with st->base.err set. */
static sqlite3_stmt *
query(struct sq *st, const char *sql, const char *types, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int rc;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		va_start(ap, types);
		rc = bind_va(s, types, ap);
		va_end(ap);
	}
	if (rc != SQLITE_OK) {
		fail(st, rc, "prepare");
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Step @s to the end, then finalize it. */
static int
finish(struct sq *st, sqlite3_stmt *s, const char *what)
{
	int rc;

	if (s == NULL)
		return st->base.last;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : fail(st, rc, what);
}

/* Re-run a statement prepared once (for the rows of an apply). */
static int
rerun(struct sq *st, sqlite3_stmt *s, const char *types, ...)
{
	va_list ap;
	int rc;

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	va_start(ap, types);
	rc = bind_va(s, types, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	return rc == SQLITE_DONE ? 0 : fail(st, rc, "insert");
}

static int
exec(struct sq *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(st, rc, sql);
}

/* One integer from a query (0 when no row), or an error. */
static int
query_int(struct sq *st, int64_t *out, const char *sql)
{
	sqlite3_stmt *s = query(st, sql, "");
	int rc;

	if (s == NULL)
		return st->base.last;
	rc = sqlite3_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(st, rc, sql);
}

static void
rollback(struct sq *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* End the transaction begun with BEGIN IMMEDIATE: commit when @rc is 0,
 * else roll back; the result. */
static int
end_tx(struct sq *st, int rc)
{
	if (rc == 0)
		rc = exec(st, "COMMIT");
	if (rc < 0)
		rollback(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Open and migrate                                                     */
/* ------------------------------------------------------------------ */

static int
migrate_one(struct sq *st, int version)
{
	char sql[96];
	int64_t cur;
	int rc;

	rc = exec(st, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	rc = query_int(st, &cur, "PRAGMA user_version");
	if (rc == 0 && cur == version) { /* not done by another process */
		rc = exec(st, migrations[version]);
		snprintf(sql, sizeof(sql),
			 "PRAGMA user_version = %d; "
			 "PRAGMA application_id = %d",
			 version + 1, STORE_APP_ID);
		if (rc == 0)
			rc = exec(st, sql);
	}
	return end_tx(st, rc);
}

static int
migrate(struct sq *st)
{
	int64_t version, app, tables;
	int rc;

	if ((rc = query_int(st, &version, "PRAGMA user_version")) < 0 ||
	    (rc = query_int(st, &app, "PRAGMA application_id")) < 0 ||
	    (rc = query_int(st, &tables, "SELECT count(*) FROM sqlite_schema")))
		return rc;
	if ((app != 0 && app != STORE_APP_ID) || (app == 0 && tables > 0)) {
		snprintf(st->base.err, sizeof(st->base.err),
			 "not an itm-controller "
			 "database (application_id %lld, %lld tables)",
			 (long long)app, (long long)tables);
		return -EBADMSG;
	}
	if (version > (int64_t)N_MIGRATIONS) {
		snprintf(st->base.err, sizeof(st->base.err),
			 "database schema version "
			 "%lld is newer than this itm-controller's (%d)",
			 (long long)version, STORE_SCHEMA_VERSION);
		return -EPROTONOSUPPORT;
	}
	for (int v = (int)version; v < (int)N_MIGRATIONS; v++)
		if ((rc = migrate_one(st, v)) < 0)
			return rc;
	return 0;
}

static int
configure(struct sq *st)
{
	sqlite3_stmt *s;
	int rc, wal;

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	s = query(st, "PRAGMA journal_mode = WAL", "");
	if (s == NULL)
		return st->base.last;
	rc = sqlite3_step(s);
	wal = rc == SQLITE_ROW &&
	      !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return fail(st, rc, "journal_mode");
	if (!wal) {
		snprintf(st->base.err, sizeof(st->base.err),
			 "cannot use WAL journal");
		return -EIO;
	}
	if ((rc = exec(st, "PRAGMA foreign_keys = ON")) < 0 ||
	    (rc = exec(st, "PRAGMA synchronous = FULL")) < 0)
		return rc;
	return migrate(st);
}

/* ------------------------------------------------------------------ */
/* Integrity                                                            */
/* ------------------------------------------------------------------ */

/* Rows that break what the schema promises, even when written by hand
 * with its checks off (the sqlite3 shell has foreign keys off). */
static const struct {
	const char *what, *sql;
} row_checks[] = {
	{ "links with a cost, latency or bandwidth out of range, or a > b",
	  "SELECT count(*) FROM links WHERE cost NOT BETWEEN 1 AND 65535 "
	  "OR latency_ms < 0 OR bandwidth_kbps < 0 OR a >= b" },
	{ "nodes with an empty name or address",
	  "SELECT count(*) FROM nodes WHERE name = '' OR mgmt_addr = '' "
	  "OR overlay_addr = ''" },
	{ "generations without their YAML",
	  "SELECT count(*) FROM generations WHERE yaml = '' OR "
	  "length(sha256) != 64" },
};

/* Append "; @what" to @report. */
static void
report_add(char *report, size_t len, const char *what)
{
	size_t at = strlen(report);

	if (at + 3 < len)
		snprintf(report + at, len - at, "%s%s", at ? "; " : "", what);
}

/* PRAGMA quick_check or integrity_check: its first lines into @report. */
static int
check_pages(struct sq *st, int full, char *report, size_t len)
{
	sqlite3_stmt *s = query(st,
				full ? "PRAGMA integrity_check(5)"
				     : "PRAGMA quick_check(5)",
				"");
	int rc, bad = 0;

	if (s == NULL)
		return st->base.last;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(s, 0);

		if (line && strcmp(line, "ok") != 0)
			report_add(report, len, line), bad = 1;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		report_add(report, len, sqlite3_errmsg(st->db)), bad = 1;
	return bad;
}

/* Foreign keys and row_checks: what they find into @report. */
static int
check_rows(struct sq *st, char *report, size_t len)
{
	sqlite3_stmt *s = query(st, "PRAGMA foreign_key_check", "");
	char line[256];
	int rc, bad = 0;

	if (s == NULL)
		return st->base.last;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && bad < 5) {
		snprintf(line, sizeof(line),
			 "a row of %s refers to a missing row of %s",
			 (const char *)sqlite3_column_text(s, 0),
			 (const char *)sqlite3_column_text(s, 2));
		report_add(report, len, line), bad++;
	}
	sqlite3_finalize(s);
	for (size_t i = 0; i < sizeof(row_checks) / sizeof(*row_checks); i++) {
		int64_t n = 0;

		if (query_int(st, &n, row_checks[i].sql) < 0)
			return st->base.last;
		if (n == 0)
			continue;
		snprintf(line, sizeof(line), "%lld %s", (long long)n,
			 row_checks[i].what);
		report_add(report, len, line), bad++;
	}
	return bad > 0;
}

static int
sq_check(struct store *base, int full)
{
	struct sq *st = sq_of(base);
	char report[sizeof(st->base.err)] = "";
	int rc;

	rc = check_pages(st, full, report, sizeof(report));
	if (rc >= 0) {
		int rows = check_rows(st, report, sizeof(report));

		rc = rows < 0 ? rows : rc || rows;
	}
	if (rc == 0)
		return 0;
	if (rc < 0 && st->base.last != -EBADMSG)
		return rc; /* could not look (busy...): not a verdict */
	if (report[0] == '\0')
		snprintf(report, sizeof(report), "%s", st->base.err);
	snprintf(st->base.err, sizeof(st->base.err), "%s", report);
	return st->base.last = -EBADMSG;
}

static void sq_close(struct store *base);

static int
sq_open(struct store **out, const char *path, char *err, size_t errlen)
{
	struct sq *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (st == NULL)
		return -ENOMEM;
	st->base.ops = &store_sqlite_ops;
	rc = sqlite3_open_v2(path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	rc = rc == SQLITE_OK ? configure(st) : fail(st, rc, "open");
	if (rc < 0) {
		if (err)
			snprintf(err, errlen, "%s: %s", path, st->base.err);
		sq_close(&st->base);
		return rc;
	}
	*out = &st->base;
	return 0;
}

static void
sq_close(struct store *base)
{
	struct sq *st = sq_of(base);

	sqlite3_close(st->db); /* the last connection checkpoints the WAL */
	free(st);
}

static int
sq_schema_version(struct store *base)
{
	int64_t v = -1;

	query_int(sq_of(base), &v, "PRAGMA user_version");
	return (int)v;
}

/* ------------------------------------------------------------------ */
/* Apply: one transaction per generation                                */
/* ------------------------------------------------------------------ */

enum { INS_NODE, INS_LABEL, INS_MODULE, INS_PARAM, INS_LINK, INS_MAX };

static const char *const insert_sql[INS_MAX] = {
	[INS_NODE] = "INSERT INTO nodes (gen, name, mgmt_addr, overlay_addr,"
		     " table_digest, table_gen) VALUES (?, ?, ?, ?, ?, ?)",
	[INS_LABEL] = "INSERT INTO node_labels (gen, node, key, value)"
		      " VALUES (?, ?, ?, ?)",
	[INS_MODULE] = "INSERT INTO modules (gen, node, name, position)"
		       " VALUES (?, ?, ?, ?)",
	[INS_PARAM] = "INSERT INTO module_params (gen, node, module, key,"
		      " value, position) VALUES (?, ?, ?, ?, ?, ?)",
	[INS_LINK] = "INSERT INTO links (gen, a, b, cost, latency_ms,"
		     " bandwidth_kbps) VALUES (?, ?, ?, ?, ?, ?)",
};

struct apply_ctx {
	struct sq *st;
	const struct store_apply *in;
	sqlite3_stmt *ins[INS_MAX];
	int64_t gen;
};

static int
insert_modules(struct apply_ctx *a, const struct topo_node *n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n->n_modules; i++) {
		const struct topo_module *m = &n->modules[i];

		rc = rerun(a->st, a->ins[INS_MODULE], "itti", a->gen, n->name,
			   m->name, (int64_t)i);
		for (size_t j = 0; rc == 0 && j < m->n_params; j++)
			rc = rerun(a->st, a->ins[INS_PARAM], "itttti", a->gen,
				   n->name, m->name, m->params[j].key,
				   m->params[j].value, (int64_t)j);
	}
	return rc;
}

/* Node @i of the new generation, its labels and modules. */
static int
insert_node(struct apply_ctx *a, size_t i)
{
	const struct topo_node *n = &a->in->topo->nodes[i];
	const struct neigh_table *t = &a->in->tables->tables[i];
	uint64_t tgen = a->in->table_gens[i];
	int rc;

	rc = rerun(a->st, a->ins[INS_NODE], "itttti", a->gen, n->name, n->mgmt,
		   n->overlay, t->digest, tgen ? (int64_t)tgen : a->gen);
	for (size_t k = 0; rc == 0 && k < n->n_labels; k++)
		rc = rerun(a->st, a->ins[INS_LABEL], "ittt", a->gen, n->name,
			   n->labels[k].key, n->labels[k].value);
	return rc ? rc : insert_modules(a, n);
}

static int
insert_rows(struct apply_ctx *a)
{
	const struct topo_config *cfg = a->in->topo;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < cfg->n_nodes; i++)
		rc = insert_node(a, i);
	for (size_t i = 0; rc == 0 && i < cfg->n_links; i++) {
		const struct topo_link *l = &cfg->links[i];

		rc = rerun(a->st, a->ins[INS_LINK], "ittiii", a->gen, l->a,
			   l->b, (int64_t)l->cost, (int64_t)l->latency_ms,
			   (int64_t)l->bandwidth_kbps);
	}
	return rc;
}

static int
insert_generation(struct apply_ctx *a, const char *sha256)
{
	const struct store_apply *in = a->in;
	sqlite3_stmt *s;
	int rc;

	s = query(a->st,
		  "INSERT INTO generations (applied_at, comment, source,"
		  " yaml, sha256, rollback_of) VALUES (COALESCE(?6, strftime("
		  "'%Y-%m-%dT%H:%M:%fZ', 'now')), ?1, ?2, ?3, ?4, ?5)",
		  "tt", in->comment ? in->comment : "",
		  in->source ? in->source : "");
	if (s == NULL)
		return a->st->base.last;
	rc = sqlite3_bind_text(s, 3, in->yaml, (int)in->len, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 4, sha256, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK && in->rollback_of)
		rc = sqlite3_bind_int64(s, 5, (sqlite3_int64)in->rollback_of);
	if (rc == SQLITE_OK && in->applied_at)
		rc = sqlite3_bind_text(s, 6, in->applied_at, -1,
				       SQLITE_TRANSIENT);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return fail(a->st, rc, "bind");
	}
	rc = finish(a->st, s, "insert generation");
	a->gen = sqlite3_last_insert_rowid(a->st->db);
	return rc;
}

static int
sq_apply(struct store *base, const struct store_apply *in, const char *sha256,
	 uint64_t *gen)
{
	struct sq *st = sq_of(base);
	struct apply_ctx a = { .st = st, .in = in };
	int rc;

	if ((rc = exec(st, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (int i = 0; rc == 0 && i < INS_MAX; i++)
		if ((a.ins[i] = query(st, insert_sql[i], "")) == NULL)
			rc = st->base.last;
	if (rc == 0)
		rc = insert_generation(&a, sha256);
	if (rc == 0)
		rc = insert_rows(&a);
	for (int i = 0; i < INS_MAX; i++)
		sqlite3_finalize(a.ins[i]);
	if (rc == 0)
		store_pause_hook();
	if ((rc = end_tx(st, rc)) == 0)
		*gen = (uint64_t)a.gen;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Queries                                                              */
/* ------------------------------------------------------------------ */

/* A copy of a text column ("" for NULL); NULL only when out of memory. */
static char *
col_dup(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	return strdup(v ? v : "");
}

static void
col_copy(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	snprintf(buf, len, "%s", v ? v : "");
}

static int
sq_current(struct store *base, uint64_t *gen)
{
	int64_t v;
	int rc = query_int(sq_of(base), &v, "SELECT max(id) FROM generations");

	*gen = rc == 0 && v > 0 ? (uint64_t)v : 0;
	return rc;
}

/*
 * Step @s to its end into a growing array of @size-byte elements, each
 * filled by @row (which must leave an element it fails on freeable), for
 * *@v and *@n.  On failure what was made is freed with @free_rows and
 * *@v, *@n are NULL and 0.  @s NULL: the query failed to prepare.
 */
static int
collect_rows(struct sq *st, sqlite3_stmt *s, size_t size,
	     int (*row)(sqlite3_stmt *, void *),
	     void (*free_rows)(void *v, size_t n), const char *what, void *v,
	     size_t *n)
{
	void **out = v;
	size_t cap = 0;
	int rc = 0, step = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if (s == NULL)
		return st->base.last;
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			void *nv;

			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(*out, cap * size)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			*out = nv;
		}
		rc = row(s, (char *)*out + (*n)++ * size);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = fail(st, step, what);
	sqlite3_finalize(s);
	if (rc < 0) {
		free_rows(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The typed frees of store.h, for collect_rows(). */
static void
gens_free(void *v, size_t n)
{
	store_history_free(v, n);
}

static void
nodes_free(void *v, size_t n)
{
	store_nodes_free(v, n);
}

static void
placements_free(void *v, size_t n)
{
	store_placements_free(v, n);
}

#define GEN_COLUMNS                                              \
	"id, applied_at, sha256, comment, source, rollback_of, " \
	"(SELECT count(*) FROM nodes WHERE gen = id), "          \
	"(SELECT count(*) FROM links WHERE gen = id)"

static int
gen_row(sqlite3_stmt *s, void *elem)
{
	struct store_gen *g = elem;

	memset(g, 0, sizeof(*g));
	g->id = (uint64_t)sqlite3_column_int64(s, 0);
	col_copy(s, 1, g->applied_at, sizeof(g->applied_at));
	col_copy(s, 2, g->sha256, sizeof(g->sha256));
	g->comment = col_dup(s, 3);
	g->source = col_dup(s, 4);
	g->rollback_of = (uint64_t)sqlite3_column_int64(s, 5);
	g->n_nodes = (uint32_t)sqlite3_column_int64(s, 6);
	g->n_links = (uint32_t)sqlite3_column_int64(s, 7);
	return g->comment && g->source ? 0 : -ENOMEM;
}

static int
sq_history(struct store *base, struct store_gen **out, size_t *n)
{
	struct sq *st = sq_of(base);

	return collect_rows(st,
			    query(st,
				  "SELECT " GEN_COLUMNS
				  " FROM generations ORDER BY id",
				  ""),
			    sizeof(**out), gen_row, gens_free, "history", out,
			    n);
}

static int
sq_yaml(struct store *base, uint64_t gen, char **yaml, size_t *len,
	struct store_gen *info)
{
	struct sq *st = sq_of(base);
	struct store_gen g;
	sqlite3_stmt *s;
	int rc;

	*yaml = NULL;
	s = query(st,
		  "SELECT " GEN_COLUMNS ", yaml FROM generations WHERE id"
		  " = (CASE WHEN ?1 = 0 THEN (SELECT max(id) FROM generations)"
		  " ELSE ?1 END)",
		  "i", (int64_t)gen);
	if (s == NULL)
		return st->base.last;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? -ENOENT : fail(st, rc, "yaml");
		if (rc == -ENOENT)
			snprintf(st->base.err, sizeof(st->base.err),
				 "no generation %llu", (unsigned long long)gen);
		sqlite3_finalize(s);
		return rc;
	}
	rc = gen_row(s, &g);
	*len = (size_t)sqlite3_column_bytes(s, 8);
	if (rc == 0 && (*yaml = malloc(*len + 1)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(*yaml, sqlite3_column_text(s, 8), *len);
		(*yaml)[*len] = '\0';
	}
	sqlite3_finalize(s);
	if (rc == 0 && info)
		*info = g;
	else
		store_gen_clear(&g);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Nodes and agent liveness                                             */
/* ------------------------------------------------------------------ */

static int
node_row(sqlite3_stmt *s, void *elem)
{
	struct store_node *n = elem;

	memset(n, 0, sizeof(*n));
	n->name = col_dup(s, 0);
	n->mgmt = col_dup(s, 1);
	n->overlay = col_dup(s, 2);
	n->labels = col_dup(s, 3);
	col_copy(s, 4, n->digest, sizeof(n->digest));
	n->want_gen = (uint64_t)sqlite3_column_int64(s, 5);
	n->agent_addr = col_dup(s, 6);
	n->version = col_dup(s, 7);
	n->last_seen_ms = sqlite3_column_int64(s, 8);
	n->acked_gen = (uint64_t)sqlite3_column_int64(s, 9);
	return n->name && n->mgmt && n->overlay && n->labels && n->agent_addr &&
			       n->version
		       ? 0
		       : -ENOMEM;
}

/* Labels come out in key order: it is the primary key's order. */
static const char nodes_sql[] =
	"SELECT n.name, n.mgmt_addr, n.overlay_addr,"
	" COALESCE((SELECT group_concat(key || '=' || value, ',')"
	"  FROM node_labels l WHERE l.gen = n.gen AND l.node = n.name), ''),"
	" n.table_digest, n.table_gen, a.agent_addr, a.version,"
	" a.last_seen_ms, a.acked_gen"
	" FROM nodes n LEFT JOIN agents a ON a.node = n.name"
	" WHERE n.gen = (SELECT max(id) FROM generations) ORDER BY n.name";

static int
sq_nodes(struct store *base, struct store_node **out, size_t *n)
{
	struct sq *st = sq_of(base);

	return collect_rows(st, query(st, nodes_sql, ""), sizeof(**out),
			    node_row, nodes_free, "nodes", out, n);
}

/* One agent's row: last seen, and its address and version when given. */
static int
agent_seen(struct sq *st, const struct store_seen *v)
{
	return finish(st,
		      query(st,
			    "INSERT INTO agents (node, agent_addr,"
			    " version, last_seen_ms) VALUES (?1,"
			    " COALESCE(?2, ''), COALESCE(?3, ''), ?4)"
			    " ON CONFLICT (node) DO UPDATE SET"
			    " agent_addr = COALESCE(?2, agent_addr),"
			    " version = COALESCE(?3, version),"
			    " last_seen_ms = ?4",
			    "ttti", v->node, v->addr, v->version, v->seen_ms),
		      "agent seen");
}

/*
 * Liveness is written without a sync (WAL with synchronous = NORMAL: the
 * write is consistent, only its durability waits for the next synced
 * commit or checkpoint): with FULL every agent's join and every 10 s
 * flush cost an fdatasync on the controller's loop (1000 agents: 11171
 * syncs in their first 45 s, 1071 without), each a wait as long as the
 * disk takes.  A last-seen time lost with a power cut is rewritten by
 * the next flush.  Many agents: one transaction.
 */
static int
sq_agents_seen(struct store *base, const struct store_seen *v, size_t n)
{
	struct sq *st = sq_of(base);
	int rc = exec(st, "PRAGMA synchronous = NORMAL");

	if (rc == 0 && n == 1)
		rc = agent_seen(st, v);
	else if (rc == 0 && (rc = exec(st, "BEGIN IMMEDIATE")) == 0) {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = agent_seen(st, &v[i]);
		rc = end_tx(st, rc);
	}
	if (exec(st, "PRAGMA synchronous = FULL") < 0 && rc == 0)
		rc = st->base.last;
	return rc;
}

static int
agent_ack(struct sq *st, const char *node, uint64_t gen)
{
	return finish(st,
		      query(st,
			    "INSERT INTO agents (node, acked_gen)"
			    " VALUES (?1, ?2) ON CONFLICT (node) DO UPDATE SET"
			    " acked_gen = ?2",
			    "ti", node, (int64_t)gen),
		      "agent ack");
}

static int
sq_agent_acks(struct store *base, const char *const *nodes,
	      const uint64_t *gens, size_t n)
{
	struct sq *st = sq_of(base);
	int rc;

	if (n == 1)
		return agent_ack(st, nodes[0], gens[0]);
	if ((rc = exec(st, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = agent_ack(st, nodes[i], gens[i]);
	return end_tx(st, rc);
}

/* ------------------------------------------------------------------ */
/* Module placement: what the controller loaded on each agent           */
/* ------------------------------------------------------------------ */

static int
placement_row(sqlite3_stmt *s, void *elem)
{
	struct store_placement *p = elem;

	p->module = col_dup(s, 0);
	p->params = col_dup(s, 1);
	p->gen = (uint64_t)sqlite3_column_int64(s, 2);
	return p->module && p->params ? 0 : -ENOMEM;
}

static int
sq_placements(struct store *base, const char *node,
	      struct store_placement **out, size_t *n)
{
	struct sq *st = sq_of(base);

	return collect_rows(st,
			    query(st,
				  "SELECT module, params, gen FROM placements"
				  " WHERE node = ? ORDER BY module",
				  "t", node),
			    sizeof(**out), placement_row, placements_free,
			    "placements", out, n);
}

static int
name_row(sqlite3_stmt *s, void *elem)
{
	char **name = elem;

	return (*name = col_dup(s, 0)) ? 0 : -ENOMEM;
}

static void
names_free(void *v, size_t n)
{
	store_names_free(v, n);
}

static int
sq_placed_nodes(struct store *base, char ***out, size_t *n)
{
	struct sq *st = sq_of(base);

	return collect_rows(st,
			    query(st,
				  "SELECT DISTINCT node FROM placements"
				  " ORDER BY node COLLATE BINARY",
				  ""),
			    sizeof(**out), name_row, names_free, "placed nodes",
			    out, n);
}

static int
sq_placement_set(struct store *base, const char *node, const char *module,
		 const char *params, uint64_t gen, int64_t now_ms)
{
	struct sq *st = sq_of(base);

	return finish(
		st,
		query(st,
		      "INSERT INTO placements (node, module,"
		      " params, gen, placed_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)"
		      " ON CONFLICT (node, module) DO UPDATE SET params = ?3,"
		      " gen = ?4, placed_at_ms = ?5",
		      "tttii", node, module, params, (int64_t)gen, now_ms),
		"placement");
}

static int
sq_placement_del(struct store *base, const char *node, const char *module)
{
	struct sq *st = sq_of(base);

	return finish(st,
		      query(st,
			    "DELETE FROM placements WHERE node = ?"
			    " AND module = ?",
			    "tt", node, module),
		      "placement");
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.apply = sq_apply,
	.current = sq_current,
	.history = sq_history,
	.yaml = sq_yaml,
	.nodes = sq_nodes,
	.agents_seen = sq_agents_seen,
	.agent_acks = sq_agent_acks,
	.placements = sq_placements,
	.placed_nodes = sq_placed_nodes,
	.placement_set = sq_placement_set,
	.placement_del = sq_placement_del,
	.check = sq_check,
};
