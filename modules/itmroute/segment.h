/*
 * segment.h - cut a TCP/IPv4 packet larger than the tunnel's MTU (a GSO
 * packet the queue handed over whole) into segments that fit, as the
 * kernel's GSO would: headers copied, sequence numbers and IP ids
 * advanced, FIN and PSH on the last segment only, checksums computed in
 * full.  Pure (no I/O): each segment goes to @emit.
 */
#ifndef ITMROUTE_SEGMENT_H
#define ITMROUTE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

typedef int (*itmr_emit_fn)(const uint8_t *seg, size_t len, void *arg);

/* Returns the number of segments emitted, -EINVAL for what is not a whole
 * TCP/IPv4 packet, or the first error @emit returned. */
int itmr_tcp_segment(const uint8_t *ip, size_t len, uint32_t mtu,
		     itmr_emit_fn emit, void *arg);

#endif
