/*
 * runner.h - one stage of a hook: an NFQUEUE queue polled by a libuv loop,
 * the registrations that share it, and the verdict that hands each packet
 * on to the next stage.
 *
 * Both hosts use it: itm-agent runs one per in-agent stage, libitm one per
 * process registration.  A packet comes back with NF_REPEAT and the stage's
 * bit set in its mark (see marks.h), plus a settle request when a module
 * settled its flow; dropped packets get NF_DROP.
 */
#ifndef ITM_RUNNER_H
#define ITM_RUNNER_H

#include <uv.h>
#include "dispatch.h"
#include "itmq.h"

struct itm__runner;

/* Bind queue @cfg->num for @hook; packets leave with @stage_bit set. */
int itm__runner_open(struct itm__runner **out, uv_loop_t *loop,
		     const struct itmq_config *cfg, itm_where hook,
		     uint32_t stage_bit, const struct itm__disp_host *host);

/* Replace the registrations of the stage (array copied). */
int itm__runner_set_regs(struct itm__runner *r, struct itm__reg *const *regs,
			 unsigned int n);

/* Unbind and free (asynchronously, after the loop closes the poll). */
void itm__runner_close(struct itm__runner *r);
/* The same, calling @done(@arg) on the loop once the queue is unbound. */
void itm__runner_close_cb(struct itm__runner *r, void (*done)(void *),
			  void *arg);

uint16_t itm__runner_queue(const struct itm__runner *r);
uint32_t itm__runner_stage_bit(const struct itm__runner *r);
/* Safe to call from any thread. */
uint64_t itm__runner_malformed(const struct itm__runner *r);
/* Only from the loop's thread (the counters of the queue). */
int itm__runner_queue_stats(struct itm__runner *r, struct itmq_stats *st);
/* Kernel-side drops of the queue (from /proc); safe from any thread. */
int itm__runner_drops(const struct itm__runner *r, uint64_t *drops);

/*
 * User-space verdict latency: for each read burst, the time from the
 * read to the flush of its verdicts, counted once per packet of the burst
 * (an upper bound of each packet's own time in user space).  Buckets
 * are cumulative-free counts per upper bound (ns); the last is +Inf.
 */
#define ITM_LAT_BUCKETS 12
extern const uint64_t itm__lat_bounds_ns[ITM_LAT_BUCKETS - 1];
struct itm__runner_lat {
	uint64_t bucket[ITM_LAT_BUCKETS]; /* not cumulative; last: +Inf */
	uint64_t count;			  /* packets */
	uint64_t sum_ns;
};
/* Safe to call from any thread (relaxed reads: a snapshot may mix
 * counts of two bursts). */
void itm__runner_latency(const struct itm__runner *r,
			 struct itm__runner_lat *out);

#endif /* ITM_RUNNER_H */
