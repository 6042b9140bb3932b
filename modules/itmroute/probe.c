/*
 * probe.c - the probe protocol's wire format (probe.h).
 *
 *   0      4        5     6      7     8        12       16    20    24
 *   magic  version  type  hops   0     origin   target   via   seq   sent_ns
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "probe.h"

static void
put32(uint8_t *b, uint32_t v)
{
	memcpy(b, &v, 4);
}

static uint32_t
get32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

size_t
itmr_probe_encode(const struct itmr_probe *p, uint8_t *buf)
{
	uint64_t ns = htobe64(p->sent_ns);

	put32(buf, htobe32(ITMR_PROBE_MAGIC));
	buf[4] = ITMR_PROBE_VERSION;
	buf[5] = p->type;
	buf[6] = p->hops;
	buf[7] = 0;
	put32(buf + 8, p->origin);
	put32(buf + 12, p->target);
	put32(buf + 16, p->via);
	put32(buf + 20, htobe32(p->seq));
	memcpy(buf + 24, &ns, 8);
	return ITMR_PROBE_LEN;
}

int
itmr_probe_decode(const uint8_t *buf, size_t len, struct itmr_probe *p)
{
	uint64_t ns;

	if (len != ITMR_PROBE_LEN)
		return -EBADMSG;
	if (be32toh(get32(buf)) != ITMR_PROBE_MAGIC ||
	    buf[4] != ITMR_PROBE_VERSION || buf[7] != 0)
		return -EBADMSG;
	p->type = buf[5];
	p->hops = buf[6];
	if ((p->type != ITMR_PROBE && p->type != ITMR_ACK) || p->hops > 1)
		return -EBADMSG;
	p->origin = get32(buf + 8);
	p->target = get32(buf + 12);
	p->via = get32(buf + 16);
	if (p->origin == 0 || p->target == 0 || p->origin == p->target ||
	    p->via == p->origin || p->via == p->target)
		return -EBADMSG;
	if (p->via == 0 && p->hops != 0)
		return -EBADMSG;
	p->seq = be32toh(get32(buf + 20));
	memcpy(&ns, buf + 24, 8);
	p->sent_ns = be64toh(ns);
	return 0;
}
