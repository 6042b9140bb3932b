/*
 * publish.h - what a module publishes for the agent's GetTunnels and
 * GetRoutes (itm_register_tunnel, itm_register_routes_func): one set, kept
 * by libitm in a process module and sent with every heartbeat
 * (publish.c), and by the agent per in-agent module (agent/modapi.c), so
 * both kinds have the same calls and limits.
 */
#ifndef ITM_PUBLISH_H
#define ITM_PUBLISH_H

#include "itm.h"
#include "itm.pb-c.h"

#define ITM__PUB_MAX_TUNNELS 8

struct itm__publish {
	const struct itm_tunnel_status *tunnels[ITM__PUB_MAX_TUNNELS];
	unsigned int n_tunnels;
	itm_routes_func routes_f; /* NULL: none */
	void *routes_arg;
};

int itm__pub_add_tunnel(struct itm__publish *p,
			const struct itm_tunnel_status *st);
int itm__pub_del_tunnel(struct itm__publish *p,
			const struct itm_tunnel_status *st);
int itm__pub_set_routes(struct itm__publish *p, itm_routes_func f, void *arg);
int itm__pub_del_routes(struct itm__publish *p, itm_routes_func f, void *arg);

/* The heartbeat's tunnels and routes, read from @p now; everything the
 * message points to belongs to @w until itm__pub_wire_free(). */
struct itm__pub_wire {
	Itm__V1__Tunnel tun[ITM__PUB_MAX_TUNNELS], *tun_p[ITM__PUB_MAX_TUNNELS];
	size_t n_tun;
	/* Cleaned copies (printable ASCII, cut: see publish.c). */
	char names[ITM__PUB_MAX_TUNNELS][32];
	char peers[ITM__PUB_MAX_TUNNELS][64];
	char texts[ITM__PUB_MAX_TUNNELS][64];
	Itm__V1__Route **routes; /* each allocated, strings copied */
	size_t n_routes;
	int err;
};

void itm__pub_to_wire(const struct itm__publish *p, struct itm__pub_wire *w);
void itm__pub_wire_free(struct itm__pub_wire *w);

#endif /* ITM_PUBLISH_H */
