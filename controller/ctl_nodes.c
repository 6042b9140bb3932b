/*
 * ctl_nodes.c - agents joining, heartbeating, and going down.
 *
 * An agent joins with its node name; the name must be a node of the
 * current topology and, with TLS on, the CN of the agent's certificate.
 * The controller then pushes the node's current table, has the agent run
 * the modules the topology declares for it (ctl_place.c), and expects a
 * heartbeat every heartbeat_ms; after CTL_MISSED_BEATS missed ones the
 * node is down.  A heartbeat reporting an older table generation than the
 * node should hold triggers a push.
 *
 * Pushes go to the node's mgmt address from the topology (the operator's
 * word), not to the address an agent reports, so an agent cannot redirect
 * them; with TLS the agent's certificate must carry the node name.
 * Liveness lives in memory; last_seen reaches the store on join, on a
 * change of state and at most every CTL_SEEN_FLUSH_MS otherwise, so
 * heartbeats do not turn into a write each.  What is due is written by
 * the liveness timer (every heartbeat, at most every CTL_SEEN_TICK_MS)
 * for all agents at once, one store call (store_agents_seen(): on etcd
 * Txns of 100 puts), and so is the generation a heartbeat reports when
 * it is not the one recorded: with one blocking call per agent, 1000
 * agents on etcd held the loop for 100 round trips a second, more during
 * an apply.
 *
 * A standby sees no heartbeat: it reads the leader's stored liveness and
 * acks when asked for nodes (ctl_nodes_follow(): one store read of the
 * current nodes and agents, at most every CTL_FOLLOW_MS, however many
 * clients ask).  A stored last_seen lags by up to CTL_SEEN_FLUSH_MS, so
 * a standby counts a node up while its last_seen is younger than that
 * plus the missed beats: it reports a dead agent down up to
 * CTL_SEEN_FLUSH_MS later than the leader does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

static int
node_client(struct ctl *c, struct ctl_node *n, struct itm_rpc_client **out)
{
	struct itm_rpc_tls tls = c->cfg.tls;
	int rc;

	if (n->client == NULL) {
		/* The agent's certificate must be for this node's name. */
		tls.server_name = n->name;
		rc = itm_rpc_client_new(&n->client, n->mgmt,
					c->cfg.use_tls ? &tls : NULL);
		if (rc < 0)
			return rc;
	}
	*out = n->client;
	return 0;
}

int
ctl_node_call(struct ctl *c, struct ctl_node *n, enum itm_method m,
	      const ProtobufCMessage *req, int timeout_ms, itm_rpc_done_cb cb,
	      void *arg)
{
	struct itm_rpc_client *client;
	int rc;

	rc = node_client(c, n, &client);
	if (rc == 0)
		rc = itm_rpc_call_async(client, c->loop, m, req, timeout_ms, cb,
					arg);
	return rc;
}

/* Liveness goes to the store best effort: after a failure (etcd without
 * quorum: each call waits its deadline) none is tried for a while, so
 * heartbeats and reads do not queue behind failing store calls. */
static int
store_quiet(struct ctl *c)
{
	return ctl_now_ms() < c->store_quiet_ms;
}

static void
store_failed(struct ctl *c, const char *what)
{
	log_warnx("%s: %s; no liveness to or from the store for %d s", what,
		  store_errmsg(c->store), CTL_STORE_QUIET_MS / 1000);
	c->store_quiet_ms = ctl_now_ms() + CTL_STORE_QUIET_MS;
}

/* A standby drops what was due: liveness is the leader's to write. */
static void
seen_drop(struct ctl *c)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		c->nodes[i].seen_due = 0;
}

/* What one tick writes: liveness and acknowledgements due. */
struct seen_batch {
	struct store_seen *seen;
	size_t n_seen;
	const char **ack_nodes;
	uint64_t *ack_gens;
	size_t n_acks;
};

static void
seen_add(struct seen_batch *b, const struct ctl_node *n)
{
	int agent = n->seen_due & CTL_SEEN_AGENT;
	struct store_seen *v = &b->seen[b->n_seen];

	if (n->seen_due & (CTL_SEEN_TIME | CTL_SEEN_AGENT)) {
		v->node = n->name;
		v->addr = agent ? n->agent_addr : NULL;
		v->version = agent ? (n->version ? n->version : "") : NULL;
		v->seen_ms = n->last_seen_ms;
		b->n_seen++;
	}
	if (n->seen_due & CTL_SEEN_ACK) {
		b->ack_nodes[b->n_acks] = n->name;
		b->ack_gens[b->n_acks++] = n->acked_gen;
	}
}

/* Both writes; 0, or what failed said in @what. */
static int
seen_write(struct ctl *c, struct seen_batch *b, char *what, size_t len)
{
	for (size_t i = 0; i < c->n_nodes; i++)
		seen_add(b, &c->nodes[i]);
	if (b->n_seen && store_agents_seen(c->store, b->seen, b->n_seen) < 0) {
		snprintf(what, len, "recording the liveness of %zu agent(s)",
			 b->n_seen);
		return -1;
	}
	if (b->n_acks && store_agent_acks(c->store, b->ack_nodes, b->ack_gens,
					  b->n_acks) < 0) {
		snprintf(what, len, "recording the generation of %zu agent(s)",
			 b->n_acks);
		return -1;
	}
	return 0;
}

static void
seen_written(struct ctl *c)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct ctl_node *n = &c->nodes[i];

		if (n->seen_due & (CTL_SEEN_TIME | CTL_SEEN_AGENT))
			n->seen_flushed_ms = n->last_seen_ms;
		n->seen_due = 0;
	}
}

/* What is due of every node at once: one store call for the liveness,
 * one for the generations heartbeats reported.  On failure it stays
 * due, for the next tick after the quiet time. */
static void
seen_flush(struct ctl *c)
{
	struct seen_batch b = { 0 };
	size_t m = c->n_nodes;
	char what[80];

	if (!c->leading) {
		seen_drop(c);
		return;
	}
	if (store_quiet(c) || m == 0)
		return;
	b.seen = calloc(m, sizeof(*b.seen));
	b.ack_nodes = calloc(m, sizeof(*b.ack_nodes));
	b.ack_gens = calloc(m, sizeof(*b.ack_gens));
	if (b.seen && b.ack_nodes && b.ack_gens) {
		if (seen_write(c, &b, what, sizeof(what)) < 0)
			store_failed(c, what);
		else
			seen_written(c);
	}
	free(b.seen);
	free(b.ack_nodes);
	free(b.ack_gens);
}

void
ctl_node_seen(struct ctl *c, struct ctl_node *n, const char *peer)
{
	n->last_seen_ms = ctl_now_ms();
	if (!n->up) {
		n->up = 1;
		log_info("node %s up (heartbeat from %s)", n->name, peer);
		n->seen_due |= CTL_SEEN_TIME;
	} else if (n->last_seen_ms - n->seen_flushed_ms >= CTL_SEEN_FLUSH_MS) {
		n->seen_due |= CTL_SEEN_TIME;
	}
}

/* Free retired clients whose calls have all ended or timed out. */
static void
retired_free(struct ctl *c, int64_t now)
{
	int64_t done_ms = (int64_t)c->cfg.push_timeout_ms + 1000;

	for (size_t i = 0; i < c->n_nodes; i++) {
		struct ctl_node *n = &c->nodes[i];

		if (n->retired && now - n->retired_ms > done_ms) {
			itm_rpc_client_free(n->retired);
			n->retired = NULL;
		}
	}
}

static void
liveness_cb(uv_timer_t *t)
{
	struct ctl *c = t->data;
	int64_t now = ctl_now_ms();
	int64_t dead_ms = (int64_t)c->cfg.heartbeat_ms * CTL_MISSED_BEATS;

	retired_free(c, now);
	if (!c->leading) { /* a standby's liveness is the leader's */
		seen_drop(c);
		return;
	}
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct ctl_node *n = &c->nodes[i];

		if (!n->up || now - n->last_seen_ms <= dead_ms)
			continue;
		n->up = 0;
		log_warnx("node %s down: no heartbeat for %lld ms (agent %s); "
			  "it keeps its table generation %llu",
			  n->name, (long long)(now - n->last_seen_ms),
			  n->agent_addr[0] ? n->agent_addr : n->mgmt,
			  (unsigned long long)n->acked_gen);
		n->seen_due |= CTL_SEEN_TIME;
	}
	seen_flush(c);
}

static void
follow_node(struct ctl *c, struct ctl_node *n, const struct store_node *sn,
	    int64_t now)
{
	int64_t up_ms = (int64_t)c->cfg.heartbeat_ms * CTL_MISSED_BEATS +
			CTL_SEEN_FLUSH_MS;
	char *addr = sn->agent_addr ? strdup(sn->agent_addr) : NULL;

	if (addr) {
		free(n->agent_addr);
		n->agent_addr = addr;
	}
	n->last_seen_ms = n->seen_flushed_ms = sn->last_seen_ms;
	n->acked_gen = sn->acked_gen;
	n->up = sn->last_seen_ms && now - sn->last_seen_ms <= up_ms;
}

void
ctl_nodes_follow(struct ctl *c)
{
	int64_t now = ctl_now_ms();
	struct store_node *sn;
	size_t n;

	if (c->leading || now - c->nodes_read_ms < CTL_FOLLOW_MS ||
	    store_quiet(c))
		return;
	c->nodes_read_ms = now;
	if (store_nodes(c->store, &sn, &n) < 0) {
		store_failed(c, "standby: reading the nodes' liveness");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct ctl_node *cn = ctl_node_find(c, sn[i].name);

		if (cn)
			follow_node(c, cn, &sn[i], now);
	}
	store_nodes_free(sn, n);
}

void
ctl_nodes_start(struct ctl *c)
{
	uint64_t tick = c->cfg.heartbeat_ms < CTL_SEEN_TICK_MS
				? c->cfg.heartbeat_ms
				: CTL_SEEN_TICK_MS;

	uv_timer_init(c->loop, &c->liveness);
	c->liveness.data = c;
	uv_timer_start(&c->liveness, liveness_cb, tick, tick);
}

void
ctl_nodes_stop(struct ctl *c)
{
	seen_flush(c);
	uv_timer_stop(&c->liveness);
	uv_close((uv_handle_t *)&c->liveness, NULL);
}

/* Name valid, in the topology and, with TLS, the certificate's CN. */
static struct ctl_node *
node_check(struct ctl *c, struct itm_rpc_call *call, const char *name,
	   const char *what)
{
	const char *id = itm_rpc_peer_identity(call);
	struct ctl_node *n;

	if (name[0] == '\0' || strlen(name) > TOPO_NAME_MAX) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "node: must be 1..%d characters", TOPO_NAME_MAX);
		return NULL;
	}
	if (c->cfg.use_tls && (id == NULL || strcmp(id, name) != 0)) {
		log_warnx("%s from %s refused: claims node '%s' with a "
			  "certificate for '%s'",
			  what, itm_rpc_peer(call), name, id ? id : "(none)");
		itm_rpc_fail(call, ITM_RPC_PERMISSION_DENIED,
			     "node '%s': "
			     "client certificate is for '%s', not this node",
			     name, id ? id : "(none)");
		return NULL;
	}
	if ((n = ctl_node_find(c, name)) == NULL) {
		log_warnx("%s from %s refused: node '%s' is not in the "
			  "topology (generation %llu)",
			  what, itm_rpc_peer(call), name,
			  (unsigned long long)c->gen);
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in "
			     "the topology (generation %llu)",
			     name, (unsigned long long)c->gen);
	}
	return n;
}

/* An agent's reported address that cannot be its mgmt address. */
static void
addr_check(const struct ctl_node *n, const char *addr)
{
	const char *port = strrchr(n->mgmt, ':');
	const char *aport = strrchr(addr, ':');

	if (addr[0] == '\0' || strcmp(addr, n->mgmt) == 0)
		return;
	if (port && aport && strcmp(port, aport) == 0 &&
	    (strncmp(addr, "0.0.0.0:", 8) == 0 ||
	     strncmp(addr, "[::]:", 5) == 0))
		return;
	log_warnx("node %s: agent listens on %s but the topology says mgmt "
		  "%s; pushes go to %s",
		  n->name, addr, n->mgmt, n->mgmt);
}

/*
 * A joining agent has usually just (re)started.  A channel that failed to
 * reach it before sits in gRPC's reconnect backoff and fails every call at
 * once for up to minutes; a fresh one connects now.  The old one is
 * retired, not freed: a push may be in flight on it (freeing would cancel
 * it), and it is freed once every call's deadline has passed.
 */
static void
client_reset(struct ctl_node *n)
{
	if (n->client == NULL)
		return;
	if (n->retired)
		itm_rpc_client_free(n->retired);
	n->retired = n->client;
	n->retired_ms = ctl_now_ms();
	n->client = NULL;
}

/* The address and version an agent reported (kept as they were when out
 * of memory). */
static void
agent_set(struct ctl_node *n, const char *addr, const char *version)
{
	char *a = strdup(addr), *v = strdup(version);

	if (a && v) {
		free(n->agent_addr);
		free(n->version);
		n->agent_addr = a;
		n->version = v;
	} else {
		free(a);
		free(v);
	}
}

void
ctl_h_join(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__JoinRequest *req = (const void *)itm_rpc_request(call);
	Itm__V1__JoinReply rep = ITM__V1__JOIN_REPLY__INIT;
	struct ctl_node *n;

	if (strlen(req->agent_addr) > 255 || strlen(req->version) > 64) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "agent_addr or version: too long");
		return;
	}
	if ((n = node_check(c, call, req->node, "join")) == NULL)
		return;
	agent_set(n, req->agent_addr, req->version);
	n->last_seen_ms = ctl_now_ms();
	n->up = 1;
	n->seen_due |= CTL_SEEN_TIME | CTL_SEEN_AGENT;
	log_info("node %s joined from %s (agent %s, version %s): holds table "
		 "generation %llu, should hold %llu",
		 n->name, itm_rpc_peer(call),
		 req->agent_addr[0] ? req->agent_addr : "(no --listen)",
		 req->version[0] ? req->version : "?",
		 (unsigned long long)req->generation,
		 (unsigned long long)n->want_gen);
	addr_check(n, req->agent_addr);
	client_reset(n);
	rep.heartbeat_ms = c->cfg.heartbeat_ms;
	itm_rpc_reply(call, &rep.base);
	ctl_push_one(c, n, "join");
	ctl_place_one(c, n->name, "join");
}

void
ctl_h_heartbeat(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__NodeHeartbeatRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__NodeHeartbeatReply rep = ITM__V1__NODE_HEARTBEAT_REPLY__INIT;
	struct ctl_node *n;
	int behind;

	if ((n = node_check(c, call, req->node, "heartbeat")) == NULL)
		return;
	ctl_node_seen(c, n, itm_rpc_peer(call));
	if (req->generation != n->acked_gen) {
		n->acked_gen = req->generation;
		n->seen_due |= CTL_SEEN_ACK; /* written on the next tick */
	}
	rep.generation = n->want_gen;
	behind = req->generation < n->want_gen;
	itm_rpc_reply(call, &rep.base); /* frees req */
	if (behind)
		ctl_push_one(c, n, "heartbeat reported an older generation");
}
