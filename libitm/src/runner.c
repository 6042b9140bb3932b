/*
 * runner.c - a stage: queue, poll, walk, verdict.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "marks.h"
#include "runner.h"

/* Packets per read burst, and bursts per wake-up before yielding to the
 * other handles of the loop. */
#define RUNNER_BURST	       64
#define RUNNER_BURSTS_PER_WAKE 8

struct itm__runner {
	uv_poll_t poll;
	struct itmq *q;
	itm_where hook;
	uint32_t stage_bit;
	const struct itm__disp_host *host;
	struct itm__reg **regs;
	unsigned int n_regs;
	/* Written by the loop's thread only; read by others (agent RPC). */
	_Atomic uint64_t malformed;
	struct log_rl malformed_rl;
	/* Verdict latency, written by the loop's thread only. */
	_Atomic uint64_t lat_bucket[ITM_LAT_BUCKETS];
	_Atomic uint64_t lat_sum_ns;
	void (*closed)(void *); /* itm__runner_close_cb */
	void *closed_arg;
};

const uint64_t itm__lat_bounds_ns[ITM_LAT_BUCKETS - 1] = {
	10000,	 25000,	  50000,    100000,   250000,	 500000,
	1000000, 2500000, 10000000, 50000000, 250000000,
};

static uint64_t
runner_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
atomic_add(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v,
			      atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* @n packets whose verdicts took @ns from their read. */
static void
runner_latency_add(struct itm__runner *r, unsigned int n, uint64_t ns)
{
	unsigned int b = 0;

	while (b < ITM_LAT_BUCKETS - 1 && ns > itm__lat_bounds_ns[b])
		b++;
	atomic_add(&r->lat_bucket[b], n);
	atomic_add(&r->lat_sum_ns, ns * n);
}

static void
runner_malformed(struct itm__runner *r, struct itmq *q, struct itm_packet *pkt,
		 uint32_t mark)
{
	atomic_add(&r->malformed, 1);
	log_rl(&r->malformed_rl, LOG_WARNING,
	       "queue %u: malformed packet "
	       "(%u bytes, hook %s): passed on untouched",
	       itmq_num(q), pkt->wire_len, itm_hook_name(r->hook));
	itmq_verdict(q, pkt, ITMQ_REPEAT, 1, mark);
}

static void
runner_packet(struct itmq *q, struct itm_packet *pkt, void *arg)
{
	struct itm__runner *r = arg;
	struct itm__disp_result res;
	uint32_t raw = pkt->mark;
	uint32_t out;

	pkt->hook = r->hook;
	pkt->mark = raw & ~ITM_MARK_MASK;
	out = (raw & ITM_MARK_STAGE_MASK) | r->stage_bit;
	if (pkt->flags & ITM_PKT_MALFORMED || pkt->family == 0) {
		runner_malformed(r, q, pkt, raw | r->stage_bit);
		return;
	}
	itm__disp_run(r->regs, r->n_regs, r->n_regs > 1, r->host, pkt, &res);
	if (res.verdict == ITM_DROP) {
		itmq_verdict(q, pkt, ITMQ_DROP, 0, 0);
		return;
	}
	out |= (pkt->mark & ~ITM_MARK_MASK) | res.settle_mark;
	itmq_verdict(q, pkt, ITMQ_REPEAT, 1, out);
}

static void
runner_poll_cb(uv_poll_t *handle, int status, int events)
{
	struct itm__runner *r = handle->data;
	static struct log_rl rl;
	int n;

	if (status < 0) {
		log_rl(&rl, LOG_WARNING, "queue %u: poll: %s", itmq_num(r->q),
		       uv_strerror(status));
		return;
	}
	for (int i = 0; i < RUNNER_BURSTS_PER_WAKE; i++) {
		uint64_t t0 = runner_now_ns();

		n = itmq_read_burst(r->q, RUNNER_BURST, runner_packet, r);
		if (n > 0)
			runner_latency_add(r, (unsigned int)n,
					   runner_now_ns() - t0);
		if (n < 0)
			log_rl(&rl, LOG_WARNING, "queue %u: receive: %s",
			       itmq_num(r->q), strerror(-n));
		if (n < RUNNER_BURST)
			break;
	}
}

int
itm__runner_open(struct itm__runner **out, uv_loop_t *loop,
		 const struct itmq_config *cfg, itm_where hook,
		 uint32_t stage_bit, const struct itm__disp_host *host)
{
	struct itmq_config qc = *cfg;
	struct itm__runner *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	qc.mark_mask = 0; /* the runner needs the raw mark */
	err = itmq_open(&r->q, &qc);
	if (err < 0) {
		free(r);
		return err;
	}
	r->hook = hook;
	r->stage_bit = stage_bit;
	r->host = host;
	err = uv_poll_init(loop, &r->poll, itmq_fd(r->q));
	if (err == 0)
		err = uv_poll_start(&r->poll, UV_READABLE, runner_poll_cb);
	if (err < 0) {
		itmq_close(r->q);
		free(r);
		return err;
	}
	r->poll.data = r;
	*out = r;
	return 0;
}

int
itm__runner_set_regs(struct itm__runner *r, struct itm__reg *const *regs,
		     unsigned int n)
{
	struct itm__reg **copy = NULL;

	if (n > 0) {
		copy = malloc(n * sizeof(*copy));
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, regs, n * sizeof(*copy));
	}
	free(r->regs);
	r->regs = copy;
	r->n_regs = n;
	return 0;
}

static void
runner_closed_cb(uv_handle_t *handle)
{
	struct itm__runner *r = handle->data;
	void (*done)(void *) = r->closed;
	void *arg = r->closed_arg;

	free(r->regs);
	free(r);
	if (done)
		done(arg);
}

void
itm__runner_close_cb(struct itm__runner *r, void (*done)(void *), void *arg)
{
	/* Later packets must not reach registrations being freed.  The
	 * queue goes now, not when libuv is done with the handle: the next
	 * one granted its number (a process re-attaching to a restarted
	 * agent) binds it right after this call. */
	r->n_regs = 0;
	r->closed = done;
	r->closed_arg = arg;
	uv_poll_stop(&r->poll);
	itmq_close(r->q);
	r->q = NULL;
	uv_close((uv_handle_t *)&r->poll, runner_closed_cb);
}

void
itm__runner_close(struct itm__runner *r)
{
	if (r != NULL)
		itm__runner_close_cb(r, NULL, NULL);
}

uint16_t
itm__runner_queue(const struct itm__runner *r)
{
	return itmq_num(r->q);
}

uint32_t
itm__runner_stage_bit(const struct itm__runner *r)
{
	return r->stage_bit;
}

uint64_t
itm__runner_malformed(const struct itm__runner *r)
{
	return atomic_load_explicit(&r->malformed, memory_order_relaxed);
}

int
itm__runner_queue_stats(struct itm__runner *r, struct itmq_stats *st)
{
	return itmq_get_stats(r->q, st);
}

int
itm__runner_drops(const struct itm__runner *r, uint64_t *drops)
{
	struct itmq_stats st;
	int rc = itmq_get_kernel_stats(r->q, &st);

	*drops = rc == 0 ? st.kernel_dropped + st.user_dropped : 0;
	return rc;
}

void
itm__runner_latency(const struct itm__runner *r, struct itm__runner_lat *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int b = 0; b < ITM_LAT_BUCKETS; b++) {
		out->bucket[b] = atomic_load_explicit(&r->lat_bucket[b],
						      memory_order_relaxed);
		out->count += out->bucket[b];
	}
	out->sum_ns =
		atomic_load_explicit(&r->lat_sum_ns, memory_order_relaxed);
}
