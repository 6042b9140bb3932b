/*
 * test_params.c - module parameters against a schema: defaults, types,
 * ranges, lists, and the error text an operator sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "params.h"

static const struct itm_param_spec spec[] = {
	{ "threshold", ITM_PARAM_UINT, "20", 1, 1000, "packets" },
	{ "offset", ITM_PARAM_INT, "-5", -10, 10, "signed" },
	{ "mode", ITM_PARAM_STRING, "tos", 0, 8, "mode" },
	{ "settle", ITM_PARAM_BOOL, "yes", 0, 0, "bool" },
	{ "levels", ITM_PARAM_UINT_LIST, "", 1, 100, "list" },
	{ NULL }
};

static int
parse(const char **kv, unsigned int n, struct itm_params **p, char *err)
{
	return params_parse(spec, "testmod", (char **)kv, n, p, err, 256);
}

static void
defaults_filled(void **state)
{
	struct itm_params *p;
	char err[256];
	uint64_t l[4];

	assert_int_equal(parse(NULL, 0, &p, err), 0);
	assert_int_equal(itm_param_uint(p, "threshold"), 20);
	assert_int_equal(itm_param_int(p, "offset"), -5);
	assert_string_equal(itm_param_str(p, "mode"), "tos");
	assert_true(itm_param_bool(p, "settle"));
	assert_int_equal(itm_param_uint_list(p, "levels", l, 4), 0);
	params_free(p);
}

static void
values_parsed(void **state)
{
	const char *kv[] = { "threshold=0x10", "offset=-10", "settle=off",
			     "levels=3,9,4", "mode=dscp" };
	struct itm_params *p;
	char err[256];
	uint64_t l[4];
	const char *k, *v;

	assert_int_equal(parse(kv, 5, &p, err), 0);
	assert_int_equal(itm_param_uint(p, "threshold"), 16);
	assert_int_equal(itm_param_int(p, "offset"), -10);
	assert_false(itm_param_bool(p, "settle"));
	assert_int_equal(itm_param_uint_list(p, "levels", l, 4), 3);
	assert_int_equal(l[2], 4);
	params_get(p, 0, &k, &v);
	assert_string_equal(k, "threshold");
	assert_string_equal(v, "0x10");
	params_free(p);
}

struct bad {
	const char *kv;
	const char *msg;
};

static void
errors_name_the_parameter(void **state)
{
	static const struct bad cases[] = {
		{ "threshold=abc",
		  "threshold: not a non-negative integer: 'abc'" },
		{ "threshold=0", "threshold: 0 is outside 1..1000" },
		{ "threshold=1001", "threshold: 1001 is outside 1..1000" },
		{ "threshold=-1",
		  "threshold: not a non-negative integer: '-1'" },
		{ "threshold=", "threshold: not a non-negative integer: ''" },
		{ "threshold=99999999999999999999",
		  "threshold: not a non-negative integer: "
		  "'99999999999999999999'" },
		{ "offset=11", "offset: 11 is outside -10..10" },
		{ "settle=maybe",
		  "settle: not a boolean: 'maybe' (use yes/no)" },
		{ "mode=verylongvalue", "mode: longer than 8 characters" },
		{ "levels=1,,2", "levels: not a comma-separated list: '1,,2'" },
		{ "levels=5,200", "levels: 200 is outside 1..100" },
		{ "thresh=3", "unknown parameter 'thresh' (testmod takes: "
			      "threshold, offset, mode, settle, levels)" },
		{ "threshold", "'threshold': expected name=value" },
		{ "=3", "'=3': expected name=value" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *kv[] = { cases[i].kv };
		struct itm_params *p = (void *)0x1;

		err[0] = '\0';
		assert_true(parse(kv, 1, &p, err) < 0);
		assert_ptr_equal(p, (void *)0x1); /* untouched */
		assert_string_equal(err, cases[i].msg);
	}
}

static void
duplicate_and_required(void **state)
{
	static const struct itm_param_spec req[] = { { "peer", ITM_PARAM_STRING,
						       NULL, 0, 0, "required" },
						     { NULL } };
	const char *dup[] = { "threshold=3", "threshold=4" };
	struct itm_params *p;
	char err[256];

	assert_true(parse(dup, 2, &p, err) < 0);
	assert_string_equal(err, "parameter 'threshold' given twice");
	assert_true(params_parse(req, "m", NULL, 0, &p, err, sizeof(err)) < 0);
	assert_string_equal(err, "parameter 'peer' is required");
}

/* Numbers are decimal, or hex with an explicit 0x: never octal, never
 * with blanks around them (issue 8, item 4). */
static void
numbers_decimal_or_0x(void **state)
{
	static const struct {
		const char *kv;
		int64_t v;
	} ok[] = {
		{ "threshold=10", 10 },	  { "threshold=0x10", 16 },
		{ "threshold=0X1f", 31 }, { "offset=-0x5", -5 },
		{ "offset=0", 0 },	  { "offset=-7", -7 },
	};
	static const char *const bad[] = {
		"threshold=010",  "threshold=09999", "threshold= 5",
		"threshold=5 ",	  "threshold=+5",    "threshold=0x",
		"threshold=0x 5", "offset=- 5",	     "offset=-010",
		"offset=\t3",	  "levels=5, 6",     "levels=07",
	};
	struct itm_params *p;
	char err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *kv[] = { ok[i].kv };

		assert_int_equal(parse(kv, 1, &p, err), 0);
		if (ok[i].kv[0] == 't')
			assert_int_equal(itm_param_uint(p, "threshold"),
					 ok[i].v);
		else
			assert_int_equal(itm_param_int(p, "offset"), ok[i].v);
		params_free(p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kv[] = { bad[i] };

		p = (void *)0x1;
		if (parse(kv, 1, &p, err) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_ptr_equal(p, (void *)0x1);
		assert_non_null(strstr(err, "integer"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_filled),
		cmocka_unit_test(values_parsed),
		cmocka_unit_test(errors_name_the_parameter),
		cmocka_unit_test(duplicate_and_required),
		cmocka_unit_test(numbers_decimal_or_0x),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
