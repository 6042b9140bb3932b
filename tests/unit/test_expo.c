/*
 * test_expo.c - the Prometheus text the daemons serve (metrics/): the
 * exposition format with its escapes, histograms, names made valid; a
 * module counter's name as a series (modctr); histograms observed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "expo.h"
#include "hist.h"
#include "modctr.h"

static char *
finish(struct expo *e)
{
	size_t len;
	char *s = expo_finish(e, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

static void
family_and_escapes(void **state)
{
	struct expo_label l[] = { { "class", "a\"b\\c\nd" }, { "hook", "X" } };
	struct expo e;
	char *s;

	(void)state;
	expo_init(&e);
	expo_family(&e, "itm_x_total", EXPO_COUNTER, "help \\ with\nnewline");
	expo_sample(&e, "itm_x_total", l, 2, 42);
	expo_sample(&e, "itm_x_total", NULL, 0, 0.25);
	expo_sample(&e, "itm_x_total", NULL, 0, 1e20);
	s = finish(&e);
	assert_string_equal(s,
			    "# HELP itm_x_total help \\\\ with\\nnewline\n"
			    "# TYPE itm_x_total counter\n"
			    "itm_x_total{class=\"a\\\"b\\\\c\\nd\",hook=\"X\"} "
			    "42\n"
			    "itm_x_total 0.25\n"
			    "itm_x_total 1e+20\n");
	free(s);
}

static void
histogram_lines(void **state)
{
	static const double b[] = { 0.001, 0.5 };
	struct metrics_hist h;
	struct expo_hist eh;
	struct expo_label l[] = { { "queue", "1000" } };
	struct expo e;
	char *s;

	(void)state;
	metrics_hist_init(&h, b, 2);
	metrics_hist_observe(&h, 0.0005);
	metrics_hist_observe(&h, 0.25);
	metrics_hist_observe(&h, 2);
	metrics_hist_expo(&h, &eh);
	expo_init(&e);
	expo_histogram(&e, "itm_d_seconds", l, 1, &eh);
	s = finish(&e);
	assert_string_equal(
		s, "itm_d_seconds_bucket{queue=\"1000\",le=\"0.001\"} 1\n"
		   "itm_d_seconds_bucket{queue=\"1000\",le=\"0.5\"} 2\n"
		   "itm_d_seconds_bucket{queue=\"1000\",le=\"+Inf\"} 3\n"
		   "itm_d_seconds_sum{queue=\"1000\"} 2.2505\n"
		   "itm_d_seconds_count{queue=\"1000\"} 3\n");
	free(s);
}

static void
names_made_valid(void **state)
{
	char n[16];

	(void)state;
	expo_name(n, sizeof(n), "rtt.ms-x:y", 0);
	assert_string_equal(n, "rtt_ms_x:y");
	expo_name(n, sizeof(n), "rtt.ms-x:y", 1);
	assert_string_equal(n, "rtt_ms_x_y");
	expo_name(n, sizeof(n), "9lives", 0);
	assert_string_equal(n, "_9lives");
	expo_name(n, sizeof(n), "", 0);
	assert_string_equal(n, "_");
	expo_name(n, 6, "abcdefgh", 0);
	assert_string_equal(n, "abcde");
}

static void
modctr_conventions(void **state)
{
	struct modctr c;

	(void)state;
	assert_int_equal(modctr_parse("flows_created", &c), 0);
	assert_string_equal(c.family, "itm_module_flows_created");
	assert_false(c.counter);
	assert_true(c.scale == 1.0);
	assert_int_equal(c.n_labels, 0);

	assert_int_equal(modctr_parse("probes_sent_total", &c), 0);
	assert_string_equal(c.family, "itm_module_probes_sent_total");
	assert_true(c.counter);

	assert_int_equal(modctr_parse("path_rtt_us{dst=n3,via=\"n2\"}", &c), 0);
	assert_string_equal(c.family, "itm_module_path_rtt_seconds");
	assert_true(c.scale == 1e-6);
	assert_int_equal(c.n_labels, 2);
	assert_string_equal(c.lname[0], "dst");
	assert_string_equal(c.lvalue[0], "n3");
	assert_string_equal(c.lname[1], "via");
	assert_string_equal(c.lvalue[1], "n2");

	assert_int_equal(modctr_parse("wait_ms", &c), 0);
	assert_string_equal(c.family, "itm_module_wait_seconds");
	assert_true(c.scale == 1e-3);
}

static void
modctr_labels_bounded(void **state)
{
	struct modctr c;

	(void)state;
	/* module and le are the host's; repeats and the fifth are dropped */
	assert_int_equal(modctr_parse("x{module=a,le=1,a=1,a=2,b=2,c=3,d=4,"
				      "e=5}",
				      &c),
			 0);
	assert_int_equal(c.n_labels, 4);
	assert_string_equal(c.lname[0], "a");
	assert_string_equal(c.lvalue[0], "1");
	assert_string_equal(c.lname[3], "d");
	/* odd names become valid; an empty name is refused */
	assert_int_equal(modctr_parse("tx bytes{peer-node=\"n 1\"", &c), 0);
	assert_string_equal(c.family, "itm_module_tx_bytes");
	assert_string_equal(c.lname[0], "peer_node");
	assert_string_equal(c.lvalue[0], "n 1");
	assert_int_equal(modctr_parse("{a=1}", &c), -1);
	assert_int_equal(modctr_parse("", &c), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(family_and_escapes),
		cmocka_unit_test(histogram_lines),
		cmocka_unit_test(names_made_valid),
		cmocka_unit_test(modctr_conventions),
		cmocka_unit_test(modctr_labels_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
