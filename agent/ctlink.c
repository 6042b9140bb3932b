/*
 * ctlink.c - the agent's side of the control plane.
 *
 * The agent joins the controller with its node name, the address where the
 * controller reaches its Agent service (--listen) and the generation of the
 * table it holds; then it sends heartbeats.  The controller pushes tables
 * with InstallTable.  When the controller is unreachable the agent keeps
 * its last table (fail-static) and retries the join every CTLINK_RETRY_MS.
 *
 * --controller A,B,C names several controllers on one store: the agent
 * talks to one at a time and moves to the next whenever a join or
 * heartbeat fails (a dead controller, or a standby refusing it), after
 * CTLINK_NEXT_MS, until the leader takes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ctlink.h"
#include "itm.pb-c.h"
#include "log.h"

#define CTLINK_RETRY_MS	  2000
#define CTLINK_TIMEOUT_MS 2000
#define CTLINK_NEXT_MS	  300
#define CTLINK_MAX	  8 /* controller addresses */

static struct itm_rpc_client *clients[CTLINK_MAX], *client;
static char *addrs[CTLINK_MAX];
static size_t n_addrs, cur;
static uv_timer_t timer;
static int joined, in_flight, stopping;
static uint32_t heartbeat_ms = 1000;

static void tick(uv_timer_t *t);

static void
schedule(uint32_t ms)
{
	if (!stopping)
		uv_timer_start(&timer, tick, ms, 0);
}

/* After a failure: the next controller soon, or the one again later. */
static void
retry(void)
{
	if (n_addrs < 2) {
		schedule(CTLINK_RETRY_MS);
		return;
	}
	cur = (cur + 1) % n_addrs;
	client = clients[cur];
	schedule(CTLINK_NEXT_MS);
}

static void
lost(const struct itm_rpc_status *st, const char *what)
{
	if (joined || agent->controller_connected)
		log_warnx("controller %s: %s failed: %s: %s; keeping table "
			  "generation %llu",
			  addrs[cur], what, itm_rpc_code_name(st->code),
			  st->message,
			  (unsigned long long)agent->table_generation);
	joined = 0;
	agent->controller_connected = 0;
}

static void
join_done(void *arg, const struct itm_rpc_status *st,
	  const ProtobufCMessage *msg)
{
	const Itm__V1__JoinReply *rep = (const void *)msg;
	static int warned;

	in_flight = 0;
	if (st->code != ITM_RPC_OK) {
		if (!warned++ || st->code == ITM_RPC_PERMISSION_DENIED ||
		    st->code == ITM_RPC_NOT_FOUND)
			log_warnx("join controller %s as %s: %s: %s",
				  addrs[cur], agent->cfg.node,
				  itm_rpc_code_name(st->code), st->message);
		lost(st, "join");
		retry();
		return;
	}
	warned = 0;
	joined = 1;
	agent->controller_connected = 1;
	if (rep->heartbeat_ms >= 100 && rep->heartbeat_ms <= 60000)
		heartbeat_ms = rep->heartbeat_ms;
	log_info("joined controller %s as %s (table generation %llu)",
		 addrs[cur], agent->cfg.node,
		 (unsigned long long)agent->table_generation);
	schedule(heartbeat_ms);
}

static void
heartbeat_done(void *arg, const struct itm_rpc_status *st,
	       const ProtobufCMessage *msg)
{
	in_flight = 0;
	if (st->code != ITM_RPC_OK) {
		lost(st, "heartbeat");
		retry();
		return;
	}
	agent->controller_connected = 1;
	schedule(heartbeat_ms);
}

static void
send_join(void)
{
	Itm__V1__JoinRequest req = ITM__V1__JOIN_REQUEST__INIT;

	req.node = (char *)agent->cfg.node;
	req.agent_addr = (char *)agent->cfg.listen_addr;
	req.generation = agent->table_generation;
	req.version = ITM_VERSION_STRING;
	if (itm_rpc_call_async(client, agent->loop, ITM_CONTROLLER_JOIN,
			       &req.base, CTLINK_TIMEOUT_MS, join_done,
			       NULL) == 0)
		in_flight = 1;
	else
		schedule(CTLINK_RETRY_MS);
}

static void
send_heartbeat(void)
{
	Itm__V1__NodeHeartbeatRequest req =
		ITM__V1__NODE_HEARTBEAT_REQUEST__INIT;

	req.node = (char *)agent->cfg.node;
	req.generation = agent->table_generation;
	if (itm_rpc_call_async(client, agent->loop,
			       ITM_CONTROLLER_NODE_HEARTBEAT, &req.base,
			       CTLINK_TIMEOUT_MS, heartbeat_done, NULL) == 0)
		in_flight = 1;
	else
		schedule(CTLINK_RETRY_MS);
}

static void
tick(uv_timer_t *t)
{
	if (in_flight || stopping)
		return;
	if (joined)
		send_heartbeat();
	else
		send_join();
}

/* One client per address of "A,B,C". */
static int
clients_new(const char *list, const struct itm_rpc_tls *tls)
{
	const char *p = list;
	int rc = 0;

	while (*p && rc == 0) {
		size_t len = strcspn(p, ",");

		if (n_addrs == CTLINK_MAX)
			return -E2BIG;
		if ((addrs[n_addrs] = strndup(p, len)) == NULL)
			return -ENOMEM;
		rc = itm_rpc_client_new(&clients[n_addrs], addrs[n_addrs], tls);
		n_addrs += rc == 0;
		p += len + (p[len] == ',');
	}
	return rc < 0 ? rc : n_addrs ? 0 : -EINVAL;
}

void
ctlink_start(void)
{
	const struct itm_rpc_tls *tls =
		agent->cfg.use_tls ? &agent->cfg.tls : NULL;
	int rc;

	if (agent->cfg.listen_addr == NULL)
		log_warnx("--controller without --listen: the controller "
			  "cannot push tables to this agent");
	if ((rc = clients_new(agent->cfg.controller, tls)) < 0) {
		log_warnx("controller %s: %s", agent->cfg.controller,
			  strerror(-rc));
		return;
	}
	client = clients[0];
	uv_timer_init(agent->loop, &timer);
	schedule(0);
}

void
ctlink_stop(void)
{
	stopping = 1;
	if (client == NULL)
		return;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
	for (size_t i = 0; i < n_addrs; i++) {
		itm_rpc_client_free(clients[i]);
		free(addrs[i]);
	}
	n_addrs = 0;
	client = NULL;
}
