/*
 * entq.h - the tunnel entry's queue: two classes, each bounded in
 * packets and bytes, the short class (TOS 0x10, qosmod's SHORT) served
 * first.  A packet that does not fit is refused (the caller drops and
 * counts it), so the user's TCP sees loss, never a growing queue.  Slots
 * keep their buffers: no allocation in the steady state.  Pure code.
 */
#ifndef ETUN_ENTQ_H
#define ETUN_ENTQ_H

#include <stdint.h>

enum etun_class { ETUN_CLS_SHORT = 0, ETUN_CLS_LONG = 1, ETUN_CLS_N };

struct etun_entq;

struct etun_entq *etun_entq_new(unsigned int max_pkts, uint32_t max_bytes);
void etun_entq_free(struct etun_entq *q);
/* 0, or -ENOBUFS when the class is full (nothing kept), -ENOMEM. */
int etun_entq_push(struct etun_entq *q, enum etun_class c, const uint8_t *pkt,
		   uint16_t len);
/* The packet to send next (short class first), NULL when empty. */
const uint8_t *etun_entq_peek(const struct etun_entq *q, uint16_t *len,
			      enum etun_class *c);
void etun_entq_pop(struct etun_entq *q);
unsigned int etun_entq_pkts(const struct etun_entq *q);
uint64_t etun_entq_bytes(const struct etun_entq *q);

#endif
