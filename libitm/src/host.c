/*
 * host.c - the module API entry points, forwarded to the current host.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "error.h"
#include "host.h"
#include "log.h"

static const struct itm__host_ops *host;

/* A timer's unsigned long argument carries a module's context pointer
 * (itm.h, itm_register_timer). */
_Static_assert(sizeof(unsigned long) >= sizeof(void *),
	       "unsigned long must hold a pointer");

void
itm__host_set(const struct itm__host_ops *ops)
{
	host = ops;
}

const struct itm__host_ops *
itm__host_get(void)
{
	return host;
}

static int
no_host(void)
{
	itm__set_error("no ITM host: call libitm_init() first");
	return -ENOTSUP;
}

int
itm_register_hook(itm_where where, struct itm_info *info)
{
	return host ? host->register_hook(where, info) : no_host();
}

int
itm_unregister_hook(itm_where where, struct itm_info *info)
{
	return host ? host->unregister_hook(where, info) : no_host();
}

int
itm_register_timer(void (*f)(unsigned long), unsigned long arg,
		   unsigned int interval_ms)
{
	return host ? host->register_timer(f, arg, interval_ms) : no_host();
}

int
itm_unregister_timer(void (*f)(unsigned long), unsigned long arg)
{
	return host ? host->unregister_timer(f, arg) : no_host();
}

int
itm_register_counter(const char *name, const uint64_t *value)
{
	return host ? host->register_counter(name, value) : no_host();
}

int
itm_register_tunnel(const struct itm_tunnel_status *st)
{
	if (host == NULL || host->register_tunnel == NULL)
		return no_host();
	return host->register_tunnel(st);
}

int
itm_unregister_tunnel(const struct itm_tunnel_status *st)
{
	if (host == NULL || host->unregister_tunnel == NULL)
		return no_host();
	return host->unregister_tunnel(st);
}

const struct itm_table *
itm_get_table(void)
{
	return host && host->get_table ? host->get_table() : NULL;
}

int
itm_register_table_func(itm_table_func f, void *arg)
{
	if (host == NULL || host->register_table_func == NULL)
		return no_host();
	return host->register_table_func(f, arg);
}

int
itm_unregister_table_func(itm_table_func f, void *arg)
{
	if (host == NULL || host->unregister_table_func == NULL)
		return no_host();
	return host->unregister_table_func(f, arg);
}

int
itm_register_routes_func(itm_routes_func f, void *arg)
{
	if (host == NULL || host->register_routes_func == NULL)
		return no_host();
	return host->register_routes_func(f, arg);
}

int
itm_unregister_routes_func(itm_routes_func f, void *arg)
{
	if (host == NULL || host->unregister_routes_func == NULL)
		return -ENOTSUP;
	return host->unregister_routes_func(f, arg);
}

int
itm_register_fd(int fd, unsigned int events, itm_fd_cb cb, void *arg)
{
	return host && host->register_fd
		       ? host->register_fd(fd, events, cb, arg)
		       : no_host();
}

int
itm_modify_fd(int fd, unsigned int events)
{
	return host && host->modify_fd ? host->modify_fd(fd, events)
				       : no_host();
}

int
itm_unregister_fd(int fd)
{
	return host && host->unregister_fd ? host->unregister_fd(fd)
					   : no_host();
}

void
itm_log(int priority, const char *fmt, ...)
{
	const char *label = NULL;
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (host && host->current_label)
		label = host->current_label();
	if (label)
		log_msg(priority, "%s: %s", label, msg);
	else
		log_msg(priority, "%s", msg);
}
