/*
 * ctl_rpc.c - the Controller service: its method table, who may call
 * what, and the handlers that only read (ShowTopology, Diff, History,
 * Nodes).  Apply and Rollback live in ctl_apply.c, the calls forwarded to
 * agents in ctl_fanout.c, Join and NodeHeartbeat in ctl_nodes.c.
 *
 * With TLS, every client presents a certificate of the controller's CA.
 * A certificate whose CN is a node of the topology is an agent's: it may
 * Join and heartbeat as that node and nothing else; operator calls need a
 * certificate for any other name (e.g. "admin").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "itm_health.h"
#include "itm_reflect.h"
#include "itm.pb-c.h"
#include "log.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int
ctl_operator_ok(struct ctl *c, struct itm_rpc_call *call)
{
	const char *id = itm_rpc_peer_identity(call);

	if (!c->cfg.use_tls || id == NULL || ctl_node_find(c, id) == NULL)
		return 1;
	log_warnx("%s from %s refused: certificate of node '%s'",
		  itm_rpc_method_path(call), itm_rpc_peer(call), id);
	itm_rpc_fail(call, ITM_RPC_PERMISSION_DENIED,
		     "the certificate of "
		     "node '%s' may only join and send heartbeats",
		     id);
	return 0;
}

/* The faults for the status message, one a line, as many as fit. */
static void
faults_text(const struct topo_errors *e, char *msg, size_t size)
{
	size_t off = 0, i;

	msg[0] = '\0';
	for (i = 0; i < e->n; i++) {
		size_t len = strlen(e->lines[i]);

		if (off + len + 2 > size - 48)
			break;
		off += (size_t)snprintf(msg + off, size - off, "%s%s",
					off ? "\n" : "", e->lines[i]);
	}
	if (i < e->n || e->dropped)
		snprintf(msg + off, size - off, "\n... and %zu more faults",
			 e->n - i + e->dropped);
}

void
ctl_fail_faults(struct itm_rpc_call *call, const struct topo_errors *e)
{
	Itm__V1__TopologyFaults tf = ITM__V1__TOPOLOGY_FAULTS__INIT;
	char msg[ITM_RPC_MSG_MAX - 64];
	size_t bytes = 0;

	faults_text(e, msg, sizeof(msg));
	/* Every fault in the detail, within what metadata may carry. */
	tf.faults = e->lines;
	while (tf.n_faults < e->n &&
	       (bytes += strlen(e->lines[tf.n_faults]) + 4) <= CTL_FAULTS_MAX)
		tf.n_faults++;
	tf.more = (uint32_t)(e->n - tf.n_faults + e->dropped);
	itm_rpc_fail_detail(call, ITM_RPC_INVALID_ARGUMENT, &tf.base, "%s",
			    msg);
}

/* ------------------------------------------------------------------ */
/* ShowTopology, Diff, History                                          */
/* ------------------------------------------------------------------ */

static void
h_show(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__TopologyRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__TopologyReply rep = ITM__V1__TOPOLOGY_REPLY__INIT;
	struct store_gen info;
	char *yaml;
	size_t len;
	int rc;

	if (!ctl_operator_ok(c, call))
		return;
	rc = store_yaml(c->store, req->generation, &yaml, &len, &info);
	if (rc == -ENOENT && req->generation == 0) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "no topology applied yet");
		return;
	}
	if (rc == -ENOENT) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no generation %llu",
			     (unsigned long long)req->generation);
		return;
	}
	if (rc < 0) {
		itm_rpc_fail(call, ITM_RPC_INTERNAL, "database: %s",
			     store_errmsg(c->store));
		return;
	}
	rep.generation = info.id;
	rep.yaml = yaml;
	rep.applied_at = info.applied_at;
	itm_rpc_reply(call, &rep.base);
	free(yaml);
	free(info.comment);
	free(info.source);
}

struct lines {
	char **v;
	size_t n, cap;
	int oom;
};

static void
line_cb(void *arg, const char *line)
{
	struct lines *l = arg;
	char **v;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		if ((v = realloc(l->v, l->cap * sizeof(*v))) == NULL) {
			l->oom = 1;
			return;
		}
		l->v = v;
	}
	if ((l->v[l->n] = strdup(line)) == NULL)
		l->oom = 1;
	else
		l->n++;
}

static void
h_diff(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__DiffRequest *req = (const void *)itm_rpc_request(call);
	Itm__V1__DiffReply rep = ITM__V1__DIFF_REPLY__INIT;
	struct topo_config *cfg;
	struct topo_errors errs;
	struct lines l = { 0 };

	if (!ctl_operator_ok(c, call))
		return;
	topo_errors_init(&errs);
	if (topo_parse(req->yaml, strlen(req->yaml),
		       req->filename[0] ? req->filename : NULL, &cfg,
		       &errs) < 0) {
		ctl_fail_faults(call, &errs);
		topo_errors_free(&errs);
		return;
	}
	topo_diff(c->topo, cfg, line_cb, &l);
	rep.lines = l.v;
	rep.n_lines = l.n;
	if (l.oom)
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
	else
		itm_rpc_reply(call, &rep.base);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	topo_config_free(cfg);
	topo_errors_free(&errs);
}

static void
h_history(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	Itm__V1__HistoryReply rep = ITM__V1__HISTORY_REPLY__INIT;
	Itm__V1__Generation *g, **p;
	struct store_gen *v;
	size_t n;

	if (!ctl_operator_ok(c, call))
		return;
	if (store_history(c->store, &v, &n) < 0) {
		itm_rpc_fail(call, ITM_RPC_INTERNAL, "database: %s",
			     store_errmsg(c->store));
		return;
	}
	g = calloc(n ? n : 1, sizeof(*g));
	p = calloc(n ? n : 1, sizeof(*p));
	for (size_t i = 0; g && p && i < n; i++) {
		itm__v1__generation__init(&g[i]);
		g[i].generation = v[i].id;
		g[i].applied_at = v[i].applied_at;
		g[i].comment = v[i].comment;
		g[i].nodes = v[i].n_nodes;
		g[i].links = v[i].n_links;
		p[i] = &g[i];
	}
	rep.generations = p;
	rep.n_generations = g && p ? n : 0;
	itm_rpc_reply(call, &rep.base);
	free(g);
	free(p);
	store_history_free(v, n);
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */
/* ------------------------------------------------------------------ */

static void
iso_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	buf[0] = '\0';
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return;
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

	if (n > 0)
		snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* @ni from node @n; label strings go to @labels (freed by the caller). */
static int
node_info(struct ctl *c, const struct ctl_node *n, Itm__V1__NodeInfo *ni,
	  char *seen, size_t seen_len)
{
	const struct topo_node *tn = topo_node_find(c->topo, n->name);

	itm__v1__node_info__init(ni);
	ni->name = n->name;
	ni->mgmt_addr = n->mgmt;
	ni->overlay_addr = tn ? (char *)tn->overlay : "";
	ni->up = n->up;
	iso_time(n->last_seen_ms, seen, seen_len);
	ni->last_seen = seen;
	ni->generation = n->acked_gen;
	ni->want_generation = n->want_gen;
	if (tn == NULL || tn->n_labels == 0)
		return 0;
	ni->labels = calloc(tn->n_labels, sizeof(*ni->labels));
	if (ni->labels == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < tn->n_labels; i++) {
		if (asprintf(&ni->labels[i], "%s=%s", tn->labels[i].key,
			     tn->labels[i].value) < 0)
			return -ENOMEM;
		ni->n_labels++;
	}
	return 0;
}

static void
h_nodes(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	Itm__V1__NodesReply rep = ITM__V1__NODES_REPLY__INIT;
	size_t n = c->n_nodes ? c->n_nodes : 1;
	Itm__V1__NodeInfo *v = calloc(n, sizeof(*v));
	Itm__V1__NodeInfo **p = calloc(n, sizeof(*p));
	char(*seen)[32] = calloc(n, sizeof(*seen));
	int rc = v && p && seen ? 0 : -ENOMEM;

	if (!ctl_operator_ok(c, call))
		goto out;
	for (size_t i = 0; rc == 0 && i < c->n_nodes; i++) {
		rc = node_info(c, &c->nodes[i], &v[i], seen[i],
			       sizeof(seen[i]));
		p[i] = &v[i];
	}
	rep.generation = c->gen;
	rep.nodes = p;
	rep.n_nodes = c->n_nodes;
	if (rc < 0)
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
	else
		itm_rpc_reply(call, &rep.base);
out:
	for (size_t i = 0; v && i < c->n_nodes; i++) {
		for (size_t j = 0; j < v[i].n_labels; j++)
			free(v[i].labels[j]);
		free(v[i].labels);
	}
	free(v);
	free(p);
	free(seen);
}

/* Who leads, as this controller sees it, and the store's health. */
static void
h_controllers(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	Itm__V1__ControllersReply r = ITM__V1__CONTROLLERS_REPLY__INIT;
	char health[512];

	store_health(c->store, health, sizeof(health));
	r.leader = c->leader;
	r.answered_by = c->me;
	r.leading = c->leading;
	r.store = (char *)c->cfg.db_path;
	r.store_health = health;
	r.generation = c->gen;
	itm_rpc_reply(call, &r.base);
}

/* ------------------------------------------------------------------ */
/* The server                                                           */
/* ------------------------------------------------------------------ */

/* The controller serves while its store takes writes. */
static enum itm_health_status
health_status(void *arg, const char *service)
{
	struct ctl *c = arg;

	if (service[0] != '\0' && strcmp(service, "itm.v1.Controller") != 0)
		return ITM_HEALTH_SERVICE_UNKNOWN;
	return c->store && !store_damaged(c->store) ? ITM_HEALTH_SERVING
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
	struct ctl *c = arg;

	itm_health_watch(call, c->loop, health_status, arg);
}

/* The calls only the leader takes (ctl_lead.c): they write the store or
 * the agents.  A standby refuses them naming the leader. */
#define LEADER_ONLY(h)                                             \
	static void h##_lead(struct itm_rpc_call *call, void *arg) \
	{                                                          \
		if (ctl_lead_ok(arg, call))                        \
			h(call, arg);                              \
	}
LEADER_ONLY(ctl_h_join)
LEADER_ONLY(ctl_h_heartbeat)
LEADER_ONLY(ctl_h_apply)
LEADER_ONLY(ctl_h_rollback)
LEADER_ONLY(ctl_h_node_load)
LEADER_ONLY(ctl_h_node_unload)

static const struct itm_rpc_method methods[] = {
	{ ITM_HEALTH_CHECK, h_health_check },
	{ ITM_HEALTH_WATCH, h_health_watch },
	{ ITM_REFLECTION_INFO, itm_reflect_handler },
	{ ITM_REFLECTION_V1_INFO, itm_reflect_handler },
	{ ITM_CONTROLLER_JOIN, ctl_h_join_lead },
	{ ITM_CONTROLLER_NODE_HEARTBEAT, ctl_h_heartbeat_lead },
	{ ITM_CONTROLLER_APPLY, ctl_h_apply_lead },
	{ ITM_CONTROLLER_SHOW_TOPOLOGY, h_show },
	{ ITM_CONTROLLER_DIFF, h_diff },
	{ ITM_CONTROLLER_HISTORY, h_history },
	{ ITM_CONTROLLER_ROLLBACK, ctl_h_rollback_lead },
	{ ITM_CONTROLLER_NODES, h_nodes },
	{ ITM_CONTROLLER_NODE_STATS, ctl_h_node_stats },
	{ ITM_CONTROLLER_NODE_ROUTES, ctl_h_node_routes },
	{ ITM_CONTROLLER_NODE_TUNNELS, ctl_h_node_tunnels },
	{ ITM_CONTROLLER_NODE_LOAD_MODULE, ctl_h_node_load_lead },
	{ ITM_CONTROLLER_NODE_UNLOAD_MODULE, ctl_h_node_unload_lead },
	{ ITM_CONTROLLER_NODE_LIST_MODULES, ctl_h_node_list },
	{ ITM_CONTROLLER_CONTROLLERS, h_controllers },
};

int
ctl_rpc_start(struct ctl *c)
{
	int rc;

	rc = itm_rpc_server_new(&c->srv, c->loop, methods, NELEM(methods), c);
	if (rc < 0)
		return rc;
	rc = itm_rpc_server_listen(c->srv, c->cfg.listen,
				   c->cfg.use_tls ? &c->cfg.tls : NULL, 0);
	if (rc == 0)
		rc = itm_rpc_server_start(c->srv);
	if (rc < 0) {
		itm_rpc_server_free(c->srv);
		c->srv = NULL;
	}
	return rc;
}

void
ctl_rpc_stop(struct ctl *c)
{
	itm_health_stop_all();
	if (c->srv)
		itm_rpc_server_free(c->srv);
	c->srv = NULL;
}
