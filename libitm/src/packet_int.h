/*
 * packet_int.h - libitm-internal helpers around struct itm_packet.
 *
 * itm__buf/itm__cap describe the buffer that holds pkt->data: bytes outside
 * [data, data + len) are scratch the packet may grow into, at the front
 * (itm_packet_push, e.g. an outer IP header) or at the back.
 */
#ifndef ITM_PACKET_INT_H
#define ITM_PACKET_INT_H

#include "itm.h"

/* Point @pkt at @len bytes at @data inside @buf of @cap bytes and parse.
 * Metadata fields are left alone.  Returns itm_packet_parse()'s result. */
int itm__packet_wrap(struct itm_packet *pkt, uint8_t *buf, uint32_t cap,
		     uint8_t *data, uint32_t len);

/* Parse a prefix such as "10.1.0.0/16", "10.1.2.3", "2001:db8::/32". */
int itm__prefix_parse(const char *s, struct itm_prefix *out);
/* Format into @buf ("10.1.0.0/16"; a full-length prefix prints bare). */
const char *itm__prefix_format(const struct itm_prefix *p, char *buf,
			       size_t len);
int itm__prefix_contains(const struct itm_prefix *p, int family,
			 const void *addr);

/* Validate an interest against a hook: devices allowed there (no outdev at
 * PRE_ROUTE/IP_IN, no indev at IP_OUT/POST_ROUTE), ports only with
 * protocols that have them (TCP, UDP, UDP-Lite, SCTP, DCCP; with no protocol
 * given, ports imply TCP and UDP), ranges lo <= hi, names valid, no mixed
 * families in one rule.  On error returns -EINVAL and writes a message such
 * as "dst_ports: protocol icmp has no ports" into @err. */
int itm__interest_check(const struct itm_interest *in, itm_where hook,
			char *err, size_t errlen);

#endif /* ITM_PACKET_INT_H */
