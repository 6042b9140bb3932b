/*
 * fuzz_topo.c - libFuzzer target for topo.yaml: parse and validate any
 * bytes; when they are a valid topology, compute every node's neighbour
 * table and the diff against itself (which must be empty).  A fault must
 * always come with at least one message, a success with none.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neigh.h"
#include "topo.h"

static void
count_line(void *arg, const char *line)
{
	(void)line;
	(*(size_t *)arg)++;
}

/* Every node gets a table; no table lists its own node. */
static void
check_tables(const struct topo_config *cfg)
{
	struct neigh_set *set = NULL;

	if (neigh_build(cfg, &set) == -ENOMEM)
		return;
	if (set == NULL || set->n != cfg->n_nodes)
		abort();
	for (size_t i = 0; i < set->n; i++) {
		const struct neigh_table *t = &set->tables[i];

		if (neigh_find(set, t->node) != t)
			abort();
		for (size_t k = 0; k < t->n; k++)
			if (strcmp(t->v[k].node, t->node) == 0)
				abort();
	}
	neigh_set_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topo_config *cfg = NULL;
	struct topo_errors errs;
	size_t lines = 0;
	int rc;

	topo_errors_init(&errs);
	rc = topo_parse((const char *)data, size, "fuzz.yaml", &cfg, &errs);
	if (rc == -EINVAL && errs.n == 0)
		abort(); /* refused without saying why */
	if (rc == 0) {
		if (errs.n != 0 || cfg == NULL)
			abort();
		if (topo_diff(cfg, cfg, count_line, &lines) != 0 || lines)
			abort(); /* a topology differs from itself */
		check_tables(cfg);
	}
	topo_config_free(cfg);
	topo_errors_free(&errs);
	return 0;
}
