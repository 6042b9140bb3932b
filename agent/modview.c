/*
 * modview.c - the overlay table as in-agent modules see it.
 *
 * rpc_table.c hands every new table to modview_install(); each loaded
 * module has a view: the table it sees (itm_get_table) and the functions
 * it registered (itm_register_table_func).  A new table goes to one
 * module after the other, as that module (module_enter: its lock with
 * worker threads, its name in log lines): its view moves to the new table
 * and its functions run, then the module's hold on the old table goes.
 * So a packet callback on a worker, which runs under the same lock, keeps
 * the table it read until it returns, and the old table is freed once no
 * module can see it.  Everything here runs on the main loop, except
 * modview_table(), which a module's code calls under its lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "agent.h"
#include "log.h"
#include "table.h"

struct modview {
	struct module *mod;
	struct itm__table *table; /* the module's hold; NULL: none yet */
	struct itm__table_funcs funcs;
	LIST_ENTRY(modview) entry;
};

static LIST_HEAD(, modview) views = LIST_HEAD_INITIALIZER(views);
static struct itm__table *installed; /* the agent's hold */

struct modview *
modview_new(struct module *m)
{
	struct modview *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->mod = m;
	v->table = itm__table_ref(installed);
	LIST_INSERT_HEAD(&views, v, entry);
	return v;
}

void
modview_free(struct modview *v)
{
	if (v == NULL)
		return;
	LIST_REMOVE(v, entry);
	itm__table_unref(v->table);
	free(v);
}

const struct itm_table *
modview_table(const struct modview *v)
{
	return v ? itm__table_pub(v->table) : NULL;
}

int
modview_add_func(struct modview *v, itm_table_func f, void *arg)
{
	return itm__table_funcs_add(&v->funcs, f, arg);
}

int
modview_del_func(struct modview *v, itm_table_func f, void *arg)
{
	return itm__table_funcs_del(&v->funcs, f, arg);
}

/* @v's module moves to @t, as that module. */
static void
view_move(struct modview *v, struct itm__table *t)
{
	struct itm__table *old;

	if (module_enter(v->mod) != 0) { /* unloading */
		module_enter(NULL);
		return;
	}
	old = v->table;
	v->table = itm__table_ref(t);
	itm__table_funcs_call(&v->funcs, itm__table_pub(t));
	module_enter(NULL);
	itm__table_unref(old);
}

void
modview_install(struct itm__table *t)
{
	struct modview *v, *next;
	struct itm__table *old = installed;

	installed = t;
	/* A function cannot unload its module: the list holds still. */
	for (v = LIST_FIRST(&views); v != NULL; v = next) {
		next = LIST_NEXT(v, entry);
		view_move(v, t);
	}
	itm__table_unref(old);
}

const struct itm_table *
modview_installed(void)
{
	return itm__table_pub(installed);
}

void
modview_shutdown(void)
{
	itm__table_unref(installed);
	installed = NULL;
}
