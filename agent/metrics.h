/*
 * metrics.h - itm-agent --metrics ADDR: GET /metrics in the Prometheus
 * text format.  The loop renders a snapshot every METRICS_INTERVAL_MS and
 * publishes it; the HTTP thread (metrics/httpd.c) only sends the last one,
 * so a scraper never delays a packet or an RPC.
 */
#ifndef ITM_AGENT_METRICS_H
#define ITM_AGENT_METRICS_H

#define METRICS_INTERVAL_MS 1000

/* Serve cfg.metrics_addr if set; < 0 (logged) when it cannot listen. */
int metrics_start(void);
void metrics_stop(void);

/* metrics_queue.c: per queue packets, kernel drops, verdict latency. */
struct expo;
void metrics_render_queues(struct expo *e);

#endif /* ITM_AGENT_METRICS_H */
