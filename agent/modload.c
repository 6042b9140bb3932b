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
 * This file is also the host of the module API for in-agent modules
 * (itm_register_hook() and friends land in agent_ops), and knows which
 * module's code is running, for log lines and ownership.
 *
 * Modules are written single-threaded (global state, as in the paper).
 * With worker threads each module has a lock, held while any of its code
 * runs: callbacks in the walk, timers, load and unload.  An unloading
 * module is marked dead under its lock first, so a worker that still has
 * its registrations skips them until the commit takes them away.
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
#include "host.h"
#include "log.h"
#include "params.h"
#include "timer.h"

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
	int batch;	 /* inside load/unload: commit later */
	uv_mutex_t lock; /* around its code, with workers */
	int dead;	 /* unloading: skip its callbacks */
	char error[256];
	LIST_ENTRY(module) entry;
};

static LIST_HEAD(, module) modules = LIST_HEAD_INITIALIZER(modules);
static __thread struct module *cur; /* whose code runs now */
static uv_timer_t commit_timer;
static int commit_pending;

/* ------------------------------------------------------------------ */
/* Whose code runs: the current module and its lock                     */
/* ------------------------------------------------------------------ */

void
module_lock(struct module *m)
{
	if (m != NULL && workers_threaded())
		uv_mutex_lock(&m->lock);
}

void
module_unlock(struct module *m)
{
	if (m != NULL && workers_threaded())
		uv_mutex_unlock(&m->lock);
}

/* Leave the current module's code (if any) and enter @m's (if any). */
static void
mod_switch(struct module *m)
{
	if (m == cur)
		return;
	module_unlock(cur);
	cur = m;
	module_lock(m);
}

/* Registering from a worker thread would change the registry under the
 * main loop's feet. */
static int
api_on_main(const char *what)
{
	if (workers_on_main())
		return 1;
	itm__set_error("%s: not from a packet callback when the agent runs "
		       "worker threads (--workers); use a timer",
		       what);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Registrations owned by modules                                       */
/* ------------------------------------------------------------------ */

static void
agent_reg_free(struct agent_reg *r)
{
	if (r == NULL)
		return;
	itm__reg_free(r->pr);
	free(r);
}

/* Registrations removed from the lists wait here, linked by their entry,
 * until a commit has taken them off the packet path. */
static struct agent_reg_list graveyard = TAILQ_HEAD_INITIALIZER(graveyard);

static void
bury(struct agent_reg *r)
{
	TAILQ_INSERT_TAIL(&graveyard, r, entry);
}

/* Take every registration of @m out, to be freed after the commit. */
static void
drop_regs(struct module *m)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++) {
		struct agent_reg *r, *next;

		for (r = TAILQ_FIRST(&agent->hooks[h]); r; r = next) {
			next = TAILQ_NEXT(r, entry);
			if (r->kind != REG_AGENT || r->mod != m)
				continue;
			reg_remove(r);
			bury(r);
		}
	}
}

static int
commit_now(char *err, size_t errlen)
{
	int rc = layout_commit(err, errlen);
	struct agent_reg *r;

	while ((r = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, r, entry);
		agent_reg_free(r);
	}
	return rc;
}

static void
commit_timer_cb(uv_timer_t *t)
{
	char err[512];

	commit_pending = 0;
	if (commit_now(err, sizeof(err)) < 0)
		log_warnx("applying registrations: %s", err);
}

/* Registrations changed from module code at run time (a timer or a packet
 * callback): commit from the loop, never under the dispatch walk. */
static void
commit_soon(void)
{
	if (commit_pending)
		return;
	commit_pending = 1;
	uv_timer_start(&commit_timer, commit_timer_cb, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Host ops for in-agent modules                                        */
/* ------------------------------------------------------------------ */

static int
agent_register_hook(itm_where where, struct itm_info *info)
{
	char err[512];
	struct agent_reg *r;
	int rc;

	if (!api_on_main("itm_register_hook"))
		return -EPERM;
	if (cur == NULL) {
		itm__set_error("itm_register_hook: only module code may "
			       "register");
		return -EPERM;
	}
	if (info == NULL || info->label == NULL) {
		itm__set_error("itm_register_hook: info and label required");
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->kind = REG_AGENT;
	snprintf(r->label, sizeof(r->label), "%s", info->label);
	if (strlen(info->label) >= sizeof(r->label)) {
		free(r);
		itm__set_error("label '%s' longer than %d characters",
			       info->label, AGENT_LABEL_MAX - 1);
		return -EINVAL;
	}
	r->hook = where;
	r->priority = info->priority;
	r->interest = info->interest;
	r->copy_bytes = info->copy_bytes;
	r->mod = cur;
	rc = reg_add(r, err, sizeof(err));
	if (rc < 0) {
		free(r);
		itm__set_error("%s", err);
		return rc;
	}
	r->pr = itm__reg_new(info, where, r->seq);
	if (r->pr == NULL) {
		reg_remove(r);
		free(r);
		return -ENOMEM;
	}
	r->pr->owner = r;
	info->type = ITM_KERNEL;
	info->hook = where;
	info->itm__reg = r;
	if (!cur->batch)
		commit_soon();
	return 0;
}

static int
agent_unregister_hook(itm_where where, struct itm_info *info)
{
	struct agent_reg *r = info ? info->itm__reg : NULL;

	if (!api_on_main("itm_unregister_hook"))
		return -EPERM;
	if (r == NULL || r->hook != where || r->removed) {
		itm__set_error("itm_unregister_hook: not registered at %s",
			       itm_hook_name(where));
		return -ENOENT;
	}
	info->itm__reg = NULL;
	reg_remove(r);
	bury(r);
	if (cur == NULL || !cur->batch)
		commit_soon();
	return 0;
}

static int
agent_register_timer(void (*f)(unsigned long), unsigned long arg,
		     unsigned int interval_ms)
{
	if (!api_on_main("itm_register_timer"))
		return -EPERM;
	if (cur == NULL) {
		itm__set_error("itm_register_timer: only module code may "
			       "register");
		return -EPERM;
	}
	return itm__timer_add(cur, f, arg, interval_ms);
}

static int
agent_unregister_timer(void (*f)(unsigned long), unsigned long arg)
{
	if (!api_on_main("itm_unregister_timer"))
		return -EPERM;
	return itm__timer_del(cur, f, arg);
}

static int
agent_register_counter(const char *name, const uint64_t *value)
{
	struct counter *c;

	if (!api_on_main("itm_register_counter"))
		return -EPERM;
	if (cur == NULL || name == NULL || value == NULL) {
		itm__set_error("itm_register_counter: only module code may "
			       "register, with a name and a value");
		return -EINVAL;
	}
	if (cur->n_counters == MOD_MAX_COUNTERS) {
		itm__set_error("more than %d counters", MOD_MAX_COUNTERS);
		return -ENOSPC;
	}
	c = &cur->counters[cur->n_counters];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->value = value;
	cur->counter_names[cur->n_counters] = c->name;
	cur->counter_values[cur->n_counters] = value;
	cur->n_counters++;
	return 0;
}

static const char *
agent_current_label(void)
{
	return cur ? cur->name : NULL;
}

static const struct itm__host_ops agent_ops = {
	.register_hook = agent_register_hook,
	.unregister_hook = agent_unregister_hook,
	.register_timer = agent_register_timer,
	.unregister_timer = agent_unregister_timer,
	.register_counter = agent_register_counter,
	.current_label = agent_current_label,
};

/* Dispatch and timers tell us whose code is about to run. */
static int
disp_enter(void *arg, struct itm__reg *reg)
{
	struct agent_reg *r = reg ? reg->owner : NULL;

	mod_switch(r ? r->mod : NULL);
	return cur != NULL && cur->dead;
}

static void
timer_enter(void *owner)
{
	mod_switch(owner);
}

static int
disp_settle(void *arg, struct itm__reg *reg, const struct itm_settle *s,
	    uint32_t *mark)
{
	static struct log_rl rl;
	struct agent_reg *r = reg->owner;
	char err[256];
	int rc;

	rc = layout_settle(r, s, mark, err, sizeof(err));
	if (rc < 0) {
		log_rl(&rl, LOG_WARNING, "%s: settle: %s", r->label, err);
		itm__set_error("%s", err);
	}
	return rc;
}

void
itm_module_error(struct itm_module *m, const char *fmt, ...)
{
	struct module *mod = (struct module *)m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mod->error, sizeof(mod->error), fmt, ap);
	va_end(ap);
}

void
modload_init(void)
{
	agent->disp_host.settle = disp_settle;
	agent->disp_host.enter = disp_enter;
	agent->disp_host.host_arg = agent;
	uv_timer_init(agent->loop, &commit_timer);
	itm__timers_init(agent->loop, timer_enter);
	itm__host_set(&agent_ops);
}

/* ------------------------------------------------------------------ */
/* Load / unload                                                        */
/* ------------------------------------------------------------------ */

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

/* Undo a load that failed after .load ran (or .unload for a module). */
static void
module_strip(struct module *m)
{
	drop_regs(m);
	itm__timer_del_owner(m);
	m->n_counters = 0;
}

static void
call_unload(struct module *m)
{
	mod_switch(m);
	m->dead = 1;
	m->batch = 1;
	if (m->m.plugin->unload)
		m->m.plugin->unload(&m->m);
	m->batch = 0;
	mod_switch(NULL);
}

static int
run_load(struct module *m, char *err, size_t errlen)
{
	int rc;

	mod_switch(m);
	m->batch = 1;
	itm__set_error("%s", "");
	rc = m->m.plugin->load(&m->m, m->params);
	m->batch = 0;
	mod_switch(NULL);
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
	snprintf(m->name, sizeof(m->name), "%s", name);
	rc = open_plugin(m, name, err, errlen);
	if (rc == 0)
		rc = params_parse(m->m.plugin->params, name, params, n_params,
				  &m->params, err, errlen);
	if (rc == 0)
		rc = run_load(m, err, errlen);
	if (rc == 0) {
		rc = commit_now(err, errlen);
		if (rc < 0)
			call_unload(m);
	}
	if (rc < 0) {
		char scratch[512];

		module_strip(m);
		if (commit_now(scratch, sizeof(scratch)) < 0)
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
	module_strip(m);
	if (commit_now(err, sizeof(err)) < 0)
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
