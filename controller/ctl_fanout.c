/*
 * ctl_fanout.c - operator calls forwarded to agents: NodeStats and
 * NodeRoutes and NodeTunnels (one node or every node at once) and module
 * load/unload/list on one node.
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

/* Operator call @call forwarded to the nodes of a fan; @finish answers
 * it when they all replied. */
struct forward;
typedef void (*forward_finish_cb)(struct forward *fw);

struct forward {
	struct ctl_fan fan;
	struct itm_rpc_call *call;
	forward_finish_cb finish;
	enum itm_method method;
	const ProtobufCMessage *req; /* while starting only */
	ProtobufCMessage **replies;  /* copies, NULL where it failed */
	struct itm_rpc_status *st;
};

static void
forward_free(struct forward *fw)
{
	for (size_t i = 0; i < fw->fan.n && fw->replies; i++)
		if (fw->replies[i])
			protobuf_c_message_free_unpacked(fw->replies[i], NULL);
	ctl_fan_fini(&fw->fan);
	free(fw->replies);
	free(fw->st);
	free(fw);
}

static void
fan_finish_cb(struct ctl_fan *f)
{
	struct forward *fw = CTL_FAN_OWNER(f, struct forward);

	fw->finish(fw);
	forward_free(fw);
}

/* A forward of @call to @nodes, or NULL (the call answered). */
static struct forward *
forward_new(struct ctl *c, struct itm_rpc_call *call, const char *const *nodes,
	    size_t n, forward_finish_cb finish)
{
	struct forward *fw = calloc(1, sizeof(*fw));

	if (fw == NULL ||
	    ctl_fan_init(&fw->fan, c, nodes, n, fan_finish_cb) < 0 ||
	    (fw->replies = calloc(n ? n : 1, sizeof(*fw->replies))) == NULL ||
	    (fw->st = calloc(n ? n : 1, sizeof(*fw->st))) == NULL) {
		if (fw)
			forward_free(fw);
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	ctl_fan_deadline(&fw->fan, call);
	fw->call = call;
	fw->finish = finish;
	return fw;
}

static void
forward_done_cb(void *arg, const struct itm_rpc_status *st,
		const ProtobufCMessage *reply)
{
	struct ctl_fan_slot *s = arg;
	struct forward *fw = CTL_FAN_OWNER(s->fan, struct forward);
	struct itm_rpc_status *mine = &fw->st[s->i];

	*mine = *st;
	if (st->code == ITM_RPC_OK &&
	    (fw->replies[s->i] = itm_rpc_msg_copy(reply)) == NULL) {
		mine->code = ITM_RPC_RESOURCE_EXHAUSTED;
		snprintf(mine->message, sizeof(mine->message), "out of memory");
	}
	ctl_fan_done(s);
}

static int
forward_start(struct ctl_fan_slot *s)
{
	struct ctl *c = s->fan->c;
	struct forward *fw = CTL_FAN_OWNER(s->fan, struct forward);
	struct ctl_node *n = ctl_node_find(c, s->fan->nodes[s->i]);
	struct itm_rpc_status *st = &fw->st[s->i];
	int rc;

	rc = n ? ctl_node_call(c, n, fw->method, fw->req,
			       ctl_fan_timeout(s->fan), forward_done_cb, s)
	       : -ENOENT;
	if (rc < 0) {
		st->code = ITM_RPC_UNAVAILABLE;
		snprintf(st->message, sizeof(st->message), "%s: %s",
			 n ? n->mgmt : "not in the topology", strerror(-rc));
	}
	return rc;
}

/* Ask every node of @fw; @fw is finished and freed when all answered. */
static void
forward_run(struct forward *fw, enum itm_method method,
	    const ProtobufCMessage *req)
{
	fw->method = method;
	fw->req = req;
	ctl_fan_run(&fw->fan, forward_start);
}

/* ------------------------------------------------------------------ */
/* NodeStats                                                            */
/* ------------------------------------------------------------------ */

/* The replies of @fw into @ok, the nodes that failed into @ep (with
 * @ev, @detail as storage); counts in *@n_ok, *@n_err. */
static void
collect(struct forward *fw, ProtobufCMessage **ok, size_t *n_ok,
	Itm__V1__NodeResult *ev, Itm__V1__NodeResult **ep, size_t *n_err,
	char (*detail)[300])
{
	for (size_t i = 0; i < fw->fan.n; i++) {
		const struct itm_rpc_status *st = &fw->st[i];
		Itm__V1__NodeResult *e = &ev[*n_err];

		if (fw->replies[i]) {
			ok[(*n_ok)++] = fw->replies[i];
			continue;
		}
		snprintf(detail[i], sizeof(detail[i]), "%.30s: %.260s",
			 itm_rpc_code_name(st->code), st->message);
		itm__v1__node_result__init(e);
		e->node = fw->fan.nodes[i];
		e->result = (Itm__V1__Outcome)ctl_outcome_of(st->code);
		e->detail = detail[i];
		ep[(*n_err)++] = e;
	}
}

/* Storage for collect(), per node of @fw. */
struct fan_result {
	ProtobufCMessage **ok;
	Itm__V1__NodeResult *ev, **ep;
	char (*detail)[300];
	size_t n_ok, n_err;
};

static int
fan_result_run(struct forward *fw, struct fan_result *r)
{
	size_t n = fw->fan.n ? fw->fan.n : 1;

	memset(r, 0, sizeof(*r));
	r->ok = calloc(n, sizeof(*r->ok));
	r->ev = calloc(n, sizeof(*r->ev));
	r->ep = calloc(n, sizeof(*r->ep));
	r->detail = calloc(n, sizeof(*r->detail));
	if (!r->ok || !r->ev || !r->ep || !r->detail) {
		itm_rpc_fail(fw->call, ITM_RPC_RESOURCE_EXHAUSTED,
			     "out of memory");
		return -ENOMEM;
	}
	collect(fw, r->ok, &r->n_ok, r->ev, r->ep, &r->n_err, r->detail);
	return 0;
}

static void
fan_result_free(struct fan_result *r)
{
	free(r->ok);
	free(r->ev);
	free(r->ep);
	free(r->detail);
}

static void
stats_finish(struct forward *fw)
{
	Itm__V1__NodeStatsReply rep = ITM__V1__NODE_STATS_REPLY__INIT;
	struct fan_result r;

	if (fan_result_run(fw, &r) == 0) {
		rep.nodes = (Itm__V1__StatsReply **)r.ok;
		rep.n_nodes = r.n_ok;
		rep.errors = r.ep;
		rep.n_errors = r.n_err;
		itm_rpc_reply(fw->call, &rep.base);
	}
	fan_result_free(&r);
}

/* The nodes a call names: @node, or every node when it is "". */
static struct forward *
nodes_forward(struct ctl *c, struct itm_rpc_call *call, const char *node,
	      forward_finish_cb finish)
{
	size_t n = node[0] ? 1 : c->n_nodes;
	const char **names;
	struct forward *fw;

	if (!ctl_operator_ok(c, call))
		return NULL;
	if (node[0] && ctl_node_find(c, node) == NULL) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in the topology", node);
		return NULL;
	}
	if ((names = calloc(n ? n : 1, sizeof(*names))) == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = node[0] ? node : c->nodes[i].name;
	fw = forward_new(c, call, names, n, finish);
	free(names);
	return fw;
}

void
ctl_h_node_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeStatsRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__StatsRequest sr = ITM__V1__STATS_REQUEST__INIT;
	struct forward *fw = nodes_forward(arg, call, req->node, stats_finish);

	if (fw == NULL)
		return;
	sr.module = req->module;
	forward_run(fw, ITM_AGENT_GET_STATS, &sr.base);
}

/* ------------------------------------------------------------------ */
/* NodeRoutes: the agents' routes, and the links' declared latency      */
/* ------------------------------------------------------------------ */

static void
routes_finish(struct forward *fw)
{
	const struct topo_config *t = fw->fan.c->topo;
	Itm__V1__NodeRoutesReply rep = ITM__V1__NODE_ROUTES_REPLY__INIT;
	size_t nl = t ? t->n_links : 0;
	Itm__V1__DeclaredLink *l = calloc(nl + 1, sizeof(*l));
	Itm__V1__DeclaredLink **lp = calloc(nl + 1, sizeof(*lp));
	struct fan_result r;
	int rc = fan_result_run(fw, &r);

	if (rc == 0 && (l == NULL || lp == NULL)) {
		itm_rpc_fail(fw->call, ITM_RPC_RESOURCE_EXHAUSTED,
			     "out of memory");
	} else if (rc == 0) {
		for (size_t i = 0; i < nl; i++) {
			itm__v1__declared_link__init(&l[i]);
			l[i].a = (char *)t->links[i].a;
			l[i].b = (char *)t->links[i].b;
			l[i].latency_ms = t->links[i].latency_ms;
			lp[i] = &l[i];
		}
		rep.nodes = (Itm__V1__RoutesReply **)r.ok;
		rep.n_nodes = r.n_ok;
		rep.errors = r.ep;
		rep.n_errors = r.n_err;
		rep.links = lp;
		rep.n_links = nl;
		itm_rpc_reply(fw->call, &rep.base);
	}
	fan_result_free(&r);
	free(l);
	free(lp);
}

void
ctl_h_node_routes(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeRoutesRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__RoutesRequest rr = ITM__V1__ROUTES_REQUEST__INIT;
	struct forward *fw = nodes_forward(arg, call, req->node, routes_finish);

	if (fw == NULL)
		return;
	forward_run(fw, ITM_AGENT_GET_ROUTES, &rr.base);
}

/* ------------------------------------------------------------------ */
/* NodeTunnels: NodeStats's twin for GetTunnels                         */
/* ------------------------------------------------------------------ */

static void
tunnels_finish(struct forward *fw)
{
	Itm__V1__NodeTunnelsReply rep = ITM__V1__NODE_TUNNELS_REPLY__INIT;
	struct fan_result r;

	if (fan_result_run(fw, &r) == 0) {
		rep.nodes = (Itm__V1__TunnelsReply **)r.ok;
		rep.n_nodes = r.n_ok;
		rep.errors = r.ep;
		rep.n_errors = r.n_err;
		itm_rpc_reply(fw->call, &rep.base);
	}
	fan_result_free(&r);
}

void
ctl_h_node_tunnels(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeTunnelsRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__TunnelsRequest tr = ITM__V1__TUNNELS_REQUEST__INIT;
	struct forward *fw =
		nodes_forward(arg, call, req->node, tunnels_finish);

	if (fw == NULL)
		return;
	forward_run(fw, ITM_AGENT_GET_TUNNELS, &tr.base);
}

/* ------------------------------------------------------------------ */
/* Module load / unload / list on one node                              */
/* ------------------------------------------------------------------ */

/* The one node's status, with its name, or 0 when it answered. */
static int
one_failed(struct forward *fw)
{
	const struct itm_rpc_status *st = &fw->st[0];

	if (fw->replies[0])
		return 0;
	itm_rpc_fail(fw->call,
		     st->code == ITM_RPC_DEADLINE_EXCEEDED ? ITM_RPC_UNAVAILABLE
							   : st->code,
		     "node %s: %s", fw->fan.nodes[0], st->message);
	return 1;
}

static void
load_finish(struct forward *fw)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(fw))
		return;
	rep.loaded = (void *)fw->replies[0];
	log_info("node %s: module %s loaded (%s)", fw->fan.nodes[0],
		 rep.loaded->name, itm_rpc_peer(fw->call));
	itm_rpc_reply(fw->call, &rep.base);
}

static void
unload_finish(struct forward *fw)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(fw))
		return;
	log_info("node %s: module unloaded (%s)", fw->fan.nodes[0],
		 itm_rpc_peer(fw->call));
	itm_rpc_reply(fw->call, &rep.base);
}

static void
list_finish(struct forward *fw)
{
	Itm__V1__NodeModuleReply rep = ITM__V1__NODE_MODULE_REPLY__INIT;

	if (one_failed(fw))
		return;
	rep.list = (void *)fw->replies[0];
	itm_rpc_reply(fw->call, &rep.base);
}

/* Checks common to the three; the forward to the node, or NULL when the
 * call was answered. */
static struct forward *
module_forward(struct ctl *c, struct itm_rpc_call *call, int need_name,
	       forward_finish_cb finish)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	const char *node = req->node;

	if (!ctl_operator_ok(c, call))
		return NULL;
	if (ctl_node_find(c, node) == NULL) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in the topology", node);
		return NULL;
	}
	if (need_name && (req->name[0] == '\0' || strlen(req->name) > 64 ||
			  req->n_params > 64)) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "name: 1..64 characters, params: at most 64");
		return NULL;
	}
	return forward_new(c, call, &node, 1, finish);
}

void
ctl_h_node_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleRequest lr = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	struct forward *fw = module_forward(arg, call, 1, load_finish);

	if (fw == NULL)
		return;
	lr.name = req->name;
	lr.params = req->params;
	lr.n_params = req->n_params;
	forward_run(fw, ITM_AGENT_LOAD_MODULE, &lr.base);
}

void
ctl_h_node_unload(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeModuleRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__UnloadModuleRequest ur = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	struct forward *fw = module_forward(arg, call, 1, unload_finish);

	if (fw == NULL)
		return;
	ur.name = req->name;
	forward_run(fw, ITM_AGENT_UNLOAD_MODULE, &ur.base);
}

void
ctl_h_node_list(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__ListModulesRequest lr = ITM__V1__LIST_MODULES_REQUEST__INIT;
	struct forward *fw = module_forward(arg, call, 0, list_finish);

	if (fw == NULL)
		return;
	forward_run(fw, ITM_AGENT_LIST_MODULES, &lr.base);
}
