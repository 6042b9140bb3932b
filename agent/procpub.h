/*
 * procpub.h - tunnels and routes published by process modules, per pid
 * (procpub.c).  Main loop only.
 */
#ifndef ITM_AGENT_PROCPUB_H
#define ITM_AGENT_PROCPUB_H

#include <stddef.h>
#include <sys/types.h>

struct agent_tunnel;
struct agent_routes;

/* What @pid publishes now: takes @tun (malloc'd, @n_tun of them) and the
 * contents of @routes (left empty), replacing what it published before. */
void procpub_set(pid_t pid, struct agent_tunnel *tun, size_t n_tun,
		 struct agent_routes *routes);
/* @pid is gone: what it published goes. */
void procpub_drop(pid_t pid);
/* Copies up to @max tunnels into @out; returns how many. */
size_t procpub_tunnels(struct agent_tunnel *out, size_t max);
/* Appends copies of the published routes to @out (0 or -ENOMEM). */
int procpub_routes(struct agent_routes *out);

#endif /* ITM_AGENT_PROCPUB_H */
