/*
 * tableview.h - an example of the overlay table API (itm_get_table,
 * itm_register_table_func): the same code runs as an in-agent module
 * (tableview_plugin.c) and as a process module (tableview_main.c).
 */
#ifndef TABLEVIEW_H
#define TABLEVIEW_H

#include <stdio.h>

#include <itm.h>

/*
 * Register the table function and the counters generation, nodes,
 * neighbours and changes (tables seen since start), then show the table
 * installed now, if any.  Each table is shown as one JSON line on @out,
 * or, with @out NULL, as one log line.  Returns 0 or a negative errno.
 */
int tableview_start(FILE *out);
void tableview_stop(void);

#endif /* TABLEVIEW_H */
