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

/* @name's last seen: the later of its P/seen/ key (heartbeats) and its
 * agent record's (joins; all of it in stores written before the key). */
static int64_t
seen_of(struct et *st, const Etcdserverpb__RangeResponse *seen,
	const char *name, const Itm__Store__V1__Agent *a)
{
	int64_t rec = a ? a->last_seen_ms : 0, v;
	const Etcdserverpb__KeyValue *kv;
	char key[ET_KEY_MAX], buf[32];

	kv = find_kv(seen, strlen(et_key(st, key, "seen/")), name);
	if (kv == NULL)
		return rec;
	snprintf(buf, sizeof(buf), "%.*s",
		 (int)(kv->value.len < 31 ? kv->value.len : 31),
		 (const char *)kv->value.data);
	v = strtoll(buf, NULL, 10);
	return v > rec ? v : rec;
}

static int
node_fill(struct et *st, struct store_node *sn, const Itm__Store__V1__Node *n,
	  const Etcdserverpb__RangeResponse *agents,
	  const Etcdserverpb__RangeResponse *seen)
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
	sn->last_seen_ms = seen_of(st, seen, n->name, a);
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
	Etcdserverpb__RangeResponse *agents = NULL, *seen = NULL;
	Itm__Store__V1__Topology *t;
	char key[ET_KEY_MAX];
	int rc;

	*out = NULL;
	*n = 0;
	if ((t = topology_current(st, &rc)) == NULL)
		return rc;
	rc = range_prefix(st, et_key(st, key, "agent/"), &agents);
	if (rc == 0)
		rc = range_prefix(st, et_key(st, key, "seen/"), &seen);
	if (rc == 0 && t->n_nodes &&
	    (*out = calloc(t->n_nodes, sizeof(**out))) == NULL)
		rc = et_fail(st, -ENOMEM, "nodes: out of memory");
	for (size_t i = 0; rc == 0 && i < t->n_nodes; i++, (*n)++)
		rc = node_fill(st, &(*out)[i], t->nodes[i], agents, seen);
	etcd_kv_free(agents);
	etcd_kv_free(seen);
	protobuf_c_message_free_unpacked(&t->base, NULL);
	if (rc < 0) {
		store_nodes_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Puts in Txns of up to ET_TXN_OPS                                     */
/* ------------------------------------------------------------------ */

struct et_batch {
	struct et *st;
	int rc; /* the first failure: nothing more is sent */
	size_t n;
	Etcdserverpb__RequestOp op[ET_TXN_OPS], *ops[ET_TXN_OPS];
	Etcdserverpb__PutRequest put[ET_TXN_OPS];
	uint8_t *bufs[ET_TXN_OPS];
	char keys[ET_TXN_OPS][ET_KEY_MAX];
};

static struct et_batch *
batch_new(struct et *st)
{
	struct et_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		et_fail(st, -ENOMEM, "out of memory");
	else
		b->st = st;
	return b;
}

/* The puts gathered, as one Txn. */
static void
batch_send(struct et_batch *b)
{
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__TxnResponse *r = NULL;
	struct et *st = b->st;

	if (b->rc == 0 && b->n) {
		txn.n_success = b->n;
		txn.success = b->ops;
		b->rc = etcd_txn(st->kv, &txn, &r, st->base.err,
				 sizeof(st->base.err));
		if (b->rc < 0)
			st->base.last = b->rc;
		etcd_kv_free(r);
	}
	for (size_t k = 0; k < b->n; k++)
		free(b->bufs[k]);
	b->n = 0;
}

/* Add a put of "@kind@node" = @buf (@len bytes; taken, NULL: out of
 * memory), sending the Txn first when it is full. */
static int
batch_put(struct et_batch *b, const char *kind, const char *node, uint8_t *buf,
	  size_t len)
{
	size_t k;

	if (b->rc == 0 && b->n == ET_TXN_OPS)
		batch_send(b);
	k = b->n;
	if (b->rc == 0 && buf == NULL)
		b->rc = et_fail(b->st, -ENOMEM, "agents: out of memory");
	if (b->rc == 0 && et_key(b->st, b->keys[k], "%s%s", kind, node) == NULL)
		b->rc = et_failf(b->st, -EINVAL, "node name too long: %s",
				 node);
	if (b->rc < 0) {
		free(buf);
		return b->rc;
	}
	b->bufs[k] = buf;
	etcd_op_put(&b->op[k], &b->put[k], b->keys[k], buf, len);
	b->ops[k] = &b->op[k];
	b->n++;
	return 0;
}

/* Send what is left; 0 or the first failure.  @b is freed. */
static int
batch_end(struct et_batch *b)
{
	int rc;

	batch_send(b);
	rc = b->rc;
	free(b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Agent liveness                                                       */
/* ------------------------------------------------------------------ */

/* The agents' records: @node's alone, or every one when @node is NULL. */
static int
agents_read(struct et *st, const char *node, Etcdserverpb__RangeResponse **r)
{
	char key[ET_KEY_MAX];

	if (et_key(st, key, "agent/%s", node ? node : "") == NULL)
		return et_failf(st, -EINVAL, "node name too long: %s", node);
	return range_prefix(st, key, r);
}

/* What to change in an agent's record; the rest stays as stored. */
struct agent_edit {
	const char *addr, *version; /* NULL: as stored */
	int64_t seen_ms;	    /* 0: as stored */
	int ack;		    /* acked_gen = @gen */
	uint64_t gen;
};

/* Put @node's record from @agents (blank when none) changed by @e. */
static int
agent_put(struct et_batch *b, const Etcdserverpb__RangeResponse *agents,
	  const char *node, const struct agent_edit *e)
{
	Itm__Store__V1__Agent blank = ITM__STORE__V1__AGENT__INIT, *cur, *a;
	char *own_addr, *own_version;
	uint8_t *buf;
	size_t len = 0;

	cur = agent_of(b->st, agents, node);
	a = cur ? cur : &blank;
	own_addr = a->addr;
	own_version = a->version;
	if (e->addr)
		a->addr = (char *)e->addr;
	if (e->version)
		a->version = (char *)e->version;
	if (e->seen_ms)
		a->last_seen_ms = e->seen_ms;
	if (e->ack)
		a->acked_gen = e->gen;
	buf = et_pack(&a->base, &len);
	a->addr = own_addr; /* its own strings back, to free */
	a->version = own_version;
	if (cur)
		protobuf_c_message_free_unpacked(&cur->base, NULL);
	return batch_put(b, "agent/", node, buf, len);
}

/* P/seen/NODE = the last seen time, decimal: a put without a read. */
static int
seen_put(struct et_batch *b, const struct store_seen *v)
{
	char *buf = malloc(24);

	if (buf)
		snprintf(buf, 24, "%lld", (long long)v->seen_ms);
	return batch_put(b, "seen/", v->node, (uint8_t *)buf,
			 buf ? strlen(buf) : 0);
}

static int
seen_reads(const struct store_seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr || v[i].version)
			return 1;
	return 0;
}

/*
 * Heartbeats put P/seen/NODE only, so liveness needs no read: a batch of
 * them is Txns of up to 100 puts.  A join (address, version given) also
 * rewrites the agent's record, which it reads first (one Range).
 */
int
et_agents_seen(struct store *base, const struct store_seen *v, size_t n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *agents = NULL;
	struct et_batch *b;
	int rc;

	if (seen_reads(v, n) &&
	    (rc = agents_read(st, n == 1 ? v[0].node : NULL, &agents)) < 0)
		return rc;
	if ((b = batch_new(st)) == NULL) {
		etcd_kv_free(agents);
		return st->base.last;
	}
	for (size_t i = 0; i < n && b->rc == 0; i++) {
		struct agent_edit e = { .addr = v[i].addr,
					.version = v[i].version,
					.seen_ms = v[i].seen_ms };

		if (v[i].addr || v[i].version)
			agent_put(b, agents, v[i].node, &e);
		seen_put(b, &v[i]);
	}
	etcd_kv_free(agents);
	return batch_end(b);
}

/* The acknowledgements rewrite the agents' records (one Range of them). */
int
et_agent_acks(struct store *base, const char *const *nodes,
	      const uint64_t *gens, size_t n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *agents;
	struct et_batch *b;
	int rc;

	if ((rc = agents_read(st, n == 1 ? nodes[0] : NULL, &agents)) < 0)
		return rc;
	if ((b = batch_new(st)) == NULL) {
		etcd_kv_free(agents);
		return st->base.last;
	}
	for (size_t i = 0; i < n && b->rc == 0; i++) {
		struct agent_edit e = { .ack = 1, .gen = gens[i] };

		agent_put(b, agents, nodes[i], &e);
	}
	etcd_kv_free(agents);
	return batch_end(b);
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

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NODE of each P/place/NODE/MODULE, once (one node's keys are
 * together). */
static int
placed_from(struct et *st, const Etcdserverpb__RangeResponse *r, size_t plen,
	    char **out, size_t *n)
{
	for (size_t i = 0; i < r->n_kvs; i++) {
		const char *k = (const char *)r->kvs[i]->key.data + plen;
		size_t klen = r->kvs[i]->key.len - plen;
		const char *slash = memchr(k, '/', klen);
		size_t len = slash ? (size_t)(slash - k) : klen;

		if (*n && strlen(out[*n - 1]) == len &&
		    memcmp(out[*n - 1], k, len) == 0)
			continue;
		if ((out[*n] = strndup(k, len)) == NULL)
			return et_fail(st, -ENOMEM,
				       "placements: out of memory");
		(*n)++;
	}
	return 0;
}

int
et_placed_nodes(struct store *base, char ***out, size_t *n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *r;
	char key[ET_KEY_MAX];
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = range_prefix(st, et_key(st, key, "place/"), &r)) < 0)
		return rc;
	if (r->n_kvs && (*out = calloc(r->n_kvs, sizeof(**out))) == NULL)
		rc = et_fail(st, -ENOMEM, "placements: out of memory");
	if (rc == 0)
		rc = placed_from(st, r, strlen(key), *out, n);
	if (rc == 0 && *n) /* "a-b/m" sorts before "a/m" */
		qsort(*out, *n, sizeof(**out), name_cmp);
	etcd_kv_free(r);
	if (rc < 0) {
		store_names_free(*out, *n);
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
