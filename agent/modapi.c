/*
 * modapi.c - the module API as in-agent modules see it: the host ops
 * behind itm_register_hook() and friends (<itm.h>), the hooks the dispatch
 * walk and the timers call to say whose code runs, and the commits that
 * registrations made from module code lead to.
 *
 * Module code runs one call at a time, as the paper's did: with worker
 * threads each module has a lock, held while any of its code runs
 * (callbacks in the walk, timers, load and unload).  An unloading module is
 * marked dead under its lock first, so a worker that still has its
 * registrations skips them until the commit takes them away.
 *
 * A new part of the API for in-agent modules (say, reading the neighbour
 * table) is one more op here, declared in <itm.h>.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "error.h"
#include "fdwatch.h"
#include "host.h"
#include "log.h"
#include "module.h"
#include "timer.h"

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
void
modapi_switch(struct module *m)
{
	if (m == cur)
		return;
	module_unlock(cur);
	cur = m;
	module_lock(m);
}

int
module_enter(struct module *m)
{
	modapi_switch(m);
	return m != NULL && m->dead;
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

int
modapi_commit(char *err, size_t errlen)
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
	if (modapi_commit(err, sizeof(err)) < 0)
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
	r->may_settle =
		itm__info_may_settle(info, cur->m.plugin
						   ? cur->m.plugin->abi & 0xffff
						   : 0);
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
	r->pr->may_settle = r->may_settle;
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

static int
agent_register_tunnel(const struct itm_tunnel_status *st)
{
	if (!api_on_main("itm_register_tunnel"))
		return -EPERM;
	if (cur == NULL || st == NULL) {
		itm__set_error("itm_register_tunnel: only module code may "
			       "register, with a status");
		return -EINVAL;
	}
	return itm__pub_add_tunnel(&cur->pub, st);
}

static int
agent_unregister_tunnel(const struct itm_tunnel_status *st)
{
	if (!api_on_main("itm_unregister_tunnel"))
		return -EPERM;
	return cur ? itm__pub_del_tunnel(&cur->pub, st) : -ENOENT;
}

static int
agent_register_fd(int fd, unsigned int events, itm_fd_cb cb, void *arg)
{
	if (!api_on_main("itm_register_fd"))
		return -EPERM;
	if (cur == NULL) {
		itm__set_error("itm_register_fd: only module code may "
			       "register");
		return -EPERM;
	}
	return itm__fdw_add(cur, fd, events, cb, arg);
}

static int
agent_modify_fd(int fd, unsigned int events)
{
	if (!api_on_main("itm_modify_fd"))
		return -EPERM;
	return itm__fdw_mod(cur, fd, events);
}

static int
agent_unregister_fd(int fd)
{
	if (!api_on_main("itm_unregister_fd"))
		return -EPERM;
	return itm__fdw_del(cur, fd);
}

static const struct itm_table *
agent_get_table(void)
{
	return cur ? modview_table(cur->view) : modview_installed();
}

static int
agent_register_table_func(itm_table_func f, void *arg)
{
	if (!api_on_main("itm_register_table_func"))
		return -EPERM;
	if (cur == NULL) {
		itm__set_error("itm_register_table_func: only module code may "
			       "register");
		return -EPERM;
	}
	return modview_add_func(cur->view, f, arg);
}

static int
agent_unregister_table_func(itm_table_func f, void *arg)
{
	if (!api_on_main("itm_unregister_table_func"))
		return -EPERM;
	if (cur == NULL) {
		itm__set_error("itm_unregister_table_func: only module code");
		return -EPERM;
	}
	return modview_del_func(cur->view, f, arg);
}

static int
agent_register_routes_func(itm_routes_func f, void *arg)
{
	if (!api_on_main("itm_register_routes_func"))
		return -EPERM;
	if (cur == NULL || f == NULL) {
		itm__set_error("itm_register_routes_func: only module code, "
			       "with a function");
		return cur ? -EINVAL : -EPERM;
	}
	return itm__pub_set_routes(&cur->pub, f, arg);
}

static int
agent_unregister_routes_func(itm_routes_func f, void *arg)
{
	if (!api_on_main("itm_unregister_routes_func"))
		return -EPERM;
	return cur ? itm__pub_del_routes(&cur->pub, f, arg) : -ENOENT;
}

/* Ask @m for its routes (routes.c), as its own code: under its lock. */
int
module_routes(struct module *m, itm_route_emit emit, void *ctx)
{
	int asked = 0;

	if (m->pub.routes_f == NULL)
		return 0;
	if (module_enter(m) == 0) {
		m->pub.routes_f(emit, ctx, m->pub.routes_arg);
		asked = 1;
	}
	module_enter(NULL);
	return asked;
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
	.register_fd = agent_register_fd,
	.modify_fd = agent_modify_fd,
	.unregister_fd = agent_unregister_fd,
	.get_table = agent_get_table,
	.register_table_func = agent_register_table_func,
	.unregister_table_func = agent_unregister_table_func,
	.register_routes_func = agent_register_routes_func,
	.unregister_routes_func = agent_unregister_routes_func,
	.current_label = agent_current_label,
	.register_tunnel = agent_register_tunnel,
	.unregister_tunnel = agent_unregister_tunnel,
};

/* Dispatch and timers tell us whose code is about to run. */
static int
disp_enter(void *arg, struct itm__reg *reg)
{
	struct agent_reg *r = reg ? reg->owner : NULL;

	modapi_switch(r ? r->mod : NULL);
	return cur != NULL && cur->dead;
}

static void
timer_enter(void *owner)
{
	modapi_switch(owner);
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
modapi_init(void)
{
	agent->disp_host.settle = disp_settle;
	agent->disp_host.enter = disp_enter;
	agent->disp_host.host_arg = agent;
	uv_timer_init(agent->loop, &commit_timer);
	itm__timers_init(agent->loop, timer_enter);
	itm__fdw_init(agent->loop, timer_enter);
	itm__host_set(&agent_ops);
}

/* Undo a load that failed after .load ran (or .unload for a module). */
void
modapi_strip(struct module *m)
{
	drop_regs(m);
	itm__timer_del_owner(m);
	itm__fdw_del_owner(m);
	m->n_counters = 0;
	memset(&m->pub, 0, sizeof(m->pub));
}
