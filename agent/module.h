/*
 * module.h - an in-agent module as modload.c (loading, unloading) and
 * modapi.c (the module API its code calls) both see it.  Private to them.
 */
#ifndef ITM_AGENT_MODULE_H
#define ITM_AGENT_MODULE_H

#include <limits.h>

#include "agent.h"
#include "publish.h"

#define MOD_MAX_COUNTERS 64

struct counter {
	char name[48];
	const uint64_t *value;
};

struct module {
	struct itm_module m; /* first: handed to the plugin */
	char name[AGENT_NAME_MAX];
	char path[PATH_MAX];
	void *dl;
	struct itm_params *params;
	const char *kv[64]; /* "k=v" of the effective params */
	char kvbuf[64][160];
	unsigned int n_kv;
	struct counter counters[MOD_MAX_COUNTERS];
	const char *counter_names[MOD_MAX_COUNTERS];
	const uint64_t *counter_values[MOD_MAX_COUNTERS];
	unsigned int n_counters;
	int batch;		 /* inside load/unload: commit later */
	uv_mutex_t lock;	 /* around its code, with workers */
	int dead;		 /* unloading: skip its callbacks */
	struct modview *view;	 /* the overlay table it sees (modview.c) */
	struct itm__publish pub; /* its tunnels and routes function */
	char error[256];
	LIST_ENTRY(module) entry;
};

/* modapi.c, for modload.c */
void modapi_init(void);
/* Leave the current module's code (if any) and enter @m's (if any). */
void modapi_switch(struct module *m);
/* layout_commit(), then free the registrations it took off the runners. */
int modapi_commit(char *err, size_t errlen);
/* Take out what @m registered (hooks, timers, counters); commit after. */
void modapi_strip(struct module *m);

#endif /* ITM_AGENT_MODULE_H */
