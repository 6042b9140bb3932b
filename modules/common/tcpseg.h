/*
 * tcpseg.h - cut a large TCP/IPv4 packet (a GSO packet NFQUEUE handed over
 * whole) into segments that fit an MTU, as the kernel's TSO would:
 * consecutive sequence numbers and IP ids, FIN and PSH on the last segment
 * only, CWR on the first, both checksums computed in full (libitm's
 * itm_csum_*).  A raw socket refuses anything larger than the route's
 * MTU, and a tunnel header does not fit in front of a GSO packet.  Shared
 * by etunnel (entry and exit) and itmroute (queue data path).
 */
#ifndef ITM_TCPSEG_H
#define ITM_TCPSEG_H

#include <stdint.h>

/* Takes one segment; a negative return stops the cut and is returned. */
typedef int (*tcpseg_emit_fn)(const uint8_t *seg, uint16_t len, void *arg);

/* Call @emit once with @pkt when it fits @mtu, else once per segment
 * (built in @scratch, at least @mtu bytes).  Returns the number of calls,
 * -EMSGSIZE (too large and not TCP/IPv4, or @mtu too small), -EBADMSG, or
 * the first error @emit returned. */
int tcpseg_split(const uint8_t *pkt, uint16_t len, uint16_t mtu,
		 uint8_t *scratch, tcpseg_emit_fn emit, void *arg);

#endif
