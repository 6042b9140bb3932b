/*
 * test_table.c - the overlay table of the module API (libitm table.c,
 * wire_table.c): what a pushed table becomes (nodes by name, self, the
 * neighbours pointing into the nodes, addresses parsed), every bad field
 * refused with its name, tables from older controllers (no list of
 * nodes), lookups, references, and the lists of table functions.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "table.h"
#include "wire.h"

static const struct itm__table_src_node three[] = {
	{ "n3", "10.200.0.3", "2001:DB8::3" },
	{ "n1", "10.200.0.1", "10.99.0.1" },
	{ "n2", "10.200.0.2", "" },
};

static const struct itm__table_src_neighbour n1_links[] = {
	{ "n3", "10.99.0.3:7701", 30, 20, 10000 },
	{ "n2", "10.99.0.2:7701", 10, 5, 100000 },
};

static struct itm__table *
build(const struct itm__table_src *src)
{
	struct itm__table *t;
	char err[256] = "";

	if (itm__table_new(src, &t, err, sizeof(err)) != 0)
		fail_msg("table refused: %s", err);
	return t;
}

static void
contents(void **state)
{
	struct itm__table_src src = {
		7, { "n1", "10.200.0.1", "10.99.0.1" }, three, 3, n1_links, 2
	};
	struct itm__table *t = build(&src);
	const struct itm_table *p = itm__table_pub(t);
	struct in_addr a;

	(void)state;
	assert_int_equal(p->generation, 7);
	assert_int_equal(p->n_nodes, 3);
	assert_string_equal(p->nodes[0].name, "n1"); /* by name */
	assert_string_equal(p->nodes[2].name, "n3");
	assert_ptr_equal(p->self, &p->nodes[0]);
	assert_int_equal(p->self->underlay.family, AF_INET);
	assert_string_equal(p->self->underlay.text, "10.99.0.1");
	inet_pton(AF_INET, "10.99.0.1", &a);
	assert_memory_equal(&p->self->underlay.v4, &a, 4);
	assert_int_equal(p->nodes[2].underlay.family, AF_INET6);
	assert_string_equal(p->nodes[2].underlay.text, "2001:db8::3");
	assert_int_equal(p->nodes[1].underlay.family, 0); /* not known */
	assert_string_equal(p->nodes[1].underlay.text, "");
	/* Neighbours by name, pointing into nodes[]. */
	assert_int_equal(p->n_neighbours, 2);
	assert_ptr_equal(p->neighbours[0].node, &p->nodes[1]);
	assert_string_equal(p->neighbours[0].mgmt, "10.99.0.2:7701");
	assert_int_equal(p->neighbours[0].cost, 10);
	assert_int_equal(p->neighbours[0].latency_ms, 5);
	assert_int_equal(p->neighbours[0].bandwidth_kbps, 100000);
	assert_ptr_equal(p->neighbours[1].node, &p->nodes[2]);
	/* Lookups. */
	assert_ptr_equal(itm_table_node(p, "n2"), &p->nodes[1]);
	assert_null(itm_table_node(p, "n4"));
	assert_null(itm_table_node(NULL, "n1"));
	assert_ptr_equal(itm_table_node_by_underlay(p, AF_INET, &a),
			 &p->nodes[0]);
	assert_ptr_equal(itm_table_node_by_underlay(p, AF_INET6,
						    &p->nodes[2].underlay.v6),
			 &p->nodes[2]);
	inet_pton(AF_INET, "10.99.0.2", &a);
	assert_null(itm_table_node_by_underlay(p, AF_INET, &a));
	/* References: the last unref frees (ASan would say otherwise). */
	assert_ptr_equal(itm__table_ref(t), t);
	itm__table_unref(t);
	itm__table_unref(t);
	itm__table_unref(NULL);
	assert_null(itm__table_ref(NULL));
}

/* Self is added when the list of nodes lacks it. */
static void
self_added(void **state)
{
	struct itm__table_src src = { 1,     { "n0", "10.200.0.9", "" },
				      three, 3,
				      NULL,  0 };
	struct itm__table *t = build(&src);

	(void)state;
	assert_int_equal(itm__table_pub(t)->n_nodes, 4);
	assert_string_equal(itm__table_pub(t)->self->name, "n0");
	assert_string_equal(itm__table_pub(t)->self->overlay.text,
			    "10.200.0.9");
	itm__table_unref(t);
}

static void
refuse(const struct itm__table_src *src, const char *want)
{
	struct itm__table *t = (void *)1;
	char err[256] = "";

	assert_int_equal(itm__table_new(src, &t, err, sizeof(err)), -EINVAL);
	assert_null(t);
	assert_string_equal(err, want);
}

static void
faults(void **state)
{
	struct itm__table_src_node bad_node[] = { { "n1", "10.200.0.1", "" },
						  { "n2", "10.200.0.300",
						    "" } };
	struct itm__table_src_node bad_ul[] = { { "n1", "", "10.99.0.1/24" } };
	struct itm__table_src_node dup[] = { { "n1", "", "" },
					     { "n1", "", "" } };
	struct itm__table_src_node noname[] = { { "", "", "" } };
	struct itm__table_src_node space[] = { { "n 1", "", "" } };
	struct itm__table_src_neighbour stranger[] = { { "n9", "x:1", 1, 0,
							 0 } };
	struct itm__table_src_neighbour twice[] = { { "n2", "", 1, 0, 0 },
						    { "n2", "", 1, 0, 0 } };
	struct itm__table_src s = { 1, { "n1", "", "" }, NULL, 0, NULL, 0 };

	(void)state;
	s.generation = 0;
	refuse(&s, "generation: must be > 0");
	s.generation = 1;
	s.nodes = bad_node, s.n_nodes = 2;
	refuse(&s, "nodes[1].overlay_addr: '10.200.0.300' is not an address");
	s.nodes = bad_ul, s.n_nodes = 1;
	refuse(&s, "nodes[0].underlay_addr: '10.99.0.1/24' is not an address");
	s.nodes = dup, s.n_nodes = 2;
	refuse(&s, "nodes: 'n1' is listed twice");
	s.nodes = noname, s.n_nodes = 1;
	refuse(&s, "nodes[0].node: '': want 1..63 printable characters");
	s.nodes = space;
	refuse(&s, "nodes[0].node: 'n 1': want 1..63 printable characters");
	s.nodes = three, s.n_nodes = 3;
	s.neighbours = stranger, s.n_neighbours = 1;
	refuse(&s, "neighbours[0].node: 'n9' is not among the nodes");
	s.neighbours = twice, s.n_neighbours = 2;
	refuse(&s, "neighbours: 'n2' is listed twice");
}

/* The wire message, with a list of nodes and without (older
 * controllers: this node and its neighbours). */
static void
from_wire(void **state)
{
	Itm__V1__NeighbourTable w = ITM__V1__NEIGHBOUR_TABLE__INIT;
	Itm__V1__Neighbour nb = ITM__V1__NEIGHBOUR__INIT, *pnb = &nb;
	Itm__V1__OverlayNode o[3], *po[3];
	const char *names[] = { "n2", "n1", "n3" };
	struct itm__table *t;
	char err[256] = "";

	(void)state;
	w.node = "n1", w.generation = 4, w.overlay_addr = "10.200.0.1";
	w.underlay_addr = "10.99.0.1";
	nb.node = "n2", nb.mgmt_addr = "10.99.0.2:7701";
	nb.overlay_addr = "10.200.0.2", nb.underlay_addr = "10.98.0.2";
	nb.cost = 3;
	w.neighbours = &pnb, w.n_neighbours = 1;
	assert_int_equal(itm__table_from_wire(&w, &t, err, sizeof(err)), 0);
	assert_int_equal(itm__table_pub(t)->n_nodes, 2);
	assert_string_equal(itm__table_pub(t)->nodes[1].underlay.text,
			    "10.98.0.2");
	assert_ptr_equal(itm__table_pub(t)->neighbours[0].node,
			 &itm__table_pub(t)->nodes[1]);
	itm__table_unref(t);
	for (int i = 0; i < 3; i++) {
		itm__v1__overlay_node__init(&o[i]);
		o[i].node = (char *)names[i];
		o[i].overlay_addr = "";
		o[i].underlay_addr = "";
		po[i] = &o[i];
	}
	o[1].underlay_addr = "10.99.0.1";
	w.nodes = po, w.n_nodes = 3;
	assert_int_equal(itm__table_from_wire(&w, &t, err, sizeof(err)), 0);
	assert_int_equal(itm__table_pub(t)->n_nodes, 3);
	assert_string_equal(itm__table_pub(t)->self->underlay.text,
			    "10.99.0.1");
	assert_string_equal(itm__table_pub(t)->neighbours[0].node->name, "n2");
	itm__table_unref(t);
	w.n_nodes = ITM__TABLE_MAX_NODES + 1;
	assert_int_equal(itm__table_from_wire(&w, &t, err, sizeof(err)),
			 -EINVAL);
	assert_null(t);
}

static int calls[3];
static struct itm__table_funcs *funcs_under_test;

static void
f0(const struct itm_table *t, void *arg)
{
	calls[0] += (int)t->generation;
	/* Unregister f2 during the round: it is not called. */
	itm__table_funcs_del(funcs_under_test, (itm_table_func)arg, NULL);
}

static void
f1(const struct itm_table *t, void *arg)
{
	calls[1] += (int)t->generation + (arg != NULL);
}

static void
f2(const struct itm_table *t, void *arg)
{
	calls[2]++;
}

static void
funcs(void **state)
{
	struct itm__table_funcs fs = { 0 };
	struct itm_table t = { .generation = 5 };
	static int slots[ITM__TABLE_MAX_FUNCS]; /* distinct arguments */
	int x;

	(void)state;
	funcs_under_test = &fs;
	assert_int_equal(itm__table_funcs_add(&fs, f0, (void *)f2), 0);
	assert_int_equal(itm__table_funcs_add(&fs, f1, NULL), 0);
	assert_int_equal(itm__table_funcs_add(&fs, f1, &x), 0); /* other arg */
	assert_int_equal(itm__table_funcs_add(&fs, f2, NULL), 0);
	assert_int_equal(itm__table_funcs_add(&fs, f1, NULL), -EEXIST);
	assert_int_equal(itm__table_funcs_add(&fs, NULL, NULL), -EINVAL);
	itm__table_funcs_call(&fs, &t);
	assert_int_equal(calls[0], 5);
	assert_int_equal(calls[1], 11);
	assert_int_equal(calls[2], 0);
	assert_int_equal(fs.n, 3);
	assert_int_equal(itm__table_funcs_del(&fs, f2, NULL), -ENOENT);
	for (int i = fs.n; i < ITM__TABLE_MAX_FUNCS; i++)
		assert_int_equal(itm__table_funcs_add(&fs, f2, &slots[i]), 0);
	assert_int_equal(itm__table_funcs_add(&fs, f2, NULL), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contents), cmocka_unit_test(self_added),
		cmocka_unit_test(faults),   cmocka_unit_test(from_wire),
		cmocka_unit_test(funcs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
