/*
 * ctl.h - itm-controller's runtime state, shared by its ctl_*.c files.
 *
 *   ctl_main.c    options, start-up, signals, the loop
 *   ctl_state.c   the current topology in memory: parsed from the store
 *                 at start-up, taken from each apply
 *   ctl_nodes.c   agents: join, heartbeats, liveness, one client each
 *   ctl_fan.c     calls to many agents at once (one barrier), outcomes
 *   ctl_push.c    neighbour-table pushes, many at once, with a deadline
 *   ctl_rpc.c     the Controller service: its handlers' list, who may
 *                 call what, the handlers that only read
 *   ctl_apply.c   Apply and Rollback: parse, store, push, report
 *   ctl_fanout.c  NodeStats and module calls forwarded to agents
 *   ctl_place.c   module placement: agents run the modules the topology
 *                 declares (after each apply's push, and on join)
 *   ctl_lead.c    several controllers on one store: who leads; standbys
 *                 serve reads, refuse writes and joins naming the leader
 *   ctl_copy.c    --import / --export
 *   ctl_metrics.c --metrics: the Prometheus snapshot, rendered on the loop
 *
 * The topology model is topo/ (libitmtopo), the store store.h (SQLite in
 * store.c), the wire proto/ (itm_methods.h: the RPCs).
 *
 * Everything runs on one libuv loop thread (the rpc glue hands every call
 * to it), so nothing here takes a lock.  The store is the only durable
 * state: the controller rebuilds all of this from it at start-up.
 */
#ifndef ITM_CTL_H
#define ITM_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hist.h"
#include "itm_rpc.h"
#include "neigh.h"
#include "store.h"
#include "topo.h"

#define CTL_DEFAULT_HB_MS   1000
#define CTL_DEFAULT_PUSH_MS 3000
#define CTL_MISSED_BEATS    3	  /* heartbeats missed before "down" */
#define CTL_SEEN_FLUSH_MS   10000 /* last_seen written at most this often */
#define CTL_SEEN_TICK_MS    1000  /* liveness due: written so often */
#define CTL_DETAIL_MAX	    512	  /* a node's result detail */
#define CTL_FAULTS_MAX	    (64 * 1024) /* a refusal's faults, in bytes */
#define CTL_LEAD_TTL_S	    3	  /* a dead leader's lead ends after this */
#define CTL_LEAD_TICK_MS    1000  /* renew the lead / campaign this often */
#define CTL_SAFETY_READ_MS  30000 /* a watching standby reads this often */
#define CTL_FOLLOW_MS	    1000 /* a standby reads liveness at most so often */
#define CTL_STORE_QUIET_MS  5000 /* no liveness I/O so long after a failure */
#define CTL_FD_WANT	    4096 /* open files: warn below (one per agent) */

struct ctl_config {
	const char *db_path;	 /* --db FILE or --store ADDR */
	const char *import_path; /* --import FILE: copy it in, exit */
	const char *export_path; /* --export FILE: copy out, exit */
	const char *advertise;	 /* --advertise ADDR: named as the leader */
	const char *listen;
	const char *metrics_addr; /* --metrics, or NULL */
	struct itm_rpc_tls tls;
	int use_tls;
	int plaintext; /* --plaintext: allowed off loopback */
	int check_only;
	int verbose;
	uint32_t heartbeat_ms;
	uint32_t push_timeout_ms;
};

/* What of a node's liveness waits for the next tick (ctl_nodes.c). */
#define CTL_SEEN_TIME  1u /* its last seen time */
#define CTL_SEEN_AGENT 2u /* and its agent's address and version (a join) */
#define CTL_SEEN_ACK   4u /* the generation its heartbeat reported */

/* One node of the current topology and its agent (runtime only). */
struct ctl_node {
	char *name;
	char *mgmt;		 /* where pushes go: topology's mgmt */
	uint64_t want_gen;	 /* table generation it should hold */
	uint64_t acked_gen;	 /* what its agent acknowledged */
	char *agent_addr;	 /* as the agent reported at join */
	char *version;		 /* its agent's, as reported at join */
	int64_t last_seen_ms;	 /* unix ms, 0 = never */
	int64_t seen_flushed_ms; /* last_seen last written to the store */
	unsigned seen_due;	 /* CTL_SEEN_*: to write at the next tick */
	int up;
	int pushing;		       /* a push is in flight */
	struct itm_rpc_client *client; /* to its Agent service, lazily made */
	/* The client a join replaced, kept until calls on it are done. */
	struct itm_rpc_client *retired;
	int64_t retired_ms; /* when (unix ms) */
};

struct ctl {
	struct ctl_config cfg;
	uv_loop_t *loop;
	struct store *store;
	struct itm_rpc_server *srv;
	uv_timer_t liveness;

	/* The current generation, as loaded from the store. */
	uint64_t gen;
	struct topo_config *topo; /* NULL before the first apply */
	struct neigh_set *tables;
	struct ctl_node *nodes; /* sorted by name, as the topology */
	size_t n_nodes;
	int applying;		      /* an Apply/Rollback is pushing */
	struct place_job *place_jobs; /* module placement, oldest first */

	/* Leadership (ctl_lead.c): a store of one controller always leads. */
	int leading;
	char me[160];	    /* "ADDR (pid N, since TIME)", as others see us */
	char leader[160];   /* who leads: me, another's, or "" (unknown) */
	int64_t lead_ok_ms; /* the last renewal of our lead */
	int watch_up;	    /* the store's watch reports its changes */
	int64_t follow_ms;  /* a standby's last read of the store */
	int64_t nodes_read_ms;	/* a standby's last read of liveness */
	int64_t store_quiet_ms; /* liveness I/O failed: none before this */
	uv_timer_t lead_timer;
	/* ctl_metrics.c: what --metrics exports beyond the state above. */
	struct metrics_hist apply_hist; /* Apply/Rollback, store to reply */
	struct metrics_hist push_hist;	/* a round of table pushes */
	struct metrics_httpd *metrics;
	uv_timer_t metrics_timer;
};

/* ctl_state.c: at start-up, the store's newest generation (@err says
 * what failed); after an apply, the topology and tables the handler
 * parsed and stored (taken, also on failure). */
int ctl_state_load(struct ctl *c, char *err, size_t errlen);
int ctl_state_set(struct ctl *c, uint64_t gen, struct topo_config *topo,
		  struct neigh_set *tables);
void ctl_state_free(struct ctl *c);
/* The table generation of each of @tables (in order) if they replaced
 * the current ones: kept where a table does not change, else 0 (the new
 * generation).  *@out is the caller's to free. */
int ctl_table_gens(struct ctl *c, const struct neigh_set *tables,
		   uint64_t **out);
struct ctl_node *ctl_node_find(struct ctl *c, const char *name);
const struct neigh_table *ctl_node_table(struct ctl *c, const char *name);
int64_t ctl_now_ms(void); /* unix time in ms */

/* ctl_nodes.c */
void ctl_nodes_start(struct ctl *c);
void ctl_nodes_stop(struct ctl *c);
/* Call @m on @n's agent (its mgmt address); 0 when @cb will report. */
int ctl_node_call(struct ctl *c, struct ctl_node *n, enum itm_method m,
		  const ProtobufCMessage *req, int timeout_ms,
		  itm_rpc_done_cb cb, void *arg);
void ctl_node_seen(struct ctl *c, struct ctl_node *n, const char *peer);
/* A standby: the nodes' liveness and acks as the leader stored them
 * (read at most every CTL_FOLLOW_MS); a leader: nothing. */
void ctl_nodes_follow(struct ctl *c);
void ctl_h_join(struct itm_rpc_call *call, void *arg);
void ctl_h_heartbeat(struct itm_rpc_call *call, void *arg);

/* What happened on a node; the same numbers as itm.proto's Outcome. */
enum ctl_outcome {
	CTL_OUTCOME_NONE = 0,
	CTL_OUTCOME_UPDATED,	 /* took a new table or module change */
	CTL_OUTCOME_UNCHANGED,	 /* already held all of it */
	CTL_OUTCOME_UNREACHABLE, /* no answer, connection refused... */
	CTL_OUTCOME_REFUSED,	 /* its agent answered with an error */
};

/* ctl_fan.c: "updated"... for the log; and how a failed call to an
 * agent counts (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED: unreachable;
 * any other error: refused; OK: CTL_OUTCOME_NONE). */
const char *ctl_outcome_name(enum ctl_outcome o);
enum ctl_outcome ctl_outcome_of(int rpc_code);

/*
 * ctl_fan.c: one round of operations on @n nodes at once.  Embed a fan in
 * the round's struct; ctl_fan_run() starts operation i with @start on
 * slot i (0: it will report with ctl_fan_done(slot), maybe at once; < 0:
 * it did not start and never reports); @finish runs once, when every
 * operation started has reported, and frees the round (ctl_fan_fini).
 */
struct ctl_fan;
struct ctl_fan_slot {
	struct ctl_fan *fan;
	size_t i;
};
typedef void (*ctl_fan_finish_cb)(struct ctl_fan *f);
typedef int (*ctl_fan_start_cb)(struct ctl_fan_slot *s);
struct ctl_fan {
	struct ctl *c;
	int64_t deadline_ms; /* the client's, CLOCK_MONOTONIC; 0: none */
	char **nodes;	     /* owned copies: the topology may be reloaded */
	size_t n;
	struct ctl_fan_slot *slots; /* slots[i]: operation i's argument */
	size_t pending;
	ctl_fan_finish_cb finish;
};
#define CTL_FAN_OWNER(f, type) \
	((type *)(void *)((char *)(f)-offsetof(type, fan)))
/* Copies @nodes; 0 or -ENOMEM (then nothing to free). */
int ctl_fan_init(struct ctl_fan *f, struct ctl *c, const char *const *nodes,
		 size_t n, ctl_fan_finish_cb finish);
void ctl_fan_run(struct ctl_fan *f, ctl_fan_start_cb start);
/* A round made for a client's @call ends before the client's deadline:
 * each call to an agent then gets ctl_fan_timeout(). */
void ctl_fan_deadline(struct ctl_fan *f, const struct itm_rpc_call *call);
/* The push timeout, or less: 4/5 of what is left of the client's
 * deadline, so the answer reaches the client in time (at least 1). */
int ctl_fan_timeout(const struct ctl_fan *f);
void ctl_fan_done(struct ctl_fan_slot *s);
void ctl_fan_fini(struct ctl_fan *f);

/* ctl_push.c: push the current table of each named node.  @done gets one
 * result per node, in order (an outcome with a detail), once every push
 * finished or timed out. */
struct ctl_push_result {
	const char *node; /* borrowed from the caller's list */
	enum ctl_outcome result;
	char detail[CTL_DETAIL_MAX];
	uint64_t generation; /* acknowledged (or wanted) */
	int acked;	     /* the agent took it */
};
typedef void (*ctl_push_done_cb)(void *arg, struct ctl_push_result *res,
				 size_t n);
/* @call: the client's call the push is for (its deadline bounds the
 * pushes), or NULL. */
int ctl_push(struct ctl *c, const char *const *nodes, size_t n,
	     const struct itm_rpc_call *call, ctl_push_done_cb done, void *arg);
/* Push to one node unless a push to it is in flight; logs the outcome. */
void ctl_push_one(struct ctl *c, struct ctl_node *n, const char *why);

/* ctl_place.c: reconcile a node's modules with the current topology.
 * The outcome: @failed is CTL_OUTCOME_NONE (it worked),
 * CTL_OUTCOME_UNREACHABLE or CTL_OUTCOME_REFUSED; @detail lists
 * what was done and refused ("loaded qosmod threshold=20; unloaded x"),
 * "" when nothing; @actions counts loads, reloads and unloads. */
struct place_job;
struct ctl_place_outcome {
	const char *node;
	enum ctl_outcome failed;
	const char *detail;
	unsigned int actions;
};
typedef void (*ctl_place_done_cb)(void *arg, const struct ctl_place_outcome *o);
int ctl_place_node(struct ctl *c, const char *node, const char *why,
		   ctl_place_done_cb done, void *arg);
/* Reconcile every node of @res that took its table, fold each outcome
 * into a copy of @res (result and "table gen N; ..." detail), then call
 * @done with it. */
int ctl_place_pushed(struct ctl *c, const char *why,
		     const struct ctl_push_result *res, size_t n,
		     ctl_push_done_cb done, void *arg);
/* Reconcile one node and log the outcome (an agent joined). */
void ctl_place_one(struct ctl *c, const char *node, const char *why);

/* ctl_metrics.c: the histograms (always), and GET /metrics when
 * cfg.metrics_addr is set (< 0, logged, when it cannot listen). */
void ctl_metrics_init(struct ctl *c);
int ctl_metrics_start(struct ctl *c);
void ctl_metrics_stop(struct ctl *c);
/* Seconds since @t0 (uv_hrtime() ns). */
double ctl_since_s(uint64_t t0);

/* ctl_rpc.c */
int ctl_rpc_start(struct ctl *c);
void ctl_rpc_stop(struct ctl *c);
int ctl_operator_ok(struct ctl *c, struct itm_rpc_call *call);
/* Fail @call with INVALID_ARGUMENT: the first faults in the message, one
 * a line, and every one in the detail (itm.proto's TopologyFaults). */
void ctl_fail_faults(struct itm_rpc_call *call, const struct topo_errors *e);

/* ctl_apply.c */
void ctl_h_apply(struct itm_rpc_call *call, void *arg);
void ctl_h_rollback(struct itm_rpc_call *call, void *arg);

/* ctl_fanout.c */
void ctl_h_node_stats(struct itm_rpc_call *call, void *arg);
void ctl_h_node_routes(struct itm_rpc_call *call, void *arg);
void ctl_h_node_tunnels(struct itm_rpc_call *call, void *arg);
void ctl_h_node_load(struct itm_rpc_call *call, void *arg);
void ctl_h_node_unload(struct itm_rpc_call *call, void *arg);
void ctl_h_node_list(struct itm_rpc_call *call, void *arg);

/* ctl_copy.c: --import / --export; the exit code. */
int ctl_copy_run(const struct ctl_config *cfg);

/* ctl_lead.c: campaign once (before serving), then renew every
 * CTL_LEAD_TICK_MS while leading; a standby follows the store's watch
 * (store_watch()), campaigning when the leader's key goes, and reads the
 * store every CTL_SAFETY_READ_MS (every CTL_LEAD_TICK_MS while the watch
 * is down).  ctl_lead_ok(): 1 when this controller leads, else the call
 * is refused (FAILED_PRECONDITION) naming the leader, 0. */
void ctl_lead_start(struct ctl *c);
void ctl_lead_stop(struct ctl *c);
int ctl_lead_ok(struct ctl *c, struct itm_rpc_call *call);

#endif /* ITM_CTL_H */
