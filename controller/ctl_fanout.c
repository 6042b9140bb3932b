/*
 * ctl_fanout.c - operator calls forwarded to agents: NodeStats (one node
 * or every node at once) and module load/unload/list on one node.
 *
 * Each is a set of asynchronous calls to the nodes' Agent services (their
 * mgmt addresses, with the push deadline); the reply goes out when the
 * last one answered.  A node that cannot be asked is listed in
 * NodeStatsReply.errors; for a call on one node its status comes back
 * with the node's name in front.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

struct fan;
typedef void (*fan_finish_cb)(struct fan *f);

struct fan {
	struct ctl *c;
	struct itm_rpc_call *call;
	fan_finish_cb finish;
	size_t n, pending;
	char **names;
	ProtobufCMessage **replies; /* copies, NULL where it failed */
	struct itm_rpc_status *st;
};

struct fan_one {
	struct fan *f;
	size_t i;
};

static void
fan_free(struct fan *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->names[i]);
		if (f->replies[i])
			protobuf_c_message_free_unpacked(f->replies[i], NULL);
	}
	free(f->names);
	free(f->replies);
	free(f->st);
	free(f);
}

static struct fan *
fan_new(struct ctl *c, struct itm_rpc_call *call, size_t n,
	fan_finish_cb finish)
{
	struct fan *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->names = calloc(n ? n : 1, sizeof(*f->names));
	f->replies = calloc(n ? n : 1, sizeof(*f->replies));
	f->st = calloc(n ? n : 1, sizeof(*f->st));
	if (!f->names || !f->replies || !f->st) {
		fan_free(f);
		return NULL;
	}
	*f = (struct fan){ .c = c,
			   .call = call,
			   .finish = finish,
			   .n = n,
			   .names = f->names,
			   .replies = f->replies,
			   .st = f->st };
	return f;
}

static void
fan_done_cb(void *arg, const struct itm_rpc_status *st,
	    const ProtobufCMessage *reply)
{
	struct fan_one *o = arg;
	struct fan *f = o->f;

	f->st[o->i] = *st;
	if (st->code == ITM_RPC_OK &&
	    (f->replies[o->i] = itm_rpc_msg_copy(reply)) == NULL) {
		f->st[o->i].code = ITM_RPC_RESOURCE_EXHAUSTED;
		snprintf(f->st[o->i].message, sizeof(f->st[o->i].message),
			 "out of memory");
	}
	free(o);
	if (--f->pending == 0) {
		f->finish(f);
		fan_free(f);
	}
}

static void
fan_start_one(struct fan *f, size_t i, enum itm_method method,
	      const ProtobufCMessage *req)
{
	struct ctl_node *n = ctl_node_find(f->c, f->names[i]);
	struct itm_rpc_client *client;
	struct fan_one *o;
	int rc;

	rc = n ? ctl_node_client(f->c, n, &client) : -ENOENT;
	if (rc == 0) {
		rc = (o = calloc(1, sizeof(*o))) ? 0 : -ENOMEM;
		if (rc == 0) {
			*o = (struct fan_one){ .f = f, .i = i };
			rc = itm_rpc_call_async(client, f->c->loop, method, req,
						(int)f->c->cfg.push_timeout_ms,
						fan_done_cb, o);
			if (rc < 0)
				free(o);
		}
	}
	if (rc == 0) {
		f->pending++;
		return;
	}
	f->st[i].code = ITM_RPC_UNAVAILABLE;
	snprintf(f->st[i].message, sizeof(f->st[i].message), "%s: %s",
		 n ? n->mgmt : "not in the topology", strerror(-rc));
}

/* Ask every node of @f; @f is finished and freed when all answered. */
static void
fan_run(struct fan *f, enum itm_method method, const ProtobufCMessage *req)
{
	f->pending = 1;
	for (size_t i = 0; i < f->n; i++)
		fan_start_one(f, i, method, req);
	if (--f->pending == 0) {
		f->finish(f);
		fan_free(f);
	}
}

/* ------------------------------------------------------------------ */
/* NodeStats                                                            */
/* ------------------------------------------------------------------ */

static void
stats_finish(struct fan *f)
{
	Itm__V1__NodeStatsReply rep = ITM__V1__NODE_STATS_REPLY__INIT;
	Itm__V1__StatsReply **ok = calloc(f->n ? f->n : 1, sizeof(*ok));
	Itm__V1__NodeResult *ev = calloc(f->n ? f->n : 1, sizeof(*ev));
	Itm__V1__NodeResult **ep = calloc(f->n ? f->n : 1, sizeof(*ep));
	char(*detail)[300] = calloc(f->n ? f->n : 1, sizeof(*detail));

	if (!ok || !ev || !ep || !detail) {
		itm_rpc_fail(f->call, ITM_RPC_RESOURCE_EXHAUSTED,
			     "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (f->replies[i]) {
			ok[rep.n_nodes++] = (void *)f->replies[i];
			continue;
		}
		snprintf(detail[i], sizeof(detail[i]), "%.30s: %.260s",
			 itm_rpc_code_name(f->st[i].code), f->st[i].message);
		itm__v1__node_result__init(&ev[rep.n_errors]);
		ev[rep.n_errors].node = f->names[i];
		ev[rep.n_errors].result =
			(Itm__V1__Outcome)ctl_outcome_of(f->st[i].code);
		ev[rep.n_errors].detail = detail[i];
		ep[rep.n_errors] = &ev[rep.n_errors];
		rep.n_errors++;
	}
	rep.nodes = ok;
	rep.errors = ep;
	itm_rpc_reply(f->call, &rep.base);
out:
	free(ok);
	free(ev);
	free(ep);
	free(detail);
}

void
ctl_h_node_stats(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__NodeStatsRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__StatsRequest sr = ITM__V1__STATS_REQUEST__INIT;
	size_t n = req->node[0] ? 1 : c->n_nodes;
	struct fan *f;

	if (!ctl_operator_ok(c, call))
		return;
	if (req->node[0] && ctl_node_find(c, req->node) == NULL) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in "
			     "the topology",
			     req->node);
		return;
	}
	if ((f = fan_new(c, call, n, stats_finish)) == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		f->names[i] =
			strdup(req->node[0] ? req->node : c->nodes[i].name);
	sr.module = req->module;
	fan_run(f, ITM_AGENT_GET_STATS, &sr.base);
}

/* ------------------------------------------------------------------ */
/* Module load / unload / list on one node                              */
/* ------------------------------------------------------------------ */

/* The one node's status, with its name, or 0 when it answered. */
static int
one_failed(struct fan *f)
{
	if (f->replies[0])
		return 0;
	itm_rpc_fail(f->call,
		     f->st[0].code == ITM_RPC_DEADLINE_EXCEEDED
			     ? ITM_RPC_UNAVAILABLE
			     : f->st[0].code,
		     "node %s: %s", f->names[0], f->st[0].message);
	return 1;
}

static void
load_finish(struct fan *f)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(f))
		return;
	rep.loaded = (void *)f->replies[0];
	log_info("node %s: module %s loaded (%s)", f->names[0],
		 rep.loaded->name, itm_rpc_peer(f->call));
	itm_rpc_reply(f->call, &rep.base);
}

static void
unload_finish(struct fan *f)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(f))
		return;
	log_info("node %s: module unloaded (%s)", f->names[0],
		 itm_rpc_peer(f->call));
	itm_rpc_reply(f->call, &rep.base);
}

static void
list_finish(struct fan *f)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(f))
		return;
	rep.list = (void *)f->replies[0];
	itm_rpc_reply(f->call, &rep.base);
}

/* Checks common to the three; the fan for the node or NULL (answered). */
static struct fan *
module_fan(struct ctl *c, struct itm_rpc_call *call, int need_name,
	   fan_finish_cb finish)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	struct fan *f;

	if (!ctl_operator_ok(c, call))
		return NULL;
	if (ctl_node_find(c, req->node) == NULL) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in "
			     "the topology",
			     req->node);
		return NULL;
	}
	if (need_name && (req->name[0] == '\0' || strlen(req->name) > 64 ||
			  req->n_params > 64)) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "name: 1..64 "
			     "characters, params: at most 64");
		return NULL;
	}
	if ((f = fan_new(c, call, 1, finish)) == NULL ||
	    (f->names[0] = strdup(req->node)) == NULL) {
		if (f)
			fan_free(f);
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	return f;
}

void
ctl_h_node_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleRequest lr = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	struct fan *f = module_fan(arg, call, 1, load_finish);

	if (f == NULL)
		return;
	lr.name = req->name;
	lr.params = req->params;
	lr.n_params = req->n_params;
	fan_run(f, ITM_AGENT_LOAD_MODULE, &lr.base);
}

void
ctl_h_node_unload(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__UnloadModuleRequest ur = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	struct fan *f = module_fan(arg, call, 1, unload_finish);

	if (f == NULL)
		return;
	ur.name = req->name;
	fan_run(f, ITM_AGENT_UNLOAD_MODULE, &ur.base);
}

void
ctl_h_node_list(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__ListModulesRequest lr = ITM__V1__LIST_MODULES_REQUEST__INIT;
	struct fan *f = module_fan(arg, call, 0, list_finish);

	if (f == NULL)
		return;
	fan_run(f, ITM_AGENT_LIST_MODULES, &lr.base);
}
