/*
 * output_int.h - what itmctl's table printers share (output_tbl.c): a
 * table whose columns are sized to their content, small formatting
 * helpers, and the stats rows printed both for one node and for the
 * whole overlay.
 */
#ifndef ITMCTL_OUTPUT_INT_H
#define ITMCTL_OUTPUT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"

#define TBL_MAXCOLS 12

struct table {
	int ncols;
	const char *align; /* 'l' or 'r' per column */
	char **cells;	   /* row-major, header row first; owned */
	size_t nrows;
};

/* Start a table: one alignment letter per column, then the headers. */
void tbl_init(struct table *t, const char *align, ...);
/* Add a row of t->ncols strings (copied). */
void tbl_row(struct table *t, ...);
/* Add a row from an array of t->ncols strings (copied). */
void tbl_rowv(struct table *t, const char *const *cells);
/* Print the table to stdout and free its cells. */
void tbl_print(struct table *t);

/* printf into one of 16 rotating static buffers: valid for a few calls. */
const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
const char *u64(uint64_t v);
const char *str_or_dash(const char *s);

/*
 * Stats rows of module @m, one per registration and class.  With @node
 * non-NULL the first column is the node (the overlay-wide table).
 */
void stats_rows(struct table *t, const char *node,
		const Itm__V1__ModuleStats *m);
/* The columns stats_rows() fills, after the optional NODE column. */
#define STATS_ALIGN "lllllrrrr"
#define STATS_HEADERS                                                          \
	"MODULE", "KIND", "REGISTRATION", "HOOK", "CLASS", "PACKETS", "BYTES", \
		"FLOWS", "SETTLED"
/* Module counter rows ("MODULE COUNTER VALUE", node first if given). */
void counter_rows(struct table *t, const char *node,
		  const Itm__V1__ModuleStats *m);

/* output_ctl.c: the table output of the controller's replies. */
void table_neighbours(const Itm__V1__NeighbourTable *r);
void table_nodes(const Itm__V1__NodesReply *r);
void table_controllers(const Itm__V1__ControllersReply *r);
void table_applied(const Itm__V1__ApplyReply *r, int dry_run);
void table_topology(const Itm__V1__TopologyReply *r);
void table_diff(const Itm__V1__DiffReply *r);
void table_history(const Itm__V1__HistoryReply *r);
void table_overlay_stats(const Itm__V1__NodeStatsReply *r);
void table_tunnels(const Itm__V1__NodeTunnelsReply *r);

/* output_routes.c: itmRoute's routes. */
void table_routes(const Itm__V1__RoutesReply *r);
void table_node_routes(const Itm__V1__NodeRoutesReply *r);
void table_paths(const Itm__V1__NodeRoutesReply *r);

#endif /* ITMCTL_OUTPUT_INT_H */
