/*
 * test_neigh.c - neighbour tables: who is in a node's table, with which
 * attributes and in which order, and which changes to a topology change
 * which tables' digests (the "updated" / "unchanged" of an apply), and
 * the table generations an apply gives them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "neigh.h"
#include "topo.h"

/* A square n1-n2-n3-n4 with the diagonal n1-n3.  Placeholders let each
 * test vary one thing: %s = n2's mgmt, n1's overlay, n3-n4's cost, n1's
 * extra keys. */
static const char square_fmt[] =
	"nodes:\n"
	"  - {name: n1, mgmt: 10.99.0.1:7701, overlay: %s %s}\n"
	"  - {name: n2, mgmt: %s, overlay: 10.200.0.2}\n"
	"  - {name: n3, mgmt: 10.99.0.3:7701, overlay: 10.200.0.3}\n"
	"  - {name: n4, mgmt: 10.99.0.4:7701, overlay: 10.200.0.4}\n"
	"  - {name: n5, mgmt: 10.99.0.5:7701, overlay: 10.200.0.5}\n"
	"links:\n"
	"  - {between: [n2, n1], cost: 10, latency_ms: 5, bandwidth: 100mbit}\n"
	"  - {between: [n2, n3], cost: 10}\n"
	"  - {between: [n3, n4], cost: %s}\n"
	"  - {between: [n4, n1], cost: 10}\n"
	"  - {between: [n1, n3], cost: 30, latency_ms: 20}\n";

struct built {
	struct topo_config *cfg;
	struct neigh_set *set;
};

static struct built
build(const char *overlay1, const char *extra1, const char *mgmt2,
      const char *cost34)
{
	struct topo_errors errs;
	struct built b;
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), square_fmt, overlay1, extra1, mgmt2,
		 cost34);
	topo_errors_init(&errs);
	if (topo_parse(yaml, strlen(yaml), "sq.yaml", &b.cfg, &errs) != 0) {
		topo_errors_print(&errs, stderr);
		fail_msg("square does not parse");
	}
	assert_int_equal(neigh_build(b.cfg, &b.set), 0);
	return b;
}

static struct built
base(void)
{
	return build("10.200.0.1", "", "10.99.0.2:7701", "10");
}

static void
built_free(struct built *b)
{
	neigh_set_free(b->set);
	topo_config_free(b->cfg);
}

static void
table_contents(void **state)
{
	struct built b = base();
	const struct neigh_table *t = neigh_find(b.set, "n1");

	assert_int_equal(b.set->n, 5);
	assert_non_null(t);
	assert_string_equal(t->overlay, "10.200.0.1");
	assert_string_equal(t->mgmt, "10.99.0.1:7701");
	assert_int_equal(t->n, 3);
	assert_string_equal(t->v[0].node, "n2");
	assert_string_equal(t->v[0].mgmt, "10.99.0.2:7701");
	assert_string_equal(t->v[0].overlay, "10.200.0.2");
	assert_int_equal(t->v[0].cost, 10);
	assert_int_equal(t->v[0].latency_ms, 5);
	assert_int_equal(t->v[0].bandwidth_kbps, 100000);
	assert_string_equal(t->v[1].node, "n3");
	assert_int_equal(t->v[1].cost, 30);
	assert_int_equal(t->v[1].latency_ms, 20);
	assert_string_equal(t->v[2].node, "n4");
	/* The link is the same seen from the other end. */
	t = neigh_find(b.set, "n2");
	assert_int_equal(t->n, 2);
	assert_string_equal(t->v[0].node, "n1");
	assert_int_equal(t->v[0].latency_ms, 5);
	/* A node without links has an empty table and a digest. */
	t = neigh_find(b.set, "n5");
	assert_int_equal(t->n, 0);
	assert_int_equal(strlen(t->digest), 64);
	assert_null(neigh_find(b.set, "n6"));
	built_free(&b);
}

/* Which of n1..n5 have a different digest in @y than in @x: "1.3.." */
static void
changed(const struct built *x, const struct built *y, char out[6])
{
	for (size_t i = 0; i < 5; i++)
		out[i] = strcmp(x->set->tables[i].digest,
				y->set->tables[i].digest)
				 ? (char)('1' + i)
				 : '.';
	out[5] = '\0';
}

static void
what_changes(void **state)
{
	struct built b = base(), same = base();
	struct built cost = build("10.200.0.1", "", "10.99.0.2:7701", "11");
	struct built mgmt = build("10.200.0.1", "", "10.99.0.9:7701", "10");
	struct built ovl = build("10.200.0.9", "", "10.99.0.2:7701", "10");
	struct built lab = build("10.200.0.1",
				 ", labels: {a: b}, modules: "
				 "[{name: qosmod}]",
				 "10.99.0.2:7701", "10");
	char c[6];

	changed(&b, &same, c);
	assert_string_equal(c, "....."); /* digests are stable */
	changed(&b, &cost, c);
	assert_string_equal(c, "..34."); /* both ends of the link */
	changed(&b, &mgmt, c);
	assert_string_equal(c, "1.3.."); /* n2's neighbours only */
	changed(&b, &ovl, c);
	assert_string_equal(c, "1234."); /* n1 itself and its neighbours */
	changed(&b, &lab, c);
	assert_string_equal(c, "....."); /* not part of any table */
	built_free(&b);
	built_free(&same);
	built_free(&cost);
	built_free(&mgmt);
	built_free(&ovl);
	built_free(&lab);
}

/* Table generations: kept where the digest is the same, 0 (new) where it
 * changed or the node is new; nodes gone from @prev do not matter. */
static void
table_generations(void **state)
{
	struct built b = base();
	struct built cost = build("10.200.0.1", "", "10.99.0.2:7701", "11");
	const uint64_t prev[5] = { 1, 2, 3, 4, 5 };
	uint64_t gens[5];
	const char four[] =
		"nodes:\n"
		"  - {name: n3, mgmt: 10.99.0.3:7701, overlay: 10.200.0.3}\n"
		"  - {name: n4, mgmt: 10.99.0.4:7701, overlay: 10.200.0.4}\n"
		"  - {name: n5, mgmt: 10.99.0.5:7701, overlay: 10.200.0.5}\n"
		"  - {name: n6, mgmt: 10.99.0.6:7701, overlay: 10.200.0.6}\n";
	struct topo_errors errs;
	struct topo_config *cfg;
	struct neigh_set *set;

	neigh_table_gens(b.set, prev, cost.set, gens);
	assert_int_equal(gens[0], 1);
	assert_int_equal(gens[1], 2);
	assert_int_equal(gens[2], 0); /* n3 and n4: their link's cost */
	assert_int_equal(gens[3], 0);
	assert_int_equal(gens[4], 5);
	neigh_table_gens(NULL, NULL, b.set, gens); /* nothing before */
	for (int i = 0; i < 5; i++)
		assert_int_equal(gens[i], 0);
	topo_errors_init(&errs);
	assert_int_equal(topo_parse(four, strlen(four), NULL, &cfg, &errs), 0);
	assert_int_equal(neigh_build(cfg, &set), 0);
	neigh_table_gens(b.set, prev, set, gens);
	assert_int_equal(gens[0], 0); /* n3 lost its links */
	assert_int_equal(gens[1], 0);
	assert_int_equal(gens[2], 5); /* n5 alone before and after */
	assert_int_equal(gens[3], 0); /* n6 is new */
	neigh_set_free(set);
	topo_config_free(cfg);
	built_free(&b);
	built_free(&cost);
}

static void
print_format(void **state)
{
	struct built b = base();
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	neigh_print(neigh_find(b.set, "n2"), f);
	fclose(f);
	assert_non_null(strstr(out, "node n2 overlay 10.200.0.2 digest "));
	assert_non_null(
		strstr(out, "\n  n1 mgmt 10.99.0.1:7701 overlay "
			    "10.200.0.1 cost 10 latency_ms 5 bandwidth "
			    "100mbit\n  n3 mgmt 10.99.0.3:7701 overlay "
			    "10.200.0.3 cost 10 latency_ms 0 bandwidth -\n"));
	free(out);
	built_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_contents),
		cmocka_unit_test(what_changes),
		cmocka_unit_test(table_generations),
		cmocka_unit_test(print_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
