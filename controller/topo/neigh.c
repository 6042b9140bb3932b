/*
 * neigh.c - neighbour tables from a topology, and their digests.
 *
 * Building is two passes over the links (count degrees, then fill), so it
 * is linear in the size of the topology plus one small sort per node.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "neigh.h"

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct neigh_entry *)a)->node,
		      ((const struct neigh_entry *)b)->node);
}

static void
entry_set(struct neigh_entry *e, const struct topo_node *peer,
	  const struct topo_link *l)
{
	e->node = peer->name;
	e->mgmt = peer->mgmt;
	e->overlay = peer->overlay;
	e->cost = l->cost;
	e->latency_ms = l->latency_ms;
	e->bandwidth_kbps = l->bandwidth_kbps;
}

static void
put_str(EVP_MD_CTX *md, const char *s)
{
	EVP_DigestUpdate(md, s, strlen(s) + 1); /* NUL included */
}

static void
put_u64(EVP_MD_CTX *md, uint64_t v)
{
	unsigned char b[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)v;
	EVP_DigestUpdate(md, b, sizeof(b));
}

/* SHA-256 over a versioned, unambiguous encoding (strings end in NUL). */
static int
table_digest(struct neigh_table *t)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	unsigned int hl = 0;

	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	put_str(md, "itm-neigh-v1");
	put_str(md, t->node);
	put_str(md, t->overlay);
	put_u64(md, t->n);
	for (size_t i = 0; i < t->n; i++) {
		put_str(md, t->v[i].node);
		put_str(md, t->v[i].mgmt);
		put_str(md, t->v[i].overlay);
		put_u64(md, t->v[i].cost);
		put_u64(md, t->v[i].latency_ms);
		put_u64(md, t->v[i].bandwidth_kbps);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	for (unsigned int i = 0; i < hl; i++)
		snprintf(t->digest + 2 * i, 3, "%02x", h[i]);
	return 0;
}

static int
tables_alloc(struct neigh_set *set, const struct topo_config *cfg)
{
	size_t *deg = calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*deg));

	set->tables =
		calloc(cfg->n_nodes ? cfg->n_nodes : 1, sizeof(*set->tables));
	if (deg == NULL || set->tables == NULL) {
		free(deg);
		return -ENOMEM;
	}
	set->n = cfg->n_nodes;
	for (size_t i = 0; i < cfg->n_links; i++) {
		deg[cfg->links[i].ia]++;
		deg[cfg->links[i].ib]++;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct neigh_table *t = &set->tables[i];

		t->node = cfg->nodes[i].name;
		t->mgmt = cfg->nodes[i].mgmt;
		t->overlay = cfg->nodes[i].overlay;
		if (deg[i] && (t->v = calloc(deg[i], sizeof(*t->v))) == NULL) {
			free(deg);
			return -ENOMEM;
		}
	}
	free(deg);
	return 0;
}

int
neigh_build(const struct topo_config *cfg, struct neigh_set **out)
{
	struct neigh_set *set = calloc(1, sizeof(*set));
	int rc = set ? tables_alloc(set, cfg) : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < cfg->n_links; i++) {
		const struct topo_link *l = &cfg->links[i];
		struct neigh_table *a = &set->tables[l->ia];
		struct neigh_table *b = &set->tables[l->ib];

		entry_set(&a->v[a->n++], &cfg->nodes[l->ib], l);
		entry_set(&b->v[b->n++], &cfg->nodes[l->ia], l);
	}
	for (size_t i = 0; rc == 0 && i < cfg->n_nodes; i++) {
		struct neigh_table *t = &set->tables[i];

		if (t->n > 1)
			qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
		rc = table_digest(t);
	}
	if (rc < 0) {
		neigh_set_free(set);
		set = NULL;
	}
	*out = set;
	return rc;
}

void
neigh_set_free(struct neigh_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		free(set->tables[i].v);
	free(set->tables);
	free(set);
}

const struct neigh_table *
neigh_find(const struct neigh_set *set, const char *node)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(node, set->tables[mid].node);

		if (d == 0)
			return &set->tables[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void
neigh_table_gens(const struct neigh_set *prev, const uint64_t *prev_gens,
		 const struct neigh_set *next, uint64_t *gens)
{
	for (size_t i = 0; i < next->n; i++) {
		const struct neigh_table *t = &next->tables[i];
		const struct neigh_table *old =
			prev ? neigh_find(prev, t->node) : NULL;

		gens[i] = old && strcmp(old->digest, t->digest) == 0
				  ? prev_gens[old - prev->tables]
				  : 0;
	}
}

void
neigh_print(const struct neigh_table *t, FILE *f)
{
	char bw[32];

	fprintf(f, "node %s overlay %s digest %s\n", t->node, t->overlay,
		t->digest);
	for (size_t i = 0; i < t->n; i++) {
		const struct neigh_entry *e = &t->v[i];

		fprintf(f,
			"  %s mgmt %s overlay %s cost %u latency_ms %u "
			"bandwidth %s\n",
			e->node, e->mgmt, e->overlay, e->cost, e->latency_ms,
			e->bandwidth_kbps
				? topo_bandwidth_str(e->bandwidth_kbps, bw,
						     sizeof(bw))
				: "-");
	}
}
