/*
 * table.c - the overlay table of the module API: built once from plain
 * fields, checked as untrusted input, counted, looked up; and the lists
 * of table functions modules register (see table.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "table.h"

#define NAME_MAX_LEN 63
#define MGMT_MAX_LEN 255

struct itm__table {
	struct itm_table pub; /* first */
	unsigned int refs;
	struct itm_node *nodes;
	struct itm_neighbour *nb;
	char *strings; /* names and mgmt addresses */
	size_t used, cap;
};

/* ------------------------------------------------------------------ */
/* Checks                                                               */
/* ------------------------------------------------------------------ */

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
text_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* "" (not known) or an IPv4 / IPv6 address, parsed into @a. */
static int
addr_parse(const char *s, struct itm_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL || s[0] == '\0')
		return 0;
	if (strlen(s) >= sizeof(a->text))
		return -1;
	if (inet_pton(AF_INET, s, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a->v6) == 1)
		a->family = AF_INET6;
	else
		return -1;
	inet_ntop(a->family, &a->v6, a->text, sizeof(a->text));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Building                                                             */
/* ------------------------------------------------------------------ */

static const char *
keep(struct itm__table *t, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = t->strings + t->used;

	memcpy(p, s, n); /* room counted by table_alloc */
	t->used += n;
	return p;
}

/* @src->nodes, then self when not among them: into t->nodes. */
static int
add_node(struct itm__table *t, const struct itm__table_src_node *s,
	 const char *field, char *err, size_t errlen)
{
	struct itm_node *n = &t->nodes[t->pub.n_nodes];

	if (!text_ok(s->name, NAME_MAX_LEN))
		return bad(err, errlen,
			   "%snode: '%.64s': want 1..%d printable "
			   "characters",
			   field, s->name ? s->name : "", NAME_MAX_LEN);
	if (addr_parse(s->overlay, &n->overlay) < 0)
		return bad(err, errlen,
			   "%soverlay_addr: '%.64s' is not an "
			   "address",
			   field, s->overlay);
	if (addr_parse(s->underlay, &n->underlay) < 0)
		return bad(err, errlen,
			   "%sunderlay_addr: '%.64s' is not an "
			   "address",
			   field, s->underlay);
	n->name = keep(t, s->name);
	t->pub.n_nodes++;
	return 0;
}

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct itm_node *)a)->name,
		      ((const struct itm_node *)b)->name);
}

static int
self_listed(const struct itm__table_src *src)
{
	for (size_t i = 0; i < src->n_nodes; i++)
		if (src->nodes[i].name && src->self.name &&
		    strcmp(src->nodes[i].name, src->self.name) == 0)
			return 1;
	return 0;
}

static int
table_nodes(struct itm__table *t, const struct itm__table_src *src, char *err,
	    size_t errlen)
{
	char field[48];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < src->n_nodes; i++) {
		snprintf(field, sizeof(field), "nodes[%zu].", i);
		rc = add_node(t, &src->nodes[i], field, err, errlen);
	}
	if (rc == 0 && !self_listed(src))
		rc = add_node(t, &src->self, "", err, errlen);
	if (rc < 0)
		return rc;
	qsort(t->nodes, t->pub.n_nodes, sizeof(*t->nodes), node_cmp);
	for (size_t i = 1; i < t->pub.n_nodes; i++)
		if (strcmp(t->nodes[i - 1].name, t->nodes[i].name) == 0)
			return bad(err, errlen, "nodes: '%s' is listed twice",
				   t->nodes[i].name);
	t->pub.nodes = t->nodes;
	t->pub.self = itm_table_node(&t->pub, src->self.name);
	return 0;
}

static int
nb_cmp(const void *a, const void *b)
{
	return strcmp(((const struct itm_neighbour *)a)->node->name,
		      ((const struct itm_neighbour *)b)->node->name);
}

static int
table_neighbours(struct itm__table *t, const struct itm__table_src *src,
		 char *err, size_t errlen)
{
	for (size_t i = 0; i < src->n_neighbours; i++) {
		const struct itm__table_src_neighbour *s = &src->neighbours[i];
		struct itm_neighbour *n = &t->nb[i];

		n->node = s->name ? itm_table_node(&t->pub, s->name) : NULL;
		if (n->node == NULL)
			return bad(err, errlen,
				   "neighbours[%zu].node: '%.64s' "
				   "is not among the nodes",
				   i, s->name ? s->name : "");
		if (s->mgmt && strlen(s->mgmt) > MGMT_MAX_LEN)
			return bad(err, errlen,
				   "neighbours[%zu].mgmt_addr: "
				   "longer than %d",
				   i, MGMT_MAX_LEN);
		n->mgmt = keep(t, s->mgmt ? s->mgmt : "");
		n->cost = s->cost;
		n->latency_ms = s->latency_ms;
		n->bandwidth_kbps = s->bandwidth_kbps;
	}
	t->pub.n_neighbours = src->n_neighbours;
	qsort(t->nb, src->n_neighbours, sizeof(*t->nb), nb_cmp);
	for (size_t i = 1; i < src->n_neighbours; i++)
		if (t->nb[i - 1].node == t->nb[i].node)
			return bad(err, errlen,
				   "neighbours: '%s' is listed "
				   "twice",
				   t->nb[i].node->name);
	t->pub.neighbours = t->nb;
	return 0;
}

static size_t
strings_size(const struct itm__table_src *src)
{
	size_t n = (src->self.name ? strlen(src->self.name) : 0) + 1;

	for (size_t i = 0; i < src->n_nodes; i++)
		n += (src->nodes[i].name ? strlen(src->nodes[i].name) : 0) + 1;
	for (size_t i = 0; i < src->n_neighbours; i++)
		n += (src->neighbours[i].mgmt ? strlen(src->neighbours[i].mgmt)
					      : 0) +
		     1;
	return n;
}

static struct itm__table *
table_alloc(const struct itm__table_src *src)
{
	struct itm__table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->refs = 1;
	t->cap = strings_size(src);
	t->strings = malloc(t->cap);
	t->nodes = calloc(src->n_nodes + 1, sizeof(*t->nodes));
	t->nb = calloc(src->n_neighbours + 1, sizeof(*t->nb));
	if (t->strings == NULL || t->nodes == NULL || t->nb == NULL) {
		itm__table_unref(t);
		return NULL;
	}
	return t;
}

int
itm__table_new(const struct itm__table_src *src, struct itm__table **out,
	       char *err, size_t errlen)
{
	struct itm__table *t;
	int rc;

	*out = NULL;
	if (src->generation == 0)
		return bad(err, errlen, "generation: must be > 0");
	if (src->n_nodes > ITM__TABLE_MAX_NODES ||
	    src->n_neighbours > ITM__TABLE_MAX_NODES)
		return bad(err, errlen, "more than %d nodes or neighbours",
			   ITM__TABLE_MAX_NODES);
	if ((t = table_alloc(src)) == NULL)
		return -ENOMEM;
	t->pub.generation = src->generation;
	rc = table_nodes(t, src, err, errlen);
	if (rc == 0)
		rc = table_neighbours(t, src, err, errlen);
	if (rc < 0) {
		itm__table_unref(t);
		return rc;
	}
	*out = t;
	return 0;
}

struct itm__table *
itm__table_ref(struct itm__table *t)
{
	if (t)
		t->refs++;
	return t;
}

void
itm__table_unref(struct itm__table *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	free(t->strings);
	free(t->nodes);
	free(t->nb);
	free(t);
}

const struct itm_table *
itm__table_pub(const struct itm__table *t)
{
	return t ? &t->pub : NULL;
}

/* ------------------------------------------------------------------ */
/* Lookups (public)                                                     */
/* ------------------------------------------------------------------ */

const struct itm_node *
itm_table_node(const struct itm_table *t, const char *name)
{
	size_t lo = 0, hi = t && name ? t->n_nodes : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, t->nodes[mid].name);

		if (d == 0)
			return &t->nodes[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct itm_node *
itm_table_node_by_underlay(const struct itm_table *t, int family,
			   const void *addr)
{
	size_t len = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;

	for (size_t i = 0; t && addr && len && i < t->n_nodes; i++)
		if (t->nodes[i].underlay.family == family &&
		    memcmp(&t->nodes[i].underlay.v6, addr, len) == 0)
			return &t->nodes[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Table functions                                                      */
/* ------------------------------------------------------------------ */

int
itm__table_funcs_add(struct itm__table_funcs *fs, itm_table_func f, void *arg)
{
	if (f == NULL) {
		itm__set_error("itm_register_table_func: no function");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < fs->n; i++)
		if (fs->v[i].f == f && fs->v[i].arg == arg) {
			itm__set_error("table function already registered");
			return -EEXIST;
		}
	if (fs->n == ITM__TABLE_MAX_FUNCS) {
		itm__set_error("more than %d table functions",
			       ITM__TABLE_MAX_FUNCS);
		return -ENOSPC;
	}
	fs->v[fs->n].f = f;
	fs->v[fs->n].arg = arg;
	fs->n++;
	return 0;
}

int
itm__table_funcs_del(struct itm__table_funcs *fs, itm_table_func f, void *arg)
{
	for (unsigned int i = 0; i < fs->n; i++)
		if (fs->v[i].f == f && fs->v[i].arg == arg) {
			fs->v[i] = fs->v[--fs->n];
			return 0;
		}
	itm__set_error("table function not registered");
	return -ENOENT;
}

static int
funcs_has(const struct itm__table_funcs *fs, itm_table_func f, void *arg)
{
	for (unsigned int i = 0; i < fs->n; i++)
		if (fs->v[i].f == f && fs->v[i].arg == arg)
			return 1;
	return 0;
}

/* Those registered when the round starts and still registered when their
 * turn comes. */
void
itm__table_funcs_call(const struct itm__table_funcs *fs,
		      const struct itm_table *t)
{
	struct itm__table_funcs copy = *fs;

	for (unsigned int i = 0; i < copy.n; i++)
		if (funcs_has(fs, copy.v[i].f, copy.v[i].arg))
			copy.v[i].f(t, copy.v[i].arg);
}
