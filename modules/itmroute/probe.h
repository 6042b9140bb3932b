/*
 * probe.h - itmroute's probe protocol (paper 7.1.2, built from scratch):
 * one UDP datagram between underlay addresses, a probe and its
 * acknowledgement, sent directly or through one intermediate member.
 *
 *   origin --PROBE--> [via --PROBE-->] target
 *   origin <--ACK---- [via <--ACK----] target
 *
 * The target answers every probe for itself with an ACK carrying the
 * probe's fields back; a via member forwards a PROBE to its target and an
 * ACK to its origin, once (hops 0 -> 1), and only between members.  The
 * origin matches the ACK to its path (target, via) and takes the RTT from
 * the echoed timestamp.  Every field is in network order on the wire.
 */
#ifndef ITMROUTE_PROBE_H
#define ITMROUTE_PROBE_H

#include <stddef.h>
#include <stdint.h>

#define ITMR_PROBE_MAGIC   0x49544d52u /* "ITMR" */
#define ITMR_PROBE_VERSION 1
#define ITMR_PROBE_LEN	   32 /* bytes of UDP payload */

enum itmr_probe_type {
	ITMR_PROBE = 1,
	ITMR_ACK = 2,
};

/* A probe as the module handles it: addresses in network order (as in
 * struct in_addr), everything else in host order. */
struct itmr_probe {
	uint8_t type;	  /* enum itmr_probe_type */
	uint8_t hops;	  /* 0 as sent by origin or target; 1 once relayed */
	uint32_t origin;  /* underlay address of the member that probes */
	uint32_t target;  /* underlay address of the member probed */
	uint32_t via;	  /* underlay address of the intermediate, 0: direct */
	uint32_t seq;	  /* per path */
	uint64_t sent_ns; /* origin's clock, echoed */
};

/* Write @p into @buf (at least ITMR_PROBE_LEN bytes); returns the length. */
size_t itmr_probe_encode(const struct itmr_probe *p, uint8_t *buf);

/* Parse @len bytes at @buf into @p.  Returns 0, or -EBADMSG for anything
 * that is not a well-formed probe of this version (short, long, bad magic,
 * version, type, hops, or addresses that cannot be a path). */
int itmr_probe_decode(const uint8_t *buf, size_t len, struct itmr_probe *p);

#endif
