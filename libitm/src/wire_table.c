/*
 * wire_table.c - the NeighbourTable message into the module API's table
 * (table.h).  The agent converts what the controller pushes before it
 * installs anything, libitm what GetTable answers; table.c checks every
 * field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "table.h"
#include "wire.h"

static struct itm__table_src_node
src_node(const char *name, const char *overlay, const char *underlay)
{
	return (struct itm__table_src_node){
		.name = name,
		.overlay = overlay ? overlay : "",
		.underlay = underlay ? underlay : "",
	};
}

/* The nodes: as sent, or this node and its neighbours (older
 * controllers sent no list). */
static void
nodes_of(const Itm__V1__NeighbourTable *w, struct itm__table_src_node *v,
	 size_t *n)
{
	*n = 0;
	if (w->n_nodes) {
		for (size_t i = 0; i < w->n_nodes; i++)
			v[(*n)++] = src_node(w->nodes[i]->node,
					     w->nodes[i]->overlay_addr,
					     w->nodes[i]->underlay_addr);
		return;
	}
	v[(*n)++] = src_node(w->node, w->overlay_addr, w->underlay_addr);
	for (size_t i = 0; i < w->n_neighbours; i++)
		v[(*n)++] = src_node(w->neighbours[i]->node,
				     w->neighbours[i]->overlay_addr,
				     w->neighbours[i]->underlay_addr);
}

int
itm__table_from_wire(const Itm__V1__NeighbourTable *w, struct itm__table **out,
		     char *err, size_t errlen)
{
	struct itm__table_src src = { .generation = w->generation };
	struct itm__table_src_node *nodes;
	struct itm__table_src_neighbour *nb;
	int rc = -ENOMEM;

	*out = NULL;
	if (w->n_nodes > ITM__TABLE_MAX_NODES ||
	    w->n_neighbours > ITM__TABLE_MAX_NODES) {
		snprintf(err, errlen, "more than %d nodes or neighbours",
			 ITM__TABLE_MAX_NODES);
		return -EINVAL;
	}
	nodes = calloc(w->n_nodes + w->n_neighbours + 1, sizeof(*nodes));
	nb = calloc(w->n_neighbours + 1, sizeof(*nb));
	if (nodes && nb) {
		src.self = src_node(w->node, w->overlay_addr, w->underlay_addr);
		nodes_of(w, nodes, &src.n_nodes);
		src.nodes = nodes;
		for (size_t i = 0; i < w->n_neighbours; i++)
			nb[i] = (struct itm__table_src_neighbour){
				.name = w->neighbours[i]->node,
				.mgmt = w->neighbours[i]->mgmt_addr,
				.cost = w->neighbours[i]->cost,
				.latency_ms = w->neighbours[i]->latency_ms,
				.bandwidth_kbps =
					w->neighbours[i]->bandwidth_kbps,
			};
		src.neighbours = nb;
		src.n_neighbours = w->n_neighbours;
		rc = itm__table_new(&src, out, err, errlen);
	}
	free(nodes);
	free(nb);
	return rc;
}
