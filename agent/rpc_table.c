/*
 * rpc_table.c - the neighbour table pushed by the controller.
 *
 * Pushes are idempotent and versioned by generation.  The controller sends
 * each node the generation at which that node's table last changed, so a
 * topology change re-versions only the nodes it affects.  A push older than
 * the installed generation is refused.  Otherwise it is installed and its
 * generation acknowledged; "changed" says whether the content (node,
 * overlay address, neighbours and their attributes, generation left out)
 * differs from what was installed, so pushing the same table again, under
 * any generation, is "unchanged".  The agent keeps its last table whatever
 * happens to the controller (fail-static).
 *
 * The table is also what modules see (itm_get_table): a push is turned
 * into the module API's table, every field checked, before anything is
 * installed, and a new generation or new content goes to the modules
 * (modview.c).  Process modules fetch it with GetTable when a heartbeat
 * answer (its table_generation) tells them of a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "log.h"
#include "rpc.h"
#include "table.h"
#include "wire.h"

static Itm__V1__NeighbourTable *table; /* owned, unpacked copy */

#define TABLE_MAX_NEIGHBOURS 4096

static int
check_neighbour(const Itm__V1__Neighbour *n, size_t i, char *err, size_t errlen)
{
	if (n->node[0] == '\0' || strlen(n->node) > 63 ||
	    strlen(n->mgmt_addr) > 255 || strlen(n->overlay_addr) > 63) {
		snprintf(err, errlen,
			 "neighbours[%zu]: bad node name or "
			 "address",
			 i);
		return -EINVAL;
	}
	return 0;
}

static int
table_check(const Itm__V1__NeighbourTable *t, char *err, size_t errlen)
{
	if (strcmp(t->node, agent->cfg.node) != 0) {
		snprintf(err, errlen, "table is for node '%.64s', this is '%s'",
			 t->node, agent->cfg.node);
		return -EINVAL;
	}
	if (t->generation == 0) {
		snprintf(err, errlen, "generation: must be > 0");
		return -EINVAL;
	}
	if (t->n_neighbours > TABLE_MAX_NEIGHBOURS) {
		snprintf(err, errlen, "neighbours: more than %d",
			 TABLE_MAX_NEIGHBOURS);
		return -EINVAL;
	}
	for (size_t i = 0; i < t->n_neighbours; i++)
		if (check_neighbour(t->neighbours[i], i, err, errlen) < 0)
			return -EINVAL;
	return 0;
}

/* @t packed with its generation left out (a shallow copy is enough). */
static uint8_t *
pack_content(const Itm__V1__NeighbourTable *t, size_t *len)
{
	Itm__V1__NeighbourTable c = *t;
	uint8_t *buf;

	c.generation = 0;
	*len = itm__v1__neighbour_table__get_packed_size(&c);
	buf = malloc(*len ? *len : 1);
	if (buf)
		itm__v1__neighbour_table__pack(&c, buf);
	return buf;
}

/* Same neighbours, addresses and attributes as the installed table; the
 * generation does not count. */
static int
table_same(const Itm__V1__NeighbourTable *t)
{
	uint8_t *a, *b;
	size_t alen, blen;
	int same;

	if (table == NULL)
		return 0;
	a = pack_content(table, &alen);
	b = pack_content(t, &blen);
	same = a && b && alen == blen && memcmp(a, b, alen) == 0;
	free(a);
	free(b);
	return same;
}

/* Every field checked, not older than what is installed, and made into
 * the modules' table (*@view, one reference). */
static int
table_accept(const Itm__V1__NeighbourTable *t, struct itm__table **view,
	     char *err, size_t errlen)
{
	int rc;

	rc = table_check(t, err, errlen);
	if (rc < 0)
		return rc;
	if (t->generation < agent->table_generation) {
		snprintf(err, errlen,
			 "generation %llu is older than the "
			 "installed %llu",
			 (unsigned long long)t->generation,
			 (unsigned long long)agent->table_generation);
		return -ENOTSUP;
	}
	return itm__table_from_wire(t, view, err, errlen);
}

static int
table_install(const Itm__V1__NeighbourTable *t, int *changed, char *err,
	      size_t errlen)
{
	Itm__V1__NeighbourTable *copy;
	struct itm__table *view;
	uint64_t was = agent->table_generation;
	int rc;

	if ((rc = table_accept(t, &view, err, errlen)) < 0)
		return rc;
	copy = (Itm__V1__NeighbourTable *)itm_rpc_msg_copy(&t->base);
	if (copy == NULL) {
		itm__table_unref(view);
		return -ENOMEM;
	}
	*changed = !table_same(t);
	if (table)
		itm__v1__neighbour_table__free_unpacked(table, NULL);
	table = copy;
	agent->table_generation = t->generation;
	if (*changed)
		log_info("neighbour table generation %llu installed: %zu "
			 "nodes, %zu neighbours",
			 (unsigned long long)t->generation,
			 itm__table_pub(view)->n_nodes, t->n_neighbours);
	else
		log_debug("neighbour table unchanged, now generation %llu",
			  (unsigned long long)t->generation);
	if (*changed || t->generation != was)
		modview_install(view); /* the modules see it now */
	else
		itm__table_unref(view);
	return 0;
}

void
rpc_h_install_table(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NeighbourTable *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__InstallTableReply rep = ITM__V1__INSTALL_TABLE_REPLY__INIT;
	char err[256] = "";
	int changed, rc;

	rc = table_install(req, &changed, err, sizeof(err));
	if (rc < 0) {
		rpc_fail_err(call, rc, err);
		return;
	}
	rep.generation = agent->table_generation;
	rep.changed = changed;
	itm_rpc_reply(call, &rep.base);
}

void
rpc_h_get_table(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__NeighbourTable *t = table;
	Itm__V1__NeighbourTable empty = ITM__V1__NEIGHBOUR_TABLE__INIT;

	if (t == NULL) {
		empty.node = (char *)agent->cfg.node;
		t = &empty;
	}
	itm_rpc_reply(call, &t->base);
}
