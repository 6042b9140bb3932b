/*
 * store_etcd_rows.c - the etcd backend's nodes, agent liveness and module
 * placements (store.h): the current generation's topology value joined
 * with one key per agent, and one key per placed module.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_etcd.h"

/* Puts per Txn when writing many agents (etcd allows 128 by default). */
#define ET_TXN_OPS 100

static int
range_prefix(struct et *st, const char *key, Etcdserverpb__RangeResponse **r)
{
	int rc = etcd_range(st->kv, key, 1, r, st->base.err,
			    sizeof(st->base.err));

	return rc < 0 ? (st->base.last = rc) : 0;
}

/* The kv of @name among @r's keys "<@prefix><name>" (sorted), or NULL. */
static const Etcdserverpb__KeyValue *
find_kv(const Etcdserverpb__RangeResponse *r, size_t plen, const char *name)
{
	size_t lo = 0, hi = r->n_kvs, nlen = strlen(name);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const Etcdserverpb__KeyValue *kv = r->kvs[mid];
		size_t klen = kv->key.len - plen;
		int c = memcmp(kv->key.data + plen, name,
			       klen < nlen ? klen : nlen);

		if (c == 0 && klen == nlen)
			return kv;
		if (c < 0 || (c == 0 && klen < nlen))
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */
/* ------------------------------------------------------------------ */

static Itm__Store__V1__Agent *
agent_of(struct et *st, const Etcdserverpb__RangeResponse *agents,
	 const char *name)
{
	char key[ET_KEY_MAX];
	const Etcdserverpb__KeyValue *kv;

	kv = find_kv(agents, strlen(et_key(st, key, "agent/")), name);
	if (kv == NULL)
		return NULL;
	return (Itm__Store__V1__Agent *)
		et_unpack(st, kv, &itm__store__v1__agent__descriptor);
}

static int
node_fill(struct et *st, struct store_node *sn, const Itm__Store__V1__Node *n,
	  const Etcdserverpb__RangeResponse *agents)
{
	Itm__Store__V1__Agent *a = agent_of(st, agents, n->name);

	sn->name = strdup(n->name);
	sn->mgmt = strdup(n->mgmt);
	sn->overlay = strdup(n->overlay);
	sn->labels = strdup(n->labels);
	snprintf(sn->digest, sizeof(sn->digest), "%s", n->digest);
	sn->want_gen = n->table_gen;
	sn->agent_addr = strdup(a ? a->addr : "");
	sn->version = strdup(a ? a->version : "");
	sn->last_seen_ms = a ? a->last_seen_ms : 0;
	sn->acked_gen = a ? a->acked_gen : 0;
	if (a)
		protobuf_c_message_free_unpacked(&a->base, NULL);
	if (!sn->name || !sn->mgmt || !sn->overlay || !sn->labels ||
	    !sn->agent_addr || !sn->version)
		return et_fail(st, -ENOMEM, "nodes: out of memory");
	return 0;
}

/* The current generation's topology, or NULL with *@rc (0: none yet). */
static Itm__Store__V1__Topology *
topology_current(struct et *st, int *rc)
{
	Etcdserverpb__RangeResponse *r;
	Itm__Store__V1__Topology *t = NULL;
	char key[ET_KEY_MAX];
	uint64_t gen;

	if ((*rc = et_current(st, &gen)) < 0 || gen == 0)
		return NULL;
	*rc = etcd_range(st->kv, et_key(st, key, "nodes/%020" PRIu64, gen), 0,
			 &r, st->base.err, sizeof(st->base.err));
	if (*rc < 0)
		return NULL;
	if (r->n_kvs != 1)
		*rc = et_failf(st, -EBADMSG, "%s missing", key);
	else if ((t = (Itm__Store__V1__Topology *)
			  et_unpack(st, r->kvs[0],
				    &itm__store__v1__topology__descriptor)) ==
		 NULL)
		*rc = st->base.last;
	etcd_kv_free(r);
	return t;
}

int
et_nodes(struct store *base, struct store_node **out, size_t *n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *agents = NULL;
	Itm__Store__V1__Topology *t;
	char key[ET_KEY_MAX];
	int rc;

	*out = NULL;
	*n = 0;
	if ((t = topology_current(st, &rc)) == NULL)
		return rc;
	rc = range_prefix(st, et_key(st, key, "agent/"), &agents);
	if (rc == 0 && t->n_nodes &&
	    (*out = calloc(t->n_nodes, sizeof(**out))) == NULL)
		rc = et_fail(st, -ENOMEM, "nodes: out of memory");
	for (size_t i = 0; rc == 0 && i < t->n_nodes; i++, (*n)++)
		rc = node_fill(st, &(*out)[i], t->nodes[i], agents);
	etcd_kv_free(agents);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	if (rc < 0) {
		store_nodes_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Agent liveness                                                       */
/* ------------------------------------------------------------------ */

/* @node's agent record as stored (defaults when none), to update. */
static Itm__Store__V1__Agent *
agent_load(struct et *st, const Etcdserverpb__RangeResponse *agents,
	   const char *node, Itm__Store__V1__Agent *blank)
{
	itm__store__v1__agent__init(blank);
	return agent_of(st, agents, node);
}

static int
agent_put(struct et *st, const char *node, const Itm__Store__V1__Agent *a)
{
	char key[ET_KEY_MAX];
	uint8_t *buf;
	size_t len;
	int rc;

	if (et_key(st, key, "agent/%s", node) == NULL)
		return et_failf(st, -EINVAL, "node name too long: %s", node);
	if ((buf = et_pack(&a->base, &len)) == NULL)
		return et_fail(st, -ENOMEM, "agent: out of memory");
	rc = etcd_put(st->kv, key, buf, len, st->base.err,
		      sizeof(st->base.err));
	free(buf);
	return rc < 0 ? (st->base.last = rc) : 0;
}

int
et_agent_seen(struct store *base, const char *node, const char *addr,
	      const char *version, int64_t now_ms)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *r;
	Itm__Store__V1__Agent blank, *a, *cur;
	char key[ET_KEY_MAX], *own_addr, *own_version;
	int rc;

	if ((rc = range_prefix(st, et_key(st, key, "agent/%s", node), &r)) < 0)
		return rc;
	cur = agent_load(st, r, node, &blank);
	a = cur ? cur : &blank;
	own_addr = a->addr;
	own_version = a->version;
	if (addr)
		a->addr = (char *)addr;
	if (version)
		a->version = (char *)version;
	a->last_seen_ms = now_ms;
	rc = agent_put(st, node, a);
	if (cur) { /* give it back its own strings to free */
		cur->addr = own_addr;
		cur->version = own_version;
		protobuf_c_message_free_unpacked(&cur->base, NULL);
	}
	etcd_kv_free(r);
	return rc;
}

/* One Txn of puts: the acks [@from, @to) over @agents' records. */
static int
acks_txn(struct et *st, const Etcdserverpb__RangeResponse *agents,
	 const char *const *nodes, const uint64_t *gens, size_t from, size_t to)
{
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp op[ET_TXN_OPS], *ops[ET_TXN_OPS];
	Etcdserverpb__PutRequest put[ET_TXN_OPS];
	Etcdserverpb__TxnResponse *r = NULL;
	char(*keys)[ET_KEY_MAX] = calloc(to - from, ET_KEY_MAX);
	uint8_t *bufs[ET_TXN_OPS] = { 0 };
	int rc = keys ? 0 : et_fail(st, -ENOMEM, "acks: out of memory");

	for (size_t i = from; rc == 0 && i < to; i++) {
		Itm__Store__V1__Agent blank, *cur, *a;
		size_t k = i - from, len = 0;

		cur = agent_load(st, agents, nodes[i], &blank);
		a = cur ? cur : &blank;
		a->acked_gen = gens[i];
		bufs[k] = et_pack(&a->base, &len);
		if (cur)
			protobuf_c_message_free_unpacked(&cur->base, NULL);
		if (!bufs[k] || !et_key(st, keys[k], "agent/%s", nodes[i]))
			rc = et_fail(st, -ENOMEM, "acks: out of memory");
		etcd_op_put(&op[k], &put[k], keys[k], bufs[k], len);
		ops[k] = &op[k];
	}
	txn.n_success = to - from;
	txn.success = ops;
	if (rc == 0)
		rc = etcd_txn(st->kv, &txn, &r, st->base.err,
			      sizeof(st->base.err));
	etcd_kv_free(r);
	for (size_t k = 0; k < to - from; k++)
		free(bufs[k]);
	free(keys);
	return rc < 0 ? (st->base.last = rc) : 0;
}

int
et_agent_acks(struct store *base, const char *const *nodes,
	      const uint64_t *gens, size_t n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *agents;
	char key[ET_KEY_MAX];
	int rc;

	if (n == 1) /* the agent's key alone */
		et_key(st, key, "agent/%s", nodes[0]);
	else
		et_key(st, key, "agent/");
	if ((rc = range_prefix(st, key, &agents)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i += ET_TXN_OPS)
		rc = acks_txn(st, agents, nodes, gens, i,
			      n - i < ET_TXN_OPS ? n : i + ET_TXN_OPS);
	etcd_kv_free(agents);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Module placements                                                    */
/* ------------------------------------------------------------------ */

static int
placement_from(struct et *st, const Etcdserverpb__KeyValue *kv, size_t plen,
	       struct store_placement *p)
{
	Itm__Store__V1__Placement *m;

	m = (Itm__Store__V1__Placement *)
		et_unpack(st, kv, &itm__store__v1__placement__descriptor);
	if (m == NULL)
		return st->base.last;
	p->module =
		strndup((const char *)kv->key.data + plen, kv->key.len - plen);
	p->params = strdup(m->params);
	p->gen = m->gen;
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return p->module && p->params
		       ? 0
		       : et_fail(st, -ENOMEM, "placements: out of memory");
}

int
et_placements(struct store *base, const char *node,
	      struct store_placement **out, size_t *n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *r;
	char key[ET_KEY_MAX];
	int rc;

	*out = NULL;
	*n = 0;
	if (et_key(st, key, "place/%s/", node) == NULL)
		return et_failf(st, -EINVAL, "node name too long: %s", node);
	if ((rc = range_prefix(st, key, &r)) < 0)
		return rc;
	if (r->n_kvs && (*out = calloc(r->n_kvs, sizeof(**out))) == NULL)
		rc = et_fail(st, -ENOMEM, "placements: out of memory");
	for (size_t i = 0; rc == 0 && i < r->n_kvs; i++, (*n)++)
		rc = placement_from(st, r->kvs[i], strlen(key), &(*out)[i]);
	etcd_kv_free(r);
	if (rc < 0) {
		store_placements_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
et_placement_set(struct store *base, const char *node, const char *module,
		 const char *params, uint64_t gen, int64_t now_ms)
{
	struct et *st = et_of(base);
	Itm__Store__V1__Placement p = ITM__STORE__V1__PLACEMENT__INIT;
	char key[ET_KEY_MAX];
	uint8_t *buf;
	size_t len;
	int rc;

	if (et_key(st, key, "place/%s/%s", node, module) == NULL)
		return et_failf(st, -EINVAL, "name too long: %s/%s", node,
				module);
	p.params = (char *)(params ? params : "");
	p.gen = gen;
	p.placed_at_ms = now_ms;
	if ((buf = et_pack(&p.base, &len)) == NULL)
		return et_fail(st, -ENOMEM, "placement: out of memory");
	rc = etcd_put(st->kv, key, buf, len, st->base.err,
		      sizeof(st->base.err));
	free(buf);
	return rc < 0 ? (st->base.last = rc) : 0;
}

int
et_placement_del(struct store *base, const char *node, const char *module)
{
	struct et *st = et_of(base);
	char key[ET_KEY_MAX];
	int rc;

	if (et_key(st, key, "place/%s/%s", node, module) == NULL)
		return et_failf(st, -EINVAL, "name too long: %s/%s", node,
				module);
	rc = etcd_delete(st->kv, key, st->base.err, sizeof(st->base.err));
	return rc < 0 ? (st->base.last = rc) : 0;
}
