/*
 * test_settle.c - the settlement table (agent/settle.c): one id per
 * (registration, class, action), the life of an id, round-robin reuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle.h"

/* Registrations are only compared by address here. */
static const char reg_a, reg_b;
#define A ((const struct agent_reg *)&reg_a)
#define B ((const struct agent_reg *)&reg_b)

static unsigned int
get(struct settle_table *t, const struct agent_reg *r,
    const struct itm_settle *s, int want_new)
{
	unsigned int id;
	int is_new;

	assert_int_equal(settle_get(t, r, s, &id, &is_new), 0);
	assert_int_equal(is_new, want_new);
	return id;
}

/* The same request gets the same id; another class, action, TOS or
 * registration a new one.  TOS fields do not count unless SET_TOS. */
static void
one_id_per_request(void **state)
{
	struct itm_settle tos = { .class = 2,
				  .action = ITM_SETTLE_SET_TOS,
				  .tos_mask = 0x1c };
	struct itm_settle acc = { .class = 2, .tos_value = 7 };
	struct itm_settle acc0 = { .class = 2 };
	struct settle_table t;

	settle_init(&t);
	assert_int_equal(get(&t, A, &tos, 1), 1);
	assert_int_equal(get(&t, A, &tos, 0), 1);
	assert_int_equal(get(&t, B, &tos, 1), 2);
	assert_int_equal(get(&t, A, &acc, 1), 3);
	assert_int_equal(get(&t, A, &acc0, 0), 3);
	tos.tos_value = 0x10;
	assert_int_equal(get(&t, A, &tos, 1), 4);
	assert_int_equal(t.ids[3].spec.tos_value, 0);
}

/* NEW -> LIVE when the rules go in; a released LIVE id is DEAD until
 * the next rule set removed its chain; a NEW one is free at once. */
static void
life_of_an_id(void **state)
{
	struct itm_settle s = { .class = 1 },
			  d = { .class = 1, .action = ITM_SETTLE_DROP };
	unsigned int ids[ITM_SETTLE_IDS];
	struct settle_table t;

	settle_init(&t);
	assert_int_equal(get(&t, A, &s, 1), 1);
	assert_int_equal(settle_ids(&t, A, 1, ids), 0); /* not in yet */
	settle_installed(&t);
	assert_int_equal(t.ids[1].state, SETTLE_LIVE);
	assert_int_equal(get(&t, A, &d, 1), 2);
	assert_int_equal(settle_ids(&t, A, 1, ids), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(settle_ids(&t, A, 2, ids), 0);
	settle_release(&t, A);
	assert_int_equal(t.ids[1].state, SETTLE_DEAD);
	assert_int_equal(t.ids[2].state, SETTLE_FREE);
	assert_null(t.ids[1].reg);
	settle_installed(&t);
	assert_int_equal(t.ids[1].state, SETTLE_FREE);
	/* A request whose rules failed gives its id back. */
	assert_int_equal(get(&t, B, &s, 1), 3);
	settle_put(&t, 3);
	assert_int_equal(t.ids[3].state, SETTLE_FREE);
}

/* Ids go round robin (a released id is reused as late as possible); all
 * 255 taken is -ENOSPC. */
static void
round_robin_and_full(void **state)
{
	struct settle_table t;
	unsigned int id;
	int is_new;

	settle_init(&t);
	for (int c = 1; c <= ITM_SETTLE_IDS; c++) {
		struct itm_settle s = { .class = c };

		assert_int_equal(get(&t, A, &s, 1), (unsigned int)c);
	}
	assert_int_equal(settle_get(&t, B, &(struct itm_settle){ .class = 1 },
				    &id, &is_new),
			 -ENOSPC);
	settle_installed(&t);
	settle_release(&t, A);
	settle_installed(&t);
	assert_int_equal(get(&t, B, &(struct itm_settle){ .class = 9 }, 1), 1);
	settle_put(&t, 1);
	assert_int_equal(get(&t, B, &(struct itm_settle){ .class = 9 }, 1), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_id_per_request),
		cmocka_unit_test(life_of_an_id),
		cmocka_unit_test(round_robin_and_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
