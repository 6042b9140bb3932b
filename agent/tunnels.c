/*
 * tunnels.c - the elastic tunnels in-agent modules publish
 * (itm_register_tunnel), copied out for GetTunnels (rpc_tunnels.c), as
 * telemetry.c gathers counters for GetStats.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "module.h"
#include "procpub.h"

static void
tunnel_copy(struct agent_tunnel *o, const struct module *m,
	    const struct itm_tunnel_status *st)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->module, sizeof(o->module), "%s", module_name(m));
	o->st = *st;
	o->st.name[sizeof(o->st.name) - 1] = '\0';
	o->st.peer[sizeof(o->st.peer) - 1] = '\0';
	snprintf(o->state_text, sizeof(o->state_text), "%s",
		 st->state_text ? st->state_text : "");
	o->st.state_text = o->state_text;
}

size_t
tunnels_collect(struct agent_tunnel *out, size_t max)
{
	size_t n = 0;

	for (struct module *m = modload_first(); m; m = modload_next(m)) {
		if (m->dead)
			continue;
		uv_mutex_lock(&m->lock);
		for (unsigned int i = 0; i < m->pub.n_tunnels && n < max; i++)
			tunnel_copy(&out[n++], m, m->pub.tunnels[i]);
		uv_mutex_unlock(&m->lock);
	}
	return n + procpub_tunnels(out + n, max - n);
}
