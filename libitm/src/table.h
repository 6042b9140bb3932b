/*
 * table.h - the overlay table as modules see it (struct itm_table of
 * <itm.h>), shared by its two hosts: itm-agent (agent/modview.c) and
 * libitm's process runtime (process.c).
 *
 * A table is built once from plain fields (itm__table_new; wire.c turns
 * the pushed protobuf message into them), never changes, and is counted:
 * the host holds one reference for the installed table, and each module's
 * view another, so a module keeps seeing the table it was given until its
 * host hands it the next one.  References are taken and dropped on the
 * host's main loop only.
 */
#ifndef ITM_TABLE_H
#define ITM_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "itm.h"

#define ITM__TABLE_MAX_NODES 4096
#define ITM__TABLE_MAX_FUNCS 8 /* table functions per module */

/* What a table is built from (all strings copied). */
struct itm__table_src_node {
	const char *name;
	const char *overlay; /* address text, "" when not known */
	const char *underlay;
};

struct itm__table_src_neighbour {
	const char *name; /* must be among the nodes */
	const char *mgmt;
	uint32_t cost, latency_ms;
	uint64_t bandwidth_kbps;
};

struct itm__table_src {
	uint64_t generation;
	struct itm__table_src_node self; /* also among nodes, or added */
	const struct itm__table_src_node *nodes;
	size_t n_nodes;
	const struct itm__table_src_neighbour *neighbours;
	size_t n_neighbours;
};

struct itm__table;

/*
 * A new table (one reference) from @src: names 1..63 bytes, addresses ""
 * or IPv4/IPv6 text, no node twice, every neighbour among the nodes; self
 * and the neighbours are added to the nodes when missing (tables from
 * controllers that sent none).  0, -EINVAL with @err naming the field, or
 * -ENOMEM.
 */
int itm__table_new(const struct itm__table_src *src, struct itm__table **out,
		   char *err, size_t errlen);
struct itm__table *itm__table_ref(struct itm__table *t); /* NULL: NULL */
void itm__table_unref(struct itm__table *t);		 /* NULL: no-op */
const struct itm_table *itm__table_pub(const struct itm__table *t);

/* A module's table functions. */
struct itm__table_funcs {
	struct {
		itm_table_func f;
		void *arg;
	} v[ITM__TABLE_MAX_FUNCS];
	unsigned int n;
};

int itm__table_funcs_add(struct itm__table_funcs *fs, itm_table_func f,
			 void *arg);
int itm__table_funcs_del(struct itm__table_funcs *fs, itm_table_func f,
			 void *arg);
/* Call each with @t; a function may (un)register others meanwhile. */
void itm__table_funcs_call(const struct itm__table_funcs *fs,
			   const struct itm_table *t);

#endif /* ITM_TABLE_H */
