/*
 * agent_probe.c - malformed and hostile requests to a running itm-agent.
 *
 *   agent_probe unix:/path/agent.sock
 *
 * Sends each request below and prints one line per case:
 *   <case> <STATUS_CODE> <message>
 * then asks GetStatus and prints "alive OK" when the agent still answers.
 * The test script compares the lines with what each case must get.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "itm.pb-c.h"
#include "itm_rpc.h"

static struct itm_rpc_client *c;

/* @req to @path, whatever its type: the probe sends what clients don't. */
static void
run_path(const char *name, const char *path, const ProtobufCMessage *req,
	 const ProtobufCMessageDescriptor *rd)
{
	struct itm_rpc_status st = { 0 };
	ProtobufCMessage *rep = NULL;

	itm_rpc_call_path(c, path, req, rd, &rep, 3000, &st);
	printf("%s %s %s\n", name, itm_rpc_code_name(st.code), st.message);
	if (rep)
		protobuf_c_message_free_unpacked(rep, NULL);
}

static void
run(const char *name, enum itm_method m, const ProtobufCMessage *req)
{
	const struct itm_method_def *def = itm_method_def(m);

	run_path(name, def->path, req, def->reply);
}

static void
load_cases(void)
{
	Itm__V1__LoadModuleRequest lm = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	Itm__V1__AttachReply wrong = ITM__V1__ATTACH_REPLY__INIT;
	char *params[] = { "threshold=abc" };

	/* Field 1 as a varint where a string is expected: undecodable. */
	wrong.lease = 5;
	run_path("wrong-wire-type", itm_method_def(ITM_AGENT_LOAD_MODULE)->path,
		 &wrong.base, &itm__v1__load_module_reply__descriptor);
	lm.name = "../../etc/passwd";
	run("path-in-name", ITM_AGENT_LOAD_MODULE, &lm.base);
	lm.name = "nosuchmod";
	run("unknown-module", ITM_AGENT_LOAD_MODULE, &lm.base);
	lm.name = "fig13";
	lm.params = params;
	lm.n_params = 1;
	run("bad-param", ITM_AGENT_LOAD_MODULE, &lm.base);
}

static void
attach(const char *name, Itm__V1__AttachRequest *req)
{
	run(name, ITM_AGENT_ATTACH, &req->base);
}

static void
attach_cases(void)
{
	Itm__V1__AttachRequest a = ITM__V1__ATTACH_REQUEST__INIT;
	Itm__V1__Interest in = ITM__V1__INTEREST__INIT;
	Itm__V1__PortRange pr = ITM__V1__PORT_RANGE__INIT, *prs[] = { &pr };
	char *bad_prefix[] = { "10.0.0.0/33" };
	uint32_t icmp[] = { 1 };

	a.label = "probe";
	a.pid = (uint32_t)getpid();
	a.interest = &in;
	a.hook = 9;
	attach("bad-hook", &a);
	a.hook = ITM__V1__HOOK__HOOK_IP_FORWARD;
	a.label = "a-label-that-is-much-longer-than-thirty-one-characters";
	attach("long-label", &a);
	a.label = "probe";
	in.saddr = bad_prefix;
	in.n_saddr = 1;
	attach("bad-prefix", &a);
	in.n_saddr = 0;
	in.protocols = icmp;
	in.n_protocols = 1;
	pr.lo = 80;
	in.dst_ports = prs;
	in.n_dst_ports = 1;
	attach("icmp-ports", &a);
	in.n_protocols = 0;
	pr.lo = 90;
	pr.hi = 80;
	attach("reversed-ports", &a);
	in.n_dst_ports = 0;
	a.pid = 4000000;
	attach("dead-pid", &a);
	a.pid = (uint32_t)getpid();
	a.label = "qos_ctrl"; /* taken by qosmod */
	attach("taken-label", &a);
}

static int
stop_at_first(void *arg, const ProtobufCMessage *msg)
{
	return 1;
}

static void
other_cases(void)
{
	Itm__V1__WatchStatsRequest w = ITM__V1__WATCH_STATS_REQUEST__INIT;
	Itm__V1__NeighbourTable t = ITM__V1__NEIGHBOUR_TABLE__INIT;
	Itm__V1__SettleRequest s = ITM__V1__SETTLE_REQUEST__INIT;
	Itm__V1__StatsRequest sr = ITM__V1__STATS_REQUEST__INIT;
	Itm__V1__HeartbeatRequest hb = ITM__V1__HEARTBEAT_REQUEST__INIT;
	uint64_t leases[100] = { 0 };
	struct itm_rpc_status st;

	t.node = "someone-else";
	t.generation = 3;
	run("table-other-node", ITM_AGENT_INSTALL_TABLE, &t.base);
	s.lease = 424242;
	s.class_id = 2;
	run("settle-unknown-lease", ITM_AGENT_SETTLE, &s.base);
	s.class_id = 0;
	run("settle-class-0", ITM_AGENT_SETTLE, &s.base);
	sr.module = "nosuchmod";
	run("stats-unknown-module", ITM_AGENT_GET_STATS, &sr.base);
	hb.pid = (uint32_t)getpid();
	hb.leases = leases;
	hb.n_leases = 100;
	run("heartbeat-too-many", ITM_AGENT_HEARTBEAT, &hb.base);
	run_path("unknown-method", "/" ITM_PROTO_PACKAGE ".Agent/Reboot",
		 &sr.base, &itm__v1__stats_reply__descriptor);
	w.interval_ms = 5;
	memset(&st, 0, sizeof(st));
	itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &w.base, stop_at_first, NULL,
		       3000, &st);
	printf("watch-interval %s %s\n", itm_rpc_code_name(st.code),
	       st.message);
}

/* A lease of this process that declared it never settles (no_settle);
 * 0 when the attach failed. */
static uint64_t
attach_no_settle(void)
{
	Itm__V1__AttachRequest a = ITM__V1__ATTACH_REQUEST__INIT;
	Itm__V1__Interest in = ITM__V1__INTEREST__INIT;
	const struct itm_method_def *def = itm_method_def(ITM_AGENT_ATTACH);
	struct itm_rpc_status st = { 0 };
	Itm__V1__AttachReply *rep = NULL;
	uint64_t lease = 0;

	a.label = "probe_nosettle";
	a.pid = (uint32_t)getpid();
	a.interest = &in;
	a.hook = ITM__V1__HOOK__HOOK_IP_IN;
	a.no_settle = 1;
	itm_rpc_call_path(c, def->path, &a.base, def->reply,
			  (ProtobufCMessage **)&rep, 3000, &st);
	if (rep) {
		lease = rep->lease;
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}
	return lease;
}

/* How many tunnels GetTunnels lists, and the longest peer. */
static void
count_tunnels(size_t *n, size_t *longest)
{
	const struct itm_method_def *def =
		itm_method_def(ITM_AGENT_GET_TUNNELS);
	Itm__V1__TunnelsRequest q = ITM__V1__TUNNELS_REQUEST__INIT;
	struct itm_rpc_status st = { 0 };
	Itm__V1__TunnelsReply *rep = NULL;

	*n = *longest = 0;
	itm_rpc_call_path(c, def->path, &q.base, def->reply,
			  (ProtobufCMessage **)&rep, 3000, &st);
	if (rep == NULL)
		return;
	*n = rep->n_tunnels;
	for (size_t i = 0; i < rep->n_tunnels; i++)
		if (strlen(rep->tunnels[i]->peer) > *longest)
			*longest = strlen(rep->tunnels[i]->peer);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
}

/* A heartbeat publishing 20 tunnels with 100-character peers: the agent
 * keeps 8 per process, peers cut to 63. */
static void
publish_caps(uint64_t lease)
{
	Itm__V1__HeartbeatRequest hb = ITM__V1__HEARTBEAT_REQUEST__INIT;
	Itm__V1__Tunnel t = ITM__V1__TUNNEL__INIT, *tp[20];
	char name[101];
	size_t n, longest;

	memset(name, 'x', 100);
	name[100] = '\0';
	t.name = name + 100 - 31; /* the longest a name may be */
	t.peer = name;
	t.state_text = name;
	for (int i = 0; i < 20; i++)
		tp[i] = &t;
	hb.pid = (uint32_t)getpid();
	hb.leases = &lease;
	hb.n_leases = 1;
	hb.tunnels = tp;
	hb.n_tunnels = 20;
	run("publish-caps", ITM_AGENT_HEARTBEAT, &hb.base);
	count_tunnels(&n, &longest);
	printf("publish-kept tunnels=%zu peer=%zu\n", n, longest);
}

/* Settling needs the declaration (ITM_MAY_SETTLE), also over the wire. */
static void
settle_cases(void)
{
	Itm__V1__SettleRequest s = ITM__V1__SETTLE_REQUEST__INIT;
	Itm__V1__DetachRequest d = ITM__V1__DETACH_REQUEST__INIT;
	uint64_t lease = attach_no_settle();

	s.lease = lease;
	s.class_id = 2;
	run("settle-undeclared", ITM_AGENT_SETTLE, &s.base);
	publish_caps(lease);
	d.lease = lease;
	run("detach-nosettle", ITM_AGENT_DETACH, &d.base);
}

int
main(int argc, char **argv)
{
	Itm__V1__StatusRequest sq = ITM__V1__STATUS_REQUEST__INIT;

	if (argc != 2 || itm_rpc_client_new(&c, argv[1], NULL) < 0) {
		fprintf(stderr, "usage: agent_probe unix:/path/agent.sock\n");
		return 2;
	}
	load_cases();
	attach_cases();
	other_cases();
	settle_cases();
	run("alive", ITM_AGENT_GET_STATUS, &sq.base);
	itm_rpc_client_free(c);
	return 0;
}
