/*
 * ctl_state.c - the current generation in memory.
 *
 * At start-up the controller reads the newest generation back from the
 * store and parses its YAML (the one place the stored text is parsed);
 * after an apply it takes the topology the Apply handler parsed.  Either
 * way it computes every node's neighbour table and reads each node's
 * table generation and what is known of its agent from the store.
 * Runtime state (a node's client, a push in flight, liveness) carries
 * over by node name, so an apply never drops a connection to an agent
 * whose address did not change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"

int64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
bsearch_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct ctl_node *)elem)->name);
}

struct ctl_node *
ctl_node_find(struct ctl *c, const char *name)
{
	if (c->n_nodes == 0 || name == NULL)
		return NULL;
	return bsearch(name, c->nodes, c->n_nodes, sizeof(*c->nodes),
		       bsearch_cmp);
}

const struct neigh_table *
ctl_node_table(struct ctl *c, const char *name)
{
	return c->tables ? neigh_find(c->tables, name) : NULL;
}

static void
node_free(struct ctl_node *n)
{
	if (n->client)
		itm_rpc_client_free(n->client);
	if (n->retired)
		itm_rpc_client_free(n->retired);
	free(n->name);
	free(n->mgmt);
	free(n->agent_addr);
	free(n->version);
	memset(n, 0, sizeof(*n));
}

/* What only the running controller knows of @n, from @old. */
static void
node_take_over(struct ctl_node *n, struct ctl_node *old)
{
	n->up = old->up;
	n->pushing = old->pushing;
	if (old->last_seen_ms > n->last_seen_ms)
		n->last_seen_ms = old->last_seen_ms;
	n->seen_flushed_ms = old->seen_flushed_ms;
	n->seen_due = old->seen_due;
	n->version = old->version;
	old->version = NULL;
	if (old->seen_due & CTL_SEEN_AGENT) { /* a join not yet written */
		free(n->agent_addr);
		n->agent_addr = old->agent_addr;
		old->agent_addr = NULL;
	}
	if (strcmp(old->mgmt, n->mgmt) == 0) {
		n->client = old->client;
		old->client = NULL;
	}
	n->retired = old->retired; /* its calls may still be in flight */
	n->retired_ms = old->retired_ms;
	old->retired = NULL;
}

/* @n from its stored row, with runtime state taken over from @old. */
static int
node_init(struct ctl *c, struct ctl_node *n, const struct store_node *sn,
	  struct ctl_node *old)
{
	int64_t dead_ms = (int64_t)c->cfg.heartbeat_ms * CTL_MISSED_BEATS;

	n->name = strdup(sn->name);
	n->mgmt = strdup(sn->mgmt);
	n->agent_addr = strdup(sn->agent_addr ? sn->agent_addr : "");
	if (!n->name || !n->mgmt || !n->agent_addr)
		return -ENOMEM;
	n->want_gen = sn->want_gen;
	n->acked_gen = sn->acked_gen;
	n->last_seen_ms = n->seen_flushed_ms = sn->last_seen_ms;
	n->up = sn->last_seen_ms && ctl_now_ms() - sn->last_seen_ms <= dead_ms;
	if (old)
		node_take_over(n, old);
	return 0;
}

static void
nodes_free(struct ctl_node *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		node_free(&v[i]);
	free(v);
}

static int
nodes_build(struct ctl *c, struct ctl_node **out, size_t *n_out)
{
	struct store_node *sn;
	struct ctl_node *v;
	size_t n;
	int rc;

	rc = store_nodes(c->store, &sn, &n);
	if (rc < 0)
		return rc;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL) {
		store_nodes_free(sn, n);
		return -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = node_init(c, &v[i], &sn[i], ctl_node_find(c, sn[i].name));
	store_nodes_free(sn, n);
	if (rc < 0) {
		nodes_free(v, n);
		return rc;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/*
 * Make generation @gen, @topo and @tables the current state (taken, also
 * on failure).  On failure the previous state stays.  Old clients are
 * freed only after the swap: freeing one runs the done callbacks of its
 * calls in flight, which look nodes up by name.
 */
int
ctl_state_set(struct ctl *c, uint64_t gen, struct topo_config *topo,
	      struct neigh_set *tables)
{
	struct ctl_node *nodes, *old;
	size_t n, n_old;
	int rc;

	if ((rc = nodes_build(c, &nodes, &n)) < 0) {
		neigh_set_free(tables);
		topo_config_free(topo);
		return rc;
	}
	old = c->nodes;
	n_old = c->n_nodes;
	neigh_set_free(c->tables);
	topo_config_free(c->topo);
	c->gen = gen;
	c->topo = topo;
	c->tables = tables;
	c->nodes = nodes;
	c->n_nodes = n;
	nodes_free(old, n_old);
	return 0;
}

/* Generation @gen's topology, parsed from its stored YAML. */
static int
parse_stored(struct ctl *c, uint64_t gen, struct topo_config **topo, char *err,
	     size_t errlen)
{
	struct topo_errors errs;
	char *yaml, name[48];
	size_t len;
	int rc;

	if ((rc = store_yaml(c->store, gen, &yaml, &len, NULL)) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(c->store));
		return rc;
	}
	snprintf(name, sizeof(name), "generation %llu",
		 (unsigned long long)gen);
	topo_errors_init(&errs);
	rc = topo_parse(yaml, len, name, topo, &errs);
	if (rc == -EINVAL)
		snprintf(err, errlen, "stored %s no longer validates: %s", name,
			 errs.n ? errs.lines[0] : "?");
	else if (rc < 0)
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	topo_errors_free(&errs);
	free(yaml);
	return rc;
}

int
ctl_state_load(struct ctl *c, char *err, size_t errlen)
{
	struct topo_config *topo = NULL;
	struct neigh_set *tables = NULL;
	uint64_t gen;
	int rc;

	if ((rc = store_current(c->store, &gen)) < 0) {
		snprintf(err, errlen, "%s", store_errmsg(c->store));
		return rc;
	}
	if (gen && (rc = parse_stored(c, gen, &topo, err, errlen)) < 0)
		return rc;
	if (topo && (rc = neigh_build(topo, &tables)) < 0) {
		topo_config_free(topo);
		snprintf(err, errlen, "neighbour tables: %s", strerror(-rc));
		return rc;
	}
	if ((rc = ctl_state_set(c, gen, topo, tables)) < 0)
		snprintf(err, errlen, "nodes: %s", store_errmsg(c->store));
	return rc;
}

int
ctl_table_gens(struct ctl *c, const struct neigh_set *tables, uint64_t **out)
{
	size_t n_prev = c->tables ? c->tables->n : 0;
	uint64_t *prev = calloc(n_prev ? n_prev : 1, sizeof(*prev));
	uint64_t *gens = calloc(tables->n ? tables->n : 1, sizeof(*gens));

	*out = NULL;
	if (prev == NULL || gens == NULL) {
		free(prev);
		free(gens);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_prev; i++) {
		const struct ctl_node *n =
			ctl_node_find(c, c->tables->tables[i].node);

		prev[i] = n ? n->want_gen : 0;
	}
	neigh_table_gens(c->tables, prev, tables, gens);
	free(prev);
	*out = gens;
	return 0;
}

void
ctl_state_free(struct ctl *c)
{
	struct ctl_node *v = c->nodes;
	size_t n = c->n_nodes;

	c->nodes = NULL;
	c->n_nodes = 0;
	nodes_free(v, n);
	neigh_set_free(c->tables);
	topo_config_free(c->topo);
	c->tables = NULL;
	c->topo = NULL;
}
