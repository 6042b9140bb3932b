/*
 * rpc_publish.c - the tunnels and routes in a process module's heartbeat
 * (HeartbeatRequest.tunnels, .routes), checked and copied into procpub.c
 * under the process's name.  Strings are cut to the agent's sizes, as
 * for in-agent modules (tunnels.c, routes.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "lease.h"
#include "procpub.h"
#include "rpc.h"

#define PUB_MAX_TUNNELS 8    /* per process, as per in-agent module */
#define PUB_MAX_ROUTES	1024 /* per process */
#define PUB_MAX_PATHS	64   /* per route */

static const char *
str(const char *s)
{
	return s ? s : "";
}

static void
tunnel_from_wire(struct agent_tunnel *o, const char *module,
		 const Itm__V1__Tunnel *w)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->module, sizeof(o->module), "%s", module);
	snprintf(o->st.name, sizeof(o->st.name), "%s", str(w->name));
	snprintf(o->st.peer, sizeof(o->st.peer), "%s", str(w->peer));
	o->st.side = w->side == ITM__V1__TUNNEL_SIDE__TUNNEL_EXIT
			     ? ITM_TUNNEL_EXIT
			     : ITM_TUNNEL_ENTRY;
	o->st.state = w->state;
	snprintf(o->state_text, sizeof(o->state_text), "%s",
		 str(w->state_text));
	o->st.state_text = o->state_text;
	o->st.target_kbps = w->target_kbps;
	o->st.goodput_kbps = w->goodput_kbps;
	o->st.conns = w->conns;
	o->st.conns_wanted = w->conns_wanted;
	o->st.min_conns = w->min_conns;
	o->st.max_conns = w->max_conns;
	o->st.entry_drops = w->entry_drops;
	o->st.queue_bytes = w->queue_bytes;
}

static int
route_from_wire(struct agent_route *d, const char *module,
		const Itm__V1__Route *w)
{
	size_t n = w->n_paths < PUB_MAX_PATHS ? w->n_paths : PUB_MAX_PATHS;

	memset(d, 0, sizeof(*d));
	snprintf(d->module, sizeof(d->module), "%s", module);
	snprintf(d->dest, sizeof(d->dest), "%s", str(w->destination));
	snprintf(d->overlay, sizeof(d->overlay), "%s", str(w->overlay));
	snprintf(d->via, sizeof(d->via), "%s", str(w->via));
	d->rtt_us = w->rtt_us;
	d->loss_pm = w->loss_permille;
	d->since = w->since;
	d->switches = w->switches;
	d->paths = calloc(n + 1, sizeof(*d->paths));
	if (d->paths == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(d->paths[i].via, sizeof(d->paths[i].via), "%s",
			 str(w->paths[i]->via));
		d->paths[i].rtt_us = w->paths[i]->rtt_us;
		d->paths[i].loss_pm = w->paths[i]->loss_permille;
		d->paths[i].alive = w->paths[i]->alive;
	}
	d->n_paths = n;
	return 0;
}

static int
routes_from_wire(struct agent_routes *rs, const char *module,
		 const Itm__V1__HeartbeatRequest *req)
{
	size_t n =
		req->n_routes < PUB_MAX_ROUTES ? req->n_routes : PUB_MAX_ROUTES;

	memset(rs, 0, sizeof(*rs));
	rs->v = calloc(n + 1, sizeof(*rs->v));
	if (rs->v == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (route_from_wire(&rs->v[i], module, req->routes[i]) < 0)
			return -1;
		rs->n++;
	}
	return 0;
}

void
rpc_publish(const Itm__V1__HeartbeatRequest *req)
{
	const char *module = lease_proc_name((pid_t)req->pid);
	size_t nt = req->n_tunnels < PUB_MAX_TUNNELS ? req->n_tunnels
						     : PUB_MAX_TUNNELS;
	struct agent_tunnel *tun;
	struct agent_routes rs = { 0 };

	if (module == NULL)
		return; /* no lease: nothing to show it under */
	tun = calloc(nt + 1, sizeof(*tun));
	if (tun == NULL || routes_from_wire(&rs, module, req) < 0) {
		free(tun);
		routes_free(&rs);
		return;
	}
	for (size_t i = 0; i < nt; i++)
		tunnel_from_wire(&tun[i], module, req->tunnels[i]);
	procpub_set((pid_t)req->pid, tun, nt, &rs);
}
