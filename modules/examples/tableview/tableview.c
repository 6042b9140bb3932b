/*
 * tableview.c - what a module sees of the overlay: every table the
 * controller pushes to this node, as counters and as a line of JSON or
 * of log (see tableview.h).
 */
#include <inttypes.h>
#include <syslog.h>

#include "tableview.h"

static FILE *out;
static uint64_t generation, nodes, neighbours, changes;

static void
json_node(const struct itm_node *n, const char *sep)
{
	fprintf(out,
		"%s{\"name\": \"%s\", \"overlay\": \"%s\", "
		"\"underlay\": \"%s\"}",
		sep, n->name, n->overlay.text, n->underlay.text);
}

static void
show_json(const struct itm_table *t)
{
	fprintf(out, "{\"generation\": %" PRIu64 ", \"self\": ", t->generation);
	json_node(t->self, "");
	fprintf(out, ", \"nodes\": [");
	for (size_t i = 0; i < t->n_nodes; i++)
		json_node(&t->nodes[i], i ? ", " : "");
	fprintf(out, "], \"neighbours\": [");
	for (size_t i = 0; i < t->n_neighbours; i++) {
		const struct itm_neighbour *nb = &t->neighbours[i];

		fprintf(out,
			"%s{\"name\": \"%s\", \"mgmt\": \"%s\", "
			"\"cost\": %" PRIu32 ", \"latency_ms\": %" PRIu32
			", \"bandwidth_kbps\": %" PRIu64 "}",
			i ? ", " : "", nb->node->name, nb->mgmt, nb->cost,
			nb->latency_ms, nb->bandwidth_kbps);
	}
	fprintf(out, "]}\n");
	fflush(out);
}

static void
show(const struct itm_table *t)
{
	generation = t->generation;
	nodes = t->n_nodes;
	neighbours = t->n_neighbours;
	if (out) {
		show_json(t);
		return;
	}
	itm_log(LOG_INFO,
		"table generation %" PRIu64 ": %s overlay %s underlay %s, "
		"%zu nodes, %zu neighbours",
		t->generation, t->self->name, t->self->overlay.text,
		t->self->underlay.text[0] ? t->self->underlay.text : "-",
		t->n_nodes, t->n_neighbours);
}

/* Runs whenever a new table is installed. */
static void
table_changed(const struct itm_table *t, void *arg)
{
	(void)arg;
	changes++;
	show(t);
}

int
tableview_start(FILE *f)
{
	const struct itm_table *t;
	int rc;

	out = f;
	generation = nodes = neighbours = changes = 0;
	if ((rc = itm_register_table_func(table_changed, NULL)) < 0)
		return rc;
	itm_register_counter("generation", &generation);
	itm_register_counter("nodes", &nodes);
	itm_register_counter("neighbours", &neighbours);
	itm_register_counter("changes", &changes);
	if ((t = itm_get_table()) != NULL)
		show(t);
	else if (out == NULL)
		itm_log(LOG_INFO, "no table yet");
	return 0;
}

void
tableview_stop(void)
{
	itm_unregister_table_func(table_changed, NULL);
}
