/*
 * itm_plugin.h - descriptor of an in-agent module (the paper's kernel
 * modules, loaded at run time like insmod).
 *
 * A plugin is a shared object exporting one `struct itm_plugin` named
 * `itm_plugin`, declared with ITM_PLUGIN():
 *
 *	static const struct itm_param_spec params[] = {
 *		{ "threshold", ITM_PARAM_UINT, "20", 1, 1000000,
 *		  "packets after which a flow is LONG" },
 *		{ .name = NULL }
 *	};
 *	ITM_PLUGIN(
 *		.name = "qosmod",
 *		.description = "size-aware differentiation",
 *		.params = params,
 *		.load = qos_load,
 *		.unload = qos_unload,
 *	);
 *
 * itm-agent checks .abi against ITM_PLUGIN_ABI, validates the parameters
 * against .params (names, types, ranges; defaults filled in) and only then
 * calls .load.  .load registers hooks, timers and counters with the
 * functions of <itm.h>.  If .load fails, everything it registered is undone
 * and the running set is left as it was.  .unload must free what .load
 * allocated; hooks and timers still registered are removed by the agent
 * after .unload returns.
 */
#ifndef ITM_PLUGIN_H
#define ITM_PLUGIN_H

#include <stdint.h>
#include "itm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Major in the high 16 bits must match exactly; minor may be lower. */
#define ITM_PLUGIN_ABI_MAJOR 1
/* Minor 1: the overlay table, fd watches; 2: routes; 3: tunnel status;
 * 4: itm_info.flags (ITM_MAY_SETTLE). */
#define ITM_PLUGIN_ABI_MINOR ITM_API_MINOR
#define ITM_PLUGIN_ABI	     ((ITM_PLUGIN_ABI_MAJOR << 16) | ITM_PLUGIN_ABI_MINOR)

enum itm_param_type {
	ITM_PARAM_INT = 1,  /* signed 64-bit, within [min, max] */
	ITM_PARAM_UINT,	    /* unsigned, within [min, max] */
	ITM_PARAM_BOOL,	    /* true/false/yes/no/1/0/on/off */
	ITM_PARAM_STRING,   /* any text; max = longest length (0: 255) */
	ITM_PARAM_UINT_LIST /* comma-separated, each in [min, max], at
				 * most 16 items; "" is the empty list */
};

struct itm_param_spec {
	const char *name;
	enum itm_param_type type;
	const char *def; /* default as text, NULL = required */
	int64_t min, max;
	const char *help;
};

#define ITM_PARAM_LIST_MAX 16

/* Validated parameters handed to .load (owned by the agent). */
struct itm_params;

int64_t itm_param_int(const struct itm_params *p, const char *name);
uint64_t itm_param_uint(const struct itm_params *p, const char *name);
int itm_param_bool(const struct itm_params *p, const char *name);
const char *itm_param_str(const struct itm_params *p, const char *name);
/* Copies up to @max items into @out; returns how many. */
unsigned int itm_param_uint_list(const struct itm_params *p, const char *name,
				 uint64_t *out, unsigned int max);

/* One loaded instance.  .load keeps the instance's context in ->priv
 * (and in its itm_info.priv, for the packet callbacks, and as its timers'
 * argument); .unload frees it.  No globals: two instances share nothing. */
struct itm_module {
	const struct itm_plugin *plugin;
	void *priv;
};

struct itm_plugin {
	uint32_t abi;	  /* ITM_PLUGIN_ABI */
	uint32_t size;	  /* sizeof(struct itm_plugin) */
	const char *name; /* as given to `itmctl module load` */
	const char *version;
	const char *description;
	const struct itm_param_spec *params; /* ends with { NULL } */
	/* Returns 0 or a negative errno; set a message with
	 * itm_module_error() to tell the operator why. */
	int (*load)(struct itm_module *m, const struct itm_params *p);
	void (*unload)(struct itm_module *m);
};

/* Reason for a failed .load, shown to the operator. */
void itm_module_error(struct itm_module *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ITM_PLUGIN_SYMBOL "itm_plugin"

#define ITM_PLUGIN(...)                                                    \
	__attribute__((visibility("default")))                             \
	const struct itm_plugin itm_plugin = { .abi = ITM_PLUGIN_ABI,      \
					       .size = sizeof(             \
						       struct itm_plugin), \
					       __VA_ARGS__ }

#ifdef __cplusplus
}
#endif

#endif /* ITM_PLUGIN_H */
