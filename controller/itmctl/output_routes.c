/*
 * output_routes.c - the table output of itmRoute's replies: the routes one
 * node holds (`itmctl routes`).
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
