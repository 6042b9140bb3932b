/*
 * timer.c - periodic module timers on the host's libuv loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "error.h"
#include "timer.h"

struct itm__timer {
	uv_timer_t handle;
	void *owner;
	void (*f)(unsigned long);
	unsigned long arg;
	LIST_ENTRY(itm__timer) entry;
};

static LIST_HEAD(, itm__timer) timers = LIST_HEAD_INITIALIZER(timers);
static uv_loop_t *timer_loop;
static itm__timer_enter_cb timer_enter;

void
itm__timers_init(uv_loop_t *loop, itm__timer_enter_cb enter)
{
	timer_loop = loop;
	timer_enter = enter;
}

static void
timer_cb(uv_timer_t *handle)
{
	struct itm__timer *t = handle->data;

	if (timer_enter)
		timer_enter(t->owner);
	t->f(t->arg);
	if (timer_enter)
		timer_enter(NULL);
}

int
itm__timer_add(void *owner, void (*f)(unsigned long), unsigned long arg,
	       unsigned int interval_ms)
{
	struct itm__timer *t;

	if (timer_loop == NULL) {
		itm__set_error(
			"timers: no event loop (call libitm_init first)");
		return -ENOTSUP;
	}
	if (f == NULL || interval_ms == 0) {
		itm__set_error("timer: need a function and an interval > 0 ms");
		return -EINVAL;
	}
	LIST_FOREACH(t, &timers, entry)
		if (t->owner == owner && t->f == f && t->arg == arg) {
			itm__set_error("timer: already registered");
			return -EEXIST;
		}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->owner = owner;
	t->f = f;
	t->arg = arg;
	uv_timer_init(timer_loop, &t->handle);
	t->handle.data = t;
	uv_timer_start(&t->handle, timer_cb, interval_ms, interval_ms);
	LIST_INSERT_HEAD(&timers, t, entry);
	return 0;
}

static void
timer_closed_cb(uv_handle_t *handle)
{
	free(handle->data);
}

static void
timer_free(struct itm__timer *t)
{
	LIST_REMOVE(t, entry);
	uv_timer_stop(&t->handle);
	uv_close((uv_handle_t *)&t->handle, timer_closed_cb);
}

int
itm__timer_del(void *owner, void (*f)(unsigned long), unsigned long arg)
{
	struct itm__timer *t;

	LIST_FOREACH(t, &timers, entry)
		if (t->owner == owner && t->f == f && t->arg == arg) {
			timer_free(t);
			return 0;
		}
	itm__set_error("timer: not registered");
	return -ENOENT;
}

void
itm__timer_del_owner(void *owner)
{
	struct itm__timer *t, *next;

	for (t = LIST_FIRST(&timers); t != NULL; t = next) {
		next = LIST_NEXT(t, entry);
		if (owner == NULL || t->owner == owner)
			timer_free(t);
	}
}

unsigned int
itm__timer_count(void *owner)
{
	struct itm__timer *t;
	unsigned int n = 0;

	LIST_FOREACH(t, &timers, entry)
		if (t->owner == owner)
			n++;
	return n;
}
