/*
 * fdwatch.h - file descriptors watched for modules (itm_register_fd) on a
 * libuv loop.
 *
 * Each watch belongs to an owner (an in-agent module, or the process), as
 * timers do, so a module's watches go when it unloads.  Callbacks run on
 * the loop thread between the same enter calls as timers.
 */
#ifndef ITM_FDWATCH_H
#define ITM_FDWATCH_H

#include <uv.h>
#include "itm.h"
#include "timer.h"

void itm__fdw_init(uv_loop_t *loop, itm__timer_enter_cb enter);
int itm__fdw_add(void *owner, int fd, unsigned int events, itm_fd_cb cb,
		 void *arg);
int itm__fdw_mod(void *owner, int fd, unsigned int events);
int itm__fdw_del(void *owner, int fd);
/* Unwatch every fd of @owner (NULL: every fd); the fds stay open. */
void itm__fdw_del_owner(void *owner);
unsigned int itm__fdw_count(void *owner);

#endif /* ITM_FDWATCH_H */
