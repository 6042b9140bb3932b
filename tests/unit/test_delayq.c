/*
 * test_delayq.c - the delay line's held packets: released by due time
 * whatever order they came in, in arrival order when due together (a flow
 * keeps its order), bounded, and the heap stays ordered through a long
 * random run checked against a sort.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "delayq.h"

static void
by_due_time(void **state)
{
	static const uint64_t due[] = { 500, 100, 300, 200, 400 };
	struct delayq q;
	struct delayq_item it;

	(void)state;
	assert_int_equal(delayq_init(&q, 8), 0);
	assert_null(delayq_peek(&q));
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(delayq_push(&q, i, due[i]), 0);
	assert_int_equal(delayq_peek(&q)->id, 1);
	for (uint64_t want = 100; want <= 500; want += 100) {
		assert_int_equal(delayq_pop(&q, &it), 0);
		assert_int_equal(it.due_us, want);
	}
	assert_int_equal(delayq_pop(&q, &it), -ENOENT);
	delayq_free(&q);
}

/* Same due time: first in, first out, also across wrap-around of slots. */
static void
ties_keep_arrival_order(void **state)
{
	struct delayq q;
	struct delayq_item it;

	(void)state;
	assert_int_equal(delayq_init(&q, 64), 0);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 64; i++)
			assert_int_equal(delayq_push(&q, round * 100 + i, 7),
					 0);
		for (uint32_t i = 0; i < 64; i++) {
			assert_int_equal(delayq_pop(&q, &it), 0);
			assert_int_equal(it.id, round * 100 + i);
		}
	}
	delayq_free(&q);
}

static void
bounded(void **state)
{
	struct delayq q;

	(void)state;
	assert_int_equal(delayq_init(&q, 0), -EINVAL);
	assert_int_equal(delayq_init(&q, (1u << 20) + 1), -EINVAL);
	assert_int_equal(delayq_init(&q, 2), 0);
	assert_int_equal(delayq_push(&q, 1, 10), 0);
	assert_int_equal(delayq_push(&q, 2, 5), 0);
	assert_int_equal(delayq_push(&q, 3, 1), -ENOSPC);
	assert_int_equal(q.n, 2);
	assert_int_equal(delayq_peek(&q)->id, 2);
	delayq_free(&q);
}

static int
cmp_item(const void *a, const void *b)
{
	const struct delayq_item *x = a, *y = b;

	if (x->due_us != y->due_us)
		return x->due_us < y->due_us ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Random pushes and pops against a sorted shadow copy. */
static void
random_against_sort(void **state)
{
	enum { CAP = 512 };
	struct delayq_item shadow[CAP], it;
	struct delayq q;
	size_t n = 0;

	(void)state;
	srand(7);
	assert_int_equal(delayq_init(&q, CAP), 0);
	for (int step = 0; step < 20000; step++) {
		if (n < CAP && (n == 0 || rand() % 3)) {
			uint64_t due = (uint64_t)(rand() % 50);

			shadow[n] = (struct delayq_item){ due, q.next_seq,
							  (uint32_t)step };
			assert_int_equal(delayq_push(&q, (uint32_t)step, due),
					 0);
			n++;
			continue;
		}
		qsort(shadow, n, sizeof(shadow[0]), cmp_item);
		assert_int_equal(delayq_pop(&q, &it), 0);
		assert_int_equal(it.id, shadow[0].id);
		memmove(shadow, shadow + 1, --n * sizeof(shadow[0]));
	}
	delayq_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(by_due_time),
		cmocka_unit_test(ties_keep_arrival_order),
		cmocka_unit_test(bounded),
		cmocka_unit_test(random_against_sort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
