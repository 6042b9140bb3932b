/*
 * metrics.c - the agent's Prometheus snapshot (metrics.h): per module,
 * registration, hook and class the counters `itmctl stats` shows, every
 * module's own counters (metrics/modctr.h says how a name becomes a
 * series), process-module leases, per queue packets, kernel drops and
 * verdict latency, the installed table generation.
 *
 * Everything here runs on the loop; the HTTP server never calls in.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "expo.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "modctr.h"
#include "telemetry.h"

static struct metrics_httpd *httpd;
static uv_timer_t timer;

struct class_family {
	const char *name;
	const char *help;
	size_t off; /* of a uint64_t in struct tele_class */
};

static const struct class_family class_families[] = {
	{ "itm_class_packets_total",
	  "Packets of a module's class at a registration (settled ones "
	  "included), as itmctl stats",
	  offsetof(struct tele_class, packets) },
	{ "itm_class_bytes_total",
	  "Bytes (IP length) of a module's class, settled ones included",
	  offsetof(struct tele_class, bytes) },
	{ "itm_class_flows_total", "Distinct flows a class has seen",
	  offsetof(struct tele_class, flows) },
	{ "itm_class_settled_packets_total",
	  "Packets of the class the kernel handled for settled flows",
	  offsetof(struct tele_class, settled_packets) },
	{ "itm_class_settled_bytes_total",
	  "Bytes of the class the kernel handled for settled flows",
	  offsetof(struct tele_class, settled_bytes) },
};

static void
render_agent(struct expo *e)
{
	struct expo_label l[] = { { "node", agent->cfg.node },
				  { "version", ITM_VERSION_STRING } };
	uint64_t malformed, drops;

	expo_family(e, "itm_agent_info", EXPO_GAUGE,
		    "The agent: its node name and version (always 1)");
	expo_sample(e, "itm_agent_info", l, 2, 1);
	expo_family(e, "itm_table_generation", EXPO_GAUGE,
		    "Generation of the neighbour table installed (0: none)");
	expo_sample(e, "itm_table_generation", NULL, 0,
		    (double)agent->table_generation);
	expo_family(e, "itm_controller_connected", EXPO_GAUGE,
		    "1 while the agent is joined to its controller");
	expo_sample(e, "itm_controller_connected", NULL, 0,
		    agent->controller_connected ? 1 : 0);
	layout_queue_totals(&malformed, &drops);
	expo_family(e, "itm_malformed_packets_total", EXPO_COUNTER,
		    "Packets in-agent stages passed on untouched as malformed");
	expo_sample(e, "itm_malformed_packets_total", NULL, 0,
		    (double)malformed);
}

static void
render_class_family(struct expo *e, const struct tele_report *rep,
		    const struct class_family *f)
{
	expo_family(e, f->name, EXPO_COUNTER, f->help);
	for (unsigned int i = 0; i < rep->n_mods; i++)
		for (unsigned int j = 0; j < rep->mods[i].n_regs; j++) {
			const struct tele_reg *r = &rep->mods[i].regs[j];

			for (unsigned int k = 0; k < r->n_cls; k++) {
				const struct tele_class *c = &r->cls[k];
				struct expo_label l[] = {
					{ "module", rep->mods[i].name },
					{ "registration", r->label },
					{ "hook", itm_hook_name(r->hook) },
					{ "class", c->name },
				};
				const uint64_t *v =
					(const void *)((const char *)c +
						       f->off);

				expo_sample(e, f->name, l, 4, (double)*v);
			}
		}
}

static void
render_modules(struct expo *e, const struct tele_report *rep)
{
	expo_family(e, "itm_agent_module_loaded", EXPO_GAUGE,
		    "Modules running here (kind: agent or process; always 1)");
	for (unsigned int i = 0; i < rep->n_mods; i++) {
		struct expo_label l[] = { { "module", rep->mods[i].name },
					  { "kind", rep->mods[i].kind } };

		expo_sample(e, "itm_agent_module_loaded", l, 2, 1);
	}
	expo_family(e, "itm_process_leases", EXPO_GAUGE,
		    "Registrations a process module holds as leases");
	for (unsigned int i = 0; i < rep->n_mods; i++) {
		struct expo_label l[] = { { "module", rep->mods[i].name } };

		if (strcmp(rep->mods[i].kind, "process") == 0)
			expo_sample(e, "itm_process_leases", l, 1,
				    rep->mods[i].n_regs);
	}
}

/* A module counter as a series (modctr.h). */
struct mseries {
	struct modctr c;
	const char *module;
	double value;
};

static int
mseries_cmp(const void *a, const void *b)
{
	const struct mseries *x = a, *y = b;
	int d = strcmp(x->c.family, y->c.family);

	if (d == 0)
		d = strcmp(x->module, y->module);
	for (unsigned int i = 0; d == 0 && i < MODCTR_LABELS; i++) {
		d = strcmp(x->c.lname[i], y->c.lname[i]);
		if (d == 0)
			d = strcmp(x->c.lvalue[i], y->c.lvalue[i]);
	}
	return d;
}

static struct mseries *
collect_mseries(const struct tele_report *rep, unsigned int *n)
{
	unsigned int total = 0;
	struct mseries *v;

	for (unsigned int i = 0; i < rep->n_mods; i++)
		total += rep->mods[i].n_counters;
	v = calloc(total ? total : 1, sizeof(*v));
	*n = 0;
	if (v == NULL)
		return NULL;
	for (unsigned int i = 0; i < rep->n_mods; i++)
		for (unsigned int j = 0; j < rep->mods[i].n_counters; j++) {
			const struct tele_counter *tc =
				&rep->mods[i].counters[j];
			struct mseries *s = &v[*n];

			if (modctr_parse(tc->name, &s->c) < 0)
				continue;
			s->module = rep->mods[i].name;
			s->value = (double)tc->value * s->c.scale;
			(*n)++;
		}
	qsort(v, *n, sizeof(*v), mseries_cmp);
	return v;
}

static void
render_mseries(struct expo *e, const struct mseries *s)
{
	struct expo_label l[MODCTR_LABELS + 1] = { { "module", s->module } };

	for (unsigned int i = 0; i < s->c.n_labels; i++) {
		l[i + 1].name = s->c.lname[i];
		l[i + 1].value = s->c.lvalue[i];
	}
	expo_sample(e, s->c.family, l, s->c.n_labels + 1, s->value);
}

/* Grouped by family (one HELP/TYPE each); a repeated series once. */
static void
render_counters(struct expo *e, const struct tele_report *rep)
{
	unsigned int n;
	struct mseries *v = collect_mseries(rep, &n);

	for (unsigned int i = 0; v && i < n; i++) {
		if (i > 0 && mseries_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		if (i == 0 || strcmp(v[i - 1].c.family, v[i].c.family) != 0)
			expo_family(e, v[i].c.family,
				    v[i].c.counter ? EXPO_COUNTER : EXPO_GAUGE,
				    "A counter modules register with "
				    "itm_register_counter");
		render_mseries(e, &v[i]);
	}
	free(v);
}

static char *
render(size_t *len)
{
	struct tele_report rep;
	struct expo e;

	expo_init(&e);
	render_agent(&e);
	if (tele_collect(NULL, &rep) == 0) {
		for (size_t i = 0;
		     i < sizeof(class_families) / sizeof(class_families[0]);
		     i++)
			render_class_family(&e, &rep, &class_families[i]);
		render_modules(&e, &rep);
		render_counters(&e, &rep);
		tele_free(&rep);
	}
	metrics_render_queues(&e);
	return expo_finish(&e, len);
}

static void
publish(void)
{
	static struct log_rl rl;
	size_t len;
	char *text = render(&len);

	if (text == NULL) {
		log_rl(&rl, LOG_WARNING,
		       "metrics: out of memory: the last "
		       "snapshot stays");
		return;
	}
	metrics_httpd_publish(httpd, text, len);
}

static void
tick_cb(uv_timer_t *t)
{
	(void)t;
	publish();
}

int
metrics_start(void)
{
	const char *addr = agent->cfg.metrics_addr;
	char err[256];

	if (addr == NULL)
		return 0;
	if (metrics_httpd_start(&httpd, addr, err, sizeof(err)) < 0) {
		log_warnx("--metrics: %s", err);
		return -1;
	}
	publish();
	uv_timer_init(agent->loop, &timer);
	uv_timer_start(&timer, tick_cb, METRICS_INTERVAL_MS,
		       METRICS_INTERVAL_MS);
	log_info("metrics on http://%s/metrics%s", metrics_httpd_addr(httpd),
		 metrics_httpd_loopback(httpd)
			 ? ""
			 : " (not loopback: anyone who reaches it may read)");
	return 0;
}

void
metrics_stop(void)
{
	if (httpd == NULL)
		return;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
	metrics_httpd_stop(httpd);
	httpd = NULL;
}
