/*
 * output_routes.c - the table output of itmRoute's replies: the routes one
 * node holds (`itmctl routes`), every node's through the controller, and
 * the overlay's measured RTT/loss matrix next to the declared latencies
 * (`itmctl paths`).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "output_int.h"

static const char *
ms(uint32_t us)
{
	return us ? fmt("%.1f", us / 1000.0) : "-";
}

static const char *
path_name(const char *via)
{
	return via == NULL || *via == '\0' ? "direct" : via;
}

static const char *
since(uint64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	static char buf[32];

	if (t == 0 || localtime_r(&tt, &tm) == NULL)
		return "-";
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* The candidates but the one in use: "r2 21.3ms 0%", "r3 dead". */
static const char *
alternatives(const Itm__V1__Route *r)
{
	static char buf[512];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->n_paths && off < sizeof(buf); i++) {
		const Itm__V1__RoutePath *p = r->paths[i];

		if (strcmp(p->via, r->via) == 0)
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s",
					off ? ", " : "", path_name(p->via),
					p->alive ? fmt("%sms %u%%",
						       ms(p->rtt_us),
						       p->loss_permille / 10)
						 : "dead");
	}
	return buf[0] ? buf : "-";
}

void
table_routes(const Itm__V1__RoutesReply *r)
{
	struct table t;

	printf("node %s\n", str_or_dash(r->node));
	if (!r->n_routes) {
		printf("no routes (is itmroute loaded?)\n");
		return;
	}
	putchar('\n');
	tbl_init(&t, "lllrrlrl", "DESTINATION", "OVERLAY", "PATH", "RTT_MS",
		 "LOSS", "SINCE", "SWITCHES", "ALTERNATIVES");
	for (size_t i = 0; i < r->n_routes; i++) {
		const Itm__V1__Route *x = r->routes[i];

		tbl_row(&t, x->destination, x->overlay,
			strcmp(x->via, "-") == 0 ? "-" : path_name(x->via),
			ms(x->rtt_us), fmt("%u%%", x->loss_permille / 10),
			since(x->since), u64(x->switches), alternatives(x));
	}
	tbl_print(&t);
}

static void
node_errors(const Itm__V1__NodeRoutesReply *r)
{
	for (size_t i = 0; i < r->n_errors; i++)
		printf("%snode %s: %s\n", i ? "" : "\n", r->errors[i]->node,
		       str_or_dash(r->errors[i]->detail));
}

void
table_node_routes(const Itm__V1__NodeRoutesReply *r)
{
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (i)
			putchar('\n');
		table_routes(r->nodes[i]);
	}
	node_errors(r);
}

/* The declared round trip between @a and @b: twice the link's latency. */
static const char *
declared(const Itm__V1__NodeRoutesReply *r, const char *a, const char *b)
{
	for (size_t i = 0; i < r->n_links; i++) {
		const Itm__V1__DeclaredLink *l = r->links[i];

		if (((strcmp(l->a, a) == 0 && strcmp(l->b, b) == 0) ||
		     (strcmp(l->a, b) == 0 && strcmp(l->b, a) == 0)) &&
		    l->latency_ms)
			return fmt("%u", 2 * l->latency_ms);
	}
	return "-";
}

static void
path_rows(struct table *t, const Itm__V1__NodeRoutesReply *rr,
	  const Itm__V1__RoutesReply *n)
{
	for (size_t i = 0; i < n->n_routes; i++) {
		const Itm__V1__Route *x = n->routes[i];
		const Itm__V1__RoutePath *d = NULL;

		for (size_t k = 0; k < x->n_paths; k++)
			if (x->paths[k]->via[0] == '\0')
				d = x->paths[k];
		tbl_row(t, n->node, x->destination,
			declared(rr, n->node, x->destination),
			d && d->alive ? ms(d->rtt_us) : "dead",
			d ? fmt("%u%%", d->loss_permille / 10) : "-",
			strcmp(x->via, "-") == 0 ? "-" : path_name(x->via),
			ms(x->rtt_us));
	}
}

void
table_paths(const Itm__V1__NodeRoutesReply *r)
{
	struct table t;

	tbl_init(&t, "llrrrlr", "FROM", "TO", "DECLARED_RTT_MS",
		 "DIRECT_RTT_MS", "DIRECT_LOSS", "PATH", "PATH_RTT_MS");
	for (size_t i = 0; i < r->n_nodes; i++)
		path_rows(&t, r, r->nodes[i]);
	tbl_print(&t);
	node_errors(r);
}
