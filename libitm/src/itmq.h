/*
 * itmq.h - one NFQUEUE queue: bind, receive bursts, batch verdicts.
 *
 * The netfilter glue under the packet path, shared by itm-agent (one queue
 * per in-agent stage) and libitm (one queue per process registration).
 * Built on libmnl and libnetfilter_queue's nlmsg helpers.  The queue is
 * bound fail-open with GSO (and conntrack info when asked), its socket
 * buffer raised and ENOBUFS silenced; kernel-side drops are read back from
 * /proc/net/netfilter/nfnetlink_queue.
 *
 * Verdicts are batched: consecutive unchanged packets with the same verdict
 * and mark go out as one NFQNL_MSG_VERDICT_BATCH; a packet sent back with
 * new bytes flushes the batch first, so verdicts keep the kernel's order.
 */
#ifndef ITMQ_H
#define ITMQ_H

#include <stdint.h>
#include "itm.h"

struct itmq;

struct itmq_config {
	uint16_t num;	     /* queue number */
	uint32_t copy_bytes; /* 0 = whole packet (64 KiB with GSO) */
	uint32_t maxlen;     /* kernel queue length, 0 = 4096 */
	uint32_t rcvbuf;     /* socket buffer bytes, 0 = 8 MiB */
	int conntrack;	     /* ask for conntrack id and direction */
	uint32_t mark_mask;  /* ITM's bits, cleared in pkt->mark */
};

/* Verdict codes for itmq_verdict (values of NF_DROP/NF_ACCEPT/NF_REPEAT). */
#define ITMQ_DROP   0
#define ITMQ_ACCEPT 1
#define ITMQ_REPEAT 4

/*
 * Called for each received packet.  pkt->data points into a buffer owned by
 * the queue and valid until the callback returns; the callback must call
 * itmq_verdict() for pkt before returning, unless it holds the packet (a
 * delay line): then it keeps pkt->id and later calls itmq_verdict() with a
 * struct itm_packet holding that id and no ITM_PKT_ALTERED (held packets
 * cannot carry new bytes), followed by itmq_flush().  Verdicts may come in
 * any order; batching stays correct.
 */
typedef void (*itmq_packet_cb)(struct itmq *q, struct itm_packet *pkt,
			       void *arg);

/* Bind the queue.  -EPERM: another program holds it; -ENOMEM; -errno. */
int itmq_open(struct itmq **out, const struct itmq_config *cfg);
void itmq_close(struct itmq *q); /* unbinds; queued packets: fail-open */

int itmq_fd(const struct itmq *q);
uint16_t itmq_num(const struct itmq *q);

/*
 * Receive up to @max packets without blocking, parse each (itm_packet_parse),
 * call @cb, then flush the verdicts.  Returns packets handled (0 when none
 * were waiting) or a negative errno.  Malformed netlink messages are
 * counted and skipped, never passed to @cb.
 */
int itmq_read_burst(struct itmq *q, unsigned int max, itmq_packet_cb cb,
		    void *arg);

/*
 * Give @pkt its verdict.  @mark is the full new nfmark (ignored when
 * @set_mark is 0).  With ITM_PKT_ALTERED set the bytes are returned with the
 * verdict (whole packets only: -EPERM when truncated), their checksums made
 * whole first.  -EINVAL: unknown verdict; -ENOENT: no packet with this id
 * is waiting for a verdict.  A failed call has no effect.
 */
int itmq_verdict(struct itmq *q, struct itm_packet *pkt, int verdict,
		 int set_mark, uint32_t mark);
int itmq_flush(struct itmq *q);

struct itmq_stats {
	uint64_t received;	 /* packets handed to cb */
	uint64_t bytes;		 /* sum of wire_len */
	uint64_t malformed;	 /* netlink messages skipped */
	uint64_t verdict_msgs;	 /* netlink verdict messages sent */
	uint64_t kernel_dropped; /* queue full, from /proc */
	uint64_t user_dropped;	 /* socket buffer full, from /proc */
};
int itmq_get_stats(struct itmq *q, struct itmq_stats *st);
/* Only the kernel's counters (kernel_dropped, user_dropped; the others
 * zero): reads no state the receiving thread writes. */
int itmq_get_kernel_stats(const struct itmq *q, struct itmq_stats *st);

#endif /* ITMQ_H */
