/*
 * rpc.c - the Agent gRPC service: method tables, status and modules.
 *
 * The rpc_*.c files are the only ones in the agent that see protobuf-c
 * types: they validate every field of a request (untrusted input), call
 * the agent's internal functions and build replies.  Process-module
 * registration (Attach, Heartbeat, ...) is served on the local unix socket
 * only; the TCP listener offers management and telemetry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "itm_health.h"
#include "itm_reflect.h"
#include "lease.h"
#include "log.h"
#include "rpc.h"

int
rpc_code_of(int err)
{
	switch (err) {
	case -ENOENT:
	case -ESRCH: return ITM_RPC_NOT_FOUND;
	case -EEXIST: return ITM_RPC_ALREADY_EXISTS;
	case -EINVAL:
	case -ERANGE:
	case -E2BIG: return ITM_RPC_INVALID_ARGUMENT;
	case -ENOEXEC:
	case -ENOTSUP: return ITM_RPC_FAILED_PRECONDITION;
	case -ENOSPC: return ITM_RPC_RESOURCE_EXHAUSTED;
	case -EPERM:
	case -EACCES: return ITM_RPC_PERMISSION_DENIED;
	default: return ITM_RPC_INTERNAL;
	}
}

int
rpc_fail_err(struct itm_rpc_call *call, int err, const char *msg)
{
	return itm_rpc_fail(call, rpc_code_of(err), "%s",
			    msg && *msg ? msg : strerror(-err));
}

/* ------------------------------------------------------------------ */
/* GetStatus                                                            */
/* ------------------------------------------------------------------ */

static void
h_status(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__StatusReply rep = ITM__V1__STATUS_REPLY__INIT;
	unsigned int nmods = 0;

	for (struct module *m = modload_first(); m; m = modload_next(m))
		nmods++;
	rep.node = (char *)agent->cfg.node;
	rep.version = ITM_VERSION_STRING;
	rep.uptime_ms = itm__now_ms() - agent->start_ms;
	rep.modules = nmods;
	rep.registrations = reg_count();
	rep.table_generation = agent->table_generation;
	rep.controller_connected = agent->controller_connected;
	layout_queue_totals(&rep.malformed_packets, &rep.queue_drops);
	itm_rpc_reply(call, &rep.base);
}

/* ------------------------------------------------------------------ */
/* LoadModule / UnloadModule                                            */
/* ------------------------------------------------------------------ */

static struct module *
module_by_name(const char *name)
{
	for (struct module *m = modload_first(); m; m = modload_next(m))
		if (strcmp(module_name(m), name) == 0)
			return m;
	return NULL;
}

static void
h_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__LoadModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleReply rep = ITM__V1__LOAD_MODULE_REPLY__INIT;
	const char **kv;
	char err[512] = "";
	int rc;

	if (req->n_params > 64) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "params: more than 64");
		return;
	}
	rc = modload_load(req->name, req->params, (unsigned int)req->n_params,
			  err, sizeof(err));
	if (rc < 0) {
		log_warnx("load %s refused: %s", req->name, err);
		rpc_fail_err(call, rc, err);
		return;
	}
	rep.name = req->name;
	rep.n_params = module_params(module_by_name(req->name), &kv);
	rep.params = (char **)kv;
	itm_rpc_reply(call, &rep.base);
}

static void
h_unload(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__UnloadModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__UnloadModuleReply rep = ITM__V1__UNLOAD_MODULE_REPLY__INIT;
	char err[512] = "";
	int rc;

	rc = modload_unload(req->name, err, sizeof(err));
	if (rc < 0) {
		rpc_fail_err(call, rc, err);
		return;
	}
	itm_rpc_reply(call, &rep.base);
}

/* ------------------------------------------------------------------ */
/* ListModules                                                          */
/* ------------------------------------------------------------------ */

struct list_build {
	Itm__V1__ModuleInfo **mods;
	size_t n;
};

static Itm__V1__ModuleInfo *
list_module(struct list_build *lb, const char *name, const char *kind,
	    uint32_t pid)
{
	Itm__V1__ModuleInfo *mi, **v;

	for (size_t i = 0; i < lb->n; i++)
		if (strcmp(lb->mods[i]->name, name) == 0 &&
		    lb->mods[i]->pid == pid)
			return lb->mods[i];
	v = realloc(lb->mods, (lb->n + 1) * sizeof(*v));
	mi = calloc(1, sizeof(*mi));
	if (v == NULL || mi == NULL) {
		free(mi);
		if (v)
			lb->mods = v;
		return NULL;
	}
	itm__v1__module_info__init(mi);
	mi->name = strdup(name);
	mi->kind = strdup(kind);
	mi->version = strdup("");
	mi->pid = pid;
	lb->mods = v;
	v[lb->n++] = mi;
	return mi;
}

/* One registration of a ListModules reply with everything it points to,
 * in one allocation: freed with the reply (list_free), after
 * itm_rpc_reply() has packed it. */
struct reg_msg {
	Itm__V1__Registration w; /* first: freed through it */
	Itm__V1__Interest in;
	struct itm__wire_interest_buf ib;
};

static Itm__V1__Registration *
list_reg(const struct agent_reg *r)
{
	struct reg_msg *m = calloc(1, sizeof(*m));
	Itm__V1__Registration *w;
	unsigned int stage = 0;

	if (m == NULL)
		return NULL;
	w = &m->w;
	itm__v1__registration__init(w);
	itm__interest_to_wire(&r->interest, &m->in, &m->ib);
	w->label = (char *)r->label;
	w->hook = (Itm__V1__Hook)r->hook;
	w->priority = r->priority;
	w->queue = r->stage ? r->stage->queue : r->queue;
	if (reg_stage_of(r, &stage) == 0)
		w->stage = stage;
	w->interest = &m->in;
	w->may_settle = r->may_settle != 0;
	if (r->kind == REG_AGENT) {
		module_lock(r->mod); /* workers count under it */
		w->packets = r->pr->packets;
		module_unlock(r->mod);
	} else {
		w->packets = r->remote_packets;
	}
	for (unsigned int c = 0; c <= ITM_CLASS_MAX; c++) {
		uint64_t sp, sb;

		layout_settled(r, c, &sp, &sb);
		w->packets += sp;
	}
	return w;
}

static int
list_add_reg(struct list_build *lb, const struct agent_reg *r)
{
	Itm__V1__ModuleInfo *mi;
	Itm__V1__Registration **v, *w;

	if (r->kind == REG_AGENT)
		mi = list_module(lb, module_name(r->mod), "agent", 0);
	else
		mi = list_module(lb, r->proc_name, "process",
				 (uint32_t)lease_pid(r->lease));
	w = list_reg(r);
	v = mi && w ? realloc(mi->registrations,
			      (mi->n_registrations + 1) * sizeof(*v))
		    : NULL;
	if (v == NULL) {
		free(w);
		return -ENOMEM;
	}
	mi->registrations = v;
	v[mi->n_registrations++] = w;
	return 0;
}

static void
list_free(struct list_build *lb)
{
	for (size_t i = 0; i < lb->n; i++) {
		Itm__V1__ModuleInfo *mi = lb->mods[i];

		for (size_t j = 0; j < mi->n_registrations; j++)
			free(mi->registrations[j]);
		free(mi->registrations);
		free(mi->name);
		free(mi->kind);
		free(mi->version);
		free(mi);
	}
	free(lb->mods);
}

static void
h_list(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__ListModulesReply rep = ITM__V1__LIST_MODULES_REPLY__INIT;
	struct list_build lb = { 0 };
	struct agent_reg *r;
	int rc = 0;

	for (struct module *m = modload_first(); m; m = modload_next(m)) {
		Itm__V1__ModuleInfo *mi;
		const char **kv;

		mi = list_module(&lb, module_name(m), "agent", 0);
		if (mi == NULL)
			rc = -ENOMEM;
		if (mi == NULL)
			break;
		free(mi->version);
		mi->version = strdup(module_version(m));
		mi->n_params = module_params(m, &kv);
		mi->params = (char **)kv;
	}
	for (int h = 0; h < ITM_HOOK_MAX && rc == 0; h++)
		TAILQ_FOREACH(r, &agent->hooks[h], entry)
			if ((rc = list_add_reg(&lb, r)) < 0)
				break;
	if (rc < 0)
		itm_rpc_fail(call, ITM_RPC_INTERNAL, "out of memory");
	else {
		rep.modules = lb.mods;
		rep.n_modules = lb.n;
		itm_rpc_reply(call, &rep.base);
	}
	list_free(&lb);
}

/* ------------------------------------------------------------------ */
/* Health (grpc.health.v1)                                              */
/* ------------------------------------------------------------------ */

/* The agent serves while its rules are in the kernel. */
static enum itm_health_status
health_status(void *arg, const char *service)
{
	if (service[0] != '\0' && strcmp(service, "itm.v1.Agent") != 0)
		return ITM_HEALTH_SERVICE_UNKNOWN;
	return agent->rules_installed ? ITM_HEALTH_SERVING
				      : ITM_HEALTH_NOT_SERVING;
}

static void
h_health_check(struct itm_rpc_call *call, void *arg)
{
	itm_health_check(call, health_status, arg);
}

static void
h_health_watch(struct itm_rpc_call *call, void *arg)
{
	itm_health_watch(call, agent->loop, health_status, arg);
}

/* ------------------------------------------------------------------ */
/* Servers                                                              */
/* ------------------------------------------------------------------ */

static const struct itm_rpc_method local_methods[] = {
	{ ITM_AGENT_GET_STATUS, h_status },
	{ ITM_AGENT_LOAD_MODULE, h_load },
	{ ITM_AGENT_UNLOAD_MODULE, h_unload },
	{ ITM_AGENT_LIST_MODULES, h_list },
	{ ITM_AGENT_GET_STATS, rpc_h_stats },
	{ ITM_AGENT_WATCH_STATS, rpc_h_watch_stats },
	{ ITM_AGENT_ATTACH, rpc_h_attach },
	{ ITM_AGENT_DETACH, rpc_h_detach },
	{ ITM_AGENT_HEARTBEAT, rpc_h_heartbeat },
	{ ITM_AGENT_SETTLE, rpc_h_settle },
	{ ITM_AGENT_INSTALL_TABLE, rpc_h_install_table },
	{ ITM_AGENT_GET_TABLE, rpc_h_get_table },
	{ ITM_AGENT_GET_ROUTES, rpc_h_get_routes },
	{ ITM_AGENT_GET_TUNNELS, rpc_h_get_tunnels },
	{ ITM_HEALTH_CHECK, h_health_check },
	{ ITM_HEALTH_WATCH, h_health_watch },
	{ ITM_REFLECTION_INFO, itm_reflect_handler },
	{ ITM_REFLECTION_V1_INFO, itm_reflect_handler },
};

/* TCP: management and telemetry, no process registration. */
static const struct itm_rpc_method remote_methods[] = {
	{ ITM_AGENT_GET_STATUS, h_status },
	{ ITM_AGENT_LOAD_MODULE, h_load },
	{ ITM_AGENT_UNLOAD_MODULE, h_unload },
	{ ITM_AGENT_LIST_MODULES, h_list },
	{ ITM_AGENT_GET_STATS, rpc_h_stats },
	{ ITM_AGENT_WATCH_STATS, rpc_h_watch_stats },
	{ ITM_AGENT_INSTALL_TABLE, rpc_h_install_table },
	{ ITM_AGENT_GET_TABLE, rpc_h_get_table },
	{ ITM_AGENT_GET_ROUTES, rpc_h_get_routes },
	{ ITM_AGENT_GET_TUNNELS, rpc_h_get_tunnels },
	{ ITM_HEALTH_CHECK, h_health_check },
	{ ITM_HEALTH_WATCH, h_health_watch },
	{ ITM_REFLECTION_INFO, itm_reflect_handler },
	{ ITM_REFLECTION_V1_INFO, itm_reflect_handler },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
start_one(struct itm_rpc_server **out, const struct itm_rpc_method *m, size_t n,
	  const char *addr, const struct itm_rpc_tls *tls, unsigned int mode)
{
	int rc;

	rc = itm_rpc_server_new(out, agent->loop, m, n, agent);
	if (rc == 0)
		rc = itm_rpc_server_listen(*out, addr, tls, mode);
	if (rc == 0)
		rc = itm_rpc_server_start(*out);
	if (rc < 0 && *out) {
		itm_rpc_server_free(*out);
		*out = NULL;
	}
	return rc;
}

int
rpc_start(void)
{
	char addr[512];
	int rc;

	snprintf(addr, sizeof(addr), "unix:%s", agent->cfg.socket_path);
	rc = start_one(&agent->rpc_local, local_methods, NELEM(local_methods),
		       addr, NULL, 0660);
	if (rc < 0) {
		log_warnx("listen on %s: %s", addr, strerror(-rc));
		return rc;
	}
	log_info("listening on %s", addr);
	if (agent->cfg.listen_addr == NULL)
		return 0;
	rc = start_one(&agent->rpc_tcp, remote_methods, NELEM(remote_methods),
		       agent->cfg.listen_addr,
		       agent->cfg.use_tls ? &agent->cfg.tls : NULL, 0);
	if (rc < 0) {
		log_warnx("listen on %s: %s", agent->cfg.listen_addr,
			  strerror(-rc));
		return rc;
	}
	log_info("listening on %s (%s)", agent->cfg.listen_addr,
		 agent->cfg.use_tls ? "mutual TLS" : "plaintext");
	if (!agent->cfg.use_tls &&
	    !itm_rpc_addr_is_loopback(agent->cfg.listen_addr))
		log_warnx("--insecure-plaintext: anyone who reaches %s may "
			  "load modules and install tables on this node",
			  agent->cfg.listen_addr);
	return 0;
}

void
rpc_stop(void)
{
	rpc_watch_stop_all();
	itm_health_stop_all();
	if (agent->rpc_tcp)
		itm_rpc_server_free(agent->rpc_tcp);
	if (agent->rpc_local)
		itm_rpc_server_free(agent->rpc_local);
	agent->rpc_tcp = agent->rpc_local = NULL;
}
