/*
 * procpub.c - the tunnels and routes process modules publish
 * (itm_register_tunnel, itm_register_routes_func in a process): each
 * heartbeat of a process replaces what it published before
 * (rpc_publish.c converts the wire); GetTunnels and GetRoutes show them
 * after the in-agent modules' (tunnels.c, routes.c) under the process's
 * name; they go with the process's last lease (lease.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "agent.h"
#include "procpub.h"

struct procpub {
	pid_t pid;
	struct agent_tunnel *tun;
	size_t n_tun;
	struct agent_routes routes;
	LIST_ENTRY(procpub) entry;
};

static LIST_HEAD(, procpub) pubs = LIST_HEAD_INITIALIZER(pubs);

static struct procpub *
pub_find(pid_t pid)
{
	struct procpub *p;

	LIST_FOREACH(p, &pubs, entry)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void
pub_clear(struct procpub *p)
{
	free(p->tun);
	routes_free(&p->routes);
	p->tun = NULL;
	p->n_tun = 0;
}

void
procpub_set(pid_t pid, struct agent_tunnel *tun, size_t n_tun,
	    struct agent_routes *routes)
{
	struct procpub *p = pub_find(pid);

	if (p == NULL && (p = calloc(1, sizeof(*p))) != NULL) {
		p->pid = pid;
		LIST_INSERT_HEAD(&pubs, p, entry);
	}
	if (p == NULL) {
		free(tun);
		routes_free(routes);
		return;
	}
	pub_clear(p);
	p->tun = tun;
	p->n_tun = n_tun;
	p->routes = *routes;
	memset(routes, 0, sizeof(*routes));
}

void
procpub_drop(pid_t pid)
{
	struct procpub *p = pub_find(pid);

	if (p == NULL)
		return;
	LIST_REMOVE(p, entry);
	pub_clear(p);
	free(p);
}

size_t
procpub_tunnels(struct agent_tunnel *out, size_t max)
{
	struct procpub *p;
	size_t n = 0;

	LIST_FOREACH(p, &pubs, entry)
		for (size_t i = 0; i < p->n_tun && n < max; i++)
			out[n++] = p->tun[i];
	/* state_text points into each copy. */
	for (size_t i = 0; i < n; i++)
		out[i].st.state_text = out[i].state_text;
	return n;
}

static int
route_append(struct agent_routes *out, const struct agent_route *r)
{
	struct agent_route *v = realloc(out->v, (out->n + 1) * sizeof(*v));
	struct agent_route *d;

	if (v == NULL)
		return -ENOMEM;
	out->v = v;
	d = &v[out->n];
	*d = *r;
	d->paths = calloc(r->n_paths + 1, sizeof(*d->paths));
	if (d->paths == NULL)
		return -ENOMEM;
	memcpy(d->paths, r->paths, r->n_paths * sizeof(*d->paths));
	out->n++;
	return 0;
}

int
procpub_routes(struct agent_routes *out)
{
	struct procpub *p;

	LIST_FOREACH(p, &pubs, entry)
		for (size_t i = 0; i < p->routes.n; i++)
			if (route_append(out, &p->routes.v[i]) < 0)
				return -ENOMEM;
	return 0;
}
