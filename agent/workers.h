/*
 * workers.h - the threads that read the NFQUEUE queues of in-agent stages
 * (itm-agent --workers N), and the locks that keep them apart from the
 * main loop.
 *
 * With N = 1 there are no threads: every runner is on the main loop and
 * every lock below is a no-op, exactly the single-threaded agent.  With
 * N > 1 each in-agent stage has N consecutive queues (the rule spreads
 * flows over them with --queue-balance) and worker i runs, on its own
 * libuv loop, the runner of queue i of every stage.  uv handles are bound
 * to their loop, so the main thread opens, updates and closes runners by
 * workers_call(): the function runs on the worker's loop and the main
 * thread waits for its completion.  A worker finishes the packets of a
 * poll callback before it runs a call, so once a call that took a
 * registration off its runners returns, no worker is inside that
 * registration's code.
 *
 * Locks, always taken in this order: a module's lock (modload.c: held
 * around its callbacks, timers, load and unload), then agent_lock() (the
 * installed layout, the settlement table, the nfacct socket and the rule
 * set, which a worker changes when a module settles a flow: layout.c).  The main thread never
 * waits for a worker while holding either.
 */
#ifndef ITM_AGENT_WORKERS_H
#define ITM_AGENT_WORKERS_H

#include <uv.h>

#define AGENT_MAX_WORKERS 16

struct wcall;
typedef void (*wcall_fn)(struct wcall *c, uv_loop_t *loop, void *arg);

/* Start @n workers (1: none); with @pin, worker i runs on the i-th CPU
 * the agent may use (modulo their number), the CPU whose packets
 * --queue-cpu-fanout puts on its queue.  At start-up only; -errno on
 * failure. */
int workers_start(unsigned int n, int pin);
/* Stop and join them; their runners must be closed already. */
void workers_stop(void);
unsigned int workers_count(void); /* N, 1 without threads */
int workers_threaded(void);	  /* N > 1 */
int workers_on_main(void);	  /* not on a worker thread */

/* Run @fn(@c, worker's loop, @arg) on worker @i and wait until it (or a
 * callback it started) calls workers_done(); returns that rc.  Main
 * thread only. */
int workers_call(unsigned int i, wcall_fn fn, void *arg);
void workers_done(struct wcall *c, int rc);

/* The agent's control state (see above).  No-ops without threads. */
void agent_lock(void);
void agent_unlock(void);

#endif /* ITM_AGENT_WORKERS_H */
