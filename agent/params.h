/*
 * params.h - module parameters checked against a plugin's schema.
 */
#ifndef ITM_AGENT_PARAMS_H
#define ITM_AGENT_PARAMS_H

#include "itm_plugin.h"

/* Parse "k=v" strings against @spec (ends with { NULL }); defaults are
 * filled in.  On error returns a negative errno and a message in @err
 * naming the parameter; *@out is untouched. */
int params_parse(const struct itm_param_spec *spec, const char *plugin,
		 char **kv, unsigned int n, struct itm_params **out, char *err,
		 size_t errlen);
void params_free(struct itm_params *p);

/* Effective parameters, defaults included, in schema order. */
unsigned int params_count(const struct itm_params *p);
void params_get(const struct itm_params *p, unsigned int i, const char **name,
		const char **value);

#endif /* ITM_AGENT_PARAMS_H */
