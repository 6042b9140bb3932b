/*
 * output_ctl.c - itmctl's tables for the control plane: the overlay's
 * nodes, what an apply did on each node, topology generations, the
 * overlay-wide stats table, and an agent's neighbour table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "output_int.h"

/* "100mbit", "1500kbit", "-" for 0 (not given). */
static const char *
bandwidth(uint64_t kbps)
{
	if (!kbps)
		return "-";
	if (kbps % 1000000 == 0)
		return fmt("%" PRIu64 "gbit", kbps / 1000000);
	if (kbps % 1000 == 0)
		return fmt("%" PRIu64 "mbit", kbps / 1000);
	return fmt("%" PRIu64 "kbit", kbps);
}

/* Every node of the overlay, as the table lists them. */
static void
table_overlay_nodes(const Itm__V1__NeighbourTable *r)
{
	struct table t;

	putchar('\n');
	tbl_init(&t, "lll", "NODE", "OVERLAY", "UNDERLAY");
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Itm__V1__OverlayNode *n = r->nodes[i];

		tbl_row(&t, n->node, str_or_dash(n->overlay_addr),
			str_or_dash(n->underlay_addr));
	}
	tbl_print(&t);
}

void
table_neighbours(const Itm__V1__NeighbourTable *r)
{
	struct table t;

	printf("node %s  generation %" PRIu64 "  overlay %s  underlay %s\n",
	       str_or_dash(r->node), r->generation,
	       str_or_dash(r->overlay_addr), str_or_dash(r->underlay_addr));
	if (!r->generation) {
		printf("no neighbour table installed yet\n");
		return;
	}
	if (r->n_nodes)
		table_overlay_nodes(r);
	if (!r->n_neighbours) {
		printf("\nno neighbours\n");
		return;
	}
	putchar('\n');
	tbl_init(&t, "llllrrr", "NEIGHBOUR", "MGMT", "OVERLAY", "UNDERLAY",
		 "COST", "LATENCY", "BANDWIDTH");
	for (size_t i = 0; i < r->n_neighbours; i++) {
		const Itm__V1__Neighbour *n = r->neighbours[i];

		tbl_row(&t, n->node, str_or_dash(n->mgmt_addr),
			str_or_dash(n->overlay_addr),
			str_or_dash(n->underlay_addr), u64(n->cost),
			n->latency_ms ? fmt("%" PRIu32 " ms", n->latency_ms)
				      : "-",
			bandwidth(n->bandwidth_kbps));
	}
	tbl_print(&t);
}

/* "5", or "3 (want 5)" for an agent behind. */
static const char *
node_generation(const Itm__V1__NodeInfo *n)
{
	if (n->generation == n->want_generation)
		return u64(n->generation);
	return fmt("%" PRIu64 " (want %" PRIu64 ")", n->generation,
		   n->want_generation);
}

static const char *
labels(const Itm__V1__NodeInfo *n)
{
	static char buf[512];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n->n_labels && off < sizeof(buf); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s",
				i ? "," : "", n->labels[i]);
	return str_or_dash(buf);
}

void
table_nodes(const Itm__V1__NodesReply *r)
{
	struct table t;

	printf("generation %" PRIu64 "\n", r->generation);
	if (!r->n_nodes) {
		printf("no nodes: apply a topology first "
		       "(itmctl topology apply FILE)\n");
		return;
	}
	putchar('\n');
	tbl_init(&t, "lllllll", "NODE", "STATE", "MGMT", "OVERLAY",
		 "GENERATION", "LAST SEEN", "LABELS");
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Itm__V1__NodeInfo *n = r->nodes[i];

		tbl_row(&t, n->name, n->up ? "up" : "down",
			str_or_dash(n->mgmt_addr), str_or_dash(n->overlay_addr),
			node_generation(n), str_or_dash(n->last_seen),
			labels(n));
	}
	tbl_print(&t);
}

void
table_controllers(const Itm__V1__ControllersReply *r)
{
	printf("leader      %s\n", r->leader[0] ? r->leader : "none (yet)");
	printf("answered by %s, %s\n", r->answered_by,
	       r->leading ? "leading" : "standing by");
	printf("generation  %" PRIu64 "\n", r->generation);
	printf("store       %s\n", r->store);
	printf("health      %s\n", r->store_health);
}

/* "2 updated, 1 unchanged, 1 unreachable" in the order first seen. */
static void
result_summary(const Itm__V1__ApplyReply *r)
{
	const char *seen[8];
	size_t count[8], n = 0;

	for (size_t i = 0; i < r->n_nodes; i++) {
		const char *res = output_outcome_name(r->nodes[i]->result);
		size_t k = 0;

		while (k < n && strcmp(seen[k], res))
			k++;
		if (k == n && n < 8) {
			seen[n] = res;
			count[n++] = 0;
		}
		if (k < n)
			count[k]++;
	}
	for (size_t k = 0; k < n; k++)
		printf("%s%zu %s", k ? ", " : "", count[k], seen[k]);
	putchar('\n');
}

void
table_applied(const Itm__V1__ApplyReply *r, int dry_run)
{
	struct table t;

	if (dry_run)
		printf("dry run: valid; it would be applied as generation "
		       "%" PRIu64 "; nothing stored or pushed\n",
		       r->generation);
	else
		printf("generation %" PRIu64 " applied\n", r->generation);
	if (!r->n_nodes)
		return;
	putchar('\n');
	tbl_init(&t, "llrl", "NODE", "RESULT", "GENERATION", "DETAIL");
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Itm__V1__NodeResult *n = r->nodes[i];

		tbl_row(&t, n->node, output_outcome_name(n->result),
			u64(n->generation), str_or_dash(n->detail));
	}
	tbl_print(&t);
	putchar('\n');
	result_summary(r);
}

/* The YAML as stored, so "topology show > f.yaml" gives a file to apply;
 * what generation it is goes in a leading YAML comment. */
void
table_topology(const Itm__V1__TopologyReply *r)
{
	size_t len = r->yaml ? strlen(r->yaml) : 0;

	if (!r->generation) {
		printf("no topology applied yet\n");
		return;
	}
	printf("# generation %" PRIu64 ", applied %s\n", r->generation,
	       str_or_dash(r->applied_at));
	fputs(len ? r->yaml : "", stdout);
	if (len && r->yaml[len - 1] != '\n')
		putchar('\n');
}

void
table_diff(const Itm__V1__DiffReply *r)
{
	if (!r->n_lines)
		printf("no changes\n");
	for (size_t i = 0; i < r->n_lines; i++)
		printf("%s\n", r->lines[i]);
}

void
table_history(const Itm__V1__HistoryReply *r)
{
	struct table t;

	if (!r->n_generations) {
		printf("no generations yet\n");
		return;
	}
	tbl_init(&t, "rlrrl", "GENERATION", "APPLIED", "NODES", "LINKS",
		 "COMMENT");
	for (size_t i = 0; i < r->n_generations; i++) {
		const Itm__V1__Generation *g = r->generations[i];

		tbl_row(&t, u64(g->generation), str_or_dash(g->applied_at),
			u64(g->nodes), u64(g->links), str_or_dash(g->comment));
	}
	tbl_print(&t);
}

/* ------------------------------------------------------------------ */
/* Stats of the whole overlay: the stats table with a NODE column       */
/* ------------------------------------------------------------------ */

static void
overlay_class_table(const Itm__V1__NodeStatsReply *r)
{
	struct table t;

	tbl_init(&t, "l" STATS_ALIGN, "NODE", STATS_HEADERS);
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Itm__V1__StatsReply *s = r->nodes[i];

		if (!s->n_modules)
			tbl_row(&t, s->node, "-", "-", "-", "-", "-", "-", "-",
				"-", "-");
		for (size_t j = 0; j < s->n_modules; j++)
			stats_rows(&t, s->node, s->modules[j]);
	}
	tbl_print(&t);
}

static void
overlay_counter_table(const Itm__V1__NodeStatsReply *r)
{
	struct table t;
	size_t n = 0;

	for (size_t i = 0; i < r->n_nodes; i++)
		for (size_t j = 0; j < r->nodes[i]->n_modules; j++)
			n += r->nodes[i]->modules[j]->n_counters;
	if (!n)
		return;
	putchar('\n');
	tbl_init(&t, "lllr", "NODE", "MODULE", "COUNTER", "VALUE");
	for (size_t i = 0; i < r->n_nodes; i++)
		for (size_t j = 0; j < r->nodes[i]->n_modules; j++)
			counter_rows(&t, r->nodes[i]->node,
				     r->nodes[i]->modules[j]);
	tbl_print(&t);
}

static void
overlay_errors(const Itm__V1__NodeStatsReply *r)
{
	struct table t;

	if (!r->n_errors)
		return;
	printf("%s%zu node%s not asked:\n", r->n_nodes ? "\n" : "", r->n_errors,
	       r->n_errors == 1 ? "" : "s");
	tbl_init(&t, "lll", "NODE", "RESULT", "DETAIL");
	for (size_t i = 0; i < r->n_errors; i++)
		tbl_row(&t, r->errors[i]->node,
			output_outcome_name(r->errors[i]->result),
			str_or_dash(r->errors[i]->detail));
	tbl_print(&t);
}

void
table_overlay_stats(const Itm__V1__NodeStatsReply *r)
{
	if (!r->n_nodes && !r->n_errors) {
		printf("no nodes: apply a topology first "
		       "(itmctl topology apply FILE)\n");
		return;
	}
	if (r->n_nodes) {
		overlay_class_table(r);
		overlay_counter_table(r);
	}
	overlay_errors(r);
}

/* Rates as itmctl prints them: "40.0M", "950k". */
static const char *
rate_kbps(uint64_t kbps)
{
	return kbps >= 1000 ? fmt("%.1fM", (double)kbps / 1000.0)
			    : fmt("%lluk", (unsigned long long)kbps);
}

static void
tunnel_row(struct table *t, const char *node, const Itm__V1__Tunnel *u)
{
	int exit = u->side == ITM__V1__TUNNEL_SIDE__TUNNEL_EXIT;

	tbl_row(t, node, u->name, exit ? "exit" : "entry", u->peer,
		exit ? "-" : rate_kbps(u->target_kbps),
		rate_kbps(u->goodput_kbps),
		exit ? fmt("%u", u->conns)
		     : fmt("%u/%u (%u-%u)", u->conns, u->conns_wanted,
			   u->min_conns, u->max_conns),
		exit ? "-" : u64(u->entry_drops), u->state_text);
}

void
table_tunnels(const Itm__V1__NodeTunnelsReply *r)
{
	struct table t;
	size_t rows = 0;

	for (size_t i = 0; i < r->n_nodes; i++)
		rows += r->nodes[i]->n_tunnels;
	if (rows == 0)
		printf("no tunnels\n");
	if (rows) {
		tbl_init(&t, "lllllrrrl", "NODE", "TUNNEL", "SIDE", "PEER",
			 "TARGET", "GOODPUT", "CONNS (MIN-MAX)", "DROPS",
			 "STATE");
		for (size_t i = 0; i < r->n_nodes; i++)
			for (size_t k = 0; k < r->nodes[i]->n_tunnels; k++)
				tunnel_row(&t, r->nodes[i]->node,
					   r->nodes[i]->tunnels[k]);
		tbl_print(&t);
	}
	for (size_t i = 0; i < r->n_errors; i++)
		printf("%s: not asked: %s: %s\n", r->errors[i]->node,
		       output_outcome_name(r->errors[i]->result),
		       r->errors[i]->detail ? r->errors[i]->detail : "");
}
