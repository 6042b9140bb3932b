/*
 * ctl_push.c - neighbour-table pushes to agents.
 *
 * A push sends a node's current table with InstallTable, versioned by the
 * node's table generation (the generation at which its table last
 * changed).  Many pushes run at once as asynchronous calls on the loop,
 * each with the push deadline, so one slow or dead agent costs one
 * deadline, not one per node.  A round of pushes (ctl_fan.c) reports
 * when its last push finished, one result per node:
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

/* One push round: a fan with one result per node. */
struct push_round {
	struct ctl_fan fan;
	struct ctl_push_result *res; /* res[i].node is fan.nodes[i] */
	ctl_push_done_cb done;
	void *arg;
	uint64_t t0; /* uv_hrtime() at the start */
};

static void
round_free(struct push_round *p)
{
	ctl_fan_fini(&p->fan);
	free(p->res);
	free(p);
}

/* The round's acknowledgements, recorded in one transaction: with many
 * agents, one synced transaction each was most of an apply's time. */
static void
record_acks(struct push_round *p)
{
	size_t n = p->fan.n, k = 0;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	uint64_t *gens = calloc(n ? n : 1, sizeof(*gens));
	struct store *st = p->fan.c->store;

	for (size_t i = 0; names && gens && i < n; i++)
		if (p->res[i].acked) {
			names[k] = p->res[i].node;
			gens[k++] = p->res[i].generation;
		}
	if (!names || !gens)
		log_warnx("cannot record acknowledged generations: out of "
			  "memory");
	else if (k && store_agent_acks(st, names, gens, k) < 0)
		log_warnx("cannot record %zu acknowledged generations: %s", k,
			  store_errmsg(st));
	free(names);
	free(gens);
}

static void
round_finish_cb(struct ctl_fan *f)
{
	struct push_round *p = CTL_FAN_OWNER(f, struct push_round);

	metrics_hist_observe(&f->c->push_hist, ctl_since_s(p->t0));
	record_acks(p);
	p->done(p->arg, p->res, f->n);
	round_free(p);
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
	struct ctl_fan_slot *s = arg;
	struct push_round *p = CTL_FAN_OWNER(s->fan, struct push_round);
	struct ctl_push_result *r = &p->res[s->i];
	struct ctl_node *n = ctl_node_find(s->fan->c, r->node);
	const Itm__V1__InstallTableReply *rep = (const void *)msg;

	if (n && n->pushing > 0)
		n->pushing--;
	if (st->code == ITM_RPC_OK) {
		result_set(r,
			   rep->changed ? CTL_OUTCOME_UPDATED
					: CTL_OUTCOME_UNCHANGED,
			   rep->generation, "", "");
		r->acked = 1; /* stored by round_finish_cb */
		if (n)
			n->acked_gen = rep->generation;
	} else {
		result_set(r, ctl_outcome_of(st->code), r->generation,
			   itm_rpc_code_name(st->code), st->message);
	}
	ctl_fan_done(s);
}

/* The wire form of @t at generation @gen: one block, msg_free() frees it;
 * the strings are @t's. */
struct table_msg {
	Itm__V1__NeighbourTable m; /* first: what msg_build returns */
	Itm__V1__Neighbour *v, **pv;
	Itm__V1__OverlayNode *o, **po;
};

static void
msg_neighbours(struct table_msg *b, const struct neigh_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		Itm__V1__Neighbour *v = &b->v[i];

		itm__v1__neighbour__init(v);
		v->node = (char *)t->v[i].node;
		v->mgmt_addr = (char *)t->v[i].mgmt;
		v->overlay_addr = (char *)t->v[i].overlay;
		v->underlay_addr = (char *)t->v[i].underlay;
		v->cost = t->v[i].cost;
		v->latency_ms = t->v[i].latency_ms;
		v->bandwidth_kbps = t->v[i].bandwidth_kbps;
		b->pv[i] = v;
	}
	b->m.neighbours = b->pv;
	b->m.n_neighbours = t->n;
}

static void
msg_nodes(struct table_msg *b, const struct neigh_table *t)
{
	for (size_t i = 0; i < t->n_nodes; i++) {
		Itm__V1__OverlayNode *o = &b->o[i];

		itm__v1__overlay_node__init(o);
		o->node = (char *)t->nodes[i].name;
		o->overlay_addr = (char *)t->nodes[i].overlay;
		o->underlay_addr = (char *)t->nodes[i].underlay;
		b->po[i] = o;
	}
	b->m.nodes = b->po;
	b->m.n_nodes = t->n_nodes;
}

static void
msg_free(Itm__V1__NeighbourTable *m)
{
	struct table_msg *b = (struct table_msg *)m;

	if (b == NULL)
		return;
	free(b->v);
	free(b->pv);
	free(b->o);
	free(b->po);
	free(b);
}

static Itm__V1__NeighbourTable *
msg_build(const struct neigh_table *t, uint64_t gen)
{
	struct table_msg *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->v = calloc(t->n ? t->n : 1, sizeof(*b->v));
	b->pv = calloc(t->n ? t->n : 1, sizeof(*b->pv));
	b->o = calloc(t->n_nodes ? t->n_nodes : 1, sizeof(*b->o));
	b->po = calloc(t->n_nodes ? t->n_nodes : 1, sizeof(*b->po));
	if (!b->v || !b->pv || !b->o || !b->po) {
		msg_free(&b->m);
		return NULL;
	}
	itm__v1__neighbour_table__init(&b->m);
	b->m.node = (char *)t->node;
	b->m.generation = gen;
	b->m.overlay_addr = (char *)t->overlay;
	b->m.underlay_addr = (char *)t->underlay;
	msg_neighbours(b, t);
	msg_nodes(b, t);
	return &b->m;
}

/* Start the push to slot @s's node; 0 when push_done_cb will report. */
static int
push_start(struct ctl_fan_slot *s)
{
	struct ctl *c = s->fan->c;
	struct push_round *p = CTL_FAN_OWNER(s->fan, struct push_round);
	struct ctl_push_result *r = &p->res[s->i];
	struct ctl_node *n = ctl_node_find(c, r->node);
	const struct neigh_table *t = ctl_node_table(c, r->node);
	Itm__V1__NeighbourTable *m;
	int rc;

	if (n == NULL || t == NULL) {
		result_set(r, CTL_OUTCOME_REFUSED, 0, "not in the topology",
			   "");
		return -ENOENT;
	}
	r->generation = n->want_gen;
	m = msg_build(t, n->want_gen);
	rc = m ? ctl_node_call(c, n, ITM_AGENT_INSTALL_TABLE, &m->base,
			       ctl_fan_timeout(s->fan), push_done_cb, s)
	       : -ENOMEM;
	msg_free(m);
	if (rc < 0) {
		result_set(r, CTL_OUTCOME_UNREACHABLE, n->want_gen, n->mgmt,
			   strerror(-rc));
		return rc;
	}
	n->pushing++;
	return 0;
}

int
ctl_push(struct ctl *c, const char *const *nodes, size_t n,
	 const struct itm_rpc_call *call, ctl_push_done_cb done, void *arg)
{
	struct push_round *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	if (ctl_fan_init(&p->fan, c, nodes, n, round_finish_cb) < 0 ||
	    (p->res = calloc(n ? n : 1, sizeof(*p->res))) == NULL) {
		round_free(p);
		return -ENOMEM;
	}
	ctl_fan_deadline(&p->fan, call);
	p->done = done;
	p->arg = arg;
	for (size_t i = 0; i < n; i++)
		p->res[i].node = p->fan.nodes[i];
	p->t0 = uv_hrtime();
	ctl_fan_run(&p->fan, push_start);
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
	rc = ctl_push(c, &name, 1, NULL, one_done_cb, (void *)why);
	if (rc < 0)
		log_warnx("node %s: push: %s", name, strerror(-rc));
}
