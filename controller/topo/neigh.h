/*
 * neigh.h - each node's neighbour table, computed from a topology.
 *
 * A node's neighbours are the nodes it shares a link with, with that
 * link's attributes, sorted by name.  Each table has a digest (SHA-256 over
 * a canonical encoding of exactly what is pushed, generation excluded), so
 * an apply can tell which nodes' tables changed ("updated") and which did
 * not ("unchanged") without comparing field by field.  A push carries
 * (node, generation, table).
 */
#ifndef ITM_NEIGH_H
#define ITM_NEIGH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "topo.h"

#define NEIGH_DIGEST_HEX 65 /* 64 hex digits and a NUL */

struct neigh_entry {
	const char *node; /* strings borrowed from the config */
	const char *mgmt;
	const char *overlay;
	uint32_t cost;
	uint32_t latency_ms;
	uint64_t bandwidth_kbps;
};

struct neigh_table {
	const char *node;
	const char *mgmt; /* where this node's agent listens */
	const char *overlay;
	struct neigh_entry *v; /* sorted by node name */
	size_t n;
	char digest[NEIGH_DIGEST_HEX];
};

struct neigh_set {
	struct neigh_table *tables; /* one per node, sorted by name */
	size_t n;
};

/*
 * Build every node's table from @cfg.  The set borrows the config's
 * strings: free the set (neigh_set_free) before the config.
 * Returns 0 or -ENOMEM.
 */
int neigh_build(const struct topo_config *cfg, struct neigh_set **out);
void neigh_set_free(struct neigh_set *set);

const struct neigh_table *neigh_find(const struct neigh_set *set,
				     const char *node);

/*
 * Versions of @next's tables, in its order, into @gens: a node whose
 * table has the same digest in @prev keeps its version there
 * (@prev_gens, in @prev's order); any other gets 0, "the new
 * generation".  @prev may be NULL (nothing applied before).  So an apply
 * re-versions, and pushes, only the tables it changes.
 */
void neigh_table_gens(const struct neigh_set *prev, const uint64_t *prev_gens,
		      const struct neigh_set *next, uint64_t *gens);

/* The table as text, one neighbour a line (tests and logs). */
void neigh_print(const struct neigh_table *t, FILE *f);

#endif /* ITM_NEIGH_H */
