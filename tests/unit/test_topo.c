/*
 * test_topo.c - topo.yaml parsing and validation: the config a good file
 * becomes (canonical forms, defaults, order), the value checkers, fault
 * collection limits, and topology diffs.  Whole-file fault texts are in
 * the corpus (test_topo_corpus.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "topo.h"
#include "topo_int.h"

static struct topo_config *
parse_ok(const char *yaml)
{
	struct topo_errors errs;
	struct topo_config *cfg = NULL;

	topo_errors_init(&errs);
	if (topo_parse(yaml, strlen(yaml), "t.yaml", &cfg, &errs) != 0) {
		topo_errors_print(&errs, stderr);
		fail_msg("valid topology refused");
	}
	topo_errors_free(&errs);
	return cfg;
}

/* Parse a bad file; returns the fault lines joined by '\n'. */
static char *
parse_bad(const char *yaml, size_t len, size_t *nlines)
{
	struct topo_errors errs;
	struct topo_config *cfg = (void *)1;
	char *out = NULL;
	size_t olen;
	FILE *f = open_memstream(&out, &olen);

	topo_errors_init(&errs);
	assert_int_equal(topo_parse(yaml, len, "t.yaml", &cfg, &errs), -EINVAL);
	assert_null(cfg);
	topo_errors_print(&errs, f);
	fclose(f);
	if (nlines)
		*nlines = errs.n;
	topo_errors_free(&errs);
	return out;
}

static const char good[] =
	"comment: lab overlay\n"
	"nodes:\n"
	"  - name: zeta\n"
	"    mgmt: \"[2001:DB8::0:1]:7701\"\n"
	"    overlay: 2001:DB8:0:0::9\n"
	"    labels: { site: west, role: edge, az: \"2\" }\n"
	"    modules:\n"
	"      - name: qosmod\n"
	"        params: { threshold: 20, thresholds: [10, 100], on: yes }\n"
	"      - name: itmroute\n"
	"  - name: alpha\n"
	"    mgmt: Agent-1.Example.NET:7701\n"
	"    overlay: 10.200.0.1\n"
	"links:\n"
	"  - between: [zeta, alpha]\n"
	"    cost: \"12\"\n"
	"    bandwidth: 2.5gbit\n";

static void
good_config(void **state)
{
	struct topo_config *cfg = parse_ok(good);
	const struct topo_node *z, *a;
	const struct topo_link *l;

	assert_string_equal(cfg->comment, "lab overlay");
	assert_int_equal(cfg->n_nodes, 2);
	/* Sorted by name whatever the file order. */
	a = &cfg->nodes[0];
	z = &cfg->nodes[1];
	assert_string_equal(a->name, "alpha");
	assert_string_equal(a->mgmt, "agent-1.example.net:7701");
	assert_string_equal(z->mgmt, "[2001:db8::1]:7701");
	assert_string_equal(z->overlay, "2001:db8::9");
	/* Labels sorted by key, modules and params in file order. */
	assert_int_equal(z->n_labels, 3);
	assert_string_equal(z->labels[0].key, "az");
	assert_string_equal(z->labels[0].value, "2");
	assert_string_equal(z->labels[2].key, "site");
	assert_int_equal(z->n_modules, 2);
	assert_string_equal(z->modules[0].name, "qosmod");
	assert_int_equal(z->modules[0].n_params, 3);
	assert_string_equal(z->modules[0].params[1].key, "thresholds");
	assert_string_equal(z->modules[0].params[1].value, "10,100");
	assert_string_equal(z->modules[0].params[2].value, "yes");
	assert_int_equal(z->modules[1].n_params, 0);
	/* Link ends in name order, indices follow the sorted nodes. */
	assert_int_equal(cfg->n_links, 1);
	l = &cfg->links[0];
	assert_string_equal(l->a, "alpha");
	assert_string_equal(l->b, "zeta");
	assert_ptr_equal(&cfg->nodes[l->ia], a);
	assert_ptr_equal(&cfg->nodes[l->ib], z);
	assert_int_equal(l->cost, 12);
	assert_int_equal(l->latency_ms, 0);
	assert_int_equal(l->bandwidth_kbps, 2500000);
	assert_ptr_equal(topo_link_find(cfg, "zeta", "alpha"), l);
	assert_ptr_equal(topo_node_find(cfg, "zeta"), z);
	assert_null(topo_node_find(cfg, "beta"));
	topo_config_free(cfg);
}

static void
link_defaults(void **state)
{
	struct topo_config *cfg =
		parse_ok("nodes:\n"
			 "  - {name: a, mgmt: 127.0.0.1:1, overlay: 10.0.0.1}\n"
			 "  - {name: b, mgmt: 127.0.0.1:2, overlay: 10.0.0.2}\n"
			 "links:\n"
			 "  - between: [b, a]\n");

	assert_int_equal(cfg->links[0].cost, 1);
	assert_int_equal(cfg->links[0].latency_ms, 0);
	assert_int_equal(cfg->links[0].bandwidth_kbps, 0);
	assert_null(cfg->comment);
	topo_config_free(cfg);
}

/* Top-level modules go to every node; a node's own entry of the same
 * name wins, its other modules stay. */
static void
default_modules(void **state)
{
	struct topo_config *cfg = parse_ok(
		"modules:\n"
		"  - { name: itmroute, params: { datapath: ebpf } }\n"
		"nodes:\n"
		"  - {name: a, mgmt: 127.0.0.1:1, overlay: 10.0.0.1}\n"
		"  - name: b\n"
		"    mgmt: 127.0.0.1:2\n"
		"    overlay: 10.0.0.2\n"
		"    modules:\n"
		"      - { name: qosmod }\n"
		"      - { name: itmroute, params: { datapath: queue } "
		"}\n");
	const struct topo_node *a = &cfg->nodes[0], *b = &cfg->nodes[1];

	(void)state;
	assert_int_equal(a->n_modules, 1);
	assert_string_equal(a->modules[0].name, "itmroute");
	assert_string_equal(a->modules[0].params[0].value, "ebpf");
	assert_int_equal(b->n_modules, 2);
	assert_string_equal(b->modules[0].name, "qosmod");
	assert_string_equal(b->modules[1].name, "itmroute");
	assert_string_equal(b->modules[1].params[0].value, "queue");
	topo_config_free(cfg);
}

/*
 * underlay: given, or the address of mgmt (IPv4 or IPv6), or "" when mgmt
 * names a host; nodes sharing a host may share its address by default.
 */
static void
underlay_defaults(void **state)
{
	struct topo_config *cfg = parse_ok(
		"nodes:\n"
		"  - {name: a, mgmt: 10.99.0.1:7701, overlay: 10.0.0.1}\n"
		"  - {name: b, mgmt: 10.99.0.1:7702, overlay: 10.0.0.2}\n"
		"  - {name: c, mgmt: \"[2001:db8::7]:1\", overlay: 10.0.0.3}\n"
		"  - {name: d, mgmt: host.example:1, overlay: 10.0.0.4}\n"
		"  - {name: e, mgmt: host.example:2, overlay: 10.0.0.5,\n"
		"     underlay: 192.0.2.5}\n"
		"  - {name: f, mgmt: 10.99.0.6:1, overlay: 10.0.0.6,\n"
		"     underlay: \"2001:DB8:0::6\"}\n");

	(void)state;
	assert_string_equal(topo_node_find(cfg, "a")->underlay, "10.99.0.1");
	assert_string_equal(topo_node_find(cfg, "b")->underlay, "10.99.0.1");
	assert_string_equal(topo_node_find(cfg, "c")->underlay, "2001:db8::7");
	assert_string_equal(topo_node_find(cfg, "d")->underlay, "");
	assert_string_equal(topo_node_find(cfg, "e")->underlay, "192.0.2.5");
	assert_string_equal(topo_node_find(cfg, "f")->underlay, "2001:db8::6");
	topo_config_free(cfg);
}

/* Faults of underlay, each with its line and field. */
static void
underlay_faults(void **state)
{
	static const char yaml[] = "nodes:\n"
				   "  - name: a\n"
				   "    mgmt: 10.99.0.1:7701\n"
				   "    overlay: 10.200.0.1\n"
				   "    underlay: 10.98.0.300\n"
				   "  - name: b\n"
				   "    mgmt: 10.99.0.2:7701\n"
				   "    overlay: 10.200.0.2\n"
				   "    underlay: 10.98.0.2\n"
				   "  - name: c\n"
				   "    mgmt: 10.99.0.3:7701\n"
				   "    overlay: 10.200.0.3\n"
				   "    underlay: 10.98.0.2\n"
				   "  - name: d\n"
				   "    mgmt: 10.200.0.1:7701\n"
				   "    overlay: 10.200.0.4\n"
				   "  - name: e\n"
				   "    mgmt: 10.99.0.5:7701\n"
				   "    overlay: 10.200.0.5\n"
				   "    underlay: 10.99.0.1/24\n";
	size_t n;
	char *out = parse_bad(yaml, sizeof(yaml) - 1, &n);

	(void)state;
	assert_string_equal(
		out,
		"t.yaml:5: nodes[0].underlay: must be an IPv4 or IPv6 address "
		"(no port, no prefix length), got '10.98.0.300'\n"
		"t.yaml:13: nodes[2].underlay: 10.98.0.2 is already the "
		"underlay address of nodes[1] (line 9)\n"
		"t.yaml:15: nodes[3].underlay: 10.200.0.1 is the overlay "
		"address of nodes[0] (line 4): the underlay must not reach "
		"overlay addresses\n"
		"t.yaml:20: nodes[4].underlay: must be an IPv4 or IPv6 address "
		"(no port, no prefix length), got '10.99.0.1/24'\n");
	assert_int_equal(n, 4);
	free(out);
}

/* The length counts, not a NUL: a buffer cut short must not be read on. */
static void
length_not_nul(void **state)
{
	static const char text[] =
		"nodes:\n"
		"  - {name: a, mgmt: 127.0.0.1:1, overlay: 10.0.0.1}\n"
		"GARBAGE: [";
	struct topo_errors errs;
	struct topo_config *cfg;

	topo_errors_init(&errs);
	assert_int_equal(topo_parse(text, strstr(text, "GARBAGE") - text, NULL,
				    &cfg, &errs),
			 0);
	assert_int_equal(cfg->n_nodes, 1);
	topo_config_free(cfg);
	assert_int_equal(topo_parse(text, sizeof(text) - 1, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.lines[0], "topo.yaml:4:1: yaml: did not "
					      "find expected node content"));
	topo_errors_free(&errs);
}

static void
null_value(void **state)
{
	static const char y[] =
		"nodes:\n"
		"  - {name: a, mgmt: 127.0.0.1:1, overlay: 10.0.0.1}\n"
		"  - {name: b, mgmt: 127.0.0.1:2, overlay: 10.0.0.2}\n"
		"links:\n"
		"  - between: [a, b]\n"
		"    cost:\n";
	char *out = parse_bad(y, sizeof(y) - 1, NULL);

	assert_string_equal(out, "t.yaml:6: links[0].cost: must be an "
				 "integer 1..65535, got nothing\n");
	free(out);
}

/* Faults are capped, the rest counted, and the count is printed. */
static void
fault_cap(void **state)
{
	char *y = NULL, *out;
	size_t len, n;
	FILE *f = open_memstream(&y, &len);

	fprintf(f, "nodes:\n  - {name: a, mgmt: 127.0.0.1:1, overlay: "
		   "10.0.0.1}\nlinks:\n");
	for (int i = 0; i < 150; i++)
		fprintf(f, "  - {between: [a, x%d]}\n", i);
	fclose(f);
	out = parse_bad(y, len, &n);
	assert_int_equal(n, TOPO_MAX_ERRORS);
	assert_non_null(strstr(out, "t.yaml:4: links[0].between[1]: unknown "
				    "node 'x0'\n"));
	assert_non_null(strstr(out, "(50 more errors not shown)\n"));
	free(out);
	free(y);
}

static void
too_many_nodes(void **state)
{
	char *y = NULL, *out;
	size_t len;
	FILE *f = open_memstream(&y, &len);

	fprintf(f, "nodes:\n");
	for (int i = 0; i <= TOPO_MAX_NODES; i++)
		fprintf(f,
			"  - {name: n%d, mgmt: 127.0.%d.%d:7701, overlay: "
			"10.%d.%d.1}\n",
			i, i / 250, i % 250 + 1, i / 250, i % 250);
	fclose(f);
	out = parse_bad(y, len, NULL);
	assert_string_equal(out, "t.yaml:2: nodes: more than 1024 nodes\n");
	free(out);
	free(y);
}

/* Milliseconds of CPU since @t0 (CLOCK_MONOTONIC). */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* @head then @unit @depth times: refused with @msg, in well under a
 * second (libyaml took ~20 s for 100k levels; issue 8, item 5). */
static void
deep_refused(const char *head, const char *unit, size_t depth, const char *msg)
{
	size_t hl = strlen(head), ul = strlen(unit), len = hl + ul * depth;
	char *y = malloc(len + 1), *out;
	struct timespec t0;

	memcpy(y, head, hl);
	for (size_t i = 0; i < depth; i++)
		memcpy(y + hl + i * ul, unit, ul);
	y[len] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = parse_bad(y, len, NULL);
	if (ms_since(&t0) > 500)
		fail_msg("%zu levels of '%s': %.0f ms", depth, unit,
			 ms_since(&t0));
	assert_string_equal(out, msg);
	free(out);
	free(y);
}

static void
too_deep(void **state)
{
	static const char flow[] = "t.yaml:1: yaml: flow collections nested "
				   "deeper than 16 levels; nothing was "
				   "parsed\n";
	static const char block[] = "t.yaml:2: yaml: content starts past "
				    "column 128 (block collections nested too "
				    "deep); nothing was parsed\n";
	const char *rest = good + strlen("comment: lab overlay\n");
	struct topo_config *cfg;
	char ok[2048];

	deep_refused("a: ", "[", 100000, flow);
	deep_refused("a: ", "{a: ", 200000, flow);
	deep_refused("a: ", "[", 17, flow);
	deep_refused("a:\n", "- ", 300000, block);
	deep_refused("a:\n", " ", 129, block);
	/* quoted and commented brackets, "a[b" scalars: no nesting */
	snprintf(ok, sizeof(ok),
		 "comment: \"[[[[[[[[[[[[[[[[[[[[[ x\"  # [[[[[[[[[[[[[[[[[[\n"
		 "# {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n%s",
		 rest);
	cfg = parse_ok(ok);
	topo_config_free(cfg);
}

static void
too_large(void **state)
{
	size_t len = TOPO_MAX_BYTES + 1;
	char *y = malloc(len), *out;

	memset(y, '#', len);
	out = parse_bad(y, len, NULL);
	assert_string_equal(out, "t.yaml:1: file is larger than 1048576 "
				 "bytes\n");
	free(out);
	free(y);
}

static void
check_bandwidth(void **state)
{
	static const struct {
		const char *in;
		uint64_t kbps;
	} ok[] = {
		{ "100mbit", 100000 }, { "1.5gbit", 1500000 },
		{ "512kbit", 512 },    { "1tbit", 1000000000 },
		{ "100MBit", 100000 }, { "0.001mbit", 1 },
	};
	static const char *const bad[] = {
		"100",
		"mbit",
		"100mbps",
		".5mbit",
		"1.mbit",
		"0.5kbit",
		"0kbit",
		"1.001tbit",
		"2tbit",
		"-1mbit",
		"1e3kbit",
		"1.0001gbit",
		"99999999999999999999kbit",
		"",
	};
	char why[128], buf[32];
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(topo_parse_bandwidth(ok[i].in, &v, why,
						      sizeof(why)),
				 0);
		assert_int_equal(v, ok[i].kbps);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (topo_parse_bandwidth(bad[i], &v, why, sizeof(why)) == 0)
			fail_msg("bandwidth '%s' accepted", bad[i]);
	assert_string_equal(topo_bandwidth_str(100000, buf, sizeof(buf)),
			    "100mbit");
	assert_string_equal(topo_bandwidth_str(1500000, buf, sizeof(buf)),
			    "1.5gbit");
	assert_string_equal(topo_bandwidth_str(1001, buf, sizeof(buf)),
			    "1.001mbit");
	assert_string_equal(topo_bandwidth_str(999, buf, sizeof(buf)),
			    "999kbit");
	assert_string_equal(topo_bandwidth_str(1000000000, buf, sizeof(buf)),
			    "1tbit");
}

static void
check_hostport(void **state)
{
	static const struct {
		const char *in, *canon;
	} ok[] = {
		{ "10.0.0.1:7701", "10.0.0.1:7701" },
		{ "[::1]:1", "[::1]:1" },
		{ "[2001:DB8:0::1]:65535", "[2001:db8::1]:65535" },
		{ "Host-1.example.com:80", "host-1.example.com:80" },
		{ "localhost:7701", "localhost:7701" },
		{ "1e100.net:443", "1e100.net:443" },
	};
	static const char *const bad[] = {
		"10.0.0.1",	  "10.0.0.1:",	       "10.0.0.1:0",
		"10.0.0.1:65536", "10.0.0.1:+80",      "10.0.0.1:080",
		"10.0.0.256:80",  "1.2.3:80",	       "::1:80",
		"[::1]",	  "[::1]80",	       "[10.0.0.1]:80",
		"[::g]:80",	  "-host:80",	       "host-:80",
		"a..b:80",	  "under_score:80",    ":80",
		"host name:80",	  "[fe80::1%eth0]:80",
	};
	char canon[300], why[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (topo_check_hostport(ok[i].in, canon, sizeof(canon), why,
					sizeof(why)) != 0)
			fail_msg("'%s' refused: %s", ok[i].in, why);
		assert_string_equal(canon, ok[i].canon);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (topo_check_hostport(bad[i], canon, sizeof(canon), why,
					sizeof(why)) == 0)
			fail_msg("'%s' accepted", bad[i]);
}

static void
check_overlay(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0",
		"224.0.0.1",
		"255.255.255.255",
		"::",
		"ff02::1",
		"10.0.0.1/32",
		"10.0.0.1:80",
		"010.0.0.1",
		"host",
		"",
	};
	char canon[64], why[128];

	assert_int_equal(topo_check_overlay("fd00::0001", canon, sizeof(canon),
					    why, sizeof(why)),
			 0);
	assert_string_equal(canon, "fd00::1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (topo_check_overlay(bad[i], canon, sizeof(canon), why,
				       sizeof(why)) == 0)
			fail_msg("overlay '%s' accepted", bad[i]);
}

static void
check_uint(void **state)
{
	uint64_t v;

	assert_int_equal(topo_parse_uint("0", 0, 10, &v), 0);
	assert_int_equal(topo_parse_uint("18446744073709551615", 0, UINT64_MAX,
					 &v),
			 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(topo_parse_uint("18446744073709551616", 0, UINT64_MAX,
					 &v),
			 -1);
	assert_int_equal(topo_parse_uint("00", 0, 10, &v), -1);
	assert_int_equal(topo_parse_uint("+1", 0, 10, &v), -1);
	assert_int_equal(topo_parse_uint(" 1", 0, 10, &v), -1);
	assert_int_equal(topo_parse_uint("11", 0, 10, &v), -1);
	assert_int_equal(topo_parse_uint("", 0, 10, &v), -1);
}

static void
check_names(void **state)
{
	char why[128];

	assert_int_equal(topo_check_node_name("n1", why, sizeof(why)), 0);
	assert_int_equal(topo_check_node_name("a.b-c_d", why, sizeof(why)), 0);
	assert_int_equal(topo_check_node_name("1n", why, sizeof(why)), -1);
	assert_int_equal(topo_check_node_name("n 1", why, sizeof(why)), -1);
	assert_int_equal(
		topo_check_node_name("n123456789012345678901234567890123", why,
				     sizeof(why)),
		-1);
	assert_int_equal(topo_check_module_name("qosmod", why, sizeof(why)), 0);
	assert_int_equal(topo_check_module_name("QoS", why, sizeof(why)), -1);
	assert_int_equal(topo_check_param_key("threshold", why, sizeof(why)),
			 0);
	assert_int_equal(topo_check_param_key("a=b", why, sizeof(why)), -1);
	assert_int_equal(topo_check_param_value("a\nb", why, sizeof(why)), -1);
	assert_int_equal(topo_check_label_key("k8s.io/zone", why, sizeof(why)),
			 0);
	assert_int_equal(topo_check_label_value("", why, sizeof(why)), -1);
}

static void
collect_line(void *arg, const char *line)
{
	FILE *f = arg;

	fprintf(f, "%s\n", line);
}

static void
diff_lines(void **state)
{
	struct topo_config *old = parse_ok(
		"nodes:\n"
		"  - {name: n1, mgmt: 127.0.0.1:1, overlay: 10.0.0.1}\n"
		"  - {name: n2, mgmt: 127.0.0.1:2, overlay: 10.0.0.2,"
		" labels: {role: core}}\n"
		"  - {name: n3, mgmt: 127.0.0.1:3, overlay: 10.0.0.3}\n"
		"links:\n"
		"  - {between: [n1, n2], cost: 10}\n"
		"  - {between: [n2, n3], cost: 10}\n");
	struct topo_config *cur = parse_ok(
		"nodes:\n"
		"  - {name: n1, mgmt: 127.0.0.1:1, overlay: 10.0.0.1,"
		" underlay: 192.0.2.1}\n"
		"  - {name: n2, mgmt: 127.0.0.1:9, overlay: 10.0.0.2}\n"
		"  - {name: n4, mgmt: 127.0.0.1:4, overlay: 10.0.0.4,"
		" modules: [{name: qosmod, params: {threshold: 5}}]}\n"
		"  - {name: n5, mgmt: 127.0.0.1:5, overlay: 10.0.0.5,"
		" underlay: 192.0.2.5}\n"
		"links:\n"
		"  - {between: [n2, n1], cost: 20, latency_ms: 3}\n"
		"  - {between: [n2, n4], bandwidth: 10mbit}\n");
	char *out = NULL;
	size_t len, n;
	FILE *f = open_memstream(&out, &len);

	n = topo_diff(old, cur, collect_line, f);
	fclose(f);
	assert_string_equal(
		out,
		"~ node n1 underlay 127.0.0.1 -> 192.0.2.1\n"
		"~ node n2 mgmt 127.0.0.1:2 -> 127.0.0.1:9\n"
		"~ node n2 labels role=core -> -\n"
		"- node n3\n"
		"+ node n4 mgmt 127.0.0.1:4 overlay 10.0.0.4 labels - modules "
		"qosmod(threshold=5)\n"
		"+ node n5 mgmt 127.0.0.1:5 overlay 10.0.0.5 underlay "
		"192.0.2.5 labels - modules -\n"
		"~ link n1 -- n2 cost 10 -> cost 20 latency 3ms\n"
		"- link n2 -- n3\n"
		"+ link n2 -- n4 cost 1 bandwidth 10mbit\n");
	assert_int_equal(n, 9);
	assert_int_equal(topo_diff(cur, cur, collect_line, NULL), 0);
	free(out);
	topo_config_free(old);
	topo_config_free(cur);
}

static const char tunnels_yaml[] =
	"nodes:\n"
	"  - { name: n1, mgmt: 10.0.0.1:7701, overlay: 10.200.0.1 }\n"
	"  - { name: n3, mgmt: 10.0.0.3:7701, overlay: 10.200.0.3,\n"
	"      modules: [{ name: qosmod }] }\n"
	"tunnels:\n"
	"  - name: t1\n"
	"    between: [n1, n3]\n"
	"    match: { dst: [10.201.3.0/24, 10.9.0.0/16] }\n"
	"    target: 40mbit\n"
	"    max_conns: 32\n";

static const char *
param(const struct topo_module *m, const char *key)
{
	for (size_t i = 0; i < m->n_params; i++)
		if (strcmp(m->params[i].key, key) == 0)
			return m->params[i].value;
	return NULL;
}

/* A tunnel places etunnel on both ends with the parameters of each side. */
static void
tunnel_places_module(void **state)
{
	struct topo_config *cfg = parse_ok(tunnels_yaml);
	const struct topo_node *a = topo_node_find(cfg, "n1");
	const struct topo_node *b = topo_node_find(cfg, "n3");
	const struct topo_module *ma, *mb;

	(void)state;
	assert_int_equal(cfg->n_tunnels, 1);
	assert_int_equal(cfg->tunnels[0].target_kbps, 40000);
	assert_int_equal(cfg->tunnels[0].min_conns, 1);
	assert_int_equal(cfg->tunnels[0].port, 7800);
	assert_int_equal(a->n_modules, 1);
	assert_int_equal(b->n_modules, 2);
	ma = &a->modules[0];
	mb = &b->modules[1];
	assert_string_equal(ma->name, "etunnel");
	assert_string_equal(mb->name, "etunnel");
	assert_string_equal(param(ma, "side"), "entry");
	assert_string_equal(param(ma, "peer"), "n3");
	assert_string_equal(param(ma, "dst"), "10.201.3.0/24,10.9.0.0/16");
	assert_string_equal(param(ma, "target"), "40000");
	assert_string_equal(param(ma, "max_conns"), "32");
	assert_string_equal(param(mb, "side"), "exit");
	assert_string_equal(param(mb, "peer"), "n1");
	assert_null(param(mb, "target"));
	topo_config_free(cfg);
}

/* tls: goes to both ends as tls_ca, tls_cert, tls_key and tls_crl (the
 * same paths: each node has its own certificate there); without crl, no
 * tls_crl; without tls, no tls_ param. */
static void
tunnel_tls_params(void **state)
{
	char yaml[sizeof(tunnels_yaml) + 128];
	struct topo_config *cfg;
	const struct topo_module *m;

	(void)state;
	snprintf(yaml, sizeof(yaml), "%s%s", tunnels_yaml,
		 "    tls: { ca: /etc/itm/ca.pem, cert: /etc/itm/t.pem,\n"
		 "           key: /etc/itm/t.key, crl: /etc/itm/ca.crl }\n");
	cfg = parse_ok(yaml);
	for (int i = 0; i < 2; i++) {
		m = topo_node_find(cfg, i ? "n3" : "n1")->modules;
		m += i; /* n3 lists qosmod first */
		assert_string_equal(m->name, "etunnel");
		assert_string_equal(param(m, "tls_ca"), "/etc/itm/ca.pem");
		assert_string_equal(param(m, "tls_cert"), "/etc/itm/t.pem");
		assert_string_equal(param(m, "tls_key"), "/etc/itm/t.key");
		assert_string_equal(param(m, "tls_crl"), "/etc/itm/ca.crl");
	}
	topo_config_free(cfg);
	snprintf(yaml, sizeof(yaml), "%s%s", tunnels_yaml,
		 "    tls: { ca: /etc/itm/ca.pem, cert: /etc/itm/t.pem,\n"
		 "           key: /etc/itm/t.key }\n");
	cfg = parse_ok(yaml);
	m = topo_node_find(cfg, "n1")->modules;
	assert_string_equal(param(m, "tls_key"), "/etc/itm/t.key");
	assert_null(param(m, "tls_crl"));
	topo_config_free(cfg);
	cfg = parse_ok(tunnels_yaml);
	assert_null(param(&topo_node_find(cfg, "n1")->modules[0], "tls_ca"));
	topo_config_free(cfg);
}

/* tcp: goes to both ends (an exit must speak what its entry sends);
 * without it, no tcp param (the module's default). */
static void
tunnel_tcp_param(void **state)
{
	char yaml[sizeof(tunnels_yaml) + 32];
	struct topo_config *cfg;
	const struct topo_module *m;

	(void)state;
	snprintf(yaml, sizeof(yaml), "%s%s", tunnels_yaml, "    tcp: packet\n");
	cfg = parse_ok(yaml);
	for (int i = 0; i < 2; i++) {
		m = topo_node_find(cfg, i ? "n3" : "n1")->modules;
		m += i; /* n3 lists qosmod first */
		assert_string_equal(m->name, "etunnel");
		assert_string_equal(param(m, "tcp"), "packet");
	}
	topo_config_free(cfg);
	cfg = parse_ok(tunnels_yaml);
	assert_null(param(&topo_node_find(cfg, "n1")->modules[0], "tcp"));
	topo_config_free(cfg);
}

/* The tunnels_yaml with its match: line replaced by @match. */
static void
with_match(char *buf, size_t len, const char *match)
{
	const char *m = strstr(tunnels_yaml, "    match:");
	const char *eol = strchr(m, '\n');

	snprintf(buf, len, "%.*s    match: %s%s", (int)(m - tunnels_yaml),
		 tunnels_yaml, match, eol);
}

/* match.proto and match.ports go to both ends in canonical form (a
 * protocol number with a name becomes the name, a range lo-lo the port);
 * without them, neither param (the module carries everything). */
static void
tunnel_match_params(void **state)
{
	char yaml[sizeof(tunnels_yaml) + 128];
	struct topo_config *cfg;
	const struct topo_module *m;

	(void)state;
	with_match(yaml, sizeof(yaml),
		   "{ dst: [10.9.0.0/16], proto: [6, udp],\n"
		   "             ports: [443, 5000-5100, 80-80] }");
	cfg = parse_ok(yaml);
	for (int i = 0; i < 2; i++) {
		m = topo_node_find(cfg, i ? "n3" : "n1")->modules;
		m += i; /* n3 lists qosmod first */
		assert_string_equal(param(m, "proto"), "tcp,udp");
		assert_string_equal(param(m, "ports"), "443,5000-5100,80");
	}
	topo_config_free(cfg);
	with_match(yaml, sizeof(yaml), "{ dst: [10.9.0.0/16], ports: [9000] }");
	cfg = parse_ok(yaml);
	m = topo_node_find(cfg, "n1")->modules;
	assert_null(param(m, "proto"));
	assert_string_equal(param(m, "ports"), "9000");
	topo_config_free(cfg);
	cfg = parse_ok(tunnels_yaml);
	assert_null(param(&topo_node_find(cfg, "n1")->modules[0], "proto"));
	assert_null(param(&topo_node_find(cfg, "n1")->modules[0], "ports"));
	topo_config_free(cfg);
}

/* Ports with a protocol that has none, a bad protocol, a bad range:
 * refused with line and field, nothing stored. */
static void
tunnel_match_faults(void **state)
{
	char yaml[sizeof(tunnels_yaml) + 128], *out;
	size_t n;

	(void)state;
	with_match(yaml, sizeof(yaml),
		   "{ dst: [10.9.0.0/16], proto: [icmp], ports: [80] }");
	out = parse_bad(yaml, strlen(yaml), &n);
	assert_int_equal(n, 1);
	assert_string_equal(out,
			    "t.yaml:8: tunnels[0].match.ports: protocol icmp "
			    "has no ports (ports need tcp, udp, sctp, "
			    "udplite or dccp only)\n");
	free(out);
	with_match(yaml, sizeof(yaml),
		   "{ dst: [10.9.0.0/16], proto: [tcp, esp],\n"
		   "             ports: [8000-7000] }");
	out = parse_bad(yaml, strlen(yaml), &n);
	assert_int_equal(n, 2);
	assert_non_null(strstr(out, "t.yaml:8: tunnels[0].match.proto[1]: "
				    "must be tcp, udp, icmp or a protocol "
				    "number 1..255 (not 58), got 'esp'\n"));
	assert_non_null(strstr(out, "t.yaml:9: tunnels[0].match.ports[0]: "
				    "must be a port 1..65535 or a range "
				    "lo-hi such as 5000-5100, got "
				    "'8000-7000'\n"));
	free(out);
}

/* cap: goes to the entry only (it puts the bytes on the pool); a value
 * other than yes or no is refused with line and field. */
static void
tunnel_cap_param(void **state)
{
	char yaml[sizeof(tunnels_yaml) + 32];
	struct topo_config *cfg;
	char *out;

	(void)state;
	snprintf(yaml, sizeof(yaml), "%s%s", tunnels_yaml, "    cap: no\n");
	cfg = parse_ok(yaml);
	assert_string_equal(param(&topo_node_find(cfg, "n1")->modules[0],
				  "cap"),
			    "no");
	assert_null(param(&topo_node_find(cfg, "n3")->modules[1], "cap"));
	topo_config_free(cfg);
	snprintf(yaml, sizeof(yaml), "%s%s", tunnels_yaml, "    cap: maybe\n");
	out = parse_bad(yaml, strlen(yaml), NULL);
	assert_non_null(strstr(out, "t.yaml:11: tunnels[0].cap"));
	assert_non_null(strstr(out, "yes or no"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_config),
		cmocka_unit_test(link_defaults),
		cmocka_unit_test(default_modules),
		cmocka_unit_test(underlay_defaults),
		cmocka_unit_test(underlay_faults),
		cmocka_unit_test(length_not_nul),
		cmocka_unit_test(null_value),
		cmocka_unit_test(fault_cap),
		cmocka_unit_test(too_many_nodes),
		cmocka_unit_test(too_large),
		cmocka_unit_test(too_deep),
		cmocka_unit_test(check_bandwidth),
		cmocka_unit_test(check_hostport),
		cmocka_unit_test(check_overlay),
		cmocka_unit_test(check_uint),
		cmocka_unit_test(check_names),
		cmocka_unit_test(diff_lines),
		cmocka_unit_test(tunnel_places_module),
		cmocka_unit_test(tunnel_tls_params),
		cmocka_unit_test(tunnel_tcp_param),
		cmocka_unit_test(tunnel_match_params),
		cmocka_unit_test(tunnel_match_faults),
		cmocka_unit_test(tunnel_cap_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
