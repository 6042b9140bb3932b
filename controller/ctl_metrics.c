/*
 * ctl_metrics.c - itm-controller --metrics ADDR: the current generation,
 * per node up/down, wanted and acknowledged table generation and the age
 * of its last heartbeat, the durations of applies and of push rounds
 * (histograms), store errors.  The loop renders a snapshot every
 * CTL_METRICS_MS and hands it to the HTTP thread (metrics/httpd.h),
 * which only sends the last one: a scraper never delays an RPC.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "expo.h"
#include "httpd.h"
#include "log.h"

#define CTL_METRICS_MS 1000

#ifndef ITM_VERSION
#define ITM_VERSION "0"
#endif

static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					  0.5,	 1,    2.5,   5,    10,	 30 };

void
ctl_metrics_init(struct ctl *c)
{
	unsigned int n = sizeof(duration_bounds) / sizeof(*duration_bounds);

	metrics_hist_init(&c->apply_hist, duration_bounds, n);
	metrics_hist_init(&c->push_hist, duration_bounds, n);
}

double
ctl_since_s(uint64_t t0)
{
	return (double)(uv_hrtime() - t0) / 1e9;
}

static void
render_ctl(struct expo *e, struct ctl *c)
{
	struct expo_label l[] = { { "version", ITM_VERSION } };

	expo_family(e, "itm_controller_info", EXPO_GAUGE,
		    "The controller and its version (always 1)");
	expo_sample(e, "itm_controller_info", l, 1, 1);
	expo_family(e, "itm_controller_generation", EXPO_GAUGE,
		    "The topology generation applied (current; 0: none)");
	expo_sample(e, "itm_controller_generation", NULL, 0, (double)c->gen);
	expo_family(e, "itm_controller_nodes", EXPO_GAUGE,
		    "Nodes in the current topology");
	expo_sample(e, "itm_controller_nodes", NULL, 0, (double)c->n_nodes);
	expo_family(e, "itm_store_errors_total", EXPO_COUNTER,
		    "Calls the store (database) failed since start");
	expo_sample(e, "itm_store_errors_total", NULL, 0,
		    (double)store_errors(c->store));
}

/* One gauge per node: @f gives its value, < 0 leaves the node out. */
static void
render_nodes(struct expo *e, struct ctl *c, const char *name, const char *help,
	     double (*f)(const struct ctl_node *, int64_t))
{
	int64_t now = ctl_now_ms();

	expo_family(e, name, EXPO_GAUGE, help);
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct expo_label l[] = { { "node", c->nodes[i].name } };
		double v = f(&c->nodes[i], now);

		if (v >= 0)
			expo_sample(e, name, l, 1, v);
	}
}

static double
node_up(const struct ctl_node *n, int64_t now)
{
	(void)now;
	return n->up ? 1 : 0;
}

static double
node_want(const struct ctl_node *n, int64_t now)
{
	(void)now;
	return (double)n->want_gen;
}

static double
node_acked(const struct ctl_node *n, int64_t now)
{
	(void)now;
	return (double)n->acked_gen;
}

static double
node_age(const struct ctl_node *n, int64_t now)
{
	if (n->last_seen_ms == 0)
		return -1;
	return now > n->last_seen_ms ? (double)(now - n->last_seen_ms) / 1e3
				     : 0;
}

static void
render_hist(struct expo *e, const char *name, const char *help,
	    const struct metrics_hist *h)
{
	struct expo_hist eh;

	expo_family(e, name, EXPO_HISTOGRAM, help);
	metrics_hist_expo(h, &eh);
	expo_histogram(e, name, NULL, 0, &eh);
}

static char *
render(struct ctl *c, size_t *len)
{
	struct expo e;

	expo_init(&e);
	render_ctl(&e, c);
	render_nodes(&e, c, "itm_node_up",
		     "1 while the node's agent heartbeats, 0 when it is down",
		     node_up);
	render_nodes(&e, c, "itm_node_table_generation_wanted",
		     "Table generation the node should hold", node_want);
	render_nodes(&e, c, "itm_node_table_generation_acked",
		     "Table generation the node's agent acknowledged",
		     node_acked);
	render_nodes(&e, c, "itm_node_last_heartbeat_age_seconds",
		     "Seconds since the node's agent was last heard (absent: "
		     "never)",
		     node_age);
	render_hist(&e, "itm_apply_duration_seconds",
		    "Apply and Rollback: from storing the generation to the "
		    "reply (tables pushed, modules placed)",
		    &c->apply_hist);
	render_hist(&e, "itm_push_duration_seconds",
		    "A round of neighbour-table pushes, until the last agent "
		    "answered or timed out",
		    &c->push_hist);
	return expo_finish(&e, len);
}

static void
publish(struct ctl *c)
{
	static struct log_rl rl;
	size_t len;
	char *text = render(c, &len);

	if (text == NULL) {
		log_rl(&rl, LOG_WARNING,
		       "metrics: out of memory: the last "
		       "snapshot stays");
		return;
	}
	metrics_httpd_publish(c->metrics, text, len);
}

static void
tick_cb(uv_timer_t *t)
{
	publish(t->data);
}

int
ctl_metrics_start(struct ctl *c)
{
	char err[256];

	if (c->cfg.metrics_addr == NULL)
		return 0;
	if (metrics_httpd_start(&c->metrics, c->cfg.metrics_addr, err,
				sizeof(err)) < 0) {
		log_warnx("--metrics: %s", err);
		return -1;
	}
	publish(c);
	uv_timer_init(c->loop, &c->metrics_timer);
	c->metrics_timer.data = c;
	uv_timer_start(&c->metrics_timer, tick_cb, CTL_METRICS_MS,
		       CTL_METRICS_MS);
	log_info("metrics on http://%s/metrics%s",
		 metrics_httpd_addr(c->metrics),
		 metrics_httpd_loopback(c->metrics)
			 ? ""
			 : " (not loopback: anyone who reaches it may read)");
	return 0;
}

void
ctl_metrics_stop(struct ctl *c)
{
	if (c->metrics == NULL)
		return;
	uv_timer_stop(&c->metrics_timer);
	metrics_httpd_stop(c->metrics);
	c->metrics = NULL;
}
