/*
 * modload.c - in-agent modules: the analogue of insmod/rmmod for the
 * paper's kernel modules.
 *
 * A module is a shared object with an ITM_PLUGIN() descriptor.  Loading
 * checks the ABI, checks the parameters against the plugin's schema, runs
 * its load function (which registers hooks, timers and counters through
 * <itm.h>) and installs the resulting stages in one commit.  Any failure
 * on the way undoes everything: the running set is left as it was.
 *
 * What a module's code calls while it runs (itm_register_hook() and
 * friends) lands in modapi.c.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "error.h"
#include "log.h"
#include "module.h"
#include "params.h"

static LIST_HEAD(, module) modules = LIST_HEAD_INITIALIZER(modules);

/* ------------------------------------------------------------------ */
/* Load / unload                                                        */
/* ------------------------------------------------------------------ */

void
modload_init(void)
{
	modapi_init();
}

static struct module *
find_module(const char *name)
{
	struct module *m;

	LIST_FOREACH(m, &modules, entry)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static int
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= AGENT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

/* <dir>/<name>.so or <dir>/<name>/<name>.so (a build tree). */
static int
find_file(const char *name, char *path, size_t len)
{
	struct stat sb;

	for (int i = 0; i < agent->cfg.n_moddirs; i++) {
		snprintf(path, len, "%s/%s.so", agent->cfg.moddirs[i], name);
		if (stat(path, &sb) == 0)
			return 0;
		snprintf(path, len, "%s/%s/%s.so", agent->cfg.moddirs[i], name,
			 name);
		if (stat(path, &sb) == 0)
			return 0;
	}
	return -ENOENT;
}

static int
check_plugin(const struct itm_plugin *p, const char *name, char *err,
	     size_t errlen)
{
	if ((p->abi >> 16) != ITM_PLUGIN_ABI_MAJOR ||
	    (p->abi & 0xffff) > ITM_PLUGIN_ABI_MINOR) {
		snprintf(err, errlen,
			 "module %s: built for module ABI %u.%u, "
			 "this agent has %u.%u; rebuild it against this "
			 "itm_plugin.h",
			 name, p->abi >> 16, p->abi & 0xffff,
			 ITM_PLUGIN_ABI_MAJOR, ITM_PLUGIN_ABI_MINOR);
		return -ENOEXEC;
	}
	if (p->size < sizeof(*p) || p->load == NULL || p->name == NULL) {
		snprintf(err, errlen, "module %s: malformed descriptor", name);
		return -ENOEXEC;
	}
	if (strcmp(p->name, name) != 0) {
		snprintf(err, errlen,
			 "module file %s.so declares the name "
			 "'%s'",
			 name, p->name);
		return -ENOEXEC;
	}
	return 0;
}

static int
open_plugin(struct module *m, const char *name, char *err, size_t errlen)
{
	const struct itm_plugin *p;
	int rc;

	if (find_file(name, m->path, sizeof(m->path)) < 0) {
		snprintf(err, errlen,
			 "unknown module '%s' (no %s.so in the "
			 "module directories)",
			 name, name);
		return -ENOENT;
	}
	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		snprintf(err, errlen, "module %s: %s", name, dlerror());
		return -ENOEXEC;
	}
	p = dlsym(m->dl, ITM_PLUGIN_SYMBOL);
	if (p == NULL) {
		snprintf(err, errlen,
			 "module %s: no '%s' descriptor: not an "
			 "ITM module",
			 name, ITM_PLUGIN_SYMBOL);
		return -ENOEXEC;
	}
	rc = check_plugin(p, name, err, errlen);
	if (rc == 0)
		m->m.plugin = p;
	return rc;
}

static void
module_free(struct module *m)
{
	if (m->dl)
		dlclose(m->dl);
	params_free(m->params);
	modview_free(m->view);
	uv_mutex_destroy(&m->lock);
	free(m);
}

static void
module_keep_params(struct module *m)
{
	m->n_kv = 0;
	for (unsigned int i = 0; i < params_count(m->params) && i < 64; i++) {
		const char *k, *v;

		params_get(m->params, i, &k, &v);
		snprintf(m->kvbuf[i], sizeof(m->kvbuf[i]), "%s=%s", k, v);
		m->kv[m->n_kv++] = m->kvbuf[i];
	}
}

static void
call_unload(struct module *m)
{
	modapi_switch(m);
	m->dead = 1;
	m->batch = 1;
	if (m->m.plugin->unload)
		m->m.plugin->unload(&m->m);
	m->batch = 0;
	modapi_switch(NULL);
}

static int
run_load(struct module *m, char *err, size_t errlen)
{
	int rc;

	modapi_switch(m);
	m->batch = 1;
	itm__set_error("%s", "");
	rc = m->m.plugin->load(&m->m, m->params);
	m->batch = 0;
	modapi_switch(NULL);
	if (rc < 0) {
		snprintf(err, errlen, "module %s: load failed: %s", m->name,
			 m->error[0]	       ? m->error
			 : itm_last_error()[0] ? itm_last_error()
					       : strerror(-rc));
		return rc;
	}
	return 0;
}

int
modload_load(const char *name, char **params, unsigned int n_params, char *err,
	     size_t errlen)
{
	struct module *m;
	int rc;

	if (!name_valid(name)) {
		snprintf(err, errlen,
			 "'%s' is not a module name "
			 "(use [a-z0-9_-], at most %d)",
			 name, AGENT_NAME_MAX - 1);
		return -EINVAL;
	}
	if (find_module(name) != NULL) {
		snprintf(err, errlen, "module %s is already loaded", name);
		return -EEXIST;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	if (uv_mutex_init(&m->lock) < 0) {
		free(m);
		return -ENOMEM;
	}
	if ((m->view = modview_new(m)) == NULL) {
		module_free(m);
		return -ENOMEM;
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	rc = open_plugin(m, name, err, errlen);
	if (rc == 0)
		rc = params_parse(m->m.plugin->params, name, params, n_params,
				  &m->params, err, errlen);
	if (rc == 0)
		rc = run_load(m, err, errlen);
	if (rc == 0) {
		rc = modapi_commit(err, errlen);
		if (rc < 0)
			call_unload(m);
	}
	if (rc < 0) {
		char scratch[512];

		modapi_strip(m);
		if (modapi_commit(scratch, sizeof(scratch)) < 0)
			log_warnx("undoing load of %s: %s", name, scratch);
		module_free(m);
		return rc;
	}
	module_keep_params(m);
	LIST_INSERT_HEAD(&modules, m, entry);
	log_info("loaded module %s from %s", name, m->path);
	return 0;
}

static void
module_unload(struct module *m)
{
	char err[512];

	call_unload(m);
	modapi_strip(m);
	if (modapi_commit(err, sizeof(err)) < 0)
		log_warnx("unloading %s: %s", m->name, err);
	LIST_REMOVE(m, entry);
	log_info("unloaded module %s", m->name);
	module_free(m);
}

int
modload_unload(const char *name, char *err, size_t errlen)
{
	struct module *m = find_module(name);

	if (m == NULL) {
		snprintf(err, errlen, "module %s is not loaded", name);
		return -ENOENT;
	}
	module_unload(m);
	return 0;
}

void
modload_unload_all(void)
{
	struct module *m;

	while ((m = LIST_FIRST(&modules)) != NULL)
		module_unload(m);
}

struct module *
modload_first(void)
{
	return LIST_FIRST(&modules);
}

struct module *
modload_next(struct module *m)
{
	return LIST_NEXT(m, entry);
}

const char *
module_name(const struct module *m)
{
	return m->name;
}

const char *
module_version(const struct module *m)
{
	return m->m.plugin->version ? m->m.plugin->version : "";
}

unsigned int
module_params(const struct module *m, const char ***kv)
{
	*kv = (const char **)m->kv;
	return m->n_kv;
}

unsigned int
module_counters(const struct module *m, const char ***names,
		const uint64_t *const **values)
{
	*names = (const char **)m->counter_names;
	*values = m->counter_values;
	return m->n_counters;
}
