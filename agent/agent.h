/*
 * agent.h - itm-agent's shared state and the interfaces between its parts.
 *
 *   main.c      wiring: options, start-up, signals, shutdown
 *   registry.c  every registration (in-agent and process), per hook, in
 *               order
 *   layout.c    the stages the registrations form, and the commit that
 *               makes the runners and the rules match them (settlements
 *               included)
 *   stagerun.c  the runners of an in-agent stage, one per worker
 *   queue.c     the agent's NFQUEUE numbers
 *   ruleset.c   the rule set as iptables-restore text (pure, ruleset.h)
 *   match.c     an interest compiled into iptables matches (pure)
 *   settle.c    the settlement table (pure, settle.h)
 *   kernel.c    the one file that talks to netfilter (kernel.h)
 *   modload.c   in-agent modules: dlopen, load, unload (module.h)
 *   modapi.c    the module API in-agent modules call (host ops)
 *   modview.c   the overlay table as in-agent modules see it
 *   params.c    module parameters checked against the plugin's schema
 *   lease.c     process modules: leases, heartbeats, expiry
 *   telemetry.c per-module per-class counters
 *   routes.c    the routes modules report (itmRoute), for GetRoutes
 *   tunnels.c   the tunnels modules publish (itm_register_tunnel)
 *   metrics.c   --metrics: the Prometheus snapshot, rendered on the loop
 *   rpc*.c      the Agent gRPC service (wire <-> internal)
 *   ctlink.c    the link to itm-controller
 *   workers.c   --workers N: threads that read the in-agent queues
 *
 * Calls go down this list, never up (main.c wires them all):
 *
 *   rpc*.c, ctlink.c        the control plane, wire <-> internal
 *   metrics.c -> telemetry.c  the Prometheus snapshot
 *   telemetry.c, routes.c, tunnels.c   read modules, leases, settled counts
 *   modload.c -> modapi.c   in-agent modules (modview.c: their table)
 *   lease.c                 process modules
 *   registry.c, layout.c    the registrations; stages and the commit
 *   stagerun.c -> queue.c   the runners of in-agent stages
 *   kernel.c                every side effect on netfilter
 *   ruleset.c, settle.c, match.c, params.c, workers.c, libitm
 *
 * The one agent is `agent` (main.c).  Everything but the packet path of
 * in-agent stages runs on one libuv loop thread.  With --workers 1 that
 * path runs there too and no lock is taken; with more, see workers.h for
 * the threads and their locks.
 */
#ifndef ITM_AGENT_H
#define ITM_AGENT_H

#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "itm.h"
#include "itm_plugin.h"
#include "itm_rpc.h"
#include "marks.h"
#include "reg.h"
#include "runner.h"
#include "settle.h"
#include "workers.h"

#define AGENT_LABEL_MAX	  32
#define AGENT_NAME_MAX	  32
#define AGENT_MAX_MODDIRS 8
#define AGENT_MAX_LOADS	  16
#define AGENT_QUEUES	  256 /* queue numbers from queue_base */

struct agent_config {
	const char *node;
	const char *socket_path;  /* unix socket for local clients */
	const char *listen_addr;  /* optional TCP */
	const char *controller;	  /* optional */
	const char *metrics_addr; /* optional: --metrics */
	const char *moddirs[AGENT_MAX_MODDIRS];
	int n_moddirs;
	const char *loads[AGENT_MAX_LOADS]; /* "name k=v ..." */
	int n_loads;
	uint16_t queue_base;
	unsigned int workers;	/* --workers, 1..AGENT_MAX_WORKERS */
	int queue_cpu_fanout;	/* --queue-cpu-fanout */
	int pin_workers;	/* --pin-workers */
	struct itm_rpc_tls tls; /* for TCP and controller */
	int use_tls;
	int insecure_plaintext; /* --listen off loopback without TLS */
	int verbose;
};

enum reg_kind { REG_AGENT, REG_PROCESS };

struct module;
struct lease;

/* One registration, either kind. */
struct agent_reg {
	enum reg_kind kind;
	char label[AGENT_LABEL_MAX];
	itm_where hook;
	int priority;
	uint64_t seq;
	struct itm_interest interest;
	uint32_t copy_bytes;
	/* May call itm_packet_settle (ITM_MAY_SETTLE, or built before the
	 * declaration): only then does its hook get the conntrack rules. */
	int may_settle;
	char **class_names; /* process: copied from Attach */
	unsigned int n_class_names;

	struct module *mod;		/* REG_AGENT */
	struct itm__reg *pr;		/* REG_AGENT: packet-path state */
	struct lease *lease;		/* REG_PROCESS */
	char proc_name[AGENT_NAME_MAX]; /* REG_PROCESS: program name */
	uint16_t queue;			/* REG_PROCESS: fixed for its life */
	uint32_t stage_bit; /* REG_PROCESS: fixed; else from stage */
	struct itm__class_stats *remote; /* REG_PROCESS: from heartbeats */
	uint64_t remote_packets;
	/* REG_PROCESS: its queue's verdict latency, as last reported */
	struct itm__runner_lat remote_lat;
	int has_remote_lat;

	struct stage *stage;	      /* current stage */
	int removed;		      /* reg_remove()d, awaiting free */
	TAILQ_ENTRY(agent_reg) entry; /* per hook, in stage order */
};

TAILQ_HEAD(agent_reg_list, agent_reg);

/* A stage: consecutive in-agent registrations, or one process one. */
struct stage {
	itm_where hook;
	enum reg_kind kind;
	unsigned int index; /* position at the hook */
	uint32_t bit;
	uint16_t queue;	       /* the first of n_queues */
	unsigned int n_queues; /* 1, or the workers of REG_AGENT */
	int cpu_fanout;	       /* n_queues chosen by CPU, not by hash */
	/* REG_AGENT: runner i reads queue + i (on worker i, if threaded). */
	struct itm__runner *runners[AGENT_MAX_WORKERS];
	struct agent_reg **regs;
	unsigned int n_regs;
};

/* The stages of every hook, in order. */
struct layout {
	struct stage *stages[ITM_HOOK_MAX][ITM_MARK_STAGES];
	unsigned int n[ITM_HOOK_MAX];
};

struct agent {
	uv_loop_t *loop;
	struct agent_config cfg;
	uint64_t start_ms;

	struct agent_reg_list hooks[ITM_HOOK_MAX]; /* registry.c */
	uint64_t next_seq;
	struct layout layout;		  /* layout.c: installed */
	struct settle_table settle;	  /* layout.c, under agent_lock() */
	int rules_installed;		  /* built-in chains jump to ours */
	uint8_t queue_used[AGENT_QUEUES]; /* queue.c */

	struct itm__disp_host disp_host;
	uint64_t malformed_closed; /* from runners since closed */

	struct itm_rpc_server *rpc_local;
	struct itm_rpc_server *rpc_tcp;

	/* Neighbour table from the controller. */
	uint64_t table_generation;
	int controller_connected;
};

extern struct agent *agent;

/* registry.c: the lists; a change takes effect with layout_commit(). */
void reg_init(void);
struct agent_reg *reg_find(const char *label);
int reg_add(struct agent_reg *r, char *err, size_t errlen);
void reg_remove(struct agent_reg *r); /* and release its settlements */
unsigned int reg_count(void);
int reg_stage_of(const struct agent_reg *r, unsigned int *index);

/* layout.c */
void layout_init(void);
/* Make the runners and the kernel match the registration lists.  On
 * error the previous layout and rules stay and @err says why. */
int layout_commit(char *err, size_t errlen);
void layout_shutdown(void); /* every rule and stage goes */
/* Settle the flows of @r asking for @s: the settle request to put in the
 * verdict's mark, with a rule set holding the settlement installed.  Any
 * thread (a worker's packet callback). */
int layout_settle(const struct agent_reg *r, const struct itm_settle *s,
		  uint32_t *mark, char *err, size_t errlen);
/* Packets and bytes the kernel handled for @r's settled flows of @cls. */
void layout_settled(const struct agent_reg *r, unsigned int cls,
		    uint64_t *packets, uint64_t *bytes);
/* A stage bit for a process registration at @hook that no stage or other
 * process registration there uses; 0 when there is none. */
uint32_t layout_process_bit(itm_where hook);
/* Malformed packets and kernel queue drops of the in-agent stages. */
void layout_queue_totals(uint64_t *malformed, uint64_t *drops);

/* queue.c */
int queue_alloc(uint16_t *num);
int queue_alloc_n(uint16_t *first, unsigned int n); /* consecutive */
void queue_free(uint16_t num);

/* stagerun.c: the runners of an in-agent stage (st->bit, hook set). */
int stage_runners_open(struct stage *st, uint32_t copy_bytes, char *err,
		       size_t errlen);
int stage_runners_set_regs(struct stage *st, struct itm__reg *const *regs,
			   unsigned int n);
void stage_runners_close(struct stage *st); /* and free its queues */
uint64_t stage_runners_malformed(const struct stage *st);
uint64_t stage_runners_drops(const struct stage *st);
void stage_runners_latency(const struct stage *st, unsigned int i,
			   struct itm__runner_lat *out);

/* match.c: compile @in into iptables match strings, one per rule. */
int match_compile(const struct itm_interest *in, itm_where hook, char ***out,
		  unsigned int *n, char *err, size_t errlen);
void match_free(char **v, unsigned int n);

/* modload.c */
void modload_init(void);
int modload_load(const char *name, char **params, unsigned int n_params,
		 char *err, size_t errlen);
int modload_unload(const char *name, char *err, size_t errlen);
void modload_unload_all(void);
struct module *modload_first(void);
struct module *modload_next(struct module *m);
const char *module_name(const struct module *m);

/* tunnels.c: a copy of what a module publishes with itm_register_tunnel. */
#define AGENT_MAX_TUNNELS 256
struct agent_tunnel {
	char module[AGENT_NAME_MAX];
	struct itm_tunnel_status st; /* st.state_text points at state_text */
	char state_text[64];
};
/* Copies up to @max tunnels of the loaded modules; returns how many. */
size_t tunnels_collect(struct agent_tunnel *out, size_t max);
const char *module_version(const struct module *m);
unsigned int module_params(const struct module *m, const char ***kv);
unsigned int module_counters(const struct module *m, const char ***names,
			     const uint64_t *const **values);
/* modapi.c: hold @m's lock (no-op without workers) to read what its code
 * writes. */
void module_lock(struct module *m);
void module_unlock(struct module *m);
/* Run as @m (its lock, its name in logs) until module_enter(NULL); main
 * loop.  1 when @m is unloading: its code must not run. */
int module_enter(struct module *m);
/* Have @m emit its routes (itm_register_routes_func); 1 if it has them. */
int module_routes(struct module *m, itm_route_emit emit, void *ctx);

/* routes.c: the routes the modules report (itmRoute), copied. */
struct agent_route_path {
	char via[AGENT_NAME_MAX];
	uint32_t rtt_us, loss_pm;
	int alive;
};

struct agent_route {
	char module[AGENT_NAME_MAX];
	char dest[AGENT_NAME_MAX];
	char overlay[64];
	char via[AGENT_NAME_MAX];
	uint32_t rtt_us, loss_pm;
	uint64_t since, switches;
	struct agent_route_path *paths;
	size_t n_paths;
};

struct agent_routes {
	struct agent_route *v;
	size_t n;
};

int routes_collect(struct agent_routes *out);
void routes_free(struct agent_routes *r);

/* modview.c: the overlay table as in-agent modules see it.  A view per
 * module, made at load before its code runs, freed with it. */
struct modview;
struct itm__table;
struct modview *modview_new(struct module *m);
void modview_free(struct modview *v);
/* The table @v's module sees; its code calls this, under its lock. */
const struct itm_table *modview_table(const struct modview *v);
int modview_add_func(struct modview *v, itm_table_func f, void *arg);
int modview_del_func(struct modview *v, itm_table_func f, void *arg);
/* A new table (its reference is taken): every module moves to it and its
 * table functions run. */
void modview_install(struct itm__table *t);
const struct itm_table *modview_installed(void);
void modview_shutdown(void); /* after every module is gone */

#endif /* ITM_AGENT_H */
