/*
 * rpc_table.c - the neighbour table pushed by the controller.
 *
 * Pushes are idempotent and versioned by generation: an older or equal
 * generation with the same content is "unchanged"; the agent keeps its
 * last table whatever happens to the controller (fail-static).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "log.h"
#include "rpc.h"

static Itm__V1__NeighbourTable *table;	/* owned, unpacked copy */

#define TABLE_MAX_NEIGHBOURS	4096

static int
check_neighbour(const Itm__V1__Neighbour *n, size_t i, char *err,
		size_t errlen)
{
	if (n->node[0] == '\0' || strlen(n->node) > 63 ||
	    strlen(n->mgmt_addr) > 255 || strlen(n->overlay_addr) > 63) {
		snprintf(err, errlen, "neighbours[%zu]: bad node name or "
			 "address", i);
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

/* A deep copy through the wire format. */
static Itm__V1__NeighbourTable *
table_copy(const Itm__V1__NeighbourTable *t, uint8_t **packed, size_t *len)
{
	*len = itm__v1__neighbour_table__get_packed_size(t);
	*packed = malloc(*len ? *len : 1);
	if (*packed == NULL)
		return NULL;
	itm__v1__neighbour_table__pack(t, *packed);
	return itm__v1__neighbour_table__unpack(NULL, *len, *packed);
}

static int
table_same(const uint8_t *packed, size_t len)
{
	uint8_t *cur;
	size_t clen;
	int same;

	if (table == NULL)
		return 0;
	clen = itm__v1__neighbour_table__get_packed_size(table);
	if (clen != len || (cur = malloc(clen ? clen : 1)) == NULL)
		return 0;
	itm__v1__neighbour_table__pack(table, cur);
	same = memcmp(cur, packed, len) == 0;
	free(cur);
	return same;
}

static int
table_install(const Itm__V1__NeighbourTable *t, int *changed, char *err,
	      size_t errlen)
{
	Itm__V1__NeighbourTable *copy;
	uint8_t *packed;
	size_t len;
	int rc;

	rc = table_check(t, err, errlen);
	if (rc < 0)
		return rc;
	if (t->generation < agent->table_generation) {
		snprintf(err, errlen, "generation %llu is older than the "
			 "installed %llu", (unsigned long long)t->generation,
			 (unsigned long long)agent->table_generation);
		return -ENOTSUP;
	}
	copy = table_copy(t, &packed, &len);
	if (copy == NULL) {
		free(packed);
		return -ENOMEM;
	}
	*changed = !table_same(packed, len);
	free(packed);
	if (table)
		itm__v1__neighbour_table__free_unpacked(table, NULL);
	table = copy;
	agent->table_generation = t->generation;
	if (*changed)
		log_info("neighbour table generation %llu installed: %zu "
			 "neighbours", (unsigned long long)t->generation,
			 t->n_neighbours);
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
