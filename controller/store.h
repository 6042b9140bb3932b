/*
 * store.h - the controller's store: every topology generation (with the
 * YAML that made it), its nodes, links, labels and modules, each node's
 * neighbour-table digest and table generation, agent liveness, and the
 * modules the controller placed on each agent.  The controller rebuilds
 * all its state from the store alone.
 *
 * The store is an interface with backends.  store.c keeps it in one
 * SQLite file (and is the only file of the controller that includes
 * sqlite3.h); a backend is a struct store_ops, and store_open() picks one
 * by the address it is given (store_api.c: one line a backend).  Every
 * backend passes the same tests (tests/unit/test_store.c).
 *
 * The store stores what it is given and never parses: the caller parses
 * a topology where the request comes in (an Apply, a Rollback's stored
 * YAML, the generation read back at start-up), computes its neighbour
 * tables and their table generations, and hands the result down.
 *
 * Generations only grow: an apply adds one, a rollback adds one holding an
 * older generation's YAML.  An apply is stored whole or not at all.
 *
 * Functions return 0 or a negative errno value; store_errmsg() then says
 * what the backend reported.
 */
#ifndef ITM_STORE_H
#define ITM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "neigh.h"
#include "topo.h"

/* Environment variable naming a file: when set, an apply creates the file
 * with the write open and waits there (tests kill -9 it mid-apply). */
#define STORE_PAUSE_ENV "ITM_STORE_PAUSE_IN_APPLY"

/* The schema this controller writes (store_schema_version()). */
#define STORE_SCHEMA_VERSION 2

/* A backend's handle starts with this (struct sq { struct store base;
 * ... } in store.c). */
struct store {
	const struct store_ops *ops;
	int last;	 /* errno value of the last failure */
	uint64_t errors; /* backend calls that failed (store_api.c) */
	char err[512];	 /* what store_errmsg() says about it */
	int damaged;	 /* found damaged: writes are refused */
	char where[256]; /* as given to store_open() */
};

/*
 * Open (creating and migrating as needed) the store at @where: a file
 * path (an SQLite database) or "etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
 * [?ca=FILE&cert=FILE&key=FILE&name=NAME]" (keys under PREFIX, default
 * /itm; TLS to etcd when ca= is given).  A store that is not an ITM one
 * or has a newer schema is refused.  On failure @err (if not NULL) says why.
 */
int store_open(struct store **out, const char *where, char *err, size_t errlen);
void store_close(struct store *st);

/*
 * Check the store: 0 when sound, else -EBADMSG with what is wrong in
 * store_errmsg(), and the store marks itself damaged.  @full checks every
 * page and index (PRAGMA integrity_check: --check); else the quick check
 * made at start-up (PRAGMA quick_check).  Both check the rows too: foreign
 * keys (a link to a deleted node) and value ranges (a cost of 0), which
 * a hand edit with the schema's checks off can break.  A backend without
 * a check passes.
 *
 * Once a call has found the store damaged (a check, or any call failing
 * with -EBADMSG), every write is refused with -EROFS and
 * store_errmsg() says how to recover (STORE_RECOVERY).
 */
int store_check(struct store *st, int full);
int store_damaged(const struct store *st);
#define STORE_RECOVERY                                                    \
	"restore the file from a backup, or save what is still readable " \
	"with `sqlite3 DB .recover | sqlite3 NEW.db`, check it with "     \
	"`itm-controller --db NEW.db --check` and start with --db NEW.db"
const char *store_errmsg(const struct store *st);
/* Calls the backend failed since open (itm_store_errors_total). */
uint64_t store_errors(const struct store *st);
int store_schema_version(struct store *st);

/*
 * A new generation, parsed and computed by the caller; the store keeps
 * all of it and checks none of it.  Nothing is borrowed past the call.
 */
struct store_apply {
	const char *yaml; /* the text as applied (show, rollback, start-up) */
	size_t len;
	const char *source;   /* file name given at apply; NULL: "" */
	const char *comment;  /* NULL: none */
	uint64_t rollback_of; /* 0, or the generation this one restores */
	const struct topo_config *topo;
	const struct neigh_set *tables; /* one per node, in topo's order */
	/* Per node, in topo's order: the generation in which its table last
	 * changed (pushes carry it), 0 for "this new generation". */
	const uint64_t *table_gens;
	/* When it was applied, "2024-05-01T12:00:00.123Z"; NULL: now (an
	 * import keeps the original's). */
	const char *applied_at;
};

/* Store @in as the next generation, whole or not at all; *@gen is its
 * number.  -EINVAL when @in does not hold together (no topology, or not
 * one table and table generation per node). */
int store_apply(struct store *st, const struct store_apply *in, uint64_t *gen);

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
/* Free the strings of one (store_yaml()'s @info). */
void store_gen_clear(struct store_gen *g);

/* The YAML of generation @gen (0 = current), NUL-terminated, owned by the
 * caller (free()); @info may be NULL (else clear it, store_gen_clear()).
 * -ENOENT if none. */
int store_yaml(struct store *st, uint64_t gen, char **yaml, size_t *len,
	       struct store_gen *info);

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
/* One agent's liveness, for store_agents_seen(). */
struct store_seen {
	const char *node;
	const char *addr;    /* NULL: keep what is stored */
	const char *version; /* NULL: keep what is stored */
	int64_t seen_ms;     /* its last join or heartbeat, unix ms */
};
/* The same for @n agents at once, as one write: one SQLite transaction;
 * on etcd Txns of up to 100 puts, and a read only when an address or a
 * version is given (the controller flushes liveness so, on a timer). */
int store_agents_seen(struct store *st, const struct store_seen *v, size_t n);
/* Record the table generation @node's agent holds. */
int store_agent_ack(struct store *st, const char *node, uint64_t gen);
/* The same for @n nodes at once (one sync, not @n). */
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
/* The nodes that have any placement, sorted by name (strcmp): one read
 * for many nodes.  Free: store_names_free(). */
int store_placed_nodes(struct store *st, char ***out, size_t *n);
void store_names_free(char **v, size_t n);
/* Record (upsert) or forget the placement of @module on @node. */
int store_placement_set(struct store *st, const char *node, const char *module,
			const char *params, uint64_t gen, int64_t now_ms);
int store_placement_del(struct store *st, const char *node, const char *module);

/*
 * Leadership among controllers sharing one store: campaign for, or keep,
 * the lead as @me (the value others see: "ADDR since MS") for @ttl_s
 * seconds.  1 when @me leads (for @ttl_s from this call unless called
 * again), 0 when another does (its value in @leader), negative when the
 * store cannot say.  A store only one controller opens (SQLite) always
 * answers 1.  store_resign() gives the lead up now (at shutdown).
 */
int store_lead(struct store *st, const char *me, int ttl_s, char *leader,
	       size_t len);
void store_resign(struct store *st);
/* What the store says of its health, one line in @buf: "ok: ..." (0) or
 * what failed (negative). */
int store_health(struct store *st, char *buf, size_t len);

/*
 * Following what other controllers write (a standby): after
 * store_watch(), @cb runs on @loop for each change of the current
 * generation (STORE_CURRENT, @gen) or of the leader (STORE_LEADER, @text:
 * its value, "" when nobody leads), as the store makes it.  STORE_SYNC:
 * the watch (re)started (@text says from where): changes from then on
 * are reported, read again what you follow.  STORE_BROKEN: it stopped
 * (@text says why); it restarts by itself and says STORE_SYNC then.
 * -ENOTSUP: a store only one controller opens (SQLite).
 * store_unwatch() stops it (on the loop, before the loop ends); no @cb
 * after it.
 */
enum store_change { STORE_SYNC, STORE_BROKEN, STORE_CURRENT, STORE_LEADER };
typedef void (*store_watch_cb)(void *arg, enum store_change what, uint64_t gen,
			       const char *text);
struct uv_loop_s;
int store_watch(struct store *st, struct uv_loop_s *loop, store_watch_cb cb,
		void *arg);
void store_unwatch(struct store *st);

/*
 * Copy all of @src into @dst, which must hold no generation (-EEXIST):
 * every generation with its YAML, source, comment, rollback and time of
 * apply (numbers kept; each YAML parsed and its tables computed again,
 * the current one's table generations as @src holds them), the agents'
 * liveness and the placements.  SQLite to etcd and back (store_copy.c).
 * *@n_gens: how many generations were copied.  On failure @err says why
 * and what @dst holds is to be thrown away.
 */
int store_copy(struct store *dst, struct store *src, size_t *n_gens, char *err,
	       size_t errlen);

/* ------------------------------------------------------------------ */
/* Backends                                                             */
/* ------------------------------------------------------------------ */

/*
 * What a backend implements: the calls above with the same contracts
 * (store_api.c checks the arguments and frees the results).  @open gets
 * @where as given to store_open(); @apply gets the YAML's SHA-256 (hex)
 * to keep with it.  A failure leaves its message in st->err.
 */
struct store_ops {
	const char *name; /* "sqlite" */
	int (*open)(struct store **out, const char *where, char *err,
		    size_t errlen);
	void (*close)(struct store *st);
	int (*schema_version)(struct store *st);
	int (*apply)(struct store *st, const struct store_apply *in,
		     const char *sha256, uint64_t *gen);
	int (*current)(struct store *st, uint64_t *gen);
	int (*history)(struct store *st, struct store_gen **out, size_t *n);
	int (*yaml)(struct store *st, uint64_t gen, char **yaml, size_t *len,
		    struct store_gen *info);
	int (*nodes)(struct store *st, struct store_node **out, size_t *n);
	int (*agents_seen)(struct store *st, const struct store_seen *v,
			   size_t n);
	int (*agent_acks)(struct store *st, const char *const *nodes,
			  const uint64_t *gens, size_t n);
	int (*placements)(struct store *st, const char *node,
			  struct store_placement **out, size_t *n);
	int (*placed_nodes)(struct store *st, char ***out, size_t *n);
	int (*placement_set)(struct store *st, const char *node,
			     const char *module, const char *params,
			     uint64_t gen, int64_t now_ms);
	int (*placement_del)(struct store *st, const char *node,
			     const char *module);
	int (*check)(struct store *st, int full); /* may be NULL */
	/* NULL: one controller alone uses the store, it always leads. */
	int (*lead)(struct store *st, const char *me, int ttl_s, char *leader,
		    size_t len);
	void (*resign)(struct store *st);
	/* NULL: "ok" when the current generation can be read. */
	int (*health)(struct store *st, char *buf, size_t len);
	/* NULL: nobody else writes (store_watch() is -ENOTSUP). */
	int (*watch)(struct store *st, struct uv_loop_s *loop,
		     store_watch_cb cb, void *arg);
	void (*unwatch)(struct store *st);
};

extern const struct store_ops store_sqlite_ops; /* store.c */
extern const struct store_ops store_etcd_ops;	/* store_etcd/ */

/* For backends: the pause of STORE_PAUSE_ENV, with the write open. */
void store_pause_hook(void);

#endif /* ITM_STORE_H */
