/*
 * timer.h - module timers (itm_register_timer) on a libuv loop.
 *
 * Each timer belongs to an owner (an in-agent module, or the process) so a
 * module's timers can be removed when it unloads.  Callbacks run on the
 * loop thread, never from a signal handler.
 */
#ifndef ITM_TIMER_H
#define ITM_TIMER_H

#include <uv.h>

/* Called around every timer callback with the timer's owner, then NULL. */
typedef void (*itm__timer_enter_cb)(void *owner);

void itm__timers_init(uv_loop_t *loop, itm__timer_enter_cb enter);
int itm__timer_add(void *owner, void (*f)(unsigned long), unsigned long arg,
		   unsigned int interval_ms);
int itm__timer_del(void *owner, void (*f)(unsigned long), unsigned long arg);
/* Remove every timer of @owner (NULL: every timer). */
void itm__timer_del_owner(void *owner);
unsigned int itm__timer_count(void *owner);

#endif /* ITM_TIMER_H */
