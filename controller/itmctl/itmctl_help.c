/*
 * itmctl_help.c - itmctl's manual: "itmctl --help" prints all of it,
 * "itmctl help CMD" (or "itmctl CMD --help") the part about one command.
 * One entry per command; keep it in step with parser.c.
 */
#include <stdio.h>
#include <string.h>

#include "itmctl.h"

struct topic {
	const char *key;      /* command words */
	const char *synopsis; /* after "itmctl [options] " */
	const char *text;
};

static const struct topic topics[] = {
	{ "status", "status",
	  "Show the agent's node name, version, uptime, how many modules and\n"
	  "registrations it runs, the neighbour-table generation it holds,\n"
	  "whether it is connected to the controller, and the packets it\n"
	  "dropped as malformed or because a queue was full.\n" },
	{ "module load", "module load MODULE [key=value ...]",
	  "Load the in-agent module MODULE (a plugin from the agent's module\n"
	  "directory) with the given parameters, the analogue of insmod.  The\n"
	  "agent checks every parameter against the module's schema and\n"
	  "prints the effective ones, defaults included.  A bad value is\n"
	  "refused with INVALID_ARGUMENT naming the parameter; nothing is\n"
	  "loaded then.\n"
	  "  itmctl module load qosmod threshold=20\n" },
	{ "module unload", "module unload MODULE",
	  "Unload the in-agent module MODULE.  Its hook registrations and\n"
	  "their netfilter rules go away first, so no packet is still queued\n"
	  "to it.  Process modules cannot be unloaded this way: stop the\n"
	  "process.\n" },
	{ "module list", "module list",
	  "List loaded modules, in-agent (kind agent) and process modules\n"
	  "(kind process, with their pid), one row per hook registration:\n"
	  "the hook, priority, NFQUEUE queue number, stage (position in the\n"
	  "hook's order), interest (the packets it asked for: proto, src,\n"
	  "dst, sport, dport, in, out; 'any' for all), packets seen and\n"
	  "SETTLES: yes when the registration may settle flows in the\n"
	  "kernel (ITM_MAY_SETTLE, or a module built before it): its hook\n"
	  "then carries conntrack rules and the node tracks connections.\n" },
	{ "stats", "stats [--module MODULE]",
	  "Per-class traffic statistics of every module, or of MODULE: one\n"
	  "row per module, registration and class with packets, bytes, flows\n"
	  "and the share of packets settled in the kernel (counted there,\n"
	  "never queued to user space), then each module's own counters.\n"
	  "With --agent or $ITM_AGENT this is one agent's; without either,\n"
	  "the controller asks every node and prints one table for the whole\n"
	  "overlay with a NODE column, followed by the nodes it could not ask\n"
	  "(exit status 3 when there are any).  With -o json the agent's\n"
	  "StatsReply (one agent) or the controller's NodeStatsReply (the\n"
	  "overlay, unreachable nodes under \"errors\") is printed as it is.\n" },
	{ "tunnels", "tunnels [NODE] [--watch]",
	  "The elastic tunnels (topo.yaml tunnels:, module etunnel): per\n"
	  "tunnel end, its node, name, side (entry or exit), peer, target\n"
	  "rate, goodput over the last interval (what the peer acknowledged at\n"
	  "the entry, what was re-injected at the exit), connections up /\n"
	  "wanted (bounds), packets dropped at the full entry queue, and the\n"
	  "state: holding, growing, shrinking, target unreachable at\n"
	  "max_conns, saturated (more connections did not help), demand\n"
	  "below target, peer down (traffic on the normal\n"
	  "path), exit.  With --agent or $ITM_AGENT one agent's; without, the\n"
	  "controller asks every node (or NODE); nodes it could not ask are\n"
	  "listed after (exit status 3).  --watch prints again every second\n"
	  "until interrupted.  -o json prints the NodeTunnelsReply.\n"
	  "  itmctl tunnels --watch\n"
	  "  itmctl --agent unix:/run/itm/agent.sock -o json tunnels\n" },
	{ "table", "table",
	  "Show the neighbour table the agent holds: its generation, this\n"
	  "node's overlay and underlay addresses, every node of the overlay\n"
	  "(name, overlay and underlay address), and per neighbour its\n"
	  "management, overlay and underlay addresses, cost, latency and\n"
	  "bandwidth hints.  This is read from the agent itself (--agent),\n"
	  "not from the controller, so it shows what the node really uses\n"
	  "(and what its modules see: itm_get_table()).\n"
	  "  itmctl --agent 10.99.0.2:7701 table\n" },
	{ "routes", "routes [NODE]",
	  "Show the overlay routes itmroute holds: with --agent (or\n"
	  "$ITM_AGENT) that agent's node; else NODE's, or every node's, asked\n"
	  "through the controller (which asks the agents when asked: nodes it\n"
	  "cannot reach are listed, exit status 3).  Per\n"
	  "destination its overlay address, the path in use ('direct' or\n"
	  "the intermediate node; '-' before any path answered), its smoothed\n"
	  "RTT and loss, since when it is in use, how many switches so far,\n"
	  "and the alternatives with their RTT and loss ('dead' when silent).\n"
	  "With -o json the agent's RoutesReply, with every candidate path.\n"
	  "  itmctl --agent unix:/run/itm/agent.sock routes\n"
	  "  itmctl routes n1\n" },
	{ "paths", "paths",
	  "(controller) The overlay's measured RTT/loss matrix: per pair of\n"
	  "nodes the round trip topo.yaml declares (twice the link's\n"
	  "latency_ms; '-' without a link), the direct path's smoothed RTT\n"
	  "and loss as the first node measures them ('dead' when silent), and\n"
	  "the path in use with its RTT.  -o json: the NodeRoutesReply.\n" },
	{ "nodes", "nodes",
	  "(controller) List the overlay's nodes with their management and\n"
	  "overlay addresses, whether the agent is up (joined and sending\n"
	  "heartbeats), when it was last seen, the table generation it has\n"
	  "acknowledged ('3 (want 5)' while it is behind), and its labels.\n" },
	{ "controllers", "controllers",
	  "(controller) Which controller leads among those sharing the\n"
	  "store (etcd: --store etcd://...), since when, whether the one\n"
	  "asked leads or stands by, its current generation and the store's\n"
	  "health (etcd: version, raft leader and term, revision).  A\n"
	  "standby answers too: ask any of them.\n"
	  "  itmctl --controller 10.0.0.2:7700 controllers\n" },
	{ "topology apply", "topology apply FILE [--dry-run]",
	  "(controller) Send the topology in FILE (YAML, see the README; '-'\n"
	  "reads stdin) to the controller.  It validates the whole file, stores\n"
	  "it as a new generation in one transaction, computes each node's\n"
	  "neighbour table and pushes it to every agent at once.  One row per\n"
	  "node says what happened there:\n"
	  "  updated      the agent installed the new table\n"
	  "  unchanged    the agent already had this table\n"
	  "  unreachable  the push failed; the agent gets the table when it\n"
	  "               joins again\n"
	  "  refused      the agent answered with an error (the detail says\n"
	  "               which), e.g. a module it could not load\n"
	  "(with -o json: OUTCOME_UPDATED, OUTCOME_UNCHANGED...).\n"
	  "A file with faults is refused whole: nothing is stored or pushed,\n"
	  "and every fault is printed on its own line as\n"
	  "  FILE:LINE: field: what is wrong\n"
	  "--dry-run validates and reports without storing or pushing.\n"
	  "Exit status 0 when every node is updated or unchanged, 3 when the\n"
	  "generation was stored but some node did not take it, 1 when it was\n"
	  "refused or the controller could not be reached.  The deadline is\n"
	  "30 s unless --timeout is given.\n"
	  "  itmctl topology apply deploy/topo.yaml\n" },
	{ "topology show", "topology show [--generation N]",
	  "(controller) Print the YAML of the current generation, or of\n"
	  "generation N, exactly as it was applied, after one comment line\n"
	  "with the generation and when it was applied: the output can be\n"
	  "applied again.\n"
	  "  itmctl topology show --generation 3 > topo-3.yaml\n" },
	{ "topology diff", "topology diff FILE",
	  "(controller) What applying FILE would change in the current\n"
	  "topology, one line per node or link: '+' added, '-' removed, '~'\n"
	  "changed (with old and new values).  Nothing is stored.  A file with\n"
	  "faults is reported as by 'topology apply'.\n" },
	{ "topology history", "topology history",
	  "(controller) List the stored generations: number, when applied,\n"
	  "how many nodes and links, and the topology's comment.\n" },
	{ "topology rollback", "topology rollback GENERATION",
	  "(controller) Apply the YAML of an earlier GENERATION again, as a new\n"
	  "generation, and push it; reports per node like 'topology apply'.\n" },
	{ "stats node", "stats NODE [--module MODULE]",
	  "(controller) The stats of NODE, fetched from its agent by the\n"
	  "controller and printed as 'stats' prints one agent's.  Exit status\n"
	  "1 when the controller could not ask NODE.\n"
	  "  itmctl stats n2 --module qosmod\n" },
	{ "module load", "module load NODE MODULE [key=value ...]",
	  "(controller) 'module load' on the agent of NODE, relayed by the\n"
	  "controller; the reply and any refusal are the agent's.  A load now,\n"
	  "not a placement: modules placed for good go in topo.yaml (modules:),\n"
	  "which apply loads; the controller never unloads a module the\n"
	  "topology never declared.\n"
	  "  itmctl module load n2 qosmod threshold=20\n" },
	{ "module unload", "module unload NODE MODULE",
	  "(controller) 'module unload' on the agent of NODE.\n" },
	{ "module list", "module list NODE",
	  "(controller) 'module list' of the agent of NODE.\n" },
	{ "help", "help [COMMAND ...]",
	  "Describe all commands, or the ones starting with COMMAND.\n" },
};

#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

static const char options_text[] =
	"OPTIONS\n"
	"  Options may appear anywhere on the line.\n\n"
	"  --agent ADDR        agent to talk to: unix:/path, /path, host:port\n"
	"                      or [v6addr]:port (default $ITM_AGENT, else\n"
	"                      " ITMCTL_AGENT_DEFAULT ")\n"
	"  --controller ADDR[,ADDR...]\n"
	"                      controller, for nodes, topology and commands\n"
	"                      naming a NODE (default $ITM_CONTROLLER, else\n"
	"                      " ITM_CONTROLLER_ADDR_DEFAULT ").  Several\n"
	"                      controllers on one store: tried in order until\n"
	"                      one answers; a standby's refusal of a write\n"
	"                      names the leader, which is asked once more\n"
	"  -o, --output FMT    table (default) or json\n"
	"  --timeout MS        deadline of each call in milliseconds (default 5000)\n"
	"  --tls-ca FILE       use TLS; verify the server with this CA (PEM)\n"
	"  --tls-cert FILE     client certificate for mutual TLS (PEM)\n"
	"  --tls-key FILE      its private key (PEM)\n"
	"  --tls-name NAME     name expected in the server's certificate\n"
	"                      (default: the host in ADDR)\n"
	"  -h, --help          this manual; 'itmctl help COMMAND' for one command\n"
	"  -V, --version       print the version\n";

static const char tail_text[] =
	"OUTPUT\n"
	"  Tables for people by default.  With -o json each reply is one JSON\n"
	"  object converted from the reply message of itm.proto: field names as\n"
	"  in itm.proto, every field present (zero values too), enums by name\n"
	"  (HOOK_IP_FORWARD, OUTCOME_UPDATED), 64-bit counters as numbers.\n"
	"  Exactly the message and nothing more, so a strict protobuf JSON\n"
	"  parser reads it: commands naming a NODE print the controller's\n"
	"  NodeModuleReply ('module ... NODE') or the node's StatsReply\n"
	"  ('stats NODE'); 'module unload' prints {} (UnloadModuleReply).\n\n"
	"EXIT STATUS\n"
	"  0  success\n"
	"  1  the agent or controller could not be reached, or refused the\n"
	"     request; stderr says who, the gRPC status and the reason:\n"
	"       itmctl: module load: agent at unix:/run/itm/agent.sock:\n"
	"       INVALID_ARGUMENT: threshold: not a number: 'abc'\n"
	"     or FILE could not be read, or a topology was refused (each\n"
	"     fault on its own line)\n"
	"  2  usage error\n"
	"  3  done, but not everywhere: 'topology apply' or 'rollback' stored\n"
	"     the generation and some node did not take it, or 'stats' of the\n"
	"     overlay could not ask some nodes; the output lists them\n\n"
	"ENVIRONMENT\n"
	"  ITM_AGENT, ITM_CONTROLLER   default addresses\n"
	"  GRPC_VERBOSITY              when set, gRPC's own log lines are shown\n\n"
	"EXAMPLES\n"
	"  itmctl status\n"
	"  itmctl module load qosmod threshold=20\n"
	"  itmctl -o json stats --module qosmod\n"
	"  itmctl --controller 10.99.0.254:7700 topology apply topo.yaml\n"
	"  itmctl nodes\n"
	"  itmctl stats n2 --module qosmod\n"
	"  itmctl --agent 10.0.0.2:7701 --tls-ca ca.pem --tls-cert ops.pem \\\n"
	"         --tls-key ops.key module list\n";

void
help_usage(FILE *f)
{
	fprintf(f, "usage: itmctl [options] COMMAND ...\n");
	for (size_t i = 0; i < N_TOPICS; i++)
		fprintf(f, "       itmctl [options] %s\n", topics[i].synopsis);
	fprintf(f, "'itmctl --help' for the manual.\n");
}

void
help_full(FILE *f)
{
	fprintf(f,
		"NAME\n  itmctl - control ITM agents and the ITM controller\n\n");
	fprintf(f, "SYNOPSIS\n");
	for (size_t i = 0; i < N_TOPICS; i++)
		fprintf(f, "  itmctl [options] %s\n", topics[i].synopsis);
	fprintf(f,
		"\nDESCRIPTION\n"
		"  itmctl is the operator's tool for ITM (Internet Traffic Managers).\n"
		"  status, table and module commands without a NODE talk to one agent\n"
		"  directly (--agent); nodes, topology and commands naming a NODE go\n"
		"  through the controller (--controller).  stats without a NODE asks\n"
		"  the agent when --agent or $ITM_AGENT names one, else the controller\n"
		"  for the whole overlay.\n"
		"  Keywords may be shortened to any unique prefix: 'itmctl mod li'.\n\n");
	fputs(options_text, f);
	fprintf(f, "\nCOMMANDS\n");
	for (size_t i = 0; i < N_TOPICS; i++) {
		const char *p = topics[i].text, *nl;

		fprintf(f, "  %s\n", topics[i].synopsis);
		for (; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			fprintf(f, "      %.*s\n", (int)(nl - p), p);
		}
		fputc('\n', f);
	}
	fputs(tail_text, f);
}

/* Every word of @words is a prefix of the topic's word in its place. */
static int
topic_matches(const struct topic *t, const char *const *words, size_t n)
{
	const char *k = t->key;

	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(k, " "), wl = strlen(words[i]);

		if (!*k || wl > len || strncmp(k, words[i], wl))
			return 0;
		k += len;
		k += *k == ' ';
	}
	return 1;
}

int
help_topics(const char *const *words, size_t n)
{
	int found = 0;

	if (!n) {
		help_full(stdout);
		return ITMCTL_EXIT_OK;
	}
	for (size_t i = 0; i < N_TOPICS; i++) {
		if (!topic_matches(&topics[i], words, n))
			continue;
		printf("%susage: itmctl [options] %s\n\n%s", found ? "\n" : "",
		       topics[i].synopsis, topics[i].text);
		found = 1;
	}
	if (found)
		return ITMCTL_EXIT_OK;
	fprintf(stderr, "itmctl: help: no command '%s%s' (try 'itmctl help')\n",
		words[0], n > 1 ? " ..." : "");
	return ITMCTL_EXIT_USAGE;
}
