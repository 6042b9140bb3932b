/*
 * flowset.h - a bounded set of recently seen flows.
 *
 * Counts distinct flows per class for telemetry ("flows" in itmctl stats):
 * itm_flowset_add() says whether a key is new.  Open addressing over a
 * fixed array allocated once; entries idle for longer than the expiry are
 * reused; when the table is full the oldest entry in the probe window is
 * evicted (a flow that comes back after that counts again).  No allocation
 * per packet.
 */
#ifndef ITM_FLOWSET_H
#define ITM_FLOWSET_H

#include <stdint.h>
#include "itm.h"

struct itm_flowset;

/* @capacity entries (rounded up to a power of two), @expiry_ms idle time. */
struct itm_flowset *itm_flowset_new(uint32_t capacity, uint32_t expiry_ms);
void itm_flowset_free(struct itm_flowset *fs);

/* Key of a parsed packet: addresses, protocol, ports (or ICMP id), plus
 * @salt (e.g. the class) mixed in.  Direction-sensitive. */
uint64_t itm_flow_key(const struct itm_packet *pkt, uint32_t salt);

/* Returns 1 when @key was not in the set (now added), 0 when it was
 * (its time refreshed).  @now_ms is a monotonic clock. */
int itm_flowset_add(struct itm_flowset *fs, uint64_t key, uint64_t now_ms);

uint32_t itm_flowset_count(const struct itm_flowset *fs); /* live entries */

#endif /* ITM_FLOWSET_H */
