/*
 * test_itmq_batch.c - the verdict planner (libitm/src/itmq_batch.c)
 * against a model of the kernel's NFQUEUE: a list of queued ids where a
 * single verdict takes one id and a batch verdict for N takes every queued
 * id <= N.  Each packet must end with exactly the verdict the caller gave
 * it, whatever the order of verdicts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "itmq_batch.h"

#define NPKT 512

/* The kernel model. */
struct kq {
	uint32_t ids[NPKT]; /* queued, in arrival order */
	int n;
	struct itmq_vd got[NPKT]; /* verdict applied, by index */
	int applied[NPKT];
	uint32_t id_of[NPKT];
	int msgs, batch_msgs, errors;
};

static int
kq_index(struct kq *k, uint32_t id)
{
	for (int i = 0; i < NPKT; i++)
		if (k->id_of[i] == id)
			return i;
	return -1;
}

static void
kq_apply(struct kq *k, int pos, const struct itmq_vd *vd)
{
	int idx = kq_index(k, k->ids[pos]);

	assert_true(idx >= 0);
	k->applied[idx]++;
	k->got[idx] = *vd;
	memmove(&k->ids[pos], &k->ids[pos + 1], (k->n - pos - 1) * 4);
	k->n--;
}

static int
kq_emit(void *arg, int batch, uint32_t id, const struct itmq_vd *vd)
{
	struct kq *k = arg;
	int hit = 0;

	k->msgs++;
	if (batch) {
		k->batch_msgs++;
		while (k->n > 0 && (int32_t)(k->ids[0] - id) <= 0) {
			kq_apply(k, 0, vd);
			hit++;
		}
	} else {
		for (int i = 0; i < k->n; i++)
			if (k->ids[i] == id) {
				kq_apply(k, i, vd);
				hit++;
				break;
			}
	}
	if (!hit)
		k->errors++;
	return 0;
}

static void
receive(struct itmq_batch *b, struct kq *k, int idx, uint32_t id)
{
	k->id_of[idx] = id;
	k->ids[k->n++] = id;
	assert_int_equal(itmq_batch_received(b, id), 0);
}

static struct itmq_vd
vd_make(int verdict, int set_mark, uint32_t mark)
{
	return (struct itmq_vd){ verdict, set_mark, mark };
}

/* In-order equal verdicts become one batch message. */
static void
test_in_order_one_batch(void **state)
{
	struct itmq_batch b;
	struct kq k = { 0 };
	struct itmq_vd acc = vd_make(1, 0, 0);

	(void)state;
	assert_int_equal(itmq_batch_init(&b, 64, kq_emit, &k), 0);
	for (int i = 0; i < 10; i++) {
		receive(&b, &k, i, 100 + i);
		assert_int_equal(itmq_batch_verdict(&b, 100 + i, &acc, 0), 0);
	}
	assert_int_equal(k.msgs, 0);
	assert_int_equal(itmq_batch_close(&b), 0);
	assert_int_equal(k.msgs, 1);
	assert_int_equal(k.batch_msgs, 1);
	assert_int_equal(k.n, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(k.applied[i], 1);
	itmq_batch_free(&b);
}

/* A packet held back (delay line) is not swept up by a later batch. */
static void
test_held_packet_not_covered(void **state)
{
	struct itmq_batch b;
	struct kq k = { 0 };
	struct itmq_vd acc = vd_make(1, 0, 0), drop = vd_make(0, 0, 0);

	(void)state;
	assert_int_equal(itmq_batch_init(&b, 64, kq_emit, &k), 0);
	for (int i = 0; i < 4; i++)
		receive(&b, &k, i, i + 1);
	/* 1 accepted, 2 held, 3 and 4 accepted, then 2 dropped. */
	assert_int_equal(itmq_batch_verdict(&b, 1, &acc, 0), 0);
	assert_int_equal(itmq_batch_verdict(&b, 3, &acc, 0), 0);
	assert_int_equal(itmq_batch_verdict(&b, 4, &acc, 0), 0);
	assert_int_equal(itmq_batch_close(&b), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.ids[0], 2);
	assert_int_equal(itmq_batch_verdict(&b, 2, &drop, 0), 0);
	assert_int_equal(itmq_batch_close(&b), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(k.got[1].verdict, 0);
	assert_int_equal(k.errors, 0);
	assert_int_equal(itmq_batch_verdict(&b, 2, &drop, 0), -ENOENT);
	itmq_batch_free(&b);
}

/* A different mark or verdict ends the run; bytes flush it. */
static void
test_run_breaks(void **state)
{
	struct itmq_batch b;
	struct kq k = { 0 };
	struct itmq_vd m1 = vd_make(4, 1, 0x100), m2 = vd_make(4, 1, 0x200);

	(void)state;
	assert_int_equal(itmq_batch_init(&b, 16, kq_emit, &k), 0);
	for (int i = 0; i < 5; i++)
		receive(&b, &k, i, 7 + i);
	itmq_batch_verdict(&b, 7, &m1, 0);
	itmq_batch_verdict(&b, 8, &m1, 0);
	itmq_batch_verdict(&b, 9, &m2, 0);
	assert_int_equal(k.msgs, 1); /* 7..8 went out */
	assert_int_equal(itmq_batch_verdict(&b, 10, &m2, 1), 0);
	assert_int_equal(k.msgs, 2); /* 9 went out before 10's bytes */
	kq_emit(&k, 0, 10, &m2);     /* the caller's own message */
	itmq_batch_verdict(&b, 11, &m1, 0);
	itmq_batch_close(&b);
	assert_int_equal(k.n, 0);
	assert_int_equal(k.errors, 0);
	assert_int_equal(k.got[2].mark, 0x200);
	assert_int_equal(k.got[4].mark, 0x100);
	itmq_batch_free(&b);
}

/* Full ring. */
static void
test_ring_full(void **state)
{
	struct itmq_batch b;
	struct kq k = { 0 };

	(void)state;
	assert_int_equal(itmq_batch_init(&b, 16, kq_emit, &k), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(itmq_batch_received(&b, i), 0);
	assert_int_equal(itmq_batch_received(&b, 99), -ENOSPC);
	assert_int_equal(itmq_batch_pending(&b), 16);
	itmq_batch_free(&b);
}

/* Random orders, gaps in ids, wrap-around, few distinct verdicts. */
static void
test_random_orders(void **state)
{
	static const struct itmq_vd choices[] = {
		{ 1, 0, 0 },
		{ 0, 0, 0 },
		{ 4, 1, 0x100 },
		{ 4, 1, 0x300 },
	};
	(void)state;
	srand(12345);
	for (int round = 0; round < 300; round++) {
		struct itmq_batch b;
		struct kq k = { 0 };
		struct itmq_vd want[NPKT];
		int order[NPKT], n = 1 + rand() % NPKT, next = 0;
		uint32_t id = 0xfffffff0u + (uint32_t)(rand() % 32);
		int shuffle = rand() % 4; /* 0: in order */

		assert_int_equal(itmq_batch_init(&b, NPKT, kq_emit, &k), 0);
		for (int i = 0; i < n; i++) {
			id += 1 + (rand() % 5 == 0); /* fail-open gaps */
			receive(&b, &k, i, id);
			want[i] = choices[rand() % (round % 2 ? 2 : 4)];
			order[i] = i;
		}
		for (int i = 0; shuffle && i < n; i++) {
			int j = i + rand() % (n - i < 8 ? n - i : 8);
			int t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		while (next < n) {
			int idx = order[next++];

			assert_int_equal(itmq_batch_verdict(&b, k.id_of[idx],
							    &want[idx], 0),
					 0);
			if (rand() % 16 == 0)
				itmq_batch_close(&b);
		}
		itmq_batch_close(&b);
		assert_int_equal(k.errors, 0);
		assert_int_equal(k.n, 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(k.applied[i], 1);
			assert_memory_equal(&k.got[i], &want[i],
					    sizeof(want[i]));
		}
		if (!shuffle && round % 2)
			assert_true(k.msgs < n);
		itmq_batch_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_one_batch),
		cmocka_unit_test(test_held_packet_not_covered),
		cmocka_unit_test(test_run_breaks),
		cmocka_unit_test(test_ring_full),
		cmocka_unit_test(test_random_orders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
