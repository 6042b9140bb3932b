/*
 * routes.c - the routes in-agent modules report (itm_register_routes_func:
 * itmroute's path in use and candidates per destination), copied out of
 * the modules for rpc_routes.c and the controller link.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "procpub.h"

struct routes_ctx {
	struct agent_routes *out;
	const char *module;
	int err;
};

static void
copy_route(struct agent_route *d, const char *module, const struct itm_route *r)
{
	snprintf(d->module, sizeof(d->module), "%s", module);
	snprintf(d->dest, sizeof(d->dest), "%s", r->dest ? r->dest : "");
	snprintf(d->overlay, sizeof(d->overlay), "%s",
		 r->overlay ? r->overlay : "");
	snprintf(d->via, sizeof(d->via), "%s", r->via ? r->via : "");
	d->rtt_us = r->rtt_us;
	d->loss_pm = r->loss_pm;
	d->since = r->since;
	d->switches = r->switches;
}

static int
copy_paths(struct agent_route *d, const struct itm_route *r)
{
	size_t n = r->paths ? r->n_paths : 0;

	d->paths = calloc(n ? n : 1, sizeof(*d->paths));
	if (d->paths == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct agent_route_path *p = &d->paths[i];

		snprintf(p->via, sizeof(p->via), "%s",
			 r->paths[i].via ? r->paths[i].via : "");
		p->rtt_us = r->paths[i].rtt_us;
		p->loss_pm = r->paths[i].loss_pm;
		p->alive = r->paths[i].alive;
	}
	d->n_paths = n;
	return 0;
}

static void
emit(void *arg, const struct itm_route *r)
{
	struct routes_ctx *c = arg;
	struct agent_route *v;

	if (c->err || r == NULL)
		return;
	v = realloc(c->out->v, (c->out->n + 1) * sizeof(*v));
	if (v == NULL) {
		c->err = -ENOMEM;
		return;
	}
	c->out->v = v;
	memset(&v[c->out->n], 0, sizeof(*v));
	copy_route(&v[c->out->n], c->module, r);
	if ((c->err = copy_paths(&v[c->out->n], r)) == 0)
		c->out->n++;
}

int
routes_collect(struct agent_routes *out)
{
	struct routes_ctx c = { .out = out };

	memset(out, 0, sizeof(*out));
	for (struct module *m = modload_first(); m && !c.err;
	     m = modload_next(m)) {
		c.module = module_name(m);
		module_routes(m, emit, &c);
	}
	if (!c.err)
		c.err = procpub_routes(out);
	if (c.err)
		routes_free(out);
	return c.err;
}

void
routes_free(struct agent_routes *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].paths);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
