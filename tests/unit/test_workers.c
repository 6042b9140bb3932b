/*
 * test_workers.c - agent/workers.c: calls run on the worker's thread and
 * loop, in order, and return only once done (also when the completion
 * comes later, from a callback on the worker's loop); without workers no
 * thread exists and the locks are no-ops; with pinning, worker i may run
 * on the i-th CPU of the process's set (modulo their number) only.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <uv.h>

#include "workers.h"

struct probe {
	uv_thread_t thread;
	uv_loop_t *loop;
	int on_main;
	int seq;
};

static int counter;

static void
probe_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	struct probe *p = arg;

	p->thread = uv_thread_self();
	p->loop = loop;
	p->on_main = workers_on_main();
	p->seq = ++counter;
	workers_done(c, 7);
}

/* Completes from a timer on the worker's loop, 20 ms later. */
struct later {
	uv_timer_t timer;
	struct wcall *c;
	int fired;
};

static void
later_cb(uv_timer_t *t)
{
	struct later *l = t->data;

	l->fired = 1;
	uv_close((uv_handle_t *)t, NULL);
	workers_done(l->c, 0);
}

static void
later_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	struct later *l = arg;

	l->c = c;
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, later_cb, 20, 0);
}

static void
no_threads_with_one(void **state)
{
	assert_int_equal(workers_start(1, 0), 0);
	assert_int_equal(workers_count(), 1);
	assert_false(workers_threaded());
	assert_true(workers_on_main());
	agent_lock(); /* no-ops: must not block or crash */
	agent_lock();
	agent_unlock();
	agent_unlock();
	assert_int_equal(workers_call(0, probe_fn, NULL), -EINVAL);
	workers_stop();
}

static void
calls_run_on_each_worker(void **state)
{
	struct probe p[3] = { { 0 } };
	uv_thread_t self = uv_thread_self();
	struct later l = { 0 };

	assert_int_equal(workers_start(3, 0), 0);
	assert_int_equal(workers_count(), 3);
	assert_true(workers_threaded());
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(workers_call(i, probe_fn, &p[i]), 7);
		assert_int_equal(p[i].seq, (int)i + 1);
		assert_false(p[i].on_main);
		assert_false(uv_thread_equal(&p[i].thread, &self));
	}
	assert_false(uv_thread_equal(&p[0].thread, &p[1].thread));
	assert_ptr_not_equal(p[0].loop, p[1].loop);
	assert_ptr_not_equal(p[1].loop, p[2].loop);
	/* The same worker again: same thread, same loop. */
	assert_int_equal(workers_call(1, probe_fn, &p[0]), 7);
	assert_true(uv_thread_equal(&p[0].thread, &p[1].thread));
	assert_ptr_equal(p[0].loop, p[1].loop);
	/* Completion from a later callback: the call waits for it. */
	assert_int_equal(workers_call(2, later_fn, &l), 0);
	assert_true(l.fired);
	assert_int_equal(workers_call(3, probe_fn, &p[0]), -EINVAL);
	agent_lock();
	agent_unlock();
	workers_stop();
	assert_int_equal(workers_count(), 1);
}

/* On the worker: the one CPU it may run on, or -1 if it may use more. */
static void
affinity_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	cpu_set_t set;
	int *cpu = arg;

	*cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) == 1)
		for (int k = 0; k < CPU_SETSIZE; k++)
			if (CPU_ISSET(k, &set))
				*cpu = k;
	workers_done(c, 0);
}

static void
pinned_workers_run_on_their_cpu(void **state)
{
	cpu_set_t all, after;
	int want[3], n = 0, cpu;

	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	for (int k = 0; k < CPU_SETSIZE && n < 3; k++)
		if (CPU_ISSET(k, &all))
			want[n++] = k;
	for (int i = n; i < 3; i++) /* fewer CPUs than workers: wrap */
		want[i] = want[i % n];
	assert_int_equal(workers_start(3, 1), 0);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(workers_call(i, affinity_fn, &cpu), 0);
		assert_int_equal(cpu, want[i]);
	}
	/* The main thread keeps every CPU it had. */
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&all, &after));
	workers_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_threads_with_one),
		cmocka_unit_test(calls_run_on_each_worker),
		cmocka_unit_test(pinned_workers_run_on_their_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
