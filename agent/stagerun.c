/*
 * stagerun.c - the runners of an in-agent stage: one per worker, each on
 * its own queue of the stage's consecutive queue numbers.
 *
 * Without worker threads a stage has one queue and one runner on the main
 * loop, opened, updated and closed right here as the single-threaded agent
 * always did.  With N workers, runner i lives on worker i's loop and every
 * change to it is a workers_call(), which returns when the worker has
 * made it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "workers.h"

struct open_args {
	struct itmq_config qc;
	const struct stage *st;
	struct itm__runner *runner;
};

static void
open_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	struct open_args *a = arg;

	workers_done(c, itm__runner_open(&a->runner, loop, &a->qc, a->st->hook,
					 a->st->bit, &agent->disp_host));
}

static int
runner_open(struct stage *st, unsigned int i, const struct itmq_config *qc)
{
	struct open_args a = { .qc = *qc, .st = st };
	int rc;

	a.qc.num = (uint16_t)(st->queue + i);
	if (!workers_threaded())
		return itm__runner_open(&st->runners[i], agent->loop, &a.qc,
					st->hook, st->bit, &agent->disp_host);
	rc = workers_call(i, open_fn, &a);
	if (rc == 0)
		st->runners[i] = a.runner;
	return rc;
}

static void
close_done_cb(void *c)
{
	workers_done(c, 0);
}

static void
close_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	itm__runner_close_cb(arg, close_done_cb, c);
}

/* Close runner @i; with workers, returns once its queue is unbound. */
static void
runner_close(struct stage *st, unsigned int i)
{
	struct itm__runner *r = st->runners[i];

	if (r == NULL)
		return;
	agent->malformed_closed += itm__runner_malformed(r);
	st->runners[i] = NULL;
	if (!workers_threaded())
		itm__runner_close(r);
	else
		workers_call(i, close_fn, r);
}

static void
queues_free(const struct stage *st)
{
	for (unsigned int i = 0; i < st->n_queues; i++)
		queue_free((uint16_t)(st->queue + i));
}

int
stage_runners_open(struct stage *st, uint32_t copy_bytes, char *err,
		   size_t errlen)
{
	struct itmq_config qc = { .copy_bytes = copy_bytes };
	unsigned int n = workers_count();
	int rc;

	rc = queue_alloc_n(&st->queue, n);
	if (rc < 0) {
		snprintf(err, errlen,
			 n > 1 ? "no %u consecutive free NFQUEUE "
				 "numbers"
			       : "no free NFQUEUE number",
			 n);
		return rc;
	}
	st->n_queues = n;
	st->cpu_fanout = n > 1 && agent->cfg.queue_cpu_fanout;
	for (unsigned int i = 0; i < n; i++) {
		rc = runner_open(st, i, &qc);
		if (rc == 0)
			continue;
		snprintf(err, errlen, "bind queue %u: %s%s", st->queue + i,
			 strerror(-rc),
			 rc == -EPERM
				 ? " (another program holds it; see --queue-base)"
				 : "");
		stage_runners_close(st);
		return rc;
	}
	return 0;
}

struct regs_args {
	struct itm__runner *runner;
	struct itm__reg *const *regs;
	unsigned int n;
};

static void
regs_fn(struct wcall *c, uv_loop_t *loop, void *arg)
{
	struct regs_args *a = arg;

	workers_done(c, itm__runner_set_regs(a->runner, a->regs, a->n));
}

int
stage_runners_set_regs(struct stage *st, struct itm__reg *const *regs,
		       unsigned int n)
{
	int rc = 0, r;

	for (unsigned int i = 0; i < st->n_queues; i++) {
		struct regs_args a = { st->runners[i], regs, n };

		if (st->runners[i] == NULL)
			continue;
		if (!workers_threaded())
			r = itm__runner_set_regs(st->runners[i], regs, n);
		else
			r = workers_call(i, regs_fn, &a);
		if (r < 0)
			rc = r;
	}
	return rc;
}

void
stage_runners_close(struct stage *st)
{
	for (unsigned int i = 0; i < st->n_queues; i++)
		runner_close(st, i);
	queues_free(st);
	st->n_queues = 0;
}

uint64_t
stage_runners_malformed(const struct stage *st)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < st->n_queues; i++)
		if (st->runners[i])
			n += itm__runner_malformed(st->runners[i]);
	return n;
}

uint64_t
stage_runners_drops(const struct stage *st)
{
	uint64_t total = 0, d;

	for (unsigned int i = 0; i < st->n_queues; i++)
		if (st->runners[i] &&
		    itm__runner_drops(st->runners[i], &d) == 0)
			total += d;
	return total;
}

/* Verdict latency of runner @i of @st (zeros when it has none). */
void
stage_runners_latency(const struct stage *st, unsigned int i,
		      struct itm__runner_lat *out)
{
	if (i < st->n_queues && st->runners[i])
		itm__runner_latency(st->runners[i], out);
	else
		memset(out, 0, sizeof(*out));
}
