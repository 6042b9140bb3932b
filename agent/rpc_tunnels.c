/*
 * rpc_tunnels.c - GetTunnels: the elastic tunnels of this node's modules
 * (tunnels.c), turned into the wire reply.
 */
#include <stdlib.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "rpc.h"

static void
fill_tunnel(Itm__V1__Tunnel *w, struct agent_tunnel *t)
{
	itm__v1__tunnel__init(w);
	w->module = t->module;
	w->name = t->st.name;
	w->peer = t->st.peer;
	w->side = t->st.side == ITM_TUNNEL_EXIT
			  ? ITM__V1__TUNNEL_SIDE__TUNNEL_EXIT
			  : ITM__V1__TUNNEL_SIDE__TUNNEL_ENTRY;
	w->state = t->st.state;
	w->state_text = t->state_text;
	w->target_kbps = t->st.target_kbps;
	w->goodput_kbps = t->st.goodput_kbps;
	w->conns = t->st.conns;
	w->conns_wanted = t->st.conns_wanted;
	w->min_conns = t->st.min_conns;
	w->max_conns = t->st.max_conns;
	w->entry_drops = t->st.entry_drops;
	w->queue_bytes = t->st.queue_bytes;
}

void
rpc_h_get_tunnels(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__TunnelsReply rep = ITM__V1__TUNNELS_REPLY__INIT;
	struct agent_tunnel *t = calloc(AGENT_MAX_TUNNELS, sizeof(*t));
	Itm__V1__Tunnel *w = calloc(AGENT_MAX_TUNNELS, sizeof(*w));
	Itm__V1__Tunnel **wp = calloc(AGENT_MAX_TUNNELS, sizeof(*wp));
	size_t n;

	(void)arg;
	if (t == NULL || w == NULL || wp == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	n = tunnels_collect(t, AGENT_MAX_TUNNELS);
	for (size_t i = 0; i < n; i++) {
		fill_tunnel(&w[i], &t[i]);
		wp[i] = &w[i];
	}
	rep.node = (char *)agent->cfg.node;
	rep.tunnels = wp;
	rep.n_tunnels = n;
	itm_rpc_reply(call, &rep.base);
out:
	free(t);
	free(w);
	free(wp);
}
