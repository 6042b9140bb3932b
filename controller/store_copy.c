/*
 * store_copy.c - store_copy() (store.h): one store's whole content into
 * an empty other, through the store's calls only, so it copies between
 * any two backends (itm-controller --import / --export: SQLite to etcd
 * and back).  Generations are applied again in order with their stored
 * YAML, parsed and their tables computed as the controller does; the
 * table generations follow the controller's rule (neigh_table_gens) and
 * the current generation's are the source's own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct copy {
	struct store *dst, *src;
	char *err;
	size_t errlen;
	struct store_node *last; /* the source's current nodes */
	size_t n_last;
	struct topo_config *prev_topo; /* the generation copied before */
	struct neigh_set *prev;
	uint64_t *prev_gens;
};

static int __attribute__((format(printf, 3, 4)))
copy_fail(struct copy *c, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* The current generation's table generations as the source holds them. */
static void
gens_of_source(struct copy *c, const struct neigh_set *next, uint64_t *gens)
{
	for (size_t i = 0; i < next->n; i++)
		for (size_t j = 0; j < c->n_last; j++)
			if (strcmp(c->last[j].name, next->tables[i].node) == 0)
				gens[i] = c->last[j].want_gen;
}

/* @topo's tables and their generations into @in; keeps them in @c for
 * the next generation. */
static int
stage(struct copy *c, const struct store_gen *g, struct topo_config *topo,
      int is_last, struct store_apply *in)
{
	struct neigh_set *next;
	uint64_t *gens;

	if (neigh_build(topo, &next) < 0)
		return -ENOMEM;
	if ((gens = calloc(next->n + 1, sizeof(*gens))) == NULL) {
		neigh_set_free(next);
		return -ENOMEM;
	}
	neigh_table_gens(c->prev, c->prev_gens, next, gens);
	if (is_last)
		gens_of_source(c, next, gens);
	in->topo = topo;
	in->tables = next;
	in->table_gens = gens;
	for (size_t i = 0; i < next->n; i++)
		if (gens[i] == 0)
			gens[i] = g->id; /* absolute, for the next one */
	free(c->prev_gens);
	neigh_set_free(c->prev);
	topo_config_free(c->prev_topo);
	c->prev_topo = topo;
	c->prev = next;
	c->prev_gens = gens;
	return 0;
}

static int
parse(struct copy *c, const struct store_gen *g, const char *yaml, size_t len,
      struct topo_config **topo)
{
	struct topo_errors errs;
	int rc;

	topo_errors_init(&errs);
	rc = topo_parse(yaml, len, g->source, topo, &errs);
	topo_errors_free(&errs);
	return rc < 0 ? copy_fail(c, -EBADMSG,
				  "generation %llu: its YAML does not parse",
				  (unsigned long long)g->id)
		      : 0;
}

static int
copy_gen(struct copy *c, const struct store_gen *g, int is_last)
{
	struct store_apply in = { .source = g->source,
				  .comment = g->comment,
				  .rollback_of = g->rollback_of,
				  .applied_at = g->applied_at };
	struct topo_config *topo;
	uint64_t id = 0;
	char *yaml;
	int rc;

	if ((rc = store_yaml(c->src, g->id, &yaml, &in.len, NULL)) < 0)
		return copy_fail(c, rc, "source: %s", store_errmsg(c->src));
	in.yaml = yaml;
	rc = parse(c, g, yaml, in.len, &topo);
	if (rc == 0 && (rc = stage(c, g, topo, is_last, &in)) < 0)
		copy_fail(c, rc, "%s", "out of memory");
	if (rc == 0 && (rc = store_apply(c->dst, &in, &id)) < 0)
		copy_fail(c, rc, "destination: %s", store_errmsg(c->dst));
	free(yaml);
	if (rc == 0 && id != g->id)
		return copy_fail(c, -EBADMSG,
				 "generation numbers of the source are not "
				 "1, 2, 3...: %llu was stored as %llu",
				 (unsigned long long)g->id,
				 (unsigned long long)id);
	return rc;
}

/* Liveness and placements of the source's current nodes. */
static int
copy_agent(struct copy *c, const struct store_node *n)
{
	struct store_placement *p;
	size_t np;
	int rc = 0;

	if (n->last_seen_ms || n->agent_addr[0])
		rc = store_agent_seen(c->dst, n->name, n->agent_addr,
				      n->version, n->last_seen_ms);
	if (rc == 0 && n->acked_gen)
		rc = store_agent_ack(c->dst, n->name, n->acked_gen);
	if (rc < 0)
		return copy_fail(c, rc, "destination: %s",
				 store_errmsg(c->dst));
	if ((rc = store_placements(c->src, n->name, &p, &np)) < 0)
		return copy_fail(c, rc, "source: %s", store_errmsg(c->src));
	for (size_t i = 0; rc == 0 && i < np; i++)
		rc = store_placement_set(c->dst, n->name, p[i].module,
					 p[i].params, p[i].gen, 0);
	store_placements_free(p, np);
	return rc < 0 ? copy_fail(c, rc, "destination: %s",
				  store_errmsg(c->dst))
		      : 0;
}

static int
copy_all(struct copy *c, size_t *n_gens)
{
	struct store_gen *h;
	size_t n;
	int rc;

	if ((rc = store_history(c->src, &h, &n)) < 0)
		return copy_fail(c, rc, "source: %s", store_errmsg(c->src));
	for (size_t i = 0; rc == 0 && i < n; i++, (*n_gens)++)
		rc = copy_gen(c, &h[i], i + 1 == n);
	store_history_free(h, n);
	for (size_t i = 0; rc == 0 && i < c->n_last; i++)
		rc = copy_agent(c, &c->last[i]);
	return rc;
}

int
store_copy(struct store *dst, struct store *src, size_t *n_gens, char *err,
	   size_t errlen)
{
	struct copy c = { .dst = dst,
			  .src = src,
			  .err = err,
			  .errlen = errlen };
	uint64_t cur;
	int rc;

	*n_gens = 0;
	if ((rc = store_current(dst, &cur)) < 0)
		return copy_fail(&c, rc, "destination: %s", store_errmsg(dst));
	if (cur != 0) {
		snprintf(err, errlen,
			 "the destination is not empty: it holds generation "
			 "%llu",
			 (unsigned long long)cur);
		return -EEXIST;
	}
	if ((rc = store_nodes(src, &c.last, &c.n_last)) < 0)
		return copy_fail(&c, rc, "source: %s", store_errmsg(src));
	rc = copy_all(&c, n_gens);
	store_nodes_free(c.last, c.n_last);
	free(c.prev_gens);
	neigh_set_free(c.prev);
	topo_config_free(c.prev_topo);
	return rc;
}
