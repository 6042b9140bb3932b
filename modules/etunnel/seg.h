/*
 * seg.h - cut a large TCP/IPv4 packet (a GSO packet stolen at the entry)
 * into segments that fit the MTU, as the kernel's TSO would: consecutive
 * sequence numbers and IP ids, FIN and PSH on the last segment only, CWR on
 * the first, both checksums computed in full.  A raw socket refuses to send
 * anything larger than the route's MTU.  Pure code.
 */
#ifndef ETUN_SEG_H
#define ETUN_SEG_H

#include <stdint.h>

typedef void (*etun_seg_cb)(const uint8_t *seg, uint16_t len, void *arg);

/* Call @cb once with @pkt when it fits @mtu, else once per segment (built
 * in @scratch, at least @mtu bytes).  Returns the number of calls, or
 * -EMSGSIZE (too large and not TCP/IPv4, or @mtu too small), -EBADMSG. */
int etun_segment(const uint8_t *pkt, uint16_t len, uint16_t mtu,
		 uint8_t *scratch, etun_seg_cb cb, void *arg);

#endif
