/*
 * store.h - the controller's database: one SQLite file holding every
 * topology generation (with the YAML that made it), its nodes, links,
 * labels and module placement, each node's neighbour-table digest,
 * agent liveness, and the modules the controller loaded on each agent.  The controller rebuilds all its state from this file
 * alone.  store.c is the only file of the controller that includes
 * sqlite3.h.
 *
 * Generations only grow: an apply adds one, a rollback adds one holding an
 * older generation's YAML.  An apply is one transaction, and a topology
 * with any fault never starts one, so the file is untouched.
 *
 * Each node of a generation has a table generation (want_gen): the
 * generation in which its neighbour table last changed.  Pushes carry it,
 * so applying a change re-versions only the nodes the change affects.
 *
 * Functions return 0 or a negative errno value; store_errmsg() then says
 * what SQLite reported.
 */
#ifndef ITM_STORE_H
#define ITM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "neigh.h"
#include "topo.h"

#define STORE_SCHEMA_VERSION 2

/* Environment variable naming a file: when set, an apply creates the file
 * inside its transaction and waits there (tests kill -9 it mid-apply). */
#define STORE_PAUSE_ENV "ITM_STORE_PAUSE_IN_APPLY"

struct store;

/*
 * Open (creating and migrating as needed) the database at @path: WAL,
 * foreign keys, a busy timeout.  A file that is not an ITM database or has
 * a newer schema is refused.  On failure @err (if not NULL) says why.
 */
int store_open(struct store **out, const char *path, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_errmsg(const struct store *st);
int store_schema_version(struct store *st);

/*
 * Validate @yaml (topo_parse; faults go to @errs and nothing is written),
 * compute every node's table, and store it all as a new generation in one
 * transaction.  @filename names the input in faults and history; @comment
 * (may be NULL) overrides the file's own comment; @rollback_of is 0 or the
 * generation this one restores.  Returns 0 with *@gen set, -EINVAL on
 * faults, or another error from the database (nothing stored).
 */
int store_apply(struct store *st, const char *yaml, size_t len,
		const char *filename, const char *comment, uint64_t rollback_of,
		struct topo_errors *errs, uint64_t *gen);

/* Store generation @to's YAML again as a new generation. -ENOENT if no
 * such generation. */
int store_rollback(struct store *st, uint64_t to, struct topo_errors *errs,
		   uint64_t *gen);

/* The newest generation, 0 when nothing was ever applied. */
int store_current(struct store *st, uint64_t *gen);

struct store_gen {
	uint64_t id;
	char applied_at[32];  /* "2024-05-01T12:00:00.123Z" (UTC) */
	char sha256[65];      /* of the YAML text */
	char *comment;	      /* "" if none */
	char *source;	      /* file name given at apply */
	uint64_t rollback_of; /* 0 unless made by a rollback */
	uint32_t n_nodes, n_links;
};

/* Every generation, oldest first.  Free with store_history_free(). */
int store_history(struct store *st, struct store_gen **out, size_t *n);
void store_history_free(struct store_gen *v, size_t n);

/* The YAML of generation @gen (0 = current), NUL-terminated, owned by the
 * caller (free()); @info may be NULL.  -ENOENT if none. */
int store_yaml(struct store *st, uint64_t gen, char **yaml, size_t *len,
	       struct store_gen *info);

/*
 * Generation @gen (0 = current) as a config and its neighbour tables
 * (either pointer may be NULL).  The caller frees them:
 * neigh_set_free(*tables) before topo_config_free(*cfg).
 */
int store_topology(struct store *st, uint64_t gen, struct topo_config **cfg,
		   struct neigh_set **tables);

/* A node of the current generation with its agent's liveness. */
struct store_node {
	char *name;
	char *mgmt;
	char *overlay;
	char *labels;		       /* "key=value,key=value", "" if none */
	char digest[NEIGH_DIGEST_HEX]; /* of its neighbour table */
	uint64_t want_gen;	       /* table generation it should hold */
	/* Liveness: zero/empty until its agent first joined. */
	char *agent_addr;
	char *version;
	int64_t last_seen_ms; /* unix time in ms, 0 = never */
	uint64_t acked_gen;   /* table generation it acknowledged */
};

/* Nodes of the current generation, by name.  Free: store_nodes_free(). */
int store_nodes(struct store *st, struct store_node **out, size_t *n);
void store_nodes_free(struct store_node *v, size_t n);

/* Record a join or heartbeat of @node's agent (upsert).  @addr and
 * @version may be NULL to keep what is stored. */
int store_agent_seen(struct store *st, const char *node, const char *addr,
		     const char *version, int64_t now_ms);
/* Record the table generation @node's agent holds. */
int store_agent_ack(struct store *st, const char *node, uint64_t gen);
/* The same for @n nodes in one transaction (one sync, not @n). */
int store_agent_acks(struct store *st, const char *const *nodes,
		     const uint64_t *gens, size_t n);

/*
 * Module placement: the modules the controller itself loaded (or found
 * running as the topology declares them) on a node's agent, with the
 * parameters it placed, "key=value" lines sorted by key.  Only these are
 * ever unloaded when a topology stops listing them; a module an operator
 * loaded by hand has no row.  Rows are by node name, across generations.
 */
struct store_placement {
	char *module;
	char *params; /* "k=v\nk=v", sorted; "" if none */
	uint64_t gen; /* generation that placed it */
};

/* @node's placements, by module name.  Free: store_placements_free(). */
int store_placements(struct store *st, const char *node,
		     struct store_placement **out, size_t *n);
void store_placements_free(struct store_placement *v, size_t n);
/* Record (upsert) or forget the placement of @module on @node. */
int store_placement_set(struct store *st, const char *node, const char *module,
			const char *params, uint64_t gen, int64_t now_ms);
int store_placement_del(struct store *st, const char *node, const char *module);

#endif /* ITM_STORE_H */
