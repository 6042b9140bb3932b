/*
 * workers.c - worker threads, each with a libuv loop, and calls from the
 * main thread onto them (see workers.h).
 *
 * A call is a struct on the caller's stack queued to the worker; an
 * uv_async_t wakes the worker's loop, which runs the queued calls in
 * order.  The caller sleeps on the worker's condition variable until the
 * call is marked done.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "workers.h"

struct wcall {
	wcall_fn fn;
	void *arg;
	int rc;
	int done;
	struct worker *w;
	struct wcall *next;
};

struct worker {
	unsigned int index;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t wake;
	uv_mutex_t lock; /* calls, done flags */
	uv_cond_t cond;
	struct wcall *head, **tail;
	int started;
	int cpu; /* pinned to it, or -1 */
};

static struct worker *workers;
static unsigned int n_workers = 1;
static uv_mutex_t ctl_lock;
static __thread int on_worker;

unsigned int
workers_count(void)
{
	return n_workers;
}

int
workers_threaded(void)
{
	return n_workers > 1;
}

int
workers_on_main(void)
{
	return !on_worker;
}

void
agent_lock(void)
{
	if (n_workers > 1)
		uv_mutex_lock(&ctl_lock);
}

void
agent_unlock(void)
{
	if (n_workers > 1)
		uv_mutex_unlock(&ctl_lock);
}

/* ------------------------------------------------------------------ */
/* The worker's side                                                    */
/* ------------------------------------------------------------------ */

static void
wake_cb(uv_async_t *h)
{
	struct worker *w = h->data;
	struct wcall *c, *next;

	uv_mutex_lock(&w->lock);
	c = w->head;
	w->head = NULL;
	w->tail = &w->head;
	uv_mutex_unlock(&w->lock);
	for (; c != NULL; c = next) {
		next = c->next; /* @c may be gone once done */
		c->fn(c, &w->loop, c->arg);
	}
}

/* Pin the calling thread (a worker) to @cpu. */
static void
worker_pin(struct worker *w)
{
	cpu_set_t set;

	if (w->cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		log_warnx("worker %u: cannot pin to CPU %d: %s", w->index,
			  w->cpu, strerror(errno));
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;

	on_worker = 1;
	worker_pin(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

void
workers_done(struct wcall *c, int rc)
{
	struct worker *w = c->w;

	uv_mutex_lock(&w->lock);
	c->rc = rc;
	c->done = 1;
	uv_cond_broadcast(&w->cond);
	uv_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------------ */
/* The main thread's side                                               */
/* ------------------------------------------------------------------ */

int
workers_call(unsigned int i, wcall_fn fn, void *arg)
{
	struct wcall c = { .fn = fn, .arg = arg };
	struct worker *w;

	if (i >= n_workers || workers == NULL)
		return -EINVAL;
	w = &workers[i];
	c.w = w;
	uv_mutex_lock(&w->lock);
	*w->tail = &c;
	w->tail = &c.next;
	uv_mutex_unlock(&w->lock);
	uv_async_send(&w->wake);
	uv_mutex_lock(&w->lock);
	while (!c.done)
		uv_cond_wait(&w->cond, &w->lock);
	uv_mutex_unlock(&w->lock);
	return c.rc;
}

/* The @i-th CPU (modulo their number) this process may run on, or -1. */
static int
worker_cpu(unsigned int i)
{
	cpu_set_t set;
	int n, cpu;

	if (sched_getaffinity(0, sizeof(set), &set) < 0 ||
	    (n = CPU_COUNT(&set)) == 0)
		return -1;
	i %= (unsigned int)n;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && i-- == 0)
			return cpu;
	return -1;
}

static int
worker_init(struct worker *w, unsigned int index, int pin)
{
	int rc;

	w->index = index;
	w->cpu = pin ? worker_cpu(index) : -1;
	w->tail = &w->head;
	if ((rc = uv_loop_init(&w->loop)) < 0)
		return rc;
	if ((rc = uv_mutex_init(&w->lock)) < 0)
		return rc;
	if ((rc = uv_cond_init(&w->cond)) < 0)
		return rc;
	if ((rc = uv_async_init(&w->loop, &w->wake, wake_cb)) < 0)
		return rc;
	w->wake.data = w;
	rc = uv_thread_create(&w->thread, worker_main, w);
	if (rc == 0)
		w->started = 1;
	return rc;
}

int
workers_start(unsigned int n, int pin)
{
	int rc;

	if (n <= 1)
		return 0;
	workers = calloc(n, sizeof(*workers));
	if (workers == NULL)
		return -ENOMEM;
	if ((rc = uv_mutex_init(&ctl_lock)) < 0)
		return rc;
	n_workers = n;
	for (unsigned int i = 0; i < n; i++) {
		rc = worker_init(&workers[i], i, pin);
		if (rc < 0) {
			log_warnx("worker %u: %s", i, uv_strerror(rc));
			return rc;
		}
	}
	log_info("%u worker threads read the queues of in-agent stages%s", n,
		 pin ? ", each pinned to its CPU" : "");
	return 0;
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* On the worker: close every handle left (the wake-up included), so the
 * loop runs out and the thread ends. */
static void
stop_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	uv_walk(loop, close_walk_cb, NULL);
	workers_done(c, 0);
}

void
workers_stop(void)
{
	if (workers == NULL)
		return;
	for (unsigned int i = 0; i < n_workers; i++) {
		struct worker *w = &workers[i];

		if (!w->started)
			continue;
		workers_call(i, stop_fn, NULL);
		uv_thread_join(&w->thread);
		uv_loop_close(&w->loop);
		uv_cond_destroy(&w->cond);
		uv_mutex_destroy(&w->lock);
	}
	free(workers);
	workers = NULL;
	n_workers = 1; /* single-threaded again: locks are no-ops */
	uv_mutex_destroy(&ctl_lock);
}
