/*
 * test_flowset.c - the bounded flow set: new/seen answers, the size bound
 * under a flood of distinct flows, idle expiry on a fake clock, eviction
 * of the oldest, and flow keys of parsed packets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "flowset.h"
#include "pkt_build.h"

static void
new_then_seen(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(100, 1000);

	assert_non_null(fs);
	assert_int_equal(itm_flowset_count(fs), 0);
	assert_int_equal(itm_flowset_add(fs, 42, 0), 1);
	assert_int_equal(itm_flowset_add(fs, 42, 1), 0);
	assert_int_equal(itm_flowset_add(fs, 0, 1), 1); /* 0 is a key too */
	assert_int_equal(itm_flowset_add(fs, 0, 2), 0);
	assert_int_equal(itm_flowset_count(fs), 2);
	itm_flowset_free(fs);
	itm_flowset_free(NULL);
}

static void
bad_capacity(void **state)
{
	errno = 0;
	assert_null(itm_flowset_new(0, 1000));
	assert_int_equal(errno, EINVAL);
	assert_null(itm_flowset_new(0xffffffffu, 1000));
}

/* A million distinct flows into 4096 slots: every one counted as new, the
 * set never grows past its size, and recent flows are still known. */
static void
flood_stays_bounded(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(4096, 60000);
	uint64_t k, news = 0;

	for (k = 1; k <= 1000000; k++) {
		news += (uint64_t)itm_flowset_add(fs, k * 0x9e3779b97f4a7c15ull,
						  k / 1000);
		if (k % 65536 == 0)
			assert_true(itm_flowset_count(fs) <= 4096);
	}
	assert_int_equal(news, 1000000);
	assert_int_equal(itm_flowset_count(fs), 4096);
	assert_int_equal(itm_flowset_add(fs, 1000000 * 0x9e3779b97f4a7c15ull,
					 1000),
			 0);
	/* Still counting new ones after the flood. */
	assert_int_equal(itm_flowset_add(fs, 7, 1000), 1);
	itm_flowset_free(fs);
}

/* Sequential keys (ports counting up) spread well enough that a set with
 * room for all of them keeps all of them. */
static void
sequential_keys_fit(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(8192, 0);
	uint64_t k;

	for (k = 0; k < 4096; k++)
		assert_int_equal(itm_flowset_add(fs, k, 0), 1);
	for (k = 0; k < 4096; k++)
		assert_int_equal(itm_flowset_add(fs, k, 0), 0);
	assert_int_equal(itm_flowset_count(fs), 4096);
	itm_flowset_free(fs);
}

static void
idle_expiry(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(64, 1000);
	uint64_t k;

	assert_int_equal(itm_flowset_add(fs, 1, 0), 1);
	assert_int_equal(itm_flowset_add(fs, 1, 1000), 0); /* refreshed */
	assert_int_equal(itm_flowset_add(fs, 1, 2000), 0);
	assert_int_equal(itm_flowset_add(fs, 1, 3001), 1); /* idle 1001 */

	for (k = 10; k < 20; k++)
		itm_flowset_add(fs, k, 5000);
	assert_int_equal(itm_flowset_count(fs), 10);
	itm_flowset_add(fs, 99, 6001);
	assert_int_equal(itm_flowset_count(fs), 1);

	/* A clock that goes back does not expire anything. */
	assert_int_equal(itm_flowset_add(fs, 99, 10), 0);
	itm_flowset_free(fs);
}

static void
no_expiry(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(16, 0);

	assert_int_equal(itm_flowset_add(fs, 5, 0), 1);
	assert_int_equal(itm_flowset_add(fs, 5, 1ull << 40), 0);
	itm_flowset_free(fs);
}

/* Capacity 8 is one probe window: the ninth flow evicts the oldest. */
static void
evicts_oldest(void **state)
{
	struct itm_flowset *fs = itm_flowset_new(5, 100000);
	uint64_t k;

	for (k = 1; k <= 8; k++)
		assert_int_equal(itm_flowset_add(fs, k, k), 1);
	assert_int_equal(itm_flowset_add(fs, 1, 20), 0); /* 1 is fresh */
	assert_int_equal(itm_flowset_add(fs, 9, 21), 1); /* evicts 2 */
	assert_int_equal(itm_flowset_count(fs), 8);
	assert_int_equal(itm_flowset_add(fs, 1, 22), 0);
	assert_int_equal(itm_flowset_add(fs, 3, 23), 0);
	assert_int_equal(itm_flowset_add(fs, 2, 24), 1); /* came back */
	itm_flowset_free(fs);
}

static void
flow_keys(void **state)
{
	uint8_t a[128], b[128];
	struct itm_packet pa, pb;
	uint32_t n = pb_tcp4(a, 1000, 80, 10);
	uint64_t k;

	memcpy(b, a, n);
	pb_parse(&pa, a, n, n);
	pb_parse(&pb, b, n, n);
	k = itm_flow_key(&pa, 0);
	assert_true(k == itm_flow_key(&pb, 0));
	assert_true(k != itm_flow_key(&pa, 1)); /* salt */
	memcpy(b + 12, a + 16, 4);		/* swap addresses */
	memcpy(b + 16, a + 12, 4);
	pb_parse(&pb, b, n, n);
	assert_true(k != itm_flow_key(&pb, 0)); /* direction */
	memcpy(b, a, n);
	b[21] ^= 1; /* source port */
	pb_parse(&pb, b, n, n);
	assert_true(k != itm_flow_key(&pb, 0));
	memcpy(b, a, n);
	b[40] ^= 1; /* payload: same flow */
	pb_parse(&pb, b, n, n);
	assert_true(k == itm_flow_key(&pb, 0));

	n = pb_tcp6(a, 1000, 80, 0);
	memcpy(b, a, n);
	b[39] ^= 1; /* last daddr byte */
	pb_parse(&pa, a, n, n);
	pb_parse(&pb, b, n, n);
	assert_true(itm_flow_key(&pa, 0) != itm_flow_key(&pb, 0));
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Keys of 65536 flows differing only in the source port: no collision in
 * 64 bits, and the low 12 bits spread evenly (no bucket over 3x average). */
static void
flow_key_spread(void **state)
{
	static uint64_t keys[65536];
	static unsigned int bucket[4096];
	uint8_t a[64];
	struct itm_packet p;
	uint32_t n = pb_tcp4(a, 0, 80, 0), i;

	for (i = 0; i < 65536; i++) {
		pb_put16(a + 20, (uint16_t)i);
		pb_parse(&p, a, n, n);
		keys[i] = itm_flow_key(&p, 3);
		bucket[keys[i] & 4095]++;
	}
	for (i = 0; i < 4096; i++)
		assert_true(bucket[i] <= 48);
	qsort(keys, 65536, sizeof(keys[0]), cmp_u64);
	for (i = 1; i < 65536; i++)
		assert_true(keys[i] != keys[i - 1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_then_seen),
		cmocka_unit_test(bad_capacity),
		cmocka_unit_test(flood_stays_bounded),
		cmocka_unit_test(sequential_keys_fit),
		cmocka_unit_test(idle_expiry),
		cmocka_unit_test(no_expiry),
		cmocka_unit_test(evicts_oldest),
		cmocka_unit_test(flow_keys),
		cmocka_unit_test(flow_key_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
