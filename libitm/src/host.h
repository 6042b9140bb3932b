/*
 * host.h - who implements the module API in this process.
 *
 * itm_register_hook() and friends are the same symbols for both kinds of
 * module; they forward to the host that installed its ops: itm-agent for
 * in-agent modules, libitm's process runtime (libitm_init) otherwise.
 */
#ifndef ITM_HOST_H
#define ITM_HOST_H

#include "itm.h"

struct itm__host_ops {
	int (*register_hook)(itm_where where, struct itm_info *info);
	int (*unregister_hook)(itm_where where, struct itm_info *info);
	int (*register_timer)(void (*f)(unsigned long), unsigned long arg,
			      unsigned int interval_ms);
	int (*unregister_timer)(void (*f)(unsigned long), unsigned long arg);
	int (*register_counter)(const char *name, const uint64_t *value);
	int (*register_fd)(int fd, unsigned int events, itm_fd_cb cb,
			   void *arg);
	int (*modify_fd)(int fd, unsigned int events);
	int (*unregister_fd)(int fd);
	/* Label of the module whose code runs now, for log lines. */
	const char *(*current_label)(void);
	/* The overlay table as the running module sees it (table.h). */
	const struct itm_table *(*get_table)(void);
	int (*register_table_func)(itm_table_func f, void *arg);
	int (*unregister_table_func)(itm_table_func f, void *arg);
	int (*register_routes_func)(itm_routes_func f, void *arg);
	int (*unregister_routes_func)(itm_routes_func f, void *arg);
	int (*register_tunnel)(const struct itm_tunnel_status *st);
	int (*unregister_tunnel)(const struct itm_tunnel_status *st);
};

void itm__host_set(const struct itm__host_ops *ops);
const struct itm__host_ops *itm__host_get(void);

#endif /* ITM_HOST_H */
