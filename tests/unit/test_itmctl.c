/*
 * test_itmctl.c - the itmctl binary against a small fake agent.
 *
 * The fake agent is a real gRPC server (proto/ glue, unix socket in a temp
 * dir) answering the Agent service with canned replies and recording the
 * requests it got.  Each test runs itmctl as a child process and compares
 * its stdout with a saved file in tests/data/itmctl/, its stderr with the
 * exact error text, and its exit status.  ITMCTL_REGEN=1 rewrites the
 * saved files from what itmctl prints (review the diff before committing).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "itm_rpc.h"
#include "itm.pb-c.h"

extern char **environ;

static struct fake {
	char dir[64];
	char sock[128];
	char tls_addr[64]; /* 127.0.0.1:port, mutual TLS */
	char pki[128];
	uv_thread_t thread;
	uv_sem_t ready;
	uv_loop_t loop;
	uv_async_t stop;
	struct itm_rpc_server *srv;
	int rc;
	uv_mutex_t lock; /* what the agent was asked */
	char last_params[256];
	char last_module[64];
	char last_node[64];
	char last_file[128];
	int last_num;
	int n_calls;
} fk;

static void
record(const char *module, size_t n, char **params)
{
	uv_mutex_lock(&fk.lock);
	fk.n_calls++;
	snprintf(fk.last_module, sizeof(fk.last_module), "%s", module);
	fk.last_params[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t off = strlen(fk.last_params);

		snprintf(fk.last_params + off, sizeof(fk.last_params) - off,
			 "%s%s", i ? "|" : "", params[i]);
	}
	uv_mutex_unlock(&fk.lock);
}

/* ------------------------------------------------------------------ */
/* Canned replies                                                       */
/* ------------------------------------------------------------------ */

static void
h_status(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__StatusReply r = ITM__V1__STATUS_REPLY__INIT;

	(void)arg;
	record("", 0, NULL);
	r.node = "lab-n1";
	r.version = "0.1.0";
	r.uptime_ms = 93784005; /* 1d 2h 3m 4.005s */
	r.modules = 2;
	r.registrations = 3;
	r.table_generation = 7;
	r.controller_connected = 1;
	r.malformed_packets = 1;
	r.queue_drops = 12;
	itm_rpc_reply(call, &r.base);
}

static void
h_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__LoadModuleRequest *q =
		(const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleReply r = ITM__V1__LOAD_MODULE_REPLY__INIT;
	char *params[16];
	size_t n = 0;

	(void)arg;
	record(q->name, q->n_params, q->params);
	if (strcmp(q->name, "qosmod")) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "no module '%s' in /usr/lib/itm/modules", q->name);
		return;
	}
	for (size_t i = 0; i < q->n_params && n < 15; i++) {
		if (!strcmp(q->params[i], "threshold=abc")) {
			itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
				     "threshold: not a number: 'abc'");
			return;
		}
		params[n++] = q->params[i];
	}
	params[n++] = "classes=2";
	r.name = q->name;
	r.n_params = n;
	r.params = params;
	itm_rpc_reply(call, &r.base);
}

static void
h_unload(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__UnloadModuleRequest *q =
		(const void *)itm_rpc_request(call);
	Itm__V1__UnloadModuleReply r = ITM__V1__UNLOAD_MODULE_REPLY__INIT;

	(void)arg;
	record(q->name, 0, NULL);
	if (!strcmp(q->name, "slow"))
		return; /* never answered; released at shutdown */
	if (strcmp(q->name, "qosmod")) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "module '%s' is not loaded", q->name);
		return;
	}
	itm_rpc_reply(call, &r.base);
}

static void
h_list(struct itm_rpc_call *call, void *arg)
{
	uint32_t protos[] = { 6, 17 };
	char *daddr[] = { "10.9.0.0/16", "10.8.0.0/16" },
	     *outdev[] = { "veth0" };
	char *qparams[] = { "threshold=20", "classes=2" };
	Itm__V1__PortRange p80 = ITM__V1__PORT_RANGE__INIT, p8k = p80;
	Itm__V1__PortRange *ports[] = { &p80, &p8k };
	Itm__V1__Interest i1 = ITM__V1__INTEREST__INIT, i2 = i1;
	Itm__V1__Registration g1 = ITM__V1__REGISTRATION__INIT, g2 = g1,
			      g3 = g1;
	Itm__V1__Registration *qr[] = { &g1 }, *rr[] = { &g2, &g3 };
	Itm__V1__ModuleInfo m1 = ITM__V1__MODULE_INFO__INIT, m2 = m1, m3 = m1;
	Itm__V1__ModuleInfo *mods[] = { &m1, &m2, &m3 };
	Itm__V1__ListModulesReply r = ITM__V1__LIST_MODULES_REPLY__INIT;

	(void)arg;
	i1.n_protocols = 2, i1.protocols = protos;
	p80.lo = p80.hi = 80, p8k.lo = 8000, p8k.hi = 8080;
	i2.n_daddr = 2, i2.daddr = daddr, i2.n_dst_ports = 2,
	i2.dst_ports = ports;
	i2.n_outdev = 1, i2.outdev = outdev;
	g1.label = "qos", g1.hook = ITM__V1__HOOK__HOOK_IP_FORWARD;
	g1.priority = 10, g1.queue = 3, g1.stage = 1, g1.interest = &i1;
	g1.packets = 123456;
	g1.may_settle = 1;
	g2.label = "route-out", g2.hook = ITM__V1__HOOK__HOOK_IP_OUT;
	g2.priority = -5, g2.queue = 5, g2.stage = 2, g2.interest = &i2;
	g2.packets = 77;
	g3.label = "route-in", g3.hook = ITM__V1__HOOK__HOOK_PRE_ROUTE;
	g3.queue = 6, g3.stage = 1;
	m1.name = "qosmod", m1.kind = "agent", m1.version = "1.0";
	m1.n_params = 2, m1.params = qparams;
	m1.n_registrations = 1, m1.registrations = qr;
	m2.name = "itmroute", m2.kind = "process", m2.pid = 4242;
	m2.version = "0.1", m2.n_registrations = 2, m2.registrations = rr;
	m3.name = "emptymod", m3.kind = "agent";
	r.n_modules = 3, r.modules = mods;
	itm_rpc_reply(call, &r.base);
}

/* A StatsReply of two modules (or the one named by @module). */
struct stats_buf {
	Itm__V1__ClassStats c1, c2, c3, *qc[2], *rc[1];
	Itm__V1__RegistrationStats g1, g2, *qg[1], *rg[1];
	Itm__V1__Counter k1, k2, k3, *qk[2], *rk[1];
	Itm__V1__ModuleStats m1, m2, *mods[2];
	Itm__V1__StatsReply r;
};

static void
fill_stats(struct stats_buf *b, const char *node, const char *module)
{
	static const Itm__V1__ClassStats c0 = ITM__V1__CLASS_STATS__INIT;
	static const Itm__V1__RegistrationStats g0 =
		ITM__V1__REGISTRATION_STATS__INIT;
	static const Itm__V1__Counter k0 = ITM__V1__COUNTER__INIT;
	static const Itm__V1__ModuleStats m0 = ITM__V1__MODULE_STATS__INIT;
	static const Itm__V1__StatsReply r0 = ITM__V1__STATS_REPLY__INIT;

	b->c1 = b->c2 = b->c3 = c0;
	b->g1 = b->g2 = g0;
	b->k1 = b->k2 = b->k3 = k0;
	b->m1 = b->m2 = m0;
	b->r = r0;
	b->qc[0] = &b->c1, b->qc[1] = &b->c2, b->rc[0] = &b->c3;
	b->qg[0] = &b->g1, b->rg[0] = &b->g2;
	b->qk[0] = &b->k1, b->qk[1] = &b->k2, b->rk[0] = &b->k3;
	b->c1.class_id = 1, b->c1.name = "short", b->c1.packets = 1200;
	b->c1.bytes = 98000, b->c1.flows = 14;
	b->c2.class_id = 2, b->c2.name = "long", b->c2.packets = 40000;
	b->c2.bytes = 58000000, b->c2.flows = 2;
	b->c2.settled_packets = 36000, b->c2.settled_bytes = 52000000;
	b->c3.class_id = 1, b->c3.name = "tunnelled", b->c3.packets = 77;
	b->c3.bytes = 6160, b->c3.flows = 3;
	b->g1.label = "qos", b->g1.hook = ITM__V1__HOOK__HOOK_IP_FORWARD;
	b->g1.n_classes = 2, b->g1.classes = b->qc;
	b->g2.label = "route-out", b->g2.hook = ITM__V1__HOOK__HOOK_IP_OUT;
	b->g2.n_classes = 1, b->g2.classes = b->rc;
	b->k1.name = "flows_active", b->k1.value = 16;
	b->k2.name = "table_full", b->k2.value = 0;
	b->k3.name = "probes_sent", b->k3.value = 12;
	b->m1.module = "qosmod", b->m1.kind = "agent";
	b->m1.n_registrations = 1, b->m1.registrations = b->qg;
	b->m1.n_counters = 2, b->m1.counters = b->qk;
	b->m2.module = "itmroute", b->m2.kind = "process";
	b->m2.n_registrations = 1, b->m2.registrations = b->rg;
	b->m2.n_counters = 1, b->m2.counters = b->rk;
	b->r.node = (char *)node;
	if (!*module || !strcmp(module, "qosmod"))
		b->mods[b->r.n_modules++] = &b->m1;
	if (!*module || !strcmp(module, "itmroute"))
		b->mods[b->r.n_modules++] = &b->m2;
	b->r.modules = b->mods;
}

static void
h_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__StatsRequest *q = (const void *)itm_rpc_request(call);
	struct stats_buf b;

	(void)arg;
	record(q->module, 0, NULL);
	fill_stats(&b, "lab-n1", q->module);
	if (!b.r.n_modules) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no module '%s'",
			     q->module);
		return;
	}
	itm_rpc_reply(call, &b.r.base);
}

static void
h_table(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__NeighbourTable r = ITM__V1__NEIGHBOUR_TABLE__INIT;
	Itm__V1__Neighbour n2 = ITM__V1__NEIGHBOUR__INIT, n3 = n2;
	Itm__V1__Neighbour *ns[] = { &n2, &n3 };
	Itm__V1__OverlayNode o[4], *os[4];

	(void)arg;
	record("", 0, NULL);
	n2.node = "n2", n2.mgmt_addr = "10.99.0.2:7701";
	n2.overlay_addr = "10.200.0.2", n2.cost = 10, n2.latency_ms = 5;
	n2.underlay_addr = "10.99.0.2", n2.bandwidth_kbps = 100000;
	n3.node = "n3", n3.mgmt_addr = "10.99.0.3:7701";
	n3.overlay_addr = "10.200.0.3", n3.cost = 25;
	n3.underlay_addr = "198.51.100.3", n3.bandwidth_kbps = 1500;
	for (int i = 0; i < 4; i++) {
		static const char *const name[] = { "n1", "n2", "n3", "n4" };
		static const char *const ovl[] = { "10.200.0.1", "10.200.0.2",
						   "10.200.0.3", "10.200.0.4" };
		static const char *const ul[] = { "10.99.0.1", "10.99.0.2",
						  "198.51.100.3", "" };

		itm__v1__overlay_node__init(&o[i]);
		o[i].node = (char *)name[i];
		o[i].overlay_addr = (char *)ovl[i];
		o[i].underlay_addr = (char *)ul[i];
		os[i] = &o[i];
	}
	r.node = "n1", r.generation = 5, r.overlay_addr = "10.200.0.1";
	r.underlay_addr = "10.99.0.1";
	r.n_neighbours = 2, r.neighbours = ns;
	r.n_nodes = 4, r.nodes = os;
	itm_rpc_reply(call, &r.base);
}

/* ------------------------------------------------------------------ */
/* Canned controller replies                                            */
/* ------------------------------------------------------------------ */

static void
record_ctl(const char *node, const char *name, size_t n, char **params,
	   const char *file, int num)
{
	record(name, n, params);
	uv_mutex_lock(&fk.lock);
	snprintf(fk.last_node, sizeof(fk.last_node), "%s", node);
	snprintf(fk.last_file, sizeof(fk.last_file), "%s", file);
	fk.last_num = num;
	uv_mutex_unlock(&fk.lock);
}

static void
h_nodes(struct itm_rpc_call *call, void *arg)
{
	char *l1[] = { "role=edge", "site=east" }, *l3[] = { "site=west" };
	Itm__V1__NodeInfo a = ITM__V1__NODE_INFO__INIT, b = a, c = a;
	Itm__V1__NodeInfo *ns[] = { &a, &b, &c };
	Itm__V1__NodesReply r = ITM__V1__NODES_REPLY__INIT;

	(void)arg;
	record_ctl("", "", 0, NULL, "", 0);
	a.name = "n1", a.mgmt_addr = "10.99.0.1:7701";
	a.overlay_addr = "10.200.0.1", a.up = 1;
	a.last_seen = "2024-05-01T12:00:03Z", a.generation = 5;
	a.want_generation = 5, a.n_labels = 2, a.labels = l1;
	b.name = "n2", b.mgmt_addr = "10.99.0.2:7701";
	b.overlay_addr = "10.200.0.2", b.up = 1;
	b.last_seen = "2024-05-01T12:00:02Z", b.generation = 5;
	b.want_generation = 5;
	c.name = "n3", c.mgmt_addr = "10.99.0.3:7701";
	c.overlay_addr = "10.200.0.3", c.last_seen = "2024-05-01T11:58:40Z";
	c.generation = 3, c.want_generation = 5, c.n_labels = 1, c.labels = l3;
	r.generation = 5, r.n_nodes = 3, r.nodes = ns;
	itm_rpc_reply(call, &r.base);
}

/* n1 updated, n2 unchanged, n3 unreachable (or all updated). */
static void
reply_applied(struct itm_rpc_call *call, uint64_t gen, int all_ok)
{
	Itm__V1__NodeResult a = ITM__V1__NODE_RESULT__INIT, b = a, c = a;
	Itm__V1__NodeResult *ns[] = { &a, &b, &c };
	Itm__V1__ApplyReply r = ITM__V1__APPLY_REPLY__INIT;

	a.node = "n1", a.result = ITM__V1__OUTCOME__OUTCOME_UPDATED,
	a.generation = gen;
	b.node = "n2", b.result = all_ok ? ITM__V1__OUTCOME__OUTCOME_UPDATED
					 : ITM__V1__OUTCOME__OUTCOME_UNCHANGED;
	b.generation = gen;
	c.node = "n3",
	c.result = all_ok ? ITM__V1__OUTCOME__OUTCOME_UPDATED
			  : ITM__V1__OUTCOME__OUTCOME_UNREACHABLE;
	c.generation = all_ok ? gen : 3;
	c.detail = all_ok ? ""
			  : "10.99.0.3:7701: UNAVAILABLE: connection "
			    "refused";
	r.generation = gen, r.n_nodes = 3, r.nodes = ns;
	itm_rpc_reply(call, &r.base);
}

/*
 * A refused topology as the controller refuses it: the first fault in the
 * message, all of them in the detail (the faults of bad.yaml in
 * test_topology_refused), with @more counted past them.  A file with
 * "# bogus" gets the message alone, as from a controller that sends no
 * detail.
 */
static void
refuse(struct itm_rpc_call *call, const char *file, const char *yaml,
       uint32_t more)
{
	static const char *const faults[] = {
		"5: nodes[0]: unknown key 'bogus' (expected name, mgmt, "
		"overlay, underlay, labels or modules)",
		"6: nodes[1].name: duplicate node 'n1' (first at line 2)",
		"7: nodes[1].mgmt: must be host:port (the port is missing), "
		"got 'nowhere'",
		"8: nodes[1].overlay: must be an IPv4 or IPv6 address (no "
		"port, no prefix length), got '10.200.0.300'",
		"10: links[0].between[1]: unknown node 'n9'",
		"11: links[0].cost: must be an integer 1..65535, got 'abc'",
	};
	Itm__V1__TopologyFaults tf = ITM__V1__TOPOLOGY_FAULTS__INIT;
	char *lines[6];

	if (strstr(yaml, "# bogus")) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "%s:1: bogus: unknown key", file);
		return;
	}
	for (size_t i = 0; i < 6; i++)
		assert_true(asprintf(&lines[i], "%s:%s", file, faults[i]) > 0);
	tf.faults = lines;
	tf.n_faults = 6;
	tf.more = more;
	itm_rpc_fail_detail(call, ITM_RPC_INVALID_ARGUMENT, &tf.base,
			    "%s\n... and 5 more faults", lines[0]);
	for (size_t i = 0; i < 6; i++)
		free(lines[i]);
}

static void
h_apply(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__ApplyRequest *q = (const void *)itm_rpc_request(call);

	(void)arg;
	record_ctl("", "", 0, NULL, q->filename, q->dry_run);
	if (strstr(q->yaml, "bogus")) {
		refuse(call, q->filename, q->yaml, 0);
		return;
	}
	if (strstr(q->yaml, "nodes: []")) {
		itm_rpc_fail(call, ITM_RPC_FAILED_PRECONDITION,
			     "database is "
			     "read-only");
		return;
	}
	reply_applied(call, 5, strstr(q->yaml, "all-ok") != NULL);
}

static void
h_rollback(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__RollbackRequest *q = (const void *)itm_rpc_request(call);

	(void)arg;
	record_ctl("", "", 0, NULL, "", (int)q->generation);
	if (q->generation > 5) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no generation %llu",
			     (unsigned long long)q->generation);
		return;
	}
	reply_applied(call, 6, 1);
}

static void
h_show(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__TopologyRequest *q = (const void *)itm_rpc_request(call);
	Itm__V1__TopologyReply r = ITM__V1__TOPOLOGY_REPLY__INIT;

	(void)arg;
	record_ctl("", "", 0, NULL, "", (int)q->generation);
	r.generation = q->generation ? q->generation : 5;
	r.applied_at = "2024-05-01T11:59:00Z";
	r.yaml = "comment: lab\nnodes:\n  - name: n1\n    mgmt: "
		 "10.99.0.1:7701\n    overlay: 10.200.0.1";
	itm_rpc_reply(call, &r.base);
}

static void
h_diff(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__DiffRequest *q = (const void *)itm_rpc_request(call);
	char *lines[] = { "+ node n4 mgmt 10.99.0.4:7701 overlay 10.200.0.4",
			  "~ link n1 -- n2 cost 10 -> 20" };
	Itm__V1__DiffReply r = ITM__V1__DIFF_REPLY__INIT;

	(void)arg;
	record_ctl("", "", 0, NULL, q->filename, 0);
	if (strstr(q->yaml, "bogus")) {
		refuse(call, q->filename, q->yaml, 94);
		return;
	}
	if (!strstr(q->yaml, "all-ok"))
		r.n_lines = 2, r.lines = lines;
	itm_rpc_reply(call, &r.base);
}

static void
h_history(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__Generation a = ITM__V1__GENERATION__INIT, b = a;
	Itm__V1__Generation *gs[] = { &a, &b };
	Itm__V1__HistoryReply r = ITM__V1__HISTORY_REPLY__INIT;

	(void)arg;
	record_ctl("", "", 0, NULL, "", 0);
	a.generation = 4, a.applied_at = "2024-05-01T11:00:00Z";
	a.nodes = 3, a.links = 2;
	b.generation = 5, b.applied_at = "2024-05-01T11:59:00Z";
	b.comment = "square with a diagonal", b.nodes = 4, b.links = 5;
	r.n_generations = 2, r.generations = gs;
	itm_rpc_reply(call, &r.base);
}

/* n1 and n2 answer (n2 runs no module), n3 is down. */
static void
h_node_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeStatsRequest *q =
		(const void *)itm_rpc_request(call);
	Itm__V1__StatsReply empty = ITM__V1__STATS_REPLY__INIT;
	Itm__V1__StatsReply *ns[2];
	Itm__V1__NodeResult e = ITM__V1__NODE_RESULT__INIT, *es[] = { &e };
	Itm__V1__NodeStatsReply r = ITM__V1__NODE_STATS_REPLY__INIT;
	struct stats_buf b;

	(void)arg;
	record_ctl(q->node, q->module, 0, NULL, "", 0);
	fill_stats(&b, "n1", q->module);
	empty.node = "n2";
	e.node = "n3", e.result = ITM__V1__OUTCOME__OUTCOME_UNREACHABLE;
	e.detail = "10.99.0.3:7701: UNAVAILABLE: connection refused";
	if (!*q->node || !strcmp(q->node, "n1"))
		ns[r.n_nodes++] = &b.r;
	if (!*q->node)
		ns[r.n_nodes++] = &empty;
	if (!*q->node || !strcmp(q->node, "n3"))
		r.n_errors = 1, r.errors = es;
	r.nodes = ns;
	itm_rpc_reply(call, &r.base);
}

static void
h_node_module(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NodeModuleRequest *q =
		(const void *)itm_rpc_request(call);
	const char *path = itm_rpc_method_path(call);
	char *params[] = { "threshold=20", "classes=2" };
	Itm__V1__LoadModuleReply l = ITM__V1__LOAD_MODULE_REPLY__INIT;
	Itm__V1__ModuleInfo m = ITM__V1__MODULE_INFO__INIT, *ms[] = { &m };
	Itm__V1__ListModulesReply lm = ITM__V1__LIST_MODULES_REPLY__INIT;
	Itm__V1__NodeModuleReply r = ITM__V1__NODE_MODULE_REPLY__INIT;

	(void)arg;
	record_ctl(q->node, q->name, q->n_params, q->params, "", 0);
	if (strcmp(q->node, "n1")) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND,
			     "node '%s' is not in the "
			     "topology",
			     q->node);
		return;
	}
	l.name = q->name, l.n_params = 2, l.params = params;
	m.name = "qosmod", m.kind = "agent", m.version = "1.0";
	lm.n_modules = 1, lm.modules = ms;
	if (strstr(path, "Load"))
		r.loaded = &l;
	if (strstr(path, "List"))
		r.list = &lm;
	itm_rpc_reply(call, &r.base);
}

static const struct itm_rpc_method methods[] = {
	{ ITM_AGENT_GET_STATUS, h_status },
	{ ITM_AGENT_LOAD_MODULE, h_load },
	{ ITM_AGENT_UNLOAD_MODULE, h_unload },
	{ ITM_AGENT_LIST_MODULES, h_list },
	{ ITM_AGENT_GET_STATS, h_stats },
	{ ITM_AGENT_GET_TABLE, h_table },
	{ ITM_CONTROLLER_NODES, h_nodes },
	{ ITM_CONTROLLER_APPLY, h_apply },
	{ ITM_CONTROLLER_ROLLBACK, h_rollback },
	{ ITM_CONTROLLER_SHOW_TOPOLOGY, h_show },
	{ ITM_CONTROLLER_DIFF, h_diff },
	{ ITM_CONTROLLER_HISTORY, h_history },
	{ ITM_CONTROLLER_NODE_STATS, h_node_stats },
	{ ITM_CONTROLLER_NODE_LOAD_MODULE, h_node_module },
	{ ITM_CONTROLLER_NODE_UNLOAD_MODULE, h_node_module },
	{ ITM_CONTROLLER_NODE_LIST_MODULES, h_node_module },
};

/* ------------------------------------------------------------------ */
/* The fake agent's thread                                              */
/* ------------------------------------------------------------------ */

static void
stop_cb(uv_async_t *h)
{
	itm_rpc_server_free(fk.srv);
	uv_close((uv_handle_t *)h, NULL);
}

static char *
pki_file(const char *name)
{
	static char bufs[4][200];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", fk.pki, name);
	return b;
}

/* The agent's management port: mutual TLS with the lab CA. */
static int
fake_listen_tls(void)
{
	struct itm_rpc_tls tls = { pki_file("ca.pem"), pki_file("agent1.pem"),
				   pki_file("agent1.key"), NULL };
	char cmd[300];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s %s agent1 ctl >/dev/null", ITM_MKCERTS,
		 fk.pki);
	if (system(cmd))
		return -EIO;
	rc = itm_rpc_server_listen(fk.srv, "127.0.0.1:0", &tls, 0);
	snprintf(fk.tls_addr, sizeof(fk.tls_addr), "127.0.0.1:%d",
		 itm_rpc_server_port(fk.srv));
	return rc;
}

static void
fake_thread(void *arg)
{
	(void)arg;
	uv_loop_init(&fk.loop);
	uv_async_init(&fk.loop, &fk.stop, stop_cb);
	fk.rc = itm_rpc_server_new(&fk.srv, &fk.loop, methods,
				   sizeof(methods) / sizeof(methods[0]), NULL);
	if (!fk.rc)
		fk.rc = itm_rpc_server_listen(fk.srv, fk.sock, NULL, 0);
	if (!fk.rc)
		fk.rc = fake_listen_tls();
	if (!fk.rc)
		fk.rc = itm_rpc_server_start(fk.srv);
	uv_sem_post(&fk.ready);
	uv_run(&fk.loop, UV_RUN_DEFAULT);
	uv_loop_close(&fk.loop);
}

static int
fake_start(void **state)
{
	(void)state;
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/test_itmctl.XXXXXX");
	if (!mkdtemp(fk.dir))
		return -1;
	snprintf(fk.sock, sizeof(fk.sock), "unix:%s/agent.sock", fk.dir);
	snprintf(fk.pki, sizeof(fk.pki), "%s/pki", fk.dir);
	uv_mutex_init(&fk.lock);
	uv_sem_init(&fk.ready, 0);
	uv_thread_create(&fk.thread, fake_thread, NULL);
	uv_sem_wait(&fk.ready);
	uv_sem_destroy(&fk.ready);
	return fk.rc;
}

static int
fake_stop(void **state)
{
	char cmd[128];

	(void)state;
	uv_async_send(&fk.stop);
	uv_thread_join(&fk.thread);
	uv_mutex_destroy(&fk.lock);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fk.dir);
	return system(cmd);
}

/* ------------------------------------------------------------------ */
/* Running itmctl                                                       */
/* ------------------------------------------------------------------ */

struct run {
	int status; /* exit status */
	char out[16384];
	char err[4096];
};

static void
slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* itmctl ARGS... (NULL-terminated), with ITM_AGENT set to @agent_env
 * (unset when NULL) and ITM_CONTROLLER to the fake's socket. */
static void
itmctl(struct run *r, const char *agent_env, ...)
{
	char *argv[32], out[128], err[128], env_agent[200], env_ctl[200];
	char *envp[] = { "PATH=/usr/bin:/bin", env_ctl, env_agent, NULL };
	posix_spawn_file_actions_t fa;
	int n = 0, st;
	va_list ap;
	pid_t pid;

	argv[n++] = ITMCTL_BIN;
	va_start(ap, agent_env);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(env_ctl, sizeof(env_ctl), "ITM_CONTROLLER=%s", fk.sock);
	if (agent_env)
		snprintf(env_agent, sizeof(env_agent), "ITM_AGENT=%s",
			 agent_env);
	else
		envp[2] = NULL;
	snprintf(out, sizeof(out), "%s/stdout", fk.dir);
	snprintf(err, sizeof(err), "%s/stderr", fk.dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(posix_spawn(&pid, ITMCTL_BIN, &fa, NULL, argv, envp),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static void
expect_last(const char *module, const char *params)
{
	uv_mutex_lock(&fk.lock);
	assert_string_equal(fk.last_module, module);
	if (params)
		assert_string_equal(fk.last_params, params);
	uv_mutex_unlock(&fk.lock);
}

static void
expect_file(const char *got, const char *name)
{
	char path[512], want[16384];

	snprintf(path, sizeof(path), "%s/%s", ITMCTL_DATA, name);
	if (getenv("ITMCTL_REGEN")) { /* rewrite the saved outputs */
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	slurp(path, want, sizeof(want));
	assert_true(want[0] != '\0');
	if (strcmp(got, want))
		fprintf(stderr, "--- %s: got:\n%s--- want:\n%s", name, got,
			want);
	assert_string_equal(got, want);
}

static int
starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A successful run printing exactly the saved output @file. */
#define OK_RUN(file, ...)                                \
	do {                                             \
		struct run r_;                           \
		itmctl(&r_, fk.sock, __VA_ARGS__, NULL); \
		assert_string_equal(r_.err, "");         \
		assert_int_equal(r_.status, 0);          \
		expect_file(r_.out, file);               \
	} while (0)

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void
test_status(void **state)
{
	(void)state;
	OK_RUN("status.txt", "status");
	OK_RUN("status.json", "-o", "json", "status");
	OK_RUN("status.json", "status", "--output=json");      /* anywhere */
	OK_RUN("status.txt", "statu", "--agent", fk.sock + 5); /* a path */
}

static void
test_module_list(void **state)
{
	(void)state;
	OK_RUN("modules.txt", "module", "list");
	OK_RUN("modules.txt", "mod", "li");
	OK_RUN("modules.json", "-ojson", "module", "list");
}

static void
test_stats(void **state)
{
	(void)state;
	OK_RUN("stats.txt", "stats");
	expect_last("", NULL);
	OK_RUN("stats.json", "stats", "-o", "json");
	OK_RUN("stats-qosmod.txt", "stats", "--module", "qosmod");
	expect_last("qosmod", NULL);
}

static void
test_module_load(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	OK_RUN("load.txt", "module", "load", "qosmod", "threshold=20");
	expect_last("qosmod", "threshold=20");
	OK_RUN("load.json", "-o", "json", "module", "load", "qosmod",
	       "threshold=20");
	itmctl(&r, fk.sock, "module", "load", "qosmod", "threshold=abc",
	       "mark=4", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(want, sizeof(want),
		 "itmctl: module load: agent at %s: "
		 "INVALID_ARGUMENT: threshold: not a number: 'abc'\n",
		 fk.sock);
	assert_string_equal(r.err, want);
	expect_last("qosmod", "threshold=abc|mark=4");
}

static void
test_module_unload(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	itmctl(&r, fk.sock, "module", "unload", "qosmod", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "module qosmod unloaded\n");
	itmctl(&r, fk.sock, "-o", "json", "module", "unload", "qosmod", NULL);
	assert_string_equal(r.out, "{}\n"); /* UnloadModuleReply, exactly */
	itmctl(&r, fk.sock, "module", "unload", "nope", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: module unload: agent at %s: "
		 "NOT_FOUND: module 'nope' is not loaded\n",
		 fk.sock);
	assert_string_equal(r.err, want);
}

static void
test_timeout(void **state)
{
	struct run r;
	char want[512];

	(void)state;
	itmctl(&r, fk.sock, "--timeout", "300", "module", "unload", "slow",
	       NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: module unload: agent at %s: "
		 "DEADLINE_EXCEEDED: Deadline Exceeded\n",
		 fk.sock);
	assert_string_equal(r.err, want);
}

static void
test_unreachable(void **state)
{
	char addr[200], want[300];
	struct run r;

	(void)state;
	snprintf(addr, sizeof(addr), "unix:%s/none.sock", fk.dir);
	itmctl(&r, addr, "status", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(want, sizeof(want),
		 "itmctl: status: agent at %s: UNAVAILABLE: ", addr);
	assert_true(starts_with(r.err, want));
	/* No gRPC log lines, one line of ours. */
	assert_non_null(strchr(r.err, '\n'));
	assert_string_equal(strchr(r.err, '\n'), "\n");
}

static void
test_tls(void **state)
{
	char ca[200], cert[200], key[200], want[300];
	struct run r;

	(void)state;
	snprintf(ca, sizeof(ca), "%s", pki_file("ca.pem"));
	snprintf(cert, sizeof(cert), "%s", pki_file("ctl.pem"));
	snprintf(key, sizeof(key), "%s", pki_file("ctl.key"));
	OK_RUN("status.txt", "--agent", fk.tls_addr, "--tls-ca", ca,
	       "--tls-cert", cert, "--tls-key", key, "--tls-name", "agent1",
	       "status");
	/* No client certificate: the agent refuses the connection. */
	itmctl(&r, fk.sock, "--agent", fk.tls_addr, "--tls-ca", ca,
	       "--tls-name", "agent1", "status", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want), "itmctl: status: agent at %s: UNAVAILABLE",
		 fk.tls_addr);
	assert_true(starts_with(r.err, want));
	/* Plaintext to the TLS port: refused too. */
	itmctl(&r, fk.sock, "--agent", fk.tls_addr, "status", NULL);
	assert_int_equal(r.status, 1);
	itmctl(&r, fk.sock, "--tls-ca", ca, "--tls-cert", cert, "status", NULL);
	assert_int_equal(r.status, 2);
	assert_string_equal(r.err, "itmctl: --tls-cert and --tls-key go "
				   "together\n");
}

/* Usage errors: exit 2, one clear line, nothing sent to the agent. */
static void
test_usage_errors(void **state)
{
	static const struct {
		const char *args[6];
		const char *err;
	} cases[] = {
		{ { "module" },
		  "itmctl: module: expected load, unload or list\n" },
		{ { "frobnicate" },
		  "itmctl: unknown command 'frobnicate' (try 'itmctl help')\n" },
		{ { "s" }, "itmctl: ambiguous 's': status or stats\n" },
		{ { "module", "load" },
		  "itmctl: module load: missing MODULE\n" },
		{ { "module", "load", "qosmod", "=1" },
		  "itmctl: module load: unexpected '=1'; expected key=value or "
		  "MODULE\n" },
		{ { "module", "load", "qosmod", "a b=1" },
		  "itmctl: module load: bad parameter 'a b=1' (expected "
		  "key=value)\n" },
		{ { "-o", "yaml", "status" },
		  "itmctl: -o: unknown format 'yaml' (table or json)\n" },
		{ { "--timeout", "0", "status" },
		  "itmctl: --timeout: not a number of milliseconds (1 to "
		  "3600000): '0'\n" },
		{ { "status", "--agent" },
		  "itmctl: option --agent needs a value\n" },
		{ { "--frob", "status" }, "itmctl: unknown option '--frob'\n" },
		{ { "--tls-ca", "/nonexistent/ca.pem", "status" },
		  "itmctl: --tls-ca: /nonexistent/ca.pem: No such file or "
		  "directory\n" },
	};
	int before, after;
	struct run r;

	(void)state;
	uv_mutex_lock(&fk.lock);
	before = fk.n_calls;
	uv_mutex_unlock(&fk.lock);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;

		itmctl(&r, fk.sock, a[0], a[1], a[2], a[3], a[4], NULL);
		assert_string_equal(r.err, cases[i].err);
		assert_string_equal(r.out, "");
		assert_int_equal(r.status, 2);
	}
	itmctl(&r, fk.sock, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "usage: itmctl [options] COMMAND"));
	uv_mutex_lock(&fk.lock);
	after = fk.n_calls;
	uv_mutex_unlock(&fk.lock);
	assert_int_equal(after, before);
}

static void
test_help(void **state)
{
	struct run r;

	(void)state;
	itmctl(&r, fk.sock, "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "SYNOPSIS\n"));
	assert_non_null(strstr(r.out, "  itmctl [options] module load MODULE "
				      "[key=value ...]\n"));
	assert_non_null(strstr(r.out, "EXIT STATUS\n"));
	assert_non_null(strstr(r.out, "--tls-cert FILE"));
	itmctl(&r, fk.sock, "help", "stats", NULL);
	assert_int_equal(r.status, 0);
	assert_true(starts_with(r.out,
				"usage: itmctl [options] stats "
				"[--module MODULE]\n\nPer-class traffic"));
	itmctl(&r, fk.sock, "module", "unload", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_true(starts_with(r.out, "usage: itmctl [options] module unload "
				       "MODULE\n\n"));
	itmctl(&r, fk.sock, "help", "nosuch", NULL);
	assert_int_equal(r.status, 2);
	itmctl(&r, fk.sock, "topology", "apply", "--help", NULL);
	assert_int_equal(r.status, 0);
	assert_true(starts_with(r.out, "usage: itmctl [options] topology apply "
				       "FILE [--dry-run]\n\n"));
	assert_non_null(strstr(r.out, "FILE:LINE: field: what is wrong"));
	itmctl(&r, fk.sock, "--help", NULL);
	assert_non_null(strstr(r.out, "  3  done, but not everywhere"));
}

/* ------------------------------------------------------------------ */
/* Through the controller                                               */
/* ------------------------------------------------------------------ */

/* A run with exit status @st, stdout exactly the saved file @file. */
#define RUN_AS(st, file, agent, ...)                           \
	do {                                                   \
		struct run r_;                                 \
		itmctl(&r_, agent, __VA_ARGS__, NULL);         \
		if (r_.status != (st))                         \
			fprintf(stderr, "stderr: %s", r_.err); \
		assert_int_equal(r_.status, st);               \
		expect_file(r_.out, file);                     \
	} while (0)

static void
expect_ctl(const char *node, const char *file, int num)
{
	uv_mutex_lock(&fk.lock);
	assert_string_equal(fk.last_node, node);
	assert_string_equal(fk.last_file, file);
	assert_int_equal(fk.last_num, num);
	uv_mutex_unlock(&fk.lock);
}

static const char *
write_file(const char *name, const char *text)
{
	static char path[4][200];
	static int i;
	char *p = path[i++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", fk.dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* @s with the temp dir replaced by "DIR", so saved outputs are stable. */
static const char *
undir(const char *s)
{
	static char buf[4096];
	size_t dl = strlen(fk.dir), off = 0;

	while (*s && off < sizeof(buf) - 4) {
		if (!strncmp(s, fk.dir, dl)) {
			off += snprintf(buf + off, sizeof(buf) - off, "DIR");
			s += dl;
		} else {
			buf[off++] = *s++;
		}
	}
	buf[off] = '\0';
	return buf;
}

static void
test_table(void **state)
{
	(void)state;
	OK_RUN("table.txt", "table");
	OK_RUN("table.json", "-o", "json", "table");
}

static void
test_nodes(void **state)
{
	(void)state;
	RUN_AS(0, "nodes.txt", NULL, "nodes");
	RUN_AS(0, "nodes.json", NULL, "nodes", "-o", "json");
}

static void
test_topology_apply(void **state)
{
	const char *f = write_file("topo.yaml", "nodes: ...\n");
	const char *ok = write_file("ok.yaml", "comment: all-ok\n");

	(void)state;
	/* n3 unreachable: stored, but not everywhere (3). */
	RUN_AS(3, "apply.txt", NULL, "topology", "apply", f);
	expect_ctl("", f, 0);
	RUN_AS(3, "apply.json", NULL, "-o", "json", "topology", "apply", f);
	RUN_AS(0, "apply-dry.txt", NULL, "topo", "apply", f, "--dry-run");
	expect_ctl("", f, 1);
	RUN_AS(0, "apply-ok.txt", NULL, "topology", "apply", ok);
	RUN_AS(0, "rollback.txt", NULL, "topology", "rollback", "4");
	expect_ctl("", "", 4);
}

static void
test_topology_refused(void **state)
{
	const char *bad = write_file("bad.yaml", "nodes:\n"
						 "  - name: n1\n"
						 "    mgmt: 10.99.0.1:7701\n"
						 "    overlay: 10.200.0.1\n"
						 "    bogus: 1\n"
						 "  - name: n1\n"
						 "    mgmt: nowhere\n"
						 "    overlay: 10.200.0.300\n"
						 "links:\n"
						 "  - between: [n1, n9]\n"
						 "    cost: abc\n");
	const char *odd = write_file(
		"odd.yaml",
		"# bogus\nnodes:\n"
		"  - name: n1\n    mgmt: 10.99.0.1:7701\n    overlay: 10.200.0.1\n");
	const char *ro = write_file("ro.yaml", "nodes: []\n");
	char want[512];
	struct run r;

	(void)state;
	/* Every fault the controller sent, one per line. */
	itmctl(&r, NULL, "topology", "apply", bad, NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	expect_file(undir(r.err), "apply-refused.err");
	itmctl(&r, NULL, "topology", "diff", bad, NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "bad.yaml:11: links[0].cost"));
	assert_non_null(strstr(r.err, "\n(94 more errors not shown)\n"));
	/* What the controller said, when it sent no faults. */
	itmctl(&r, NULL, "topology", "apply", odd, NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: topology apply: controller at "
		 "%s: INVALID_ARGUMENT: %s:1: bogus: unknown key\n",
		 fk.sock, odd);
	assert_string_equal(r.err, want);
	itmctl(&r, NULL, "topology", "apply", ro, NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: topology apply: controller at "
		 "%s: FAILED_PRECONDITION: database is read-only\n",
		 fk.sock);
	assert_string_equal(r.err, want);
	itmctl(&r, NULL, "topology", "apply", "/nonexistent/t.yaml", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "itmctl: topology apply: /nonexistent/"
				   "t.yaml: No such file or directory\n");
	itmctl(&r, NULL, "topology", "rollback", "9", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: topology rollback: controller at "
		 "%s: NOT_FOUND: no generation 9\n",
		 fk.sock);
	assert_string_equal(r.err, want);
}

static void
test_topology_show(void **state)
{
	const char *f = write_file("new.yaml", "nodes: ...\n");
	const char *ok = write_file("same.yaml", "comment: all-ok\n");

	(void)state;
	RUN_AS(0, "topo-show.txt", NULL, "topology", "show");
	expect_ctl("", "", 0);
	RUN_AS(0, "topo-show.json", NULL, "-o", "json", "topology", "show");
	RUN_AS(0, "topo-show-4.txt", NULL, "topology", "show", "--generation",
	       "4");
	expect_ctl("", "", 4);
	RUN_AS(0, "diff.txt", NULL, "topology", "diff", f);
	expect_ctl("", f, 0);
	RUN_AS(0, "diff.json", NULL, "topology", "diff", f, "-o", "json");
	RUN_AS(0, "diff-none.txt", NULL, "topology", "diff", ok);
	RUN_AS(0, "history.txt", NULL, "topology", "history");
	RUN_AS(0, "history.json", NULL, "topology", "history", "-ojson");
}

static void
test_overlay_stats(void **state)
{
	struct run r;

	(void)state;
	/* No agent named: the whole overlay, n3 not asked (3). */
	RUN_AS(3, "overlay-stats.txt", NULL, "stats");
	expect_ctl("", "", 0);
	RUN_AS(3, "overlay-stats.json", NULL, "-o", "json", "stats");
	RUN_AS(3, "overlay-stats-qosmod.txt", NULL, "stats", "--module",
	       "qosmod");
	expect_last("qosmod", NULL);
	RUN_AS(0, "node-stats.txt", NULL, "stats", "n1");
	expect_ctl("n1", "", 0);
	RUN_AS(0, "node-stats.json", NULL, "stats", "n1", "-o", "json");
	itmctl(&r, NULL, "stats", "n3", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err,
			    "itmctl: stats: node n3: unreachable: "
			    "10.99.0.3:7701: UNAVAILABLE: connection refused\n");
	/* --agent names one agent: its stats, as before. */
	RUN_AS(0, "stats.txt", NULL, "--agent", fk.sock, "stats");
}

static void
test_node_modules(void **state)
{
	char want[512];
	struct run r;

	(void)state;
	RUN_AS(0, "node-load.txt", NULL, "module", "load", "n1", "qosmod",
	       "threshold=20");
	expect_ctl("n1", "", 0);
	expect_last("qosmod", "threshold=20");
	RUN_AS(0, "node-load.json", NULL, "-o", "json", "module", "load", "n1",
	       "qosmod", "threshold=20");
	itmctl(&r, NULL, "module", "unload", "n1", "qosmod", NULL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "module qosmod unloaded from n1\n");
	itmctl(&r, NULL, "-o", "json", "module", "unload", "n1", "qosmod",
	       NULL);
	assert_string_equal(r.out,
			    "{\n  \"loaded\": null,\n  \"list\": null\n}\n");
	RUN_AS(0, "node-modules.txt", NULL, "module", "list", "n1");
	RUN_AS(0, "node-modules.json", NULL, "module", "list", "n1", "-o",
	       "json");
	itmctl(&r, NULL, "module", "load", "n9", "qosmod", NULL);
	assert_int_equal(r.status, 1);
	snprintf(want, sizeof(want),
		 "itmctl: module load: controller at %s: "
		 "NOT_FOUND: node 'n9' is not in the topology\n",
		 fk.sock);
	assert_string_equal(r.err, want);
}

static void
test_controller_unreachable(void **state)
{
	char addr[200], want[400];
	struct run r;

	(void)state;
	snprintf(addr, sizeof(addr), "unix:%s/none.sock", fk.dir);
	itmctl(&r, NULL, "--controller", addr, "nodes", NULL);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	snprintf(want, sizeof(want),
		 "itmctl: nodes: controller at %s: "
		 "UNAVAILABLE: ",
		 addr);
	assert_true(starts_with(r.err, want));
	snprintf(want, sizeof(want),
		 "\nitmctl: is itm-controller running at "
		 "%s (the address from --controller)?  Give its address with "
		 "--controller ADDR or ITM_CONTROLLER.\n",
		 addr);
	assert_non_null(strstr(r.err, want));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_module_list),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_module_load),
		cmocka_unit_test(test_module_unload),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_topology_apply),
		cmocka_unit_test(test_topology_refused),
		cmocka_unit_test(test_topology_show),
		cmocka_unit_test(test_overlay_stats),
		cmocka_unit_test(test_node_modules),
		cmocka_unit_test(test_controller_unreachable),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
