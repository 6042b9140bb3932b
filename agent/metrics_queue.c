/*
 * metrics_queue.c - the queues in the agent's snapshot: for each queue
 * of its range, the drops the kernel counts (/proc/net/netfilter/
 * nfnetlink_queue: queue full, socket buffer full), and for each stage's
 * queue the packets read and the user-space verdict latency (libitm's
 * runner.h): in-agent stages' from their runners, a process module's
 * (which reads its queue itself) from its last heartbeat, labelled with
 * the module, and gone with its lease.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "expo.h"
#include "metrics.h"
#include "runner.h"

struct qdrops {
	int seen;
	uint64_t queue_full, socket_full;
};

/* Kernel counters of the queues in this namespace within our range. */
static void
read_proc(struct qdrops *d)
{
	unsigned int num, portid, total, mode, range, seq, one;
	unsigned long long qdrop, udrop;
	char line[256];
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");

	memset(d, 0, AGENT_QUEUES * sizeof(*d));
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %u %u %u %llu %llu %u %u", &num,
			   &portid, &total, &mode, &range, &qdrop, &udrop, &seq,
			   &one) != 9 ||
		    num < agent->cfg.queue_base ||
		    num >= (unsigned int)agent->cfg.queue_base + AGENT_QUEUES)
			continue;
		d[num - agent->cfg.queue_base] =
			(struct qdrops){ 1, qdrop, udrop };
	}
	fclose(f);
}

/* The hook a queue serves, NULL when no stage has it. */
static const char *
queue_hook(unsigned int q)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < agent->layout.n[h]; i++) {
			const struct stage *st = agent->layout.stages[h][i];

			if (q >= st->queue && q < st->queue + st->n_queues)
				return itm_hook_name(h);
		}
	return NULL;
}

static void
render_drops(struct expo *e)
{
	struct qdrops d[AGENT_QUEUES];
	static const char *const reasons[] = { "queue_full", "socket_full" };
	char qs[8];

	read_proc(d);
	expo_family(e, "itm_queue_kernel_drops_total", EXPO_COUNTER,
		    "Packets the kernel dropped at a queue of the agent's "
		    "range: queue full, or the reader's socket buffer full");
	for (unsigned int i = 0; i < AGENT_QUEUES; i++) {
		const char *hook = queue_hook(agent->cfg.queue_base + i);

		if (!d[i].seen)
			continue;
		snprintf(qs, sizeof(qs), "%u", agent->cfg.queue_base + i);
		for (int r = 0; r < 2; r++) {
			struct expo_label l[] = { { "queue", qs },
						  { "hook", hook ? hook : "" },
						  { "reason", reasons[r] } };

			expo_sample(e, "itm_queue_kernel_drops_total", l, 3,
				    (double)(r ? d[i].socket_full
					       : d[i].queue_full));
		}
	}
}

typedef void (*queue_cb)(struct expo *e, const struct expo_label *l,
			 unsigned int n_l, const struct itm__runner_lat *lat);

/* Calls @f for each queue of an in-agent stage. */
static void
each_agent_queue(struct expo *e, queue_cb f)
{
	char qs[8];

	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < agent->layout.n[h]; i++) {
			const struct stage *st = agent->layout.stages[h][i];

			if (st->kind != REG_AGENT)
				continue;
			for (unsigned int j = 0; j < st->n_queues; j++) {
				struct itm__runner_lat lat;
				struct expo_label l[] = {
					{ "queue", qs },
					{ "hook", itm_hook_name(h) },
				};

				snprintf(qs, sizeof(qs), "%u", st->queue + j);
				stage_runners_latency(st, j, &lat);
				f(e, l, 2, &lat);
			}
		}
}

static void
process_queue(struct expo *e, queue_cb f, int h, const struct agent_reg *r)
{
	char qs[8];
	struct expo_label l[] = {
		{ "queue", qs },
		{ "hook", itm_hook_name(h) },
		{ "module", r->proc_name },
	};

	snprintf(qs, sizeof(qs), "%u", r->queue);
	f(e, l, 3, &r->remote_lat);
}

/* Calls @f for each process module's queue its heartbeats reported on
 * (the report goes with the lease). */
static void
each_process_queue(struct expo *e, queue_cb f)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < agent->layout.n[h]; i++) {
			const struct stage *st = agent->layout.stages[h][i];

			if (st->kind == REG_PROCESS && st->n_regs == 1 &&
			    st->regs[0]->has_remote_lat)
				process_queue(e, f, h, st->regs[0]);
		}
}

static void
packets_cb(struct expo *e, const struct expo_label *l, unsigned int n_l,
	   const struct itm__runner_lat *lat)
{
	expo_sample(e, "itm_queue_packets_total", l, n_l, (double)lat->count);
}

static void
latency_cb(struct expo *e, const struct expo_label *l, unsigned int n_l,
	   const struct itm__runner_lat *lat)
{
	double bounds[ITM_LAT_BUCKETS - 1];
	uint64_t cum[ITM_LAT_BUCKETS - 1], run = 0;
	struct expo_hist h = { bounds, cum, ITM_LAT_BUCKETS - 1, lat->count,
			       (double)lat->sum_ns / 1e9 };

	for (unsigned int b = 0; b < ITM_LAT_BUCKETS - 1; b++) {
		bounds[b] = (double)itm__lat_bounds_ns[b] / 1e9;
		run += lat->bucket[b];
		cum[b] = run;
	}
	expo_histogram(e, "itm_verdict_latency_seconds", l, n_l, &h);
}

void
metrics_render_queues(struct expo *e)
{
	render_drops(e);
	expo_family(e, "itm_queue_packets_total", EXPO_COUNTER,
		    "Packets a stage's queue handed to user space (the agent, "
		    "or the process module named)");
	each_agent_queue(e, packets_cb);
	each_process_queue(e, packets_cb);
	expo_family(e, "itm_verdict_latency_seconds", EXPO_HISTOGRAM,
		    "Time from reading a burst of packets to sending its "
		    "verdicts, counted once per packet");
	each_agent_queue(e, latency_cb);
	each_process_queue(e, latency_cb);
}
