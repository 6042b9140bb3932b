/*
 * ctl_push.c - neighbour-table pushes to agents.
 *
 * A push sends a node's current table with InstallTable, versioned by the
 * node's table generation (the generation at which its table last
 * changed).  Many pushes run at once as asynchronous calls on the loop,
 * each with the push deadline, so one slow or dead agent costs one
 * deadline, not one per node.  Results are collected into a batch that
 * reports when its last push finished:
 *
 *   updated      the agent installed a table that differs from its own
 *   unchanged    the agent already held this content (it still
 *                acknowledges the generation)
 *   unreachable  no answer before the deadline, connection refused, ...
 *   refused      the agent answered with an error (detail says which)
 *
 * Every acknowledgement is written to the store (agents.acked_gen).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

struct push_batch {
	struct ctl *c;
	struct ctl_push_result *res;
	char **names; /* owned copies: nodes may be reloaded */
	size_t n, pending;
	ctl_push_done_cb done;
	void *arg;
};

struct push_call {
	struct push_batch *b;
	size_t i;
};

static void
batch_free(struct push_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	free(b->res);
	free(b);
}

/* The batch's acknowledgements, recorded in one transaction: with many
 * agents, one synced transaction each was most of an apply's time. */
static void
record_acks(struct push_batch *b)
{
	const char **names = calloc(b->n ? b->n : 1, sizeof(*names));
	uint64_t *gens = calloc(b->n ? b->n : 1, sizeof(*gens));
	size_t k = 0;

	for (size_t i = 0; names && gens && i < b->n; i++)
		if (b->res[i].acked) {
			names[k] = b->res[i].node;
			gens[k++] = b->res[i].generation;
		}
	if (!names || !gens)
		log_warnx("cannot record acknowledged generations: out of "
			  "memory");
	else if (k && store_agent_acks(b->c->store, names, gens, k) < 0)
		log_warnx("cannot record %zu acknowledged generations: %s", k,
			  store_errmsg(b->c->store));
	free(names);
	free(gens);
}

static void
batch_finish(struct push_batch *b)
{
	record_acks(b);
	b->done(b->arg, b->res, b->n);
	batch_free(b);
}

/* The detail is "@a: @b", or @a alone when @b is empty. */
static void
result_set(struct ctl_push_result *r, enum ctl_outcome result, uint64_t gen,
	   const char *a, const char *b)
{
	r->result = result;
	r->generation = gen;
	snprintf(r->detail, sizeof(r->detail), "%.60s%s%.190s", a,
		 b[0] ? ": " : "", b);
}

static void
push_done_cb(void *arg, const struct itm_rpc_status *st,
	     const ProtobufCMessage *msg)
{
	struct push_call *pc = arg;
	struct push_batch *b = pc->b;
	struct ctl_push_result *r = &b->res[pc->i];
	struct ctl_node *n = ctl_node_find(b->c, r->node);
	const Itm__V1__InstallTableReply *rep = (const void *)msg;

	free(pc);
	if (n && n->pushing > 0)
		n->pushing--;
	if (st->code == ITM_RPC_OK) {
		result_set(r,
			   rep->changed ? CTL_OUTCOME_UPDATED
					: CTL_OUTCOME_UNCHANGED,
			   rep->generation, "", "");
		r->acked = 1; /* stored by batch_finish */
		if (n)
			n->acked_gen = rep->generation;
	} else {
		result_set(r, ctl_outcome_of(st->code), r->generation,
			   itm_rpc_code_name(st->code), st->message);
	}
	if (--b->pending == 0)
		batch_finish(b);
}

/* The wire form of @t at generation @gen; free with msg_free(). */
static Itm__V1__NeighbourTable *
msg_build(const struct neigh_table *t, uint64_t gen)
{
	Itm__V1__NeighbourTable *m = calloc(1, sizeof(*m));
	Itm__V1__Neighbour *v = calloc(t->n ? t->n : 1, sizeof(*v));
	Itm__V1__Neighbour **p = calloc(t->n ? t->n : 1, sizeof(*p));

	if (!m || !v || !p) {
		free(m);
		free(v);
		free(p);
		return NULL;
	}
	itm__v1__neighbour_table__init(m);
	m->node = (char *)t->node;
	m->generation = gen;
	m->overlay_addr = (char *)t->overlay;
	for (size_t i = 0; i < t->n; i++) {
		itm__v1__neighbour__init(&v[i]);
		v[i].node = (char *)t->v[i].node;
		v[i].mgmt_addr = (char *)t->v[i].mgmt;
		v[i].overlay_addr = (char *)t->v[i].overlay;
		v[i].cost = t->v[i].cost;
		v[i].latency_ms = t->v[i].latency_ms;
		v[i].bandwidth_kbps = t->v[i].bandwidth_kbps;
		p[i] = &v[i];
	}
	m->neighbours = p;
	m->n_neighbours = t->n;
	return m;
}

static void
msg_free(Itm__V1__NeighbourTable *m)
{
	if (m == NULL)
		return;
	free(m->n_neighbours ? m->neighbours[0] : NULL);
	free(m->neighbours);
	free(m);
}

/* Start the push of node i; 0 when its callback will report. */
static int
push_start(struct push_batch *b, size_t i)
{
	struct ctl *c = b->c;
	struct ctl_push_result *r = &b->res[i];
	struct ctl_node *n = ctl_node_find(c, r->node);
	const struct neigh_table *t = ctl_node_table(c, r->node);
	struct itm_rpc_client *client;
	Itm__V1__NeighbourTable *m;
	struct push_call *pc;
	int rc;

	if (n == NULL || t == NULL) {
		result_set(r, CTL_OUTCOME_REFUSED, 0, "not in the topology",
			   "");
		return -ENOENT;
	}
	r->generation = n->want_gen;
	if ((rc = ctl_node_client(c, n, &client)) < 0) {
		result_set(r, CTL_OUTCOME_UNREACHABLE, n->want_gen, n->mgmt,
			   strerror(-rc));
		return rc;
	}
	m = msg_build(t, n->want_gen);
	pc = calloc(1, sizeof(*pc));
	rc = m && pc ? 0 : -ENOMEM;
	if (rc == 0) {
		pc->b = b;
		pc->i = i;
		rc = itm_rpc_call_async(client, c->loop,
					ITM_AGENT_INSTALL_TABLE, &m->base,
					(int)c->cfg.push_timeout_ms,
					push_done_cb, pc);
	}
	msg_free(m);
	if (rc < 0) {
		free(pc);
		result_set(r, CTL_OUTCOME_UNREACHABLE, n->want_gen, n->mgmt,
			   strerror(-rc));
		return rc;
	}
	n->pushing++;
	return 0;
}

int
ctl_push(struct ctl *c, const char *const *nodes, size_t n,
	 ctl_push_done_cb done, void *arg)
{
	struct push_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->res = calloc(n ? n : 1, sizeof(*b->res));
	b->names = calloc(n ? n : 1, sizeof(*b->names));
	if (!b->res || !b->names) {
		batch_free(b);
		return -ENOMEM;
	}
	b->c = c;
	b->done = done;
	b->arg = arg;
	for (; b->n < n; b->n++) {
		if ((b->names[b->n] = strdup(nodes[b->n])) == NULL) {
			batch_free(b);
			return -ENOMEM;
		}
		b->res[b->n].node = b->names[b->n];
	}
	/* Counted from 1 so that a callback run early cannot finish it. */
	b->pending = 1;
	for (size_t i = 0; i < n; i++)
		if (push_start(b, i) == 0)
			b->pending++;
	if (--b->pending == 0)
		batch_finish(b);
	return 0;
}

static void
one_done_cb(void *arg, struct ctl_push_result *r, size_t n)
{
	const char *why = arg;

	if (n != 1)
		return;
	if (r->result == CTL_OUTCOME_UPDATED ||
	    r->result == CTL_OUTCOME_UNCHANGED)
		log_info("node %s: pushed table generation %llu (%s): %s",
			 r->node, (unsigned long long)r->generation, why,
			 ctl_outcome_name(r->result));
	else
		log_warnx("node %s: push of table generation %llu (%s): %s: "
			  "%s",
			  r->node, (unsigned long long)r->generation, why,
			  ctl_outcome_name(r->result), r->detail);
}

void
ctl_push_one(struct ctl *c, struct ctl_node *n, const char *why)
{
	const char *name = n->name;
	int rc;

	if (n->pushing || ctl_node_table(c, n->name) == NULL)
		return;
	rc = ctl_push(c, &name, 1, one_done_cb, (void *)why);
	if (rc < 0)
		log_warnx("node %s: push: %s", name, strerror(-rc));
}
