/*
 * itmctl_help.c - itmctl's manual: "itmctl --help" prints all of it,
 * "itmctl help CMD" (or "itmctl CMD --help") the part about one command.
 * One entry per command; keep it in step with parser.c.
 */
#include <stdio.h>
#include <string.h>

#include "itmctl.h"

struct topic {
	const char *key;		/* command words */
	const char *synopsis;		/* after "itmctl [options] " */
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
	  "dst, sport, dport, in, out; 'any' for all) and packets seen.\n" },
	{ "stats", "stats [--module MODULE]",
	  "Per-class traffic statistics of every module, or of MODULE: one\n"
	  "row per module, registration and class with packets, bytes, flows\n"
	  "and the share of packets settled in the kernel (counted there,\n"
	  "never queued to user space), then each module's own counters.\n"
	  "With -o json the agent's StatsReply is printed as it is.\n" },
	{ "nodes", "nodes",
	  "(controller) List the overlay's nodes: addresses, whether each is\n"
	  "up, when it was last seen, the table generation it acknowledged.\n" },
	{ "topology apply", "topology apply [--dry-run] FILE",
	  "(controller) Validate the topology in FILE (YAML; '-' for stdin),\n"
	  "store it as a new generation and push each node its neighbour\n"
	  "table; report per node.  --dry-run validates only.\n" },
	{ "topology show", "topology show [GENERATION]",
	  "(controller) Print the YAML of the current or given generation.\n" },
	{ "topology diff", "topology diff FILE",
	  "(controller) What applying FILE would change.\n" },
	{ "topology history", "topology history",
	  "(controller) List stored generations.\n" },
	{ "topology rollback", "topology rollback GENERATION",
	  "(controller) Apply an earlier generation again.\n" },
	{ "stats node", "stats NODE [--module MODULE]",
	  "(controller) The stats command for NODE, fetched by the\n"
	  "controller.\n" },
	{ "module node", "module load|unload NODE MODULE [key=value ...]\n"
	  "       itmctl [options] module list NODE",
	  "(controller) The module commands for NODE, through the\n"
	  "controller.\n" },
	{ "help", "help [COMMAND ...]",
	  "Describe all commands, or the ones starting with COMMAND.\n" },
};

#define N_TOPICS (sizeof(topics) / sizeof(topics[0]))

static const char options_text[] =
	"OPTIONS\n"
	"  Options may appear anywhere on the line.\n\n"
	"  --agent ADDR        agent to talk to: unix:/path, /path, host:port\n"
	"                      or [v6addr]:port (default $ITM_AGENT, else\n"
	"                      " CTL_DEFAULT_AGENT ")\n"
	"  --controller ADDR   controller, for commands naming a NODE (default\n"
	"                      $ITM_CONTROLLER, else " CTL_DEFAULT_CONTROLLER ")\n"
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
	"  (HOOK_IP_FORWARD), 64-bit counters as numbers.\n\n"
	"EXIT STATUS\n"
	"  0  success\n"
	"  1  the agent or controller could not be reached, or refused the\n"
	"     request; stderr says who, the gRPC status and the reason:\n"
	"       itmctl: module load: agent at unix:/run/itm/agent.sock:\n"
	"       INVALID_ARGUMENT: threshold: not a number: 'abc'\n"
	"  2  usage error\n\n"
	"ENVIRONMENT\n"
	"  ITM_AGENT, ITM_CONTROLLER   default addresses\n"
	"  GRPC_VERBOSITY              when set, gRPC's own log lines are shown\n\n"
	"EXAMPLES\n"
	"  itmctl status\n"
	"  itmctl module load qosmod threshold=20\n"
	"  itmctl -o json stats --module qosmod\n"
	"  itmctl --agent 10.0.0.2:7701 --tls-ca ca.pem --tls-cert ops.pem \\\n"
	"         --tls-key ops.key module list\n";

void help_usage(FILE *f)
{
	fprintf(f, "usage: itmctl [options] COMMAND ...\n");
	for (size_t i = 0; i < N_TOPICS; i++)
		fprintf(f, "       itmctl [options] %s\n", topics[i].synopsis);
	fprintf(f, "'itmctl --help' for the manual.\n");
}

void help_full(FILE *f)
{
	fprintf(f, "NAME\n  itmctl - control ITM agents and the ITM controller\n\n");
	fprintf(f, "SYNOPSIS\n");
	for (size_t i = 0; i < N_TOPICS; i++)
		fprintf(f, "  itmctl [options] %s\n", topics[i].synopsis);
	fprintf(f, "\nDESCRIPTION\n"
		"  itmctl is the operator's tool for ITM (Internet Traffic Managers).\n"
		"  Commands without a NODE talk to one agent directly (--agent);\n"
		"  commands naming a NODE go through the controller (--controller).\n"
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
static int topic_matches(const struct topic *t, const char *const *words,
			 size_t n)
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

int help_topics(const char *const *words, size_t n)
{
	int found = 0;

	if (!n) {
		help_full(stdout);
		return CTL_OK;
	}
	for (size_t i = 0; i < N_TOPICS; i++) {
		if (!topic_matches(&topics[i], words, n))
			continue;
		printf("%susage: itmctl [options] %s\n\n%s", found ? "\n" : "",
		       topics[i].synopsis, topics[i].text);
		found = 1;
	}
	if (found)
		return CTL_OK;
	fprintf(stderr, "itmctl: help: no command '%s%s' (try 'itmctl help')\n",
		words[0], n > 1 ? " ..." : "");
	return CTL_USAGE;
}
