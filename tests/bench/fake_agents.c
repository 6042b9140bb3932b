/*
 * fake_agents.c - many simulated itm-agents in one process, for the push
 * benchmark.  Each speaks the real protocol: it joins the controller
 * (Controller.Join, then NodeHeartbeat) as node PREFIX<i> with the address
 * 127.0.0.1:PORT_BASE+i, and serves Agent.InstallTable / Agent.GetTable
 * there with the agent's semantics (older generation refused; "changed"
 * when the content, generation left out, differs).
 *
 *   fake_agents CONTROLLER N PORT_BASE [PREFIX]
 *
 * One gRPC server listens on all N ports; a table names its node, which
 * picks the fake agent.  Prints "ready" once every port listens; runs
 * until SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "itm.pb-c.h"
#include "itm_rpc.h"

#define MAX_FAKES 1024

struct fake {
	char name[32];
	char addr[32];
	uint64_t generation;
	uint8_t *content; /* packed table without generation */
	size_t len;
	int joined, in_flight;
};

static struct fake fakes[MAX_FAKES];
static int n_fakes;
static uv_loop_t *loop;
static struct itm_rpc_client *ctl;
static uv_timer_t beat;
static uint32_t beat_ms = 1000;

static struct fake *
fake_find(const char *name)
{
	for (int i = 0; i < n_fakes; i++)
		if (strcmp(fakes[i].name, name) == 0)
			return &fakes[i];
	return NULL;
}

static uint8_t *
pack_content(const Itm__V1__NeighbourTable *t, size_t *len)
{
	Itm__V1__NeighbourTable c = *t;
	uint8_t *buf;

	c.generation = 0;
	*len = itm__v1__neighbour_table__get_packed_size(&c);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		itm__v1__neighbour_table__pack(&c, buf);
	return buf;
}

static void
h_install(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NeighbourTable *t = (const void *)itm_rpc_request(call);
	Itm__V1__InstallTableReply rep = ITM__V1__INSTALL_TABLE_REPLY__INIT;
	struct fake *f = fake_find(t->node);
	uint8_t *buf;
	size_t len;

	if (f == NULL) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT, "no fake agent %s",
			     t->node);
		return;
	}
	if (t->generation < f->generation) {
		itm_rpc_fail(call, ITM_RPC_FAILED_PRECONDITION, "older");
		return;
	}
	buf = pack_content(t, &len);
	rep.changed = !(f->content && buf && len == f->len &&
			memcmp(buf, f->content, len) == 0);
	free(f->content);
	f->content = buf;
	f->len = len;
	f->generation = rep.generation = t->generation;
	itm_rpc_reply(call, &rep.base);
}

static void
h_get_table(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__NeighbourTable t = ITM__V1__NEIGHBOUR_TABLE__INIT;

	itm_rpc_reply(call, &t.base);
}

static const struct itm_rpc_method methods[] = {
	{ ITM_AGENT_INSTALL_TABLE, h_install },
	{ ITM_AGENT_GET_TABLE, h_get_table },
};

static void
join_done(void *arg, const struct itm_rpc_status *st,
	  const ProtobufCMessage *msg)
{
	struct fake *f = arg;

	f->in_flight = 0;
	f->joined = st->code == ITM_RPC_OK;
	if (f->joined && ((const Itm__V1__JoinReply *)msg)->heartbeat_ms)
		beat_ms = ((const Itm__V1__JoinReply *)msg)->heartbeat_ms;
}

static void
beat_done(void *arg, const struct itm_rpc_status *st,
	  const ProtobufCMessage *msg)
{
	struct fake *f = arg;

	f->in_flight = 0;
	if (st->code != ITM_RPC_OK)
		f->joined = 0;
}

static void
send_one(struct fake *f)
{
	Itm__V1__JoinRequest j = ITM__V1__JOIN_REQUEST__INIT;
	Itm__V1__NodeHeartbeatRequest h = ITM__V1__NODE_HEARTBEAT_REQUEST__INIT;

	if (f->in_flight)
		return;
	f->in_flight = 1;
	if (!f->joined) {
		j.node = f->name;
		j.agent_addr = f->addr;
		j.generation = f->generation;
		j.version = "fake";
		if (itm_rpc_call_async(ctl, loop, ITM_CONTROLLER_JOIN, &j.base,
				       2000, join_done, f) < 0)
			f->in_flight = 0;
		return;
	}
	h.node = f->name;
	h.generation = f->generation;
	if (itm_rpc_call_async(ctl, loop, ITM_CONTROLLER_NODE_HEARTBEAT,
			       &h.base, 2000, beat_done, f) < 0)
		f->in_flight = 0;
}

static void
beat_cb(uv_timer_t *t)
{
	for (int i = 0; i < n_fakes; i++)
		send_one(&fakes[i]);
	uv_timer_start(&beat, beat_cb, beat_ms, 0);
}

static void
fd_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
stop_cb(uv_signal_t *s, int signum)
{
	uv_stop(loop);
}

int
main(int argc, char **argv)
{
	struct itm_rpc_server *srv;
	uv_signal_t sint, sterm;
	int base;

	if (argc < 4 || (n_fakes = atoi(argv[2])) < 1 || n_fakes > MAX_FAKES) {
		fprintf(stderr, "usage: fake_agents CONTROLLER N PORT_BASE "
				"[PREFIX]\n");
		return 2;
	}
	base = atoi(argv[3]);
	fd_limit_raise(); /* a port and a connection per agent */
	loop = uv_default_loop();
	if (itm_rpc_server_new(&srv, loop, methods, 2, NULL) < 0)
		return 1;
	for (int i = 0; i < n_fakes; i++) {
		snprintf(fakes[i].name, sizeof(fakes[i].name), "%s%d",
			 argc > 4 ? argv[4] : "f", i + 1);
		snprintf(fakes[i].addr, sizeof(fakes[i].addr), "127.0.0.1:%d",
			 base + i);
		if (itm_rpc_server_listen(srv, fakes[i].addr, NULL, 0) < 0) {
			fprintf(stderr, "fake_agents: cannot listen on %s\n",
				fakes[i].addr);
			return 1;
		}
	}
	if (itm_rpc_server_start(srv) < 0 ||
	    itm_rpc_client_new(&ctl, argv[1], NULL) < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	uv_timer_init(loop, &beat);
	uv_timer_start(&beat, beat_cb, 0, 0);
	uv_signal_init(loop, &sint);
	uv_signal_init(loop, &sterm);
	uv_signal_start(&sint, stop_cb, SIGINT);
	uv_signal_start(&sterm, stop_cb, SIGTERM);
	uv_run(loop, UV_RUN_DEFAULT);
	itm_rpc_client_free(ctl);
	itm_rpc_server_free(srv);
	return 0;
}
