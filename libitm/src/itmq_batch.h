/*
 * itmq_batch.h - which NFQUEUE verdicts may be merged into one message.
 *
 * A NFQNL_MSG_VERDICT_BATCH for id N applies its verdict to every packet
 * with id <= N still queued in the kernel.  It is therefore only correct
 * when every such packet really was given that verdict.  The queue layer
 * tells this planner about each packet it hands out (itmq_batch_received)
 * and each verdict it gives (itmq_batch_verdict); the planner keeps the
 * received-but-undecided ids in arrival order and merges a verdict into the
 * open run only when it decides the oldest undecided packet.  Any other
 * verdict goes out alone.  Messages leave through the @emit callback in the
 * order the kernel must see them.
 *
 * Pure logic, no I/O: unit-tested against a model of the kernel's queue.
 */
#ifndef ITMQ_BATCH_H
#define ITMQ_BATCH_H

#include <stdint.h>

/* One verdict as the kernel sees it. */
struct itmq_vd {
	int verdict;  /* NF_DROP, NF_ACCEPT, NF_REPEAT */
	int set_mark; /* 0: leave the mark alone */
	uint32_t mark;
};

/* @batch 0: verdict for @id alone; 1: for every queued id <= @id. */
typedef int (*itmq_emit_cb)(void *arg, int batch, uint32_t id,
			    const struct itmq_vd *vd);

struct itmq_pend {
	uint32_t id;
	uint8_t done; /* decided out of order, sent alone */
};

struct itmq_batch {
	struct itmq_pend *ring; /* undecided ids, arrival order */
	uint32_t mask, head, tail;

	unsigned int run_len; /* open run: packets merged so far */
	uint32_t run_last;    /* its highest id */
	struct itmq_vd run_vd;

	itmq_emit_cb emit;
	void *arg;
};

/* Room for @cap undecided packets (rounded up to a power of two). */
int itmq_batch_init(struct itmq_batch *b, uint32_t cap, itmq_emit_cb emit,
		    void *arg);
void itmq_batch_free(struct itmq_batch *b);

/* Packet @id was handed out.  -ENOSPC when @cap packets are undecided. */
int itmq_batch_received(struct itmq_batch *b, uint32_t id);

/*
 * Packet @id gets @vd.  It joins the open run when it decides the oldest
 * undecided packet and matches the run's verdict; otherwise the run is
 * emitted and a new one opened, or, out of order, the verdict is emitted
 * alone.  With @alone (the verdict carries bytes and the caller sends it
 * itself right after this returns) the open run is emitted and nothing
 * else.  Returns 0, -ENOENT when @id is not undecided (nothing emitted),
 * or the emit callback's negative error.
 */
int itmq_batch_verdict(struct itmq_batch *b, uint32_t id,
		       const struct itmq_vd *vd, int alone);

/* Emit the open run, if any.  Returns 0 or the emit callback's error. */
int itmq_batch_close(struct itmq_batch *b);

/* Number of undecided packets. */
uint32_t itmq_batch_pending(const struct itmq_batch *b);

#endif /* ITMQ_BATCH_H */
