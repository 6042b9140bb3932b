/*
 * process.c - libitm's runtime for process modules (paper section 6.2).
 *
 * libitm_register() attaches the registration to the local itm-agent,
 * which answers with a queue number and a stage bit and installs the
 * kernel rules; this process then binds that queue itself and runs the
 * same stage runner and dispatch walk as the agent does for in-agent
 * modules.  Heartbeats keep the leases alive and carry the counters; when
 * the agent restarts and forgets a lease, the registration attaches again
 * with whatever queue it is given.  The overlay table (itm_get_table) is
 * fetched from the agent at libitm_init(), and again whenever a heartbeat
 * answer names another generation; the table functions then run.
 * Everything runs on one libuv loop: packets, timers, heartbeats, table
 * functions, and the SIGINT/SIGTERM that ends libitm_run().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_client.h"
#include "error.h"
#include "fdwatch.h"
#include "host.h"
#include "itm_methods.h"
#include "log.h"
#include "reg.h"
#include "runner.h"
#include "table.h"
#include "timer.h"

#define PROC_MAX_REGS	  16
#define PROC_MAX_COUNTERS 64
#define PROC_META_BYTES	  128 /* ITM_COPY_META: headers only */

struct preg {
	struct itm_info *info;
	itm_where hook;
	uint64_t lease;
	struct itm__reg *pr;
	struct itm__runner *runner;
};

static struct {
	int inited, running, stopping;
	uv_loop_t loop;
	uint32_t copy_bytes;
	unsigned int api_minor; /* of the module's <itm.h> */
	char target[300];
	char module[32];
	struct itm__agent *agent;
	struct preg regs[PROC_MAX_REGS];
	unsigned int n_regs;
	struct itm__hb_counter ctr[PROC_MAX_COUNTERS];
	char ctr_names[PROC_MAX_COUNTERS][48];
	unsigned int n_ctr;
	uint32_t heartbeat_ms;
	int agent_lost; /* heartbeats fail: said once */
	int hb_inflight;
	uv_timer_t hb;
	uv_signal_t sigint, sigterm;
	struct itm__disp_host disp;
	struct log_rl rl;
	struct itm__table *table; /* the agent's, as last fetched */
	struct itm__table_funcs table_funcs;
	int table_fetching;
	struct itm__publish pub; /* tunnels, routes: with each heartbeat */
} P;

static struct preg *
preg_of(const struct itm__reg *r)
{
	for (unsigned int i = 0; i < P.n_regs; i++)
		if (P.regs[i].pr == r)
			return &P.regs[i];
	return NULL;
}

static int
proc_settle(void *arg, struct itm__reg *reg, const struct itm_settle *s,
	    uint32_t *mark)
{
	struct preg *p = preg_of(reg);
	char err[300];
	int rc;

	if (p == NULL)
		return -ENOENT;
	rc = itm__agent_settle(P.agent, p->lease, s, mark, err, sizeof(err));
	if (rc < 0) {
		log_rl(&P.rl, LOG_WARNING, "%s: settle: %s", p->info->label,
		       err);
		itm__set_error("%s", err);
	}
	return rc;
}

/* Bind the queue the agent gave us. */
static int
preg_bind(struct preg *p, const struct itm__attach_grant *g, char *err,
	  size_t errlen)
{
	struct itmq_config qc = {
		.num = g->queue,
		.copy_bytes = p->info->copy_bytes ? p->info->copy_bytes
						  : P.copy_bytes,
	};
	int rc;

	rc = itm__runner_open(&p->runner, &P.loop, &qc, p->hook, g->stage_bit,
			      &P.disp);
	if (rc < 0) {
		snprintf(err, errlen, "bind queue %u: %s", g->queue,
			 strerror(-rc));
		return rc;
	}
	p->lease = g->lease;
	p->pr->can_settle = 1;
	return itm__runner_set_regs(p->runner, &p->pr, 1);
}

static int
preg_attach(struct preg *p, char *err, size_t errlen)
{
	struct itm__attach_grant g;
	uint32_t copy =
		p->info->copy_bytes ? p->info->copy_bytes : P.copy_bytes;
	int rc;

	rc = itm__agent_attach(P.agent, p->pr, copy, P.module, &g, err, errlen);
	if (rc < 0)
		return rc;
	if (P.heartbeat_ms == 0 || g.heartbeat_ms < P.heartbeat_ms)
		P.heartbeat_ms = g.heartbeat_ms;
	rc = preg_bind(p, &g, err, errlen);
	if (rc < 0)
		itm__agent_detach(P.agent, g.lease);
	return rc;
}

/* The agent forgot @p (it restarted): attach again. */
static void
preg_reattach(struct preg *p)
{
	char err[300];
	int rc;

	if (p->runner) {
		itm__runner_close(p->runner);
		p->runner = NULL;
	}
	memset(p->pr->settle, 0, sizeof(p->pr->settle));
	rc = preg_attach(p, err, sizeof(err));
	if (rc < 0)
		log_rl(&P.rl, LOG_WARNING, "%s: re-attach: %s", p->info->label,
		       err);
	else
		log_info("%s: re-attached to the agent (lease %llu)",
			 p->info->label, (unsigned long long)p->lease);
}

/* ------------------------------------------------------------------ */
/* The overlay table                                                    */
/* ------------------------------------------------------------------ */

static uint64_t
table_gen(void)
{
	return P.table ? itm__table_pub(P.table)->generation : 0;
}

/* Install @t (its reference is ours now) and tell the module. */
static void
table_install(struct itm__table *t)
{
	struct itm__table *old = P.table;

	P.table = t;
	log_info("overlay table generation %llu: %zu nodes, %zu neighbours",
		 (unsigned long long)itm__table_pub(t)->generation,
		 itm__table_pub(t)->n_nodes, itm__table_pub(t)->n_neighbours);
	itm__table_funcs_call(&P.table_funcs, itm__table_pub(t));
	itm__table_unref(old);
}

static void
table_fetched(void *arg, int rc, const char *err, struct itm__table *t)
{
	P.table_fetching = 0;
	if (rc < 0)
		log_rl(&P.rl, LOG_WARNING, "overlay table: %s", err);
	else if (t && itm__table_pub(t)->generation != table_gen())
		table_install(t);
	else
		itm__table_unref(t);
}

/* The agent holds generation @gen: fetch it unless we have it.  An agent
 * without a table (restarted, controller not heard yet) changes nothing:
 * the module keeps the last one (fail-static). */
static void
table_check(uint64_t gen)
{
	int rc;

	if (gen == 0 || gen == table_gen() || P.table_fetching || P.stopping)
		return;
	rc = itm__agent_get_table_async(P.agent, &P.loop, table_fetched, NULL);
	if (rc < 0)
		log_rl(&P.rl, LOG_WARNING, "overlay table: %s", strerror(-rc));
	else
		P.table_fetching = 1;
}

static const struct itm_table *
proc_get_table(void)
{
	return itm__table_pub(P.table);
}

static int
proc_register_table_func(itm_table_func f, void *arg)
{
	return itm__table_funcs_add(&P.table_funcs, f, arg);
}

static int
proc_unregister_table_func(itm_table_func f, void *arg)
{
	return itm__table_funcs_del(&P.table_funcs, f, arg);
}

/* ------------------------------------------------------------------ */
/* Heartbeats                                                           */
/* ------------------------------------------------------------------ */

/* The agent's answer: registrations it does not know (it restarted, or
 * expired the lease) attach again, and so do those whose attach failed;
 * a table of another generation is fetched. */
static void
heartbeat_done(void *arg, int rc, const char *err, const uint64_t *unknown,
	       unsigned int n_unknown, uint64_t table_generation)
{
	P.hb_inflight = 0;
	if (P.stopping)
		return;
	if (rc < 0) {
		if (!P.agent_lost)
			log_warnx("heartbeat: %s (the agent is not "
				  "answering; its rules stay in the kernel, so "
				  "this module keeps handling the packets its "
				  "queue gets, and registers again when the "
				  "agent is back; if the module stops, its "
				  "packets bypass it)",
				  err);
		P.agent_lost = 1;
		return;
	}
	if (P.agent_lost)
		log_info("the agent answers again");
	P.agent_lost = 0;
	for (unsigned int i = 0; i < P.n_regs; i++) {
		int lost = P.regs[i].runner == NULL;

		for (unsigned int j = 0; j < n_unknown; j++)
			lost |= unknown[j] == P.regs[i].lease;
		if (lost)
			preg_reattach(&P.regs[i]);
	}
	table_check(table_generation);
}

/* Heartbeats do not block the packet loop: the next is sent when the
 * last one has been answered. */
static void
heartbeat_cb(uv_timer_t *t)
{
	struct itm__hb_reg hb[PROC_MAX_REGS];
	unsigned int n = 0;
	int rc;

	if (P.hb_inflight)
		return;
	for (unsigned int i = 0; i < P.n_regs; i++)
		if (P.regs[i].runner != NULL) {
			hb[n].lease = P.regs[i].lease;
			hb[n].reg = P.regs[i].pr;
			itm__runner_latency(P.regs[i].runner, &hb[n++].lat);
		}
	rc = itm__agent_heartbeat(P.agent, &P.loop, P.module, hb, n, P.ctr,
				  P.n_ctr, &P.pub, heartbeat_done, NULL);
	if (rc < 0)
		log_rl(&P.rl, LOG_WARNING, "heartbeat: %s", strerror(-rc));
	else
		P.hb_inflight = 1;
}

/* ------------------------------------------------------------------ */
/* Host ops: itm_register_hook() & co in a process                     */
/* ------------------------------------------------------------------ */

static int
proc_register_timer(void (*f)(unsigned long), unsigned long arg,
		    unsigned int ms)
{
	return itm__timer_add(NULL, f, arg, ms);
}

static int
proc_unregister_timer(void (*f)(unsigned long), unsigned long arg)
{
	return itm__timer_del(NULL, f, arg);
}

static int
proc_register_counter(const char *name, const uint64_t *value)
{
	if (name == NULL || value == NULL) {
		itm__set_error("itm_register_counter: name and value needed");
		return -EINVAL;
	}
	if (P.n_ctr == PROC_MAX_COUNTERS) {
		itm__set_error("more than %d counters", PROC_MAX_COUNTERS);
		return -ENOSPC;
	}
	snprintf(P.ctr_names[P.n_ctr], sizeof(P.ctr_names[0]), "%s", name);
	P.ctr[P.n_ctr].name = P.ctr_names[P.n_ctr];
	P.ctr[P.n_ctr].value = value;
	P.n_ctr++;
	return 0;
}

static int
proc_register_fd(int fd, unsigned int events, itm_fd_cb cb, void *arg)
{
	return itm__fdw_add(NULL, fd, events, cb, arg);
}

static int
proc_modify_fd(int fd, unsigned int events)
{
	return itm__fdw_mod(NULL, fd, events);
}

static int
proc_unregister_fd(int fd)
{
	return itm__fdw_del(NULL, fd);
}

static const char *
proc_label(void)
{
	return P.module;
}

static int proc_unregister_info(itm_where where, struct itm_info *info);

/* Tunnels and routes go to the agent with the heartbeats (publish.c). */
static int
proc_register_tunnel(const struct itm_tunnel_status *st)
{
	return itm__pub_add_tunnel(&P.pub, st);
}

static int
proc_unregister_tunnel(const struct itm_tunnel_status *st)
{
	return itm__pub_del_tunnel(&P.pub, st);
}

static int
proc_register_routes_func(itm_routes_func f, void *arg)
{
	return itm__pub_set_routes(&P.pub, f, arg);
}

static int
proc_unregister_routes_func(itm_routes_func f, void *arg)
{
	return itm__pub_del_routes(&P.pub, f, arg);
}

static const struct itm__host_ops process_ops = {
	.register_hook = libitm_register,
	.unregister_hook = proc_unregister_info,
	.register_timer = proc_register_timer,
	.unregister_timer = proc_unregister_timer,
	.register_counter = proc_register_counter,
	.register_fd = proc_register_fd,
	.modify_fd = proc_modify_fd,
	.unregister_fd = proc_unregister_fd,
	.current_label = proc_label,
	.get_table = proc_get_table,
	.register_table_func = proc_register_table_func,
	.unregister_table_func = proc_unregister_table_func,
	.register_tunnel = proc_register_tunnel,
	.unregister_tunnel = proc_unregister_tunnel,
	.register_routes_func = proc_register_routes_func,
	.unregister_routes_func = proc_unregister_routes_func,
};

static const char *
agent_target(void)
{
	const char *env = getenv("ITM_AGENT_SOCKET");

	if (env && strncmp(env, "unix:", 5) == 0)
		snprintf(P.target, sizeof(P.target), "%s", env);
	else
		snprintf(P.target, sizeof(P.target), "unix:%s",
			 env && *env ? env : ITM_AGENT_SOCKET_DEFAULT);
	return P.target;
}

/* A program built before <itm.h> had ITM_API_MINOR calls this. */
int(libitm_init)(int bufsize, uint8_t copy_mode)
{
	return libitm_init_api(bufsize, copy_mode, 3);
}

int
libitm_init_api(int bufsize, uint8_t copy_mode, unsigned int api_minor)
{
	char err[400];
	int rc;

	if (P.inited) {
		itm__set_error("libitm_init: already initialised");
		return -EALREADY;
	}
	if (bufsize <= 0 || bufsize > 65535 ||
	    (copy_mode != ITM_COPY_META && copy_mode != ITM_COPY_PACKET)) {
		itm__set_error("libitm_init: bufsize 1..65535 and copy_mode "
			       "ITM_COPY_META or ITM_COPY_PACKET");
		return -EINVAL;
	}
	log_init(program_invocation_short_name, 0, getenv("ITM_DEBUG") != NULL);
	snprintf(P.module, sizeof(P.module), "%s",
		 program_invocation_short_name);
	P.api_minor = api_minor;
	P.copy_bytes = copy_mode == ITM_COPY_META ? PROC_META_BYTES
		       : bufsize >= 65535	  ? 0
						  : (uint32_t)bufsize;
	rc = itm__agent_open(&P.agent, agent_target(), err, sizeof(err));
	if (rc < 0) {
		itm__set_error("cannot reach itm-agent: %s", err);
		return rc;
	}
	/* The table as the agent holds it now; none is not an error. */
	if (itm__agent_get_table(P.agent, &P.table, err, sizeof(err)) < 0)
		log_warnx("overlay table: %s", err);
	uv_loop_init(&P.loop);
	itm__timers_init(&P.loop, NULL);
	itm__fdw_init(&P.loop, NULL);
	P.disp.settle = proc_settle;
	itm__host_set(&process_ops);
	P.inited = 1;
	return 0;
}

int
libitm_register(itm_where where, struct itm_info *info)
{
	char err[400];
	struct preg *p;
	int rc;

	if (!P.inited)
		return itm__set_error("libitm_register: call libitm_init "
				      "first"),
		       -ENOTSUP;
	if (info == NULL || info->label == NULL || where >= ITM_HOOK_MAX)
		return itm__set_error("libitm_register: bad hook or info"),
		       -EINVAL;
	if (P.n_regs == PROC_MAX_REGS)
		return itm__set_error("more than %d registrations",
				      PROC_MAX_REGS),
		       -ENOSPC;
	p = &P.regs[P.n_regs];
	memset(p, 0, sizeof(*p));
	p->info = info;
	p->hook = where;
	p->pr = itm__reg_new(info, where, P.n_regs);
	if (p->pr == NULL)
		return -ENOMEM;
	p->pr->may_settle = itm__info_may_settle(info, P.api_minor);
	rc = preg_attach(p, err, sizeof(err));
	if (rc < 0) {
		itm__reg_free(p->pr);
		itm__set_error("%s", err);
		return rc;
	}
	info->type = ITM_USER;
	info->pid = getpid();
	info->hook = where;
	info->itm__reg = p->pr;
	P.n_regs++;
	return 0;
}

static void
preg_drop(unsigned int i)
{
	struct preg *p = &P.regs[i];

	if (p->runner)
		itm__runner_close(p->runner);
	if (p->lease)
		itm__agent_detach(P.agent, p->lease);
	p->info->itm__reg = NULL;
	/* The closed runner no longer walks its registrations. */
	itm__reg_free(p->pr);
	P.regs[i] = P.regs[--P.n_regs];
}

static int
proc_unregister_info(itm_where where, struct itm_info *info)
{
	for (unsigned int i = 0; i < P.n_regs; i++)
		if (P.regs[i].info == info && P.regs[i].hook == where) {
			preg_drop(i);
			return 0;
		}
	itm__set_error("not registered at %s", itm_hook_name(where));
	return -ENOENT;
}

int
libitm_unregister(itm_where where)
{
	for (unsigned int i = 0; i < P.n_regs; i++)
		if (P.regs[i].hook == where) {
			preg_drop(i);
			return 0;
		}
	itm__set_error("libitm_unregister: nothing registered at %s",
		       itm_hook_name(where));
	return -ENOENT;
}

int
libitm_register_timer(void (*f)(unsigned long), int interval_ms)
{
	if (!P.inited)
		return itm__set_error("call libitm_init first"), -ENOTSUP;
	if (interval_ms <= 0)
		return itm__set_error("timer interval must be > 0"), -EINVAL;
	return itm__timer_add(NULL, f, 0, (unsigned int)interval_ms);
}

int
libitm_unregister_timer(void (*f)(unsigned long))
{
	return itm__timer_del(NULL, f, 0);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	libitm_stop();
}

void
libitm_stop(void)
{
	if (!P.running || P.stopping)
		return;
	P.stopping = 1;
	uv_stop(&P.loop);
}

/* Let the last heartbeat finish, unregister everything, close our
 * handles.  (The RPC client's own handle on the loop stays: it is idle
 * and unreferenced now, and serves the next libitm_run.) */
static void
run_cleanup(void)
{
	uv_timer_stop(&P.hb);
	while (P.hb_inflight)
		uv_run(&P.loop, UV_RUN_ONCE);
	while (P.n_regs > 0)
		preg_drop(P.n_regs - 1);
	itm__timer_del_owner(NULL);
	itm__fdw_del_owner(NULL);
	uv_close((uv_handle_t *)&P.hb, NULL);
	uv_close((uv_handle_t *)&P.sigint, NULL);
	uv_close((uv_handle_t *)&P.sigterm, NULL);
	uv_run(&P.loop, UV_RUN_DEFAULT);
}

int
libitm_run(void)
{
	if (!P.inited)
		return itm__set_error("call libitm_init first"), -ENOTSUP;
	if (P.running)
		return itm__set_error("libitm_run: already running"), -EBUSY;
	P.running = 1;
	uv_signal_init(&P.loop, &P.sigint);
	uv_signal_init(&P.loop, &P.sigterm);
	uv_signal_start(&P.sigint, signal_cb, SIGINT);
	uv_signal_start(&P.sigterm, signal_cb, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	uv_timer_init(&P.loop, &P.hb);
	uv_timer_start(&P.hb, heartbeat_cb, 0,
		       P.heartbeat_ms ? P.heartbeat_ms : 300);
	uv_run(&P.loop, UV_RUN_DEFAULT);
	run_cleanup();
	P.running = 0;
	P.stopping = 0;
	return 0;
}
