/*
 * topo_xref.c - checks across the whole topology once every node and link
 * has been read: unique node names, unique management and overlay
 * addresses, underlay addresses that are unique (unless two nodes share
 * the host of their mgmt and give none) and no overlay address, link ends
 * that name known nodes, no self-links and no link listed twice (in
 * either order).  Then, if all is well, puts nodes and
 * links in canonical order (by name) for the rest of the controller.
 *
 * Duplicates are found by sorting, so a topology of thousands of links
 * costs n log n, and each is reported at its later occurrence with the
 * line of the first.
 */
#include <stdlib.h>
#include <string.h>

#include "topo_int.h"

/* One sortable reference: a key string, its line, its index in the file. */
struct ref {
	const char *key;
	const char *key2;
	int line;
	size_t idx;
};

static int
ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int d = strcmp(x->key, y->key);

	if (d == 0 && x->key2 && y->key2)
		d = strcmp(x->key2, y->key2);
	if (d == 0)
		d = x->line < y->line ? -1 : x->line > y->line;
	return d;
}

static int
ref_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ref *)a)->key,
		      ((const struct ref *)b)->key);
}

static int
ref_same(const struct ref *x, const struct ref *y)
{
	return !strcmp(x->key, y->key) &&
	       (!x->key2 || !y->key2 || !strcmp(x->key2, y->key2));
}

typedef void (*dup_func)(struct topo_ctx *c, const struct ref *first,
			 const struct ref *again);

/* Sort @n refs and call @dup for each repeat of an earlier key. */
static void
find_dups(struct topo_ctx *c, struct ref *r, size_t n, dup_func dup)
{
	if (n > 1)
		qsort(r, n, sizeof(*r), ref_cmp);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (ref_same(&r[first], &r[i]))
			dup(c, &r[first], &r[i]);
		else
			first = i;
	}
}

static void
dup_name(struct topo_ctx *c, const struct ref *first, const struct ref *again)
{
	topo_fault(c, again->line,
		   "nodes[%zu].name: duplicate node '%s' "
		   "(first at line %d)",
		   again->idx, again->key, first->line);
}

static void
dup_mgmt(struct topo_ctx *c, const struct ref *first, const struct ref *again)
{
	topo_fault(c, again->line,
		   "nodes[%zu].mgmt: %s is already the "
		   "address of nodes[%zu] (line %d)",
		   again->idx, again->key, first->idx, first->line);
}

static void
dup_overlay(struct topo_ctx *c, const struct ref *first,
	    const struct ref *again)
{
	topo_fault(c, again->line,
		   "nodes[%zu].overlay: %s is already the "
		   "overlay address of nodes[%zu] (line %d)",
		   again->idx, again->key, first->idx, first->line);
}

static void
dup_link(struct topo_ctx *c, const struct ref *first, const struct ref *again)
{
	topo_fault(c, again->line,
		   "links[%zu].between: duplicate link "
		   "%s -- %s (first at line %d)",
		   again->idx, again->key, again->key2, first->line);
}

/* The line of a node's underlay: its own, or mgmt's when defaulted. */
static int
underlay_line(const struct topo_ctx *c, size_t i)
{
	return c->nsrc[i].underlay_line ? c->nsrc[i].underlay_line
					: c->nsrc[i].mgmt_line;
}

/* Nodes on one host may share its address when neither says otherwise. */
static void
dup_underlay(struct topo_ctx *c, const struct ref *first,
	     const struct ref *again)
{
	if (!c->nsrc[first->idx].underlay_line &&
	    !c->nsrc[again->idx].underlay_line)
		return;
	topo_fault(c, again->line,
		   "nodes[%zu].underlay: %s is already the "
		   "underlay address of nodes[%zu] (line %d)",
		   again->idx, again->key, first->idx, first->line);
}

/* An overlay address must not be where the underlay reaches a node. */
static void
underlay_not_overlay(struct topo_ctx *c, struct ref *r)
{
	size_t n = 0;

	for (size_t i = 0; i < c->cfg->n_nodes; i++)
		if (c->cfg->nodes[i].overlay)
			r[n++] = (struct ref){ c->cfg->nodes[i].overlay, NULL,
					       c->nsrc[i].overlay_line, i };
	if (n > 1)
		qsort(r, n, sizeof(*r), ref_cmp);
	for (size_t i = 0; i < c->cfg->n_nodes; i++) {
		const char *u = c->cfg->nodes[i].underlay;
		struct ref key = { u, NULL, 0, 0 }, *hit;

		if (u == NULL || u[0] == '\0' ||
		    (hit = bsearch(&key, r, n, sizeof(*r), ref_key_cmp)) ==
			    NULL)
			continue;
		topo_fault(c, underlay_line(c, i),
			   "nodes[%zu].underlay: %s is the overlay address "
			   "of nodes[%zu] (line %d): the underlay must not "
			   "reach overlay addresses",
			   i, u, hit->idx, hit->line);
	}
}

/* Which node field a node check reads. */
enum node_key { KEY_NAME, KEY_MGMT, KEY_OVERLAY, KEY_UNDERLAY };

static void
node_dups(struct topo_ctx *c, struct ref *r, enum node_key which)
{
	static const dup_func dup[] = { dup_name, dup_mgmt, dup_overlay,
					dup_underlay };
	size_t n = 0;

	for (size_t i = 0; i < c->cfg->n_nodes; i++) {
		const struct topo_node *node = &c->cfg->nodes[i];
		const struct topo_node_src *src = &c->nsrc[i];
		const char *key[] = { node->name, node->mgmt, node->overlay,
				      node->underlay };
		int line[] = { src->name_line, src->mgmt_line,
			       src->overlay_line, underlay_line(c, i) };

		if (key[which] && key[which][0])
			r[n++] = (struct ref){ key[which], NULL, line[which],
					       i };
	}
	find_dups(c, r, n, dup[which]);
}

/* The node a link end names: index into nodes[], or -1. */
static long
lookup(const struct ref *names, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, names[mid].key);

		if (d == 0)
			return (long)names[mid].idx;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Resolve both ends of link @i; 0 when it joins two distinct nodes. */
static int
link_ends(struct topo_ctx *c, const struct ref *names, size_t nn, size_t i)
{
	struct topo_link *l = &c->cfg->links[i];
	struct topo_link_src *src = &c->lsrc[i];
	long end[2];

	for (int e = 0; e < 2; e++) {
		if (src->end[e] == NULL)
			return -1;
		end[e] = lookup(names, nn, src->end[e]);
		if (end[e] < 0) {
			topo_fault(c, src->end_line[e],
				   "links[%zu].between[%d]: "
				   "unknown node '%s'",
				   i, e, src->end[e]);
			return -1;
		}
	}
	if (c->cfg->nodes[end[0]].name == NULL ||
	    c->cfg->nodes[end[1]].name == NULL)
		return -1; /* the bad node name is reported already */
	if (end[0] == end[1]) {
		topo_fault(c, src->end_line[0],
			   "links[%zu].between: a link "
			   "from node '%s' to itself",
			   i, src->end[0]);
		return -1;
	}
	l->ia = (size_t)(end[0] < end[1] ? end[0] : end[1]);
	l->ib = (size_t)(end[0] < end[1] ? end[1] : end[0]);
	if (strcmp(c->cfg->nodes[l->ia].name, c->cfg->nodes[l->ib].name) > 0) {
		size_t t = l->ia;

		l->ia = l->ib;
		l->ib = t;
	}
	l->a = c->cfg->nodes[l->ia].name;
	l->b = c->cfg->nodes[l->ib].name;
	return 0;
}

static void
link_checks(struct topo_ctx *c, struct ref *r)
{
	size_t nn = 0, nl = 0;

	if (!c->have_nodes) /* nothing to check the ends against */
		return;
	/* Raw names, valid or not, so a link to a badly named node does
	 * not add "unknown node" to the fault about the name itself. */
	for (size_t i = 0; i < c->cfg->n_nodes; i++)
		if (c->nsrc[i].raw_name)
			r[nn++] =
				(struct ref){ c->nsrc[i].raw_name, NULL, 0, i };
	if (nn > 1)
		qsort(r, nn, sizeof(*r), ref_cmp);
	for (size_t i = 0; i < c->cfg->n_links; i++)
		if (link_ends(c, r, nn, i) < 0)
			c->lsrc[i].ok = 0;
	for (size_t i = 0; i < c->cfg->n_links; i++) {
		const struct topo_link *l = &c->cfg->links[i];

		if (l->a)
			r[nl++] = (struct ref){ l->a, l->b, l->line, i };
	}
	find_dups(c, r, nl, dup_link);
}

/* ------------------------------------------------------------------ */
/* Canonical order                                                      */
/* ------------------------------------------------------------------ */

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct topo_node *)a)->name,
		      ((const struct topo_node *)b)->name);
}

static int
link_cmp(const void *a, const void *b)
{
	const struct topo_link *x = a, *y = b;
	int d = strcmp(x->a, y->a);

	return d ? d : strcmp(x->b, y->b);
}

static int
kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct topo_kv *)a)->key,
		      ((const struct topo_kv *)b)->key);
}

/* Sort nodes, labels and links; link indices follow their nodes. */
static void
canonical_order(struct topo_config *cfg)
{
	if (cfg->n_nodes > 1)
		qsort(cfg->nodes, cfg->n_nodes, sizeof(*cfg->nodes), node_cmp);
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].n_labels > 1) /* labels may be NULL */
			qsort(cfg->nodes[i].labels, cfg->nodes[i].n_labels,
			      sizeof(struct topo_kv), kv_cmp);
	if (cfg->n_links > 1)
		qsort(cfg->links, cfg->n_links, sizeof(*cfg->links), link_cmp);
	for (size_t i = 0; i < cfg->n_links; i++) {
		struct topo_link *l = &cfg->links[i];

		l->ia = (size_t)(topo_node_find(cfg, l->a) - cfg->nodes);
		l->ib = (size_t)(topo_node_find(cfg, l->b) - cfg->nodes);
	}
}

void
topo_xref(struct topo_ctx *c)
{
	size_t n = c->cfg->n_nodes > c->cfg->n_links ? c->cfg->n_nodes
						     : c->cfg->n_links;
	struct ref *r = calloc(n ? n : 1, sizeof(*r));

	if (r == NULL) {
		c->oom = 1;
		return;
	}
	node_dups(c, r, KEY_NAME);
	node_dups(c, r, KEY_MGMT);
	node_dups(c, r, KEY_OVERLAY);
	node_dups(c, r, KEY_UNDERLAY);
	underlay_not_overlay(c, r);
	link_checks(c, r);
	free(r);
	topo_tunnel_xref(c);
	if (c->n_faults == 0 && c->dropped == 0)
		canonical_order(c->cfg);
}
