/*
 * ctl_client.c - a tiny client of itm-controller and itm-agent for tests
 * and benchmarks (itmctl's controller commands are written elsewhere; this
 * speaks the same RPCs with nothing but the proto in between).
 *
 *   ctl_client [TLS] ADDR apply FILE [--dry-run]   Controller.Apply
 *   ctl_client [TLS] ADDR rollback GEN | history | nodes | show [GEN]
 *   ctl_client [TLS] ADDR diff FILE | stats [NODE] | list NODE
 *   ctl_client [TLS] ADDR load NODE NAME [K=V...] | unload NODE NAME
 *   ctl_client [TLS] ADDR join NODE                Controller.Join
 *   ctl_client [TLS] ADDR table                    Agent.GetTable
 *   TLS: --tls-ca F --tls-cert F --tls-key F [--server-name NAME]
 *
 * Output is one record a line, fields separated by spaces, for scripts.
 * A failed call prints "ERROR <CODE>" and the status message on stdout
 * and exits 1.  "apply" also prints "elapsed_ms N" (call to reply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "itm.pb-c.h"
#include "itm_rpc.h"

static struct itm_rpc_client *cl;
static ProtobufCMessage *reply; /* the one reply, freed by main */
static char *input;		/* the one file read, freed by main */

static ProtobufCMessage *
call(enum itm_method method, const ProtobufCMessage *req)
{
	struct itm_rpc_status st = { 0 };
	ProtobufCMessage *rep = NULL;

	if (itm_rpc_call(cl, method, req, &rep, 30000, &st) < 0) {
		printf("ERROR %s\n%s\n", itm_rpc_code_name(st.code),
		       st.message);
		itm_rpc_client_free(cl);
		exit(1);
	}
	return reply = rep;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0) {
		perror(path);
		exit(2);
	}
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return input = buf;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "updated" for OUTCOME_UPDATED, as itmctl prints it. */
static const char *
outcome(int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		&itm__v1__outcome__descriptor, v);
	static char w[32];
	size_t i;

	if (!ev)
		return "?";
	for (i = 0; ev->name[8 + i] && i + 1 < sizeof(w); i++)
		w[i] = (char)tolower((unsigned char)ev->name[8 + i]);
	w[i] = '\0';
	return w;
}

static void
print_apply(const Itm__V1__ApplyReply *r)
{
	printf("generation %llu\n", (unsigned long long)r->generation);
	for (size_t i = 0; i < r->n_nodes; i++)
		printf("node %s %s %llu %s\n", r->nodes[i]->node,
		       outcome(r->nodes[i]->result),
		       (unsigned long long)r->nodes[i]->generation,
		       r->nodes[i]->detail);
}

static void
cmd_apply(int argc, char **argv)
{
	Itm__V1__ApplyRequest req = ITM__V1__APPLY_REQUEST__INIT;
	ProtobufCMessage *rep;
	double t0;

	req.yaml = slurp(argv[0]);
	req.filename = argv[0];
	req.dry_run = argc > 1 && strcmp(argv[1], "--dry-run") == 0;
	t0 = now_ms();
	rep = call(ITM_CONTROLLER_APPLY, &req.base);
	printf("elapsed_ms %.3f\n", now_ms() - t0);
	print_apply((void *)rep);
}

static void
cmd_rollback(const char *gen)
{
	Itm__V1__RollbackRequest req = ITM__V1__ROLLBACK_REQUEST__INIT;

	req.generation = strtoull(gen, NULL, 10);
	print_apply((void *)call(ITM_CONTROLLER_ROLLBACK, &req.base));
}

static void
cmd_nodes(void)
{
	Itm__V1__NodesRequest req = ITM__V1__NODES_REQUEST__INIT;
	Itm__V1__NodesReply *r = (void *)call(ITM_CONTROLLER_NODES, &req.base);

	printf("generation %llu\n", (unsigned long long)r->generation);
	for (size_t i = 0; i < r->n_nodes; i++)
		printf("node %s %s acked %llu want %llu mgmt %s seen %s\n",
		       r->nodes[i]->name, r->nodes[i]->up ? "up" : "down",
		       (unsigned long long)r->nodes[i]->generation,
		       (unsigned long long)r->nodes[i]->want_generation,
		       r->nodes[i]->mgmt_addr,
		       r->nodes[i]->last_seen[0] ? r->nodes[i]->last_seen
						 : "-");
}

static void
cmd_history(void)
{
	Itm__V1__HistoryRequest req = ITM__V1__HISTORY_REQUEST__INIT;
	Itm__V1__HistoryReply *r =
		(void *)call(ITM_CONTROLLER_HISTORY, &req.base);

	for (size_t i = 0; i < r->n_generations; i++)
		printf("generation %llu nodes %u links %u at %s comment %s\n",
		       (unsigned long long)r->generations[i]->generation,
		       r->generations[i]->nodes, r->generations[i]->links,
		       r->generations[i]->applied_at,
		       r->generations[i]->comment);
}

static void
cmd_show(int argc, char **argv)
{
	Itm__V1__TopologyRequest req = ITM__V1__TOPOLOGY_REQUEST__INIT;
	Itm__V1__TopologyReply *r;

	req.generation = argc > 0 ? strtoull(argv[0], NULL, 10) : 0;
	r = (void *)call(ITM_CONTROLLER_SHOW_TOPOLOGY, &req.base);
	printf("# generation %llu applied %s\n%s",
	       (unsigned long long)r->generation, r->applied_at, r->yaml);
}

static void
cmd_diff(const char *file)
{
	Itm__V1__DiffRequest req = ITM__V1__DIFF_REQUEST__INIT;
	Itm__V1__DiffReply *r;

	req.yaml = slurp(file);
	req.filename = (char *)file;
	r = (void *)call(ITM_CONTROLLER_DIFF, &req.base);
	for (size_t i = 0; i < r->n_lines; i++)
		printf("%s\n", r->lines[i]);
}

static void
cmd_stats(int argc, char **argv)
{
	Itm__V1__NodeStatsRequest req = ITM__V1__NODE_STATS_REQUEST__INIT;
	Itm__V1__NodeStatsReply *r;

	req.node = argc > 0 ? argv[0] : "";
	r = (void *)call(ITM_CONTROLLER_NODE_STATS, &req.base);
	for (size_t i = 0; i < r->n_nodes; i++)
		printf("stats %s modules %zu\n", r->nodes[i]->node,
		       r->nodes[i]->n_modules);
	for (size_t i = 0; i < r->n_errors; i++)
		printf("error %s %s %s\n", r->errors[i]->node,
		       outcome(r->errors[i]->result), r->errors[i]->detail);
}

static void
cmd_module(const char *what, int argc, char **argv)
{
	Itm__V1__NodeModuleRequest req = ITM__V1__NODE_MODULE_REQUEST__INIT;
	Itm__V1__NodeModuleReply *r;
	enum itm_method m = strcmp(what, "Load") == 0
				    ? ITM_CONTROLLER_NODE_LOAD_MODULE
			    : strcmp(what, "Unload") == 0
				    ? ITM_CONTROLLER_NODE_UNLOAD_MODULE
				    : ITM_CONTROLLER_NODE_LIST_MODULES;

	req.node = argv[0];
	req.name = argc > 1 ? argv[1] : "";
	req.params = argv + 2;
	req.n_params = argc > 2 ? (size_t)argc - 2 : 0;
	r = (void *)call(m, &req.base);
	if (r->loaded)
		printf("loaded %s\n", r->loaded->name);
	for (size_t i = 0; r->list && i < r->list->n_modules; i++)
		printf("module %s\n", r->list->modules[i]->name);
	printf("ok\n");
}

static void
cmd_join(const char *node)
{
	Itm__V1__JoinRequest req = ITM__V1__JOIN_REQUEST__INIT;
	Itm__V1__JoinReply *r;

	req.node = (char *)node;
	req.version = "ctl_client";
	r = (void *)call(ITM_CONTROLLER_JOIN, &req.base);
	printf("joined heartbeat_ms %u\n", r->heartbeat_ms);
}

static void
cmd_table(void)
{
	Itm__V1__GetTableRequest req = ITM__V1__GET_TABLE_REQUEST__INIT;
	Itm__V1__NeighbourTable *t;

	t = (void *)call(ITM_AGENT_GET_TABLE, &req.base);
	printf("table %s generation %llu overlay %s\n", t->node,
	       (unsigned long long)t->generation, t->overlay_addr);
	for (size_t i = 0; i < t->n_neighbours; i++)
		printf("neighbour %s %s %s cost %u latency %u bw %llu\n",
		       t->neighbours[i]->node, t->neighbours[i]->mgmt_addr,
		       t->neighbours[i]->overlay_addr, t->neighbours[i]->cost,
		       t->neighbours[i]->latency_ms,
		       (unsigned long long)t->neighbours[i]->bandwidth_kbps);
}

static int
run(const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "apply") == 0 && argc >= 1)
		cmd_apply(argc, argv);
	else if (strcmp(cmd, "rollback") == 0 && argc == 1)
		cmd_rollback(argv[0]);
	else if (strcmp(cmd, "nodes") == 0)
		cmd_nodes();
	else if (strcmp(cmd, "history") == 0)
		cmd_history();
	else if (strcmp(cmd, "show") == 0)
		cmd_show(argc, argv);
	else if (strcmp(cmd, "diff") == 0 && argc == 1)
		cmd_diff(argv[0]);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(argc, argv);
	else if (strcmp(cmd, "load") == 0 && argc >= 2)
		cmd_module("Load", argc, argv);
	else if (strcmp(cmd, "unload") == 0 && argc == 2)
		cmd_module("Unload", argc, argv);
	else if (strcmp(cmd, "list") == 0 && argc == 1)
		cmd_module("List", argc, argv);
	else if (strcmp(cmd, "join") == 0 && argc == 1)
		cmd_join(argv[0]);
	else if (strcmp(cmd, "table") == 0)
		cmd_table();
	else
		return 2;
	return 0;
}

int
main(int argc, char **argv)
{
	struct itm_rpc_tls tls = { 0 };
	int i = 1, rc;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--tls-ca") == 0)
			tls.ca_file = argv[i + 1];
		else if (strcmp(argv[i], "--tls-cert") == 0)
			tls.cert_file = argv[i + 1];
		else if (strcmp(argv[i], "--tls-key") == 0)
			tls.key_file = argv[i + 1];
		else if (strcmp(argv[i], "--server-name") == 0)
			tls.server_name = argv[i + 1];
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: ctl_client [TLS] ADDR COMMAND ARGS "
				"(see the source)\n");
		return 2;
	}
	if (itm_rpc_client_new(&cl, argv[i], tls.ca_file ? &tls : NULL) < 0) {
		fprintf(stderr, "ctl_client: bad address %s\n", argv[i]);
		return 2;
	}
	rc = run(argv[i + 1], argc - i - 2, argv + i + 2);
	if (rc == 2)
		fprintf(stderr, "ctl_client: bad command or arguments\n");
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
	free(input);
	itm_rpc_client_free(cl);
	return rc;
}
