/*
 * publish.c - a process module's tunnels and routes (publish.h): the
 * registrations, and their wire form for the heartbeat.  The agent keeps
 * the last heartbeat's per process and shows them in GetTunnels /
 * GetRoutes as an in-agent module's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "publish.h"

#define PUB_MAX_ROUTES 1024 /* per heartbeat; more are left out */

int
itm__pub_add_tunnel(struct itm__publish *p, const struct itm_tunnel_status *st)
{
	if (st == NULL) {
		itm__set_error("itm_register_tunnel: no status");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->n_tunnels; i++)
		if (p->tunnels[i] == st)
			return -EEXIST;
	if (p->n_tunnels == ITM__PUB_MAX_TUNNELS) {
		itm__set_error("more than %d tunnels", ITM__PUB_MAX_TUNNELS);
		return -ENOSPC;
	}
	p->tunnels[p->n_tunnels++] = st;
	return 0;
}

int
itm__pub_del_tunnel(struct itm__publish *p, const struct itm_tunnel_status *st)
{
	for (unsigned int i = 0; i < p->n_tunnels; i++) {
		if (p->tunnels[i] != st)
			continue;
		p->tunnels[i] = p->tunnels[--p->n_tunnels];
		return 0;
	}
	return -ENOENT;
}

int
itm__pub_set_routes(struct itm__publish *p, itm_routes_func f, void *arg)
{
	if (f == NULL) {
		itm__set_error("itm_register_routes_func: no function");
		return -EINVAL;
	}
	if (p->routes_f)
		return -EEXIST;
	p->routes_f = f;
	p->routes_arg = arg;
	return 0;
}

int
itm__pub_del_routes(struct itm__publish *p, itm_routes_func f, void *arg)
{
	if (p->routes_f == NULL || p->routes_f != f || p->routes_arg != arg)
		return -ENOENT;
	p->routes_f = NULL;
	p->routes_arg = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Wire                                                                 */
/* ------------------------------------------------------------------ */

/* Copy at most @n bytes of @src into @dst (room for @n + 1), printable
 * ASCII only ('?' for other bytes): the agent refuses a whole heartbeat
 * with a control character or bad UTF-8 in a string, and the lease
 * would then expire over a tunnel's name. */
static char *
clean(char *dst, const char *src, size_t n)
{
	size_t i = 0;

	for (; src && i < n && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

static void
tunnel_to_wire(struct itm__pub_wire *pw, unsigned int i,
	       const struct itm_tunnel_status *st)
{
	Itm__V1__Tunnel *w = &pw->tun[i];

	itm__v1__tunnel__init(w);
	w->module = "";
	w->name = clean(pw->names[i], st->name, sizeof(st->name) - 1);
	w->peer = clean(pw->peers[i], st->peer, sizeof(st->peer) - 1);
	w->state_text =
		clean(pw->texts[i], st->state_text, sizeof(pw->texts[i]) - 1);
	w->side = st->side == ITM_TUNNEL_EXIT
			  ? ITM__V1__TUNNEL_SIDE__TUNNEL_EXIT
			  : ITM__V1__TUNNEL_SIDE__TUNNEL_ENTRY;
	w->state = st->state;
	w->target_kbps = st->target_kbps;
	w->goodput_kbps = st->goodput_kbps;
	w->conns = st->conns;
	w->conns_wanted = st->conns_wanted;
	w->min_conns = st->min_conns;
	w->max_conns = st->max_conns;
	w->entry_drops = st->entry_drops;
	w->queue_bytes = st->queue_bytes;
}

/* A cleaned copy of @s, at most 255 bytes (the agent keeps less). */
static char *
dup_str(const char *s, int *err)
{
	char *d = malloc(256);

	if (d == NULL)
		*err = -ENOMEM;
	return d ? clean(d, s, 255) : NULL;
}

static void
route_free(Itm__V1__Route *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_paths; i++) {
		free(r->paths[i]->via);
		free(r->paths[i]);
	}
	free(r->paths);
	free(r->destination);
	free(r->overlay);
	free(r->via);
	free(r);
}

static int
paths_to_wire(Itm__V1__Route *w, const struct itm_route *r, int *err)
{
	size_t n = r->paths ? r->n_paths : 0;

	w->paths = calloc(n + 1, sizeof(*w->paths));
	if (w->paths == NULL)
		return *err = -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Itm__V1__RoutePath *p = calloc(1, sizeof(*p));

		if (p == NULL)
			return *err = -ENOMEM;
		itm__v1__route_path__init(p);
		w->paths[w->n_paths++] = p;
		p->via = dup_str(r->paths[i].via, err);
		p->rtt_us = r->paths[i].rtt_us;
		p->loss_permille = r->paths[i].loss_pm;
		p->alive = r->paths[i].alive != 0;
	}
	return *err;
}

static Itm__V1__Route *
route_to_wire(const struct itm_route *r)
{
	Itm__V1__Route *w = calloc(1, sizeof(*w));
	int err = 0;

	if (w == NULL)
		return NULL;
	itm__v1__route__init(w);
	w->module = "";
	w->destination = dup_str(r->dest, &err);
	w->overlay = dup_str(r->overlay, &err);
	w->via = dup_str(r->via, &err);
	w->rtt_us = r->rtt_us;
	w->loss_permille = r->loss_pm;
	w->since = r->since;
	w->switches = r->switches;
	if (paths_to_wire(w, r, &err) < 0 || err < 0) {
		route_free(w);
		return NULL;
	}
	return w;
}

static void
route_emit(void *ctx, const struct itm_route *r)
{
	struct itm__pub_wire *w = ctx;
	Itm__V1__Route **v;

	if (w->err || r == NULL || w->n_routes == PUB_MAX_ROUTES)
		return;
	v = realloc(w->routes, (w->n_routes + 1) * sizeof(*v));
	if (v == NULL) {
		w->err = -ENOMEM;
		return;
	}
	w->routes = v;
	v[w->n_routes] = route_to_wire(r);
	if (v[w->n_routes] == NULL)
		w->err = -ENOMEM;
	else
		w->n_routes++;
}

void
itm__pub_to_wire(const struct itm__publish *p, struct itm__pub_wire *w)
{
	memset(w, 0, sizeof(*w));
	for (unsigned int i = 0; i < p->n_tunnels; i++) {
		tunnel_to_wire(w, i, p->tunnels[i]);
		w->tun_p[i] = &w->tun[i];
	}
	w->n_tun = p->n_tunnels;
	if (p->routes_f)
		p->routes_f(route_emit, w, p->routes_arg);
}

void
itm__pub_wire_free(struct itm__pub_wire *w)
{
	for (size_t i = 0; i < w->n_routes; i++)
		route_free(w->routes[i]);
	free(w->routes);
	memset(w, 0, sizeof(*w));
}
