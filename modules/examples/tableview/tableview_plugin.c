/*
 * tableview_plugin.c - the table example as an in-agent module:
 *   itmctl module load NODE tableview
 * logs every table the node gets; `itmctl stats NODE --module tableview`
 * shows its counters (generation, nodes, neighbours, changes).
 */
#include <errno.h>

#include <itm_plugin.h>

#include "tableview.h"

static const struct itm_param_spec params[] = { { .name = NULL } };

static int
tableview_load(struct itm_module *m, const struct itm_params *p)
{
	(void)p;
	if (tableview_start(NULL) < 0) {
		itm_module_error(m, "%s", itm_last_error());
		return -EINVAL;
	}
	return 0;
}

static void
tableview_unload(struct itm_module *m)
{
	(void)m;
	tableview_stop();
}

ITM_PLUGIN(.name = "tableview", .version = "1.0",
	   .description = "shows the overlay table the node gets",
	   .params = params, .load = tableview_load,
	   .unload = tableview_unload, );
