/*
 * output.c - itmctl's default output: tables for people, for the agent's
 * replies.  The controller's replies are printed by output_ctl.c, the
 * table itself lives in output_tbl.c.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output_int.h"

const char *
output_hook_name(int hook)
{
	const ProtobufCEnumValue *ev =
		protobuf_c_enum_descriptor_get_value(&itm__v1__hook__descriptor,
						     hook);

	if (!ev)
		return "?";
	return strncmp(ev->name, "HOOK_", 5) ? ev->name : ev->name + 5;
}

/* The value's name in itm.proto in lower case, without its prefix. */
const char *
output_outcome_name(int outcome)
{
	static char words[8][24];
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
		&itm__v1__outcome__descriptor, outcome);
	const char *name;
	char *w;

	if (!ev || outcome < 0 || outcome >= 8)
		return "?";
	if (outcome == ITM__V1__OUTCOME__OUTCOME_UNSPECIFIED)
		return "-";
	name = strncmp(ev->name, "OUTCOME_", 8) ? ev->name : ev->name + 8;
	w = words[outcome];
	for (size_t i = 0; name[i] && i + 1 < sizeof(words[0]); i++)
		w[i] = (char)tolower((unsigned char)name[i]);
	return w;
}

static const char *
duration(uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		return fmt("%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %" PRIu64
			   "s",
			   s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
	if (s >= 3600)
		return fmt("%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", s / 3600,
			   s / 60 % 60, s % 60);
	if (s >= 60)
		return fmt("%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
	return fmt("%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
}

/* ------------------------------------------------------------------ */

static void
table_status(const Itm__V1__StatusReply *r)
{
	printf("node               %s\n", str_or_dash(r->node));
	printf("version            %s\n", str_or_dash(r->version));
	printf("uptime             %s\n", duration(r->uptime_ms));
	printf("modules            %" PRIu32 "\n", r->modules);
	printf("registrations      %" PRIu32 "\n", r->registrations);
	printf("table generation   %" PRIu64 "\n", r->table_generation);
	printf("controller         %s\n",
	       r->controller_connected ? "connected" : "not connected");
	printf("malformed packets  %" PRIu64 "\n", r->malformed_packets);
	printf("queue drops        %" PRIu64 "\n", r->queue_drops);
}

static void
table_loaded(const char *node, const Itm__V1__LoadModuleReply *r,
	     const ProtobufCMessage *reply)
{
	printf("module %s loaded%s%s\n", r->name, node ? " on " : "",
	       node ? node : "");
	for (size_t i = 0; i < r->n_params; i++)
		printf("  %s\n", r->params[i]);
}

static void
table_unloaded(const char *node, const char *name,
	       const ProtobufCMessage *reply)
{
	printf("module %s unloaded%s%s\n", name, node ? " from " : "",
	       node ? node : "");
}

static const char *
proto_name(uint32_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	default: return u64(p);
	}
}

/* Append "word a,b,c" to @buf for a non-empty list. */
static void
add_list(char *buf, size_t len, const char *word, size_t n,
	 const char *(*item)(const void *list, size_t i), const void *list)
{
	size_t off = strlen(buf);

	if (!n)
		return;
	off += snprintf(buf + off, len - off, "%s%s ", off ? " " : "", word);
	for (size_t i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "," : "",
				item(list, i));
}

static const char *
item_str(const void *list, size_t i)
{
	return ((char *const *)list)[i];
}

static const char *
item_proto(const void *list, size_t i)
{
	return proto_name(((const uint32_t *)list)[i]);
}

static const char *
item_ports(const void *list, size_t i)
{
	const Itm__V1__PortRange *p = ((Itm__V1__PortRange *const *)list)[i];

	if (p->lo == p->hi)
		return fmt("%" PRIu32, p->lo);
	return fmt("%" PRIu32 "-%" PRIu32, p->lo, p->hi);
}

/* "proto tcp,udp dst 10.0.0.0/8 dport 80" or "any". */
static const char *
interest(const Itm__V1__Interest *in)
{
	static char buf[512];

	buf[0] = '\0';
	if (in) {
		add_list(buf, sizeof(buf), "proto", in->n_protocols, item_proto,
			 in->protocols);
		add_list(buf, sizeof(buf), "src", in->n_saddr, item_str,
			 in->saddr);
		add_list(buf, sizeof(buf), "dst", in->n_daddr, item_str,
			 in->daddr);
		add_list(buf, sizeof(buf), "sport", in->n_src_ports, item_ports,
			 in->src_ports);
		add_list(buf, sizeof(buf), "dport", in->n_dst_ports, item_ports,
			 in->dst_ports);
		add_list(buf, sizeof(buf), "in", in->n_indev, item_str,
			 in->indev);
		add_list(buf, sizeof(buf), "out", in->n_outdev, item_str,
			 in->outdev);
	}
	return buf[0] ? buf : "any";
}

static void
module_rows(struct table *t, const Itm__V1__ModuleInfo *m)
{
	const char *pid = m->pid ? u64(m->pid) : "-";

	if (!m->n_registrations)
		tbl_row(t, m->name, m->kind, pid, str_or_dash(m->version), "-",
			"-", "-", "-", "-", "-", "-", "-");
	for (size_t i = 0; i < m->n_registrations; i++) {
		const Itm__V1__Registration *g = m->registrations[i];

		tbl_row(t, m->name, m->kind, pid, str_or_dash(m->version),
			str_or_dash(g->label), output_hook_name(g->hook),
			fmt("%" PRId32, g->priority), u64(g->queue),
			u64(g->stage), u64(g->packets),
			g->may_settle ? "yes" : "no", interest(g->interest));
	}
}

static void
table_modules(const char *node, const Itm__V1__ListModulesReply *r,
	      const ProtobufCMessage *reply)
{
	struct table t;

	if (node)
		printf("node %s\n%s", node, r->n_modules ? "\n" : "");
	if (!r->n_modules) {
		printf("no modules loaded\n");
		return;
	}
	/* The interest is the widest cell: it goes last. */
	tbl_init(&t, "llrlllrrrrll", "MODULE", "KIND", "PID", "VERSION",
		 "REGISTRATION", "HOOK", "PRIO", "QUEUE", "STAGE", "PACKETS",
		 "SETTLES", "INTEREST");
	for (size_t i = 0; i < r->n_modules; i++)
		module_rows(&t, r->modules[i]);
	tbl_print(&t);
}

static void
counter_table(const Itm__V1__StatsReply *r)
{
	struct table t;
	size_t n = 0;

	for (size_t i = 0; i < r->n_modules; i++)
		n += r->modules[i]->n_counters;
	if (!n)
		return;
	putchar('\n');
	tbl_init(&t, "llr", "MODULE", "COUNTER", "VALUE");
	for (size_t i = 0; i < r->n_modules; i++)
		counter_rows(&t, NULL, r->modules[i]);
	tbl_print(&t);
}

static void
table_stats(const Itm__V1__StatsReply *r)
{
	struct table t;

	printf("node %s\n", str_or_dash(r->node));
	if (!r->n_modules) {
		printf("no modules loaded\n");
		return;
	}
	putchar('\n');
	tbl_init(&t, STATS_ALIGN, STATS_HEADERS);
	for (size_t i = 0; i < r->n_modules; i++)
		stats_rows(&t, NULL, r->modules[i]);
	tbl_print(&t);
	counter_table(r);
}

const struct output output_table = {
	.name = "table",
	.status = table_status,
	.loaded = table_loaded,
	.unloaded = table_unloaded,
	.modules = table_modules,
	.stats = table_stats,
	.table = table_neighbours,
	.routes = table_routes,
	.nodes = table_nodes,
	.controllers = table_controllers,
	.applied = table_applied,
	.topology = table_topology,
	.diff = table_diff,
	.history = table_history,
	.overlay_stats = table_overlay_stats,
	.node_routes = table_node_routes,
	.paths = table_paths,
	.tunnels = table_tunnels,
};
