/*
 * test_fdwatch.c - libitm/src/fdwatch.c (itm_register_fd and friends):
 * callbacks run on the loop with the right readiness, between the
 * owner's enter calls; events can be paused and changed; one watch per
 * fd; an owner sees and removes only its own watches, and the fds stay
 * open.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>
#include <uv.h>

#include "fdwatch.h"

static uv_loop_t loop;
static void *entered;	  /* owner seen by the last enter */
static void *in_cb_owner; /* owner current while the callback ran */
static unsigned int last_rev, calls;

static void
enter(void *owner)
{
	entered = owner;
}

static void
cb(int fd, unsigned int revents, void *arg)
{
	char buf[16];

	calls++;
	last_rev = revents;
	in_cb_owner = entered;
	*(int *)arg = fd;
	if (revents & ITM_FD_READ)
		(void)read(fd, buf, sizeof(buf));
}

static int
setup(void **state)
{
	uv_loop_init(&loop);
	itm__fdw_init(&loop, enter);
	calls = 0;
	last_rev = 0;
	return 0;
}

static int
teardown(void **state)
{
	itm__fdw_del_owner(NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void
test_read_write(void **state)
{
	int p[2], seen = -1, owner;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(itm__fdw_add(&owner, p[0], ITM_FD_READ, cb, &seen), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(calls, 0); /* nothing to read yet */
	assert_int_equal(write(p[1], "x", 1), 1);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(calls, 1);
	assert_int_equal(seen, p[0]);
	assert_true(last_rev & ITM_FD_READ);
	assert_ptr_equal(in_cb_owner, &owner);
	assert_null(entered); /* left after the callback */

	/* The write end: writable at once; pause it, then nothing. */
	assert_int_equal(itm__fdw_add(&owner, p[1], ITM_FD_WRITE, cb, &seen),
			 0);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(seen, p[1]);
	assert_true(last_rev & ITM_FD_WRITE);
	assert_int_equal(itm__fdw_mod(&owner, p[1], 0), 0);
	calls = 0;
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(calls, 0);
	assert_int_equal(itm__fdw_count(&owner), 2);
	assert_int_equal(itm__fdw_del(&owner, p[0]), 0);
	assert_int_equal(itm__fdw_del(&owner, p[1]), 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	/* The host never closes the fds. */
	assert_int_equal(write(p[1], "y", 1), 1);
	close(p[0]);
	close(p[1]);
}

static void
test_hangup(void **state)
{
	int p[2], seen = -1, owner;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(itm__fdw_add(&owner, p[0], ITM_FD_READ, cb, &seen), 0);
	close(p[1]);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(calls, 1);
	assert_true(last_rev & ITM_FD_READ);
	itm__fdw_del(&owner, p[0]);
	close(p[0]);
}

static void
test_errors(void **state)
{
	int p[2], seen, a, b;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(itm__fdw_add(&a, -1, ITM_FD_READ, cb, &seen), -EINVAL);
	assert_int_equal(itm__fdw_add(&a, 999, ITM_FD_READ, cb, &seen),
			 -EINVAL);
	assert_int_equal(itm__fdw_add(&a, p[0], 0x10, cb, &seen), -EINVAL);
	assert_int_equal(itm__fdw_add(&a, p[0], ITM_FD_READ, NULL, &seen),
			 -EINVAL);
	assert_int_equal(itm__fdw_add(&a, p[0], ITM_FD_READ, cb, &seen), 0);
	assert_int_equal(itm__fdw_add(&b, p[0], ITM_FD_READ, cb, &seen),
			 -EEXIST);
	/* Another owner can neither change nor remove it. */
	assert_int_equal(itm__fdw_mod(&b, p[0], ITM_FD_WRITE), -ENOENT);
	assert_int_equal(itm__fdw_del(&b, p[0]), -ENOENT);
	assert_int_equal(itm__fdw_mod(&a, p[0], 0x10), -EINVAL);
	assert_int_equal(itm__fdw_add(&b, p[1], ITM_FD_WRITE, cb, &seen), 0);
	itm__fdw_del_owner(&a);
	assert_int_equal(itm__fdw_count(&a), 0);
	assert_int_equal(itm__fdw_count(&b), 1);
	/* The fd can be watched again at once (same number, new watch). */
	assert_int_equal(itm__fdw_add(&a, p[0], ITM_FD_READ, cb, &seen), 0);
	itm__fdw_del_owner(NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	close(p[0]);
	close(p[1]);
}

/* A callback may unwatch its own fd and a new fd may reuse the number. */
static int reuse_fd = -1;

static void
unwatch_cb(int fd, unsigned int revents, void *arg)
{
	int *owner = arg;

	calls++;
	assert_int_equal(itm__fdw_del(owner, fd), 0);
	close(fd);
	reuse_fd = fd;
}

static void
test_unwatch_in_cb(void **state)
{
	int p[2], q[2], owner, seen;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(itm__fdw_add(&owner, p[0], ITM_FD_READ, unwatch_cb,
				      &owner),
			 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(calls, 1);
	assert_int_equal(pipe(q), 0); /* q[0] takes p[0]'s number */
	assert_int_equal(q[0], reuse_fd);
	assert_int_equal(itm__fdw_add(&owner, q[0], ITM_FD_READ, cb, &seen), 0);
	assert_int_equal(write(q[1], "z", 1), 1);
	uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(calls, 2);
	assert_int_equal(seen, q[0]);
	itm__fdw_del_owner(NULL);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch_in_cb, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
