/*
 * rpc_routes.c - GetRoutes: the routes modules report (routes.c) on the
 * wire.  A request naming a destination gets that one only (NOT_FOUND
 * when no module routes to it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "rpc.h"

/* A RoutesReply pointing into an agent_routes, with its own arrays. */
struct routes_msg {
	Itm__V1__RoutesReply rep;
	Itm__V1__Route *r, **r_p;
	Itm__V1__RoutePath *p, **p_p;
};

static void
routes_msg_free(struct routes_msg *m)
{
	free(m->r), free(m->r_p);
	free(m->p), free(m->p_p);
}

static void
fill_route(Itm__V1__Route *w, struct agent_route *r, Itm__V1__RoutePath *p,
	   Itm__V1__RoutePath **p_p)
{
	itm__v1__route__init(w);
	w->module = r->module;
	w->destination = r->dest;
	w->overlay = r->overlay;
	w->via = r->via;
	w->rtt_us = r->rtt_us;
	w->loss_permille = r->loss_pm;
	w->since = r->since;
	w->switches = r->switches;
	for (size_t i = 0; i < r->n_paths; i++) {
		itm__v1__route_path__init(&p[i]);
		p[i].via = r->paths[i].via;
		p[i].rtt_us = r->paths[i].rtt_us;
		p[i].loss_permille = r->paths[i].loss_pm;
		p[i].alive = r->paths[i].alive;
		p_p[i] = &p[i];
	}
	w->paths = p_p;
	w->n_paths = r->n_paths;
}

static int
routes_msg_fill(struct routes_msg *m, struct agent_routes *rs, const char *only)
{
	size_t np = 0, k = 0;

	for (size_t i = 0; i < rs->n; i++)
		np += rs->v[i].n_paths;
	m->r = calloc(rs->n + 1, sizeof(*m->r));
	m->r_p = calloc(rs->n + 1, sizeof(*m->r_p));
	m->p = calloc(np + 1, sizeof(*m->p));
	m->p_p = calloc(np + 1, sizeof(*m->p_p));
	if (!m->r || !m->r_p || !m->p || !m->p_p)
		return -ENOMEM;
	itm__v1__routes_reply__init(&m->rep);
	m->rep.node = (char *)agent->cfg.node;
	m->rep.routes = m->r_p;
	for (size_t i = 0, off = 0; i < rs->n; off += rs->v[i].n_paths, i++) {
		if (only && *only && strcmp(only, rs->v[i].dest) != 0)
			continue;
		fill_route(&m->r[k], &rs->v[i], &m->p[off], &m->p_p[off]);
		m->r_p[k] = &m->r[k];
		k++;
	}
	m->rep.n_routes = k;
	return only && *only && k == 0 ? -ENOENT : 0;
}

void
rpc_h_get_routes(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__RoutesRequest *req = (const void *)itm_rpc_request(call);
	struct agent_routes rs;
	struct routes_msg m = { 0 };
	int rc;

	(void)arg;
	if ((rc = routes_collect(&rs)) < 0) {
		rpc_fail_err(call, rc, NULL);
		return;
	}
	rc = routes_msg_fill(&m, &rs, req->destination);
	if (rc == -ENOENT)
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no route to '%s'",
			     req->destination);
	else if (rc < 0)
		rpc_fail_err(call, rc, NULL);
	else
		itm_rpc_reply(call, &m.rep.base);
	routes_msg_free(&m);
	routes_free(&rs);
}
