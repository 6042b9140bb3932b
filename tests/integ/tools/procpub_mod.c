/*
 * procpub_mod.c - a process module that publishes what an in-agent module
 * would: one tunnel status (itm_register_tunnel) and the route to one
 * destination (itm_register_routes_func), with a registration at IP_IN
 * for UDP port 9 (its lease; it sees no packet in the test).  The tunnel's
 * goodput counts the routes function's calls, so a reader sees it live.
 *
 *   procpub_mod TUNNEL PEER DEST VIA
 *
 * With PROCPUB_OLD_INIT=1 in the environment it calls the libitm_init
 * symbol itself, as a program built before ITM_API_MINOR did: libitm
 * then takes its registration to settle (integ.agent_settle_rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itm.h"

static struct itm_tunnel_status tun = {
	.side = ITM_TUNNEL_ENTRY,
	.state = 1,
	.state_text = "holding",
	.target_kbps = 40000,
	.conns = 3,
	.conns_wanted = 3,
	.min_conns = 1,
	.max_conns = 8,
};

struct route_conf {
	const char *dest, *via;
};

static void
routes(itm_route_emit emit, void *ctx, void *arg)
{
	const struct route_conf *c = arg;
	const struct itm_route_path paths[] = {
		{ .via = c->via, .rtt_us = 1500, .loss_pm = 0, .alive = 1 },
		{ .via = "", .rtt_us = 9000, .loss_pm = 120, .alive = 1 },
	};
	const struct itm_route r = {
		.dest = c->dest,
		.overlay = "10.250.0.9",
		.via = c->via,
		.rtt_us = 1500,
		.since = 1700000000,
		.switches = 2,
		.paths = paths,
		.n_paths = 2,
	};

	tun.goodput_kbps++;
	emit(ctx, &r);
}

int
main(int argc, char **argv)
{
	struct route_conf rc;
	struct itm_info info;
	int rc_;

	if (argc != 5) {
		fprintf(stderr, "usage: procpub_mod TUNNEL PEER DEST VIA\n");
		return 2;
	}
	snprintf(tun.name, sizeof(tun.name), "%s", argv[1]);
	snprintf(tun.peer, sizeof(tun.peer), "%s", argv[2]);
	rc = (struct route_conf){ argv[3], argv[4] };
	if (getenv("PROCPUB_OLD_INIT") ? (libitm_init)(128, ITM_COPY_META) < 0
				       : libitm_init(128, ITM_COPY_META) < 0)
		goto fail;
	memset(&info, 0, sizeof(info));
	info.label = "procpub";
	libitm_init_interest(&info);
	itm_interest_add_protocol(&info.interest, IPPROTO_UDP);
	itm_interest_add_dst_port(&info.interest, 9, 9);
	if (libitm_register(ITM_IP_IN, &info) < 0 ||
	    itm_register_tunnel(&tun) < 0 ||
	    itm_register_routes_func(routes, &rc) < 0)
		goto fail;
	rc_ = libitm_run();
	return rc_ < 0 ? 1 : 0;
fail:
	fprintf(stderr, "procpub_mod: %s\n", itm_last_error());
	return 1;
}
