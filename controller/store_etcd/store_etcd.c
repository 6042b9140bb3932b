/*
 * store_etcd.c - the store's etcd backend (store.h, store_etcd_ops):
 * opening a store at "etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?TLS]",
 * its schema key, and the generations.  An apply is one etcd Txn that
 * compares the current-generation key with the generation it read
 * (compare-and-swap) and writes the generation's facts, YAML and
 * topology and the new current number together: stored whole or not at
 * all, and two controllers applying at once cannot interleave.  The keys
 * are listed in README.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_etcd.h"

#define ET_DEFAULT_PREFIX "/itm"

/* ------------------------------------------------------------------ */
/* Keys, failures, values                                               */
/* ------------------------------------------------------------------ */

char *
et_key(const struct et *st, char *buf, const char *fmt, ...)
{
	size_t n = strlen(st->prefix);
	va_list ap;
	int w;

	memcpy(buf, st->prefix, n + 1);
	va_start(ap, fmt);
	w = vsnprintf(buf + n, ET_KEY_MAX - n, fmt, ap);
	va_end(ap);
	return w < 0 || (size_t)w >= ET_KEY_MAX - n ? NULL : buf;
}

int
et_fail(struct et *st, int rc, const char *msg)
{
	snprintf(st->base.err, sizeof(st->base.err), "%s", msg);
	st->base.last = rc;
	return rc;
}

int
et_failf(struct et *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->base.err, sizeof(st->base.err), fmt, ap);
	va_end(ap);
	st->base.last = rc;
	return rc;
}

uint8_t *
et_pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		protobuf_c_message_pack(m, buf);
	return buf;
}

ProtobufCMessage *
et_unpack(struct et *st, const Etcdserverpb__KeyValue *kv,
	  const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m;

	m = protobuf_c_message_unpack(desc, NULL, kv->value.len,
				      kv->value.data);
	if (m == NULL)
		et_failf(st, -EBADMSG, "etcd key %.*s: not a %s",
			 (int)kv->key.len, (const char *)kv->key.data,
			 desc->name);
	return m;
}

/* The value of @key as a decimal number (0 when absent). */
static int
get_number(struct et *st, const char *key, uint64_t *v)
{
	Etcdserverpb__RangeResponse *r;
	char buf[32];
	int rc;

	*v = 0;
	rc = etcd_range(st->kv, key, 0, &r, st->base.err, sizeof(st->base.err));
	if (rc < 0)
		return st->base.last = rc;
	if (r->n_kvs == 1) {
		size_t n = r->kvs[0]->value.len;

		snprintf(buf, sizeof(buf), "%.*s", (int)(n < 31 ? n : 31),
			 (const char *)r->kvs[0]->value.data);
		*v = strtoull(buf, NULL, 10);
	}
	etcd_kv_free(r);
	return 0;
}

int
et_current(struct et *st, uint64_t *gen)
{
	char key[ET_KEY_MAX];

	return get_number(st, et_key(st, key, "current"), gen);
}

/* ------------------------------------------------------------------ */
/* Open: "etcd://EP[,EP...][/PREFIX][?ca=F&cert=F&key=F&name=N]"        */
/* ------------------------------------------------------------------ */

struct et_where {
	char endpoints[512];
	char prefix[256];
	char ca[256], cert[256], key[256], name[256];
};

/* One "k=v" of the query into @w. */
static int
where_option(struct et_where *w, const char *opt, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{ "ca=", offsetof(struct et_where, ca) },
		{ "cert=", offsetof(struct et_where, cert) },
		{ "key=", offsetof(struct et_where, key) },
		{ "name=", offsetof(struct et_where, name) },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(*opts); i++) {
		size_t n = strlen(opts[i].name);

		if (len > n && len - n < 256 &&
		    !strncmp(opt, opts[i].name, n)) {
			snprintf((char *)w + opts[i].off, 256, "%.*s",
				 (int)(len - n), opt + n);
			return 0;
		}
	}
	return -EINVAL;
}

static int
where_parse(const char *where, struct et_where *w, char *err, size_t errlen)
{
	const char *p = where + strlen("etcd://");
	size_t ep = strcspn(p, "/?"), pl;

	memset(w, 0, sizeof(*w));
	if (ep == 0 || ep >= sizeof(w->endpoints)) {
		snprintf(err, errlen, "%s: no etcd endpoint (etcd://HOST:PORT)",
			 where);
		return -EINVAL;
	}
	memcpy(w->endpoints, p, ep);
	p += ep;
	pl = strcspn(p, "?");
	while (pl > 1 && p[pl - 1] == '/')
		pl--;
	if (pl > 1 && pl < sizeof(w->prefix) - 1)
		snprintf(w->prefix, sizeof(w->prefix), "%.*s/", (int)pl, p);
	else
		snprintf(w->prefix, sizeof(w->prefix), "%s/",
			 ET_DEFAULT_PREFIX);
	p += strcspn(p, "?");
	while (*p) {
		size_t len = strcspn(++p, "&");

		if (len && where_option(w, p, len) < 0) {
			snprintf(err, errlen,
				 "%s: '%.*s': options are ca=, cert=, key=, "
				 "name=",
				 where, (int)len, p);
			return -EINVAL;
		}
		p += len;
	}
	return 0;
}

/* TLS to etcd when the address names a CA; NULL: plaintext. */
static const struct itm_rpc_tls *
where_tls(const struct et_where *w, struct itm_rpc_tls *tls)
{
	if (w->ca[0] == '\0')
		return NULL;
	tls->ca_file = w->ca;
	tls->cert_file = w->cert[0] ? w->cert : NULL;
	tls->key_file = w->key[0] ? w->key : NULL;
	tls->server_name = w->name[0] ? w->name : NULL;
	return tls;
}

/* A prefix with keys but no schema key is not ITM's: refuse it. */
static int
schema_create(struct et *st, const char *key)
{
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__RequestOp op, *ops[] = { &op };
	Etcdserverpb__Compare *cmps[] = { &cmp };
	Etcdserverpb__TxnResponse *r = NULL;
	Etcdserverpb__PutRequest put;
	char v[16];
	int64_t n;
	int rc;

	rc = etcd_count(st->kv, st->prefix, &n, st->base.err,
			sizeof(st->base.err));
	if (rc < 0)
		return rc;
	if (n > 0)
		return et_failf(st, -EBADMSG,
				"not an itm-controller store: %lld keys under "
				"%s but no %sschema",
				(long long)n, st->prefix, st->prefix);
	cmp.key.data = (uint8_t *)key;
	cmp.key.len = strlen(key);
	cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
	cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
	snprintf(v, sizeof(v), "%d", STORE_SCHEMA_VERSION);
	etcd_op_put(&op, &put, key, v, strlen(v));
	txn.n_compare = 1;
	txn.compare = cmps;
	txn.n_success = 1;
	txn.success = ops;
	rc = etcd_txn(st->kv, &txn, &r, st->base.err, sizeof(st->base.err));
	etcd_kv_free(r); /* lost a race: another controller made it */
	return rc;
}

static int
schema_check(struct et *st)
{
	char key[ET_KEY_MAX];
	uint64_t v;
	int rc;

	et_key(st, key, "schema");
	if ((rc = get_number(st, key, &v)) < 0)
		return rc;
	if (v == 0 && (rc = schema_create(st, key)) < 0)
		return rc;
	if (v > STORE_SCHEMA_VERSION)
		return et_failf(st, -EPROTONOSUPPORT,
				"store schema version %llu is newer than this "
				"itm-controller's (%d)",
				(unsigned long long)v, STORE_SCHEMA_VERSION);
	return 0;
}

static void et_close(struct store *base);

static int
et_open(struct store **out, const char *where, char *err, size_t errlen)
{
	struct et *st = calloc(1, sizeof(*st));
	struct itm_rpc_tls tls = { 0 };
	struct et_where w;
	int rc;

	*out = NULL;
	if (st == NULL)
		return -ENOMEM;
	st->base.ops = &store_etcd_ops;
	rc = where_parse(where, &w, err, errlen);
	if (rc == 0)
		rc = etcd_kv_open(&st->kv, w.endpoints, where_tls(&w, &tls),
				  err, errlen);
	if (rc == 0) {
		snprintf(st->prefix, sizeof(st->prefix), "%s", w.prefix);
		if ((rc = schema_check(st)) < 0)
			snprintf(err, errlen, "%s", st->base.err);
	}
	if (rc < 0) {
		et_close(&st->base);
		return rc;
	}
	*out = &st->base;
	return 0;
}

static void
et_close(struct store *base)
{
	struct et *st = et_of(base);

	et_unwatch(base);
	if (st->lease)
		et_resign(base);
	etcd_kv_close(st->kv);
	free(st);
}

static int
et_schema_version(struct store *base)
{
	struct et *st = et_of(base);
	char key[ET_KEY_MAX];
	uint64_t v;

	if (get_number(st, et_key(st, key, "schema"), &v) < 0)
		return -1;
	return (int)v;
}

/* ------------------------------------------------------------------ */
/* Apply                                                                */
/* ------------------------------------------------------------------ */

static void
now_utc(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char s[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03dZ", s, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The topology's nodes (by name, as topo keeps them) and links. */
struct topo_msg {
	Itm__Store__V1__Topology top;
	Itm__Store__V1__Node *nodes, **node_ptrs;
	Itm__Store__V1__Link *links, **link_ptrs;
	char **labels;
};

static void
topo_msg_free(struct topo_msg *t)
{
	for (size_t i = 0; t->nodes && i < t->top.n_nodes; i++) {
		Itm__Store__V1__Node *n = &t->nodes[i];

		for (size_t j = 0; j < n->n_modules; j++) {
			free(n->modules[j]->params[0]);
			free(n->modules[j]->params);
			free(n->modules[j]);
		}
		free(n->modules);
		free(t->labels[i]);
	}
	free(t->nodes);
	free(t->node_ptrs);
	free(t->links);
	free(t->link_ptrs);
	free(t->labels);
}

/* "k=v,k=v" of a node's labels (topo keeps them by key). */
static char *
labels_str(const struct topo_node *n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n->n_labels; i++)
		len += strlen(n->labels[i].key) + strlen(n->labels[i].value) +
		       2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n->n_labels; i++)
		sprintf(s + strlen(s), "%s%s=%s", i ? "," : "",
			n->labels[i].key, n->labels[i].value);
	return s;
}

/* One module with its params: one allocation for the params (params[0]
 * points at the block of structs, params the array of pointers). */
static Itm__Store__V1__Module *
module_msg(const struct topo_module *m)
{
	Itm__Store__V1__Module *mm = calloc(1, sizeof(*mm));
	Itm__Store__V1__Param *p = calloc(m->n_params + 1, sizeof(*p));

	if (mm) {
		itm__store__v1__module__init(mm);
		mm->params = calloc(m->n_params + 1, sizeof(*mm->params));
	}
	if (!mm || !p || !mm->params) {
		free(p);
		free(mm ? mm->params : NULL);
		free(mm);
		return NULL;
	}
	mm->name = (char *)m->name;
	mm->n_params = m->n_params;
	mm->params[0] = p; /* freed through params[0] even when empty */
	for (size_t j = 0; j < m->n_params; j++) {
		itm__store__v1__param__init(&p[j]);
		p[j].key = (char *)m->params[j].key;
		p[j].value = (char *)m->params[j].value;
		mm->params[j] = &p[j];
	}
	return mm;
}

static int
node_msg(Itm__Store__V1__Node *nm, const struct store_apply *in, size_t i,
	 uint64_t gen, char **labels)
{
	const struct topo_node *n = &in->topo->nodes[i];

	itm__store__v1__node__init(nm);
	nm->name = (char *)n->name;
	nm->mgmt = (char *)n->mgmt;
	nm->overlay = (char *)n->overlay;
	nm->digest = (char *)in->tables->tables[i].digest;
	nm->table_gen = in->table_gens[i] ? in->table_gens[i] : gen;
	if ((*labels = nm->labels = labels_str(n)) == NULL)
		return -ENOMEM;
	nm->modules = calloc(n->n_modules + 1, sizeof(*nm->modules));
	if (nm->modules == NULL)
		return -ENOMEM;
	for (size_t j = 0; j < n->n_modules; j++) {
		if ((nm->modules[j] = module_msg(&n->modules[j])) == NULL)
			return -ENOMEM;
		nm->n_modules++;
	}
	return 0;
}

static void
link_msg(Itm__Store__V1__Link *lm, const struct topo_link *l)
{
	itm__store__v1__link__init(lm);
	lm->a = (char *)l->a;
	lm->b = (char *)l->b;
	lm->cost = l->cost;
	lm->latency_ms = l->latency_ms;
	lm->bandwidth_kbps = l->bandwidth_kbps;
}

static int
topo_msg_build(struct topo_msg *t, const struct store_apply *in, uint64_t gen)
{
	const struct topo_config *cfg = in->topo;
	size_t nn = cfg->n_nodes, nl = cfg->n_links;

	memset(t, 0, sizeof(*t));
	itm__store__v1__topology__init(&t->top);
	t->nodes = calloc(nn + 1, sizeof(*t->nodes));
	t->node_ptrs = calloc(nn + 1, sizeof(*t->node_ptrs));
	t->labels = calloc(nn + 1, sizeof(*t->labels));
	t->links = calloc(nl + 1, sizeof(*t->links));
	t->link_ptrs = calloc(nl + 1, sizeof(*t->link_ptrs));
	if (!t->nodes || !t->node_ptrs || !t->labels || !t->links ||
	    !t->link_ptrs)
		return -ENOMEM;
	t->top.nodes = t->node_ptrs;
	t->top.links = t->link_ptrs;
	for (size_t i = 0; i < nn; i++) {
		t->node_ptrs[i] = &t->nodes[i];
		t->top.n_nodes++;
		if (node_msg(&t->nodes[i], in, i, gen, &t->labels[i]) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nl; i++) {
		t->link_ptrs[i] = &t->links[i];
		link_msg(&t->links[i], &cfg->links[i]);
	}
	t->top.n_links = nl;
	return 0;
}

/* The generation's four values, packed. */
struct apply_vals {
	char k_gen[ET_KEY_MAX], k_yaml[ET_KEY_MAX], k_nodes[ET_KEY_MAX];
	char k_cur[ET_KEY_MAX], cur[24], prev[24];
	uint8_t *gen, *nodes;
	size_t gen_len, nodes_len;
};

static int
apply_values(struct et *st, struct apply_vals *v, const struct store_apply *in,
	     const char *sha256, uint64_t gen)
{
	Itm__Store__V1__Generation g = ITM__STORE__V1__GENERATION__INIT;
	struct topo_msg t;
	char at[32];
	int rc;

	now_utc(at);
	g.id = gen;
	g.applied_at = (char *)(in->applied_at ? in->applied_at : at);
	g.sha256 = (char *)sha256;
	g.comment = (char *)(in->comment ? in->comment : "");
	g.source = (char *)(in->source ? in->source : "");
	g.rollback_of = in->rollback_of;
	g.n_nodes = (uint32_t)in->topo->n_nodes;
	g.n_links = (uint32_t)in->topo->n_links;
	v->gen = et_pack(&g.base, &v->gen_len);
	rc = topo_msg_build(&t, in, gen);
	if (rc == 0)
		v->nodes = et_pack(&t.top.base, &v->nodes_len);
	topo_msg_free(&t);
	if (rc < 0 || !v->gen || !v->nodes)
		return et_fail(st, -ENOMEM, "apply: out of memory");
	et_key(st, v->k_gen, "gen/%020" PRIu64, gen);
	et_key(st, v->k_yaml, "yaml/%020" PRIu64, gen);
	et_key(st, v->k_nodes, "nodes/%020" PRIu64, gen);
	et_key(st, v->k_cur, "current");
	snprintf(v->cur, sizeof(v->cur), "%" PRIu64, gen);
	snprintf(v->prev, sizeof(v->prev), "%" PRIu64, gen - 1);
	return 0;
}

/* A Txn whose first attempt was applied and whose repeat (etcd_kv.c)
 * failed its compare: P/gen/G holds exactly our value. */
static int
stored_by_us(struct et *st, const struct apply_vals *v)
{
	Etcdserverpb__RangeResponse *r;
	char err[256];
	int ours;

	if (etcd_range(st->kv, v->k_gen, 0, &r, err, sizeof(err)) < 0)
		return 0;
	ours = r->n_kvs == 1 && r->kvs[0]->value.len == v->gen_len &&
	       memcmp(r->kvs[0]->value.data, v->gen, v->gen_len) == 0;
	etcd_kv_free(r);
	return ours;
}

/* The Txn: if current is still @gen - 1, write all four keys. */
static int
apply_txn(struct et *st, const struct apply_vals *v,
	  const struct store_apply *in, uint64_t gen)
{
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT,
			      *cmps[] = { &cmp };
	Etcdserverpb__RequestOp op[4],
		*ops[] = { &op[0], &op[1], &op[2], &op[3] };
	Etcdserverpb__PutRequest put[4];
	Etcdserverpb__TxnResponse *r = NULL;
	int rc;

	cmp.key.data = (uint8_t *)v->k_cur;
	cmp.key.len = strlen(v->k_cur);
	if (gen == 1) { /* no current key yet */
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
		cmp.target_union_case =
			ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
	} else {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
		cmp.target_union_case =
			ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
		cmp.value.data = (uint8_t *)v->prev;
		cmp.value.len = strlen(v->prev);
	}
	etcd_op_put(&op[0], &put[0], v->k_gen, v->gen, v->gen_len);
	etcd_op_put(&op[1], &put[1], v->k_yaml, in->yaml, in->len);
	etcd_op_put(&op[2], &put[2], v->k_nodes, v->nodes, v->nodes_len);
	etcd_op_put(&op[3], &put[3], v->k_cur, v->cur, strlen(v->cur));
	txn.n_compare = 1;
	txn.compare = cmps;
	txn.n_success = 4;
	txn.success = ops;
	store_pause_hook();
	rc = etcd_txn(st->kv, &txn, &r, st->base.err, sizeof(st->base.err));
	if (rc == 0 && !r->succeeded && !stored_by_us(st, v))
		rc = et_failf(st, -EBUSY,
			      "apply: generation %" PRIu64 " was stored by "
			      "another controller meanwhile; apply again",
			      gen);
	etcd_kv_free(r);
	return rc < 0 ? (st->base.last = rc) : 0;
}

static int
et_apply(struct store *base, const struct store_apply *in, const char *sha256,
	 uint64_t *gen)
{
	struct et *st = et_of(base);
	struct apply_vals *v = calloc(1, sizeof(*v));
	uint64_t cur;
	int rc;

	int deadline;

	if (v == NULL)
		return et_fail(st, -ENOMEM, "apply: out of memory");
	deadline = etcd_kv_deadline(st->kv, ETCD_KV_APPLY_DEADLINE_MS);
	rc = et_current(st, &cur);
	if (rc == 0)
		rc = apply_values(st, v, in, sha256, cur + 1);
	if (rc == 0)
		rc = apply_txn(st, v, in, cur + 1);
	if (rc == 0)
		*gen = cur + 1;
	etcd_kv_deadline(st->kv, deadline);
	free(v->gen);
	free(v->nodes);
	free(v);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Generations                                                          */
/* ------------------------------------------------------------------ */

static int
et_current_op(struct store *base, uint64_t *gen)
{
	return et_current(et_of(base), gen);
}

static int
gen_from(struct et *st, const Etcdserverpb__KeyValue *kv, struct store_gen *g)
{
	Itm__Store__V1__Generation *m;

	memset(g, 0, sizeof(*g));
	m = (Itm__Store__V1__Generation *)
		et_unpack(st, kv, &itm__store__v1__generation__descriptor);
	if (m == NULL)
		return st->base.last;
	g->id = m->id;
	snprintf(g->applied_at, sizeof(g->applied_at), "%s", m->applied_at);
	snprintf(g->sha256, sizeof(g->sha256), "%s", m->sha256);
	g->comment = strdup(m->comment);
	g->source = strdup(m->source);
	g->rollback_of = m->rollback_of;
	g->n_nodes = m->n_nodes;
	g->n_links = m->n_links;
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return g->comment && g->source ? 0 : et_fail(st, -ENOMEM, "no memory");
}

static int
et_history(struct store *base, struct store_gen **out, size_t *n)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *r;
	char key[ET_KEY_MAX];
	int rc;

	*out = NULL;
	*n = 0;
	rc = etcd_range(st->kv, et_key(st, key, "gen/"), 1, &r, st->base.err,
			sizeof(st->base.err));
	if (rc < 0)
		return st->base.last = rc;
	if (r->n_kvs && (*out = calloc(r->n_kvs, sizeof(**out))) == NULL)
		rc = et_fail(st, -ENOMEM, "history: out of memory");
	for (size_t i = 0; rc == 0 && i < r->n_kvs; i++, (*n)++)
		rc = gen_from(st, r->kvs[i], &(*out)[i]);
	etcd_kv_free(r);
	if (rc < 0) {
		store_history_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The one value of @key, or -ENOENT. */
static int
get_one(struct et *st, const char *key, Etcdserverpb__RangeResponse **r)
{
	int rc = etcd_range(st->kv, key, 0, r, st->base.err,
			    sizeof(st->base.err));

	if (rc < 0)
		return st->base.last = rc;
	if ((*r)->n_kvs == 1)
		return 0;
	etcd_kv_free(*r);
	*r = NULL;
	return -ENOENT;
}

static int
yaml_copy(struct et *st, uint64_t gen, char **yaml, size_t *len)
{
	Etcdserverpb__RangeResponse *r;
	char key[ET_KEY_MAX];
	int rc;

	rc = get_one(st, et_key(st, key, "yaml/%020" PRIu64, gen), &r);
	if (rc == -ENOENT)
		return et_failf(st, -EBADMSG, "%s missing", key);
	if (rc < 0)
		return rc;
	*len = r->kvs[0]->value.len;
	if ((*yaml = malloc(*len + 1)) != NULL) {
		memcpy(*yaml, r->kvs[0]->value.data, *len);
		(*yaml)[*len] = '\0';
	}
	etcd_kv_free(r);
	return *yaml ? 0 : et_fail(st, -ENOMEM, "yaml: out of memory");
}

static int
et_yaml(struct store *base, uint64_t gen, char **yaml, size_t *len,
	struct store_gen *info)
{
	struct et *st = et_of(base);
	Etcdserverpb__RangeResponse *r = NULL;
	struct store_gen g;
	char key[ET_KEY_MAX];
	uint64_t want = gen;
	int rc;

	*yaml = NULL;
	if (want == 0 && (rc = et_current(st, &want)) < 0)
		return rc;
	rc = get_one(st, et_key(st, key, "gen/%020" PRIu64, want), &r);
	if (rc == -ENOENT)
		return et_failf(st, -ENOENT, "no generation %llu",
				(unsigned long long)gen);
	if (rc == 0)
		rc = gen_from(st, r->kvs[0], &g);
	etcd_kv_free(r);
	if (rc < 0)
		return rc;
	rc = yaml_copy(st, want, yaml, len);
	if (rc == 0 && info)
		*info = g;
	else
		store_gen_clear(&g);
	return rc;
}

const struct store_ops store_etcd_ops = {
	.name = "etcd",
	.open = et_open,
	.close = et_close,
	.schema_version = et_schema_version,
	.apply = et_apply,
	.current = et_current_op,
	.history = et_history,
	.yaml = et_yaml,
	.nodes = et_nodes,
	.agents_seen = et_agents_seen,
	.agent_acks = et_agent_acks,
	.placements = et_placements,
	.placed_nodes = et_placed_nodes,
	.placement_set = et_placement_set,
	.placement_del = et_placement_del,
	.lead = et_lead,
	.resign = et_resign,
	.health = et_health,
	.watch = et_watch,
	.unwatch = et_unwatch,
};
