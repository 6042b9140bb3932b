/*
 * fuzz_packet.c - libFuzzer target for the packet basics of libitm.
 *
 * Input: 4 control bytes, then the packet bytes (from the IP header on).
 *   ctl[0] bit 0: truncated copy (wire_len = len + 1 + ctl[3] * 16)
 *          bit 1: GSO with the L4 checksum not ready
 *          bit 2: interest with a device (indev "lo", pkt->indev 1)
 *          bits 4-7: which interest to match (see fuzz_interest)
 *   ctl[1]: bytes to push, ctl[2]: bytes to pull afterwards
 *   ctl[3]: truncation amount / set_len delta
 *
 * Checks, beyond the sanitizers: the parsed view stays inside the buffer
 * after every operation, and a checksum itm_csum_fix_l4() says it fixed
 * verifies with an independent RFC 1071 sum.  Any failure traps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "packet_int.h"
#include "flowset.h"
#include "pkt_build.h"

#define HEAD   64
#define TAIL   64
#define MAXPKT 70000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[HEAD + MAXPKT + TAIL];

static void
check_view(const struct itm_packet *pkt)
{
	if (!pb_view_ok(pkt))
		__builtin_trap();
	if ((pkt->flags & ITM_PKT_MALFORMED) && pkt->l4h != NULL)
		__builtin_trap();
}

static uint16_t
naive_sum(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Does the L4 checksum verify?  TCP, UDP, ICMP and ICMPv6 only. */
static int
l4_verifies(const struct itm_packet *pkt)
{
	uint32_t l4len = pkt->l4_hlen + pkt->payload_len, s = 0;
	const uint8_t *ip = pkt->data;

	if (pkt->l4proto == IPPROTO_ICMP)
		return naive_sum(pkt->l4h, l4len, 0) == 0xffff;
	if (pkt->family == AF_INET)
		s = naive_sum(ip + 12, 8, pkt->l4proto + l4len);
	else
		s = naive_sum(ip + 8, 32,
			      pkt->l4proto + (l4len & 0xffff) + (l4len >> 16));
	return naive_sum(pkt->l4h, l4len, s) == 0xffff;
}

static void
fuzz_csum(struct itm_packet *pkt)
{
	int r;

	itm_csum_fix_ip(pkt);
	if (pkt->iph != NULL && naive_sum(pkt->data, pkt->l3_hlen, 0) != 0xffff)
		__builtin_trap();
	r = itm_csum_fix_l4(pkt);
	if ((pkt->flags & ITM_PKT_TRUNCATED) && r != -EPERM)
		__builtin_trap();
	if (r != 0 || pkt->l4h == NULL || (pkt->flags & ITM_PKT_FRAGMENT))
		return;
	switch (pkt->l4proto) {
	case IPPROTO_UDP:
		if (pkt->family == AF_INET &&
		    (pkt->data[pkt->l3_hlen + 6] |
		     pkt->data[pkt->l3_hlen + 7]) == 0)
			return;
		/* fall through */
	case IPPROTO_TCP:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (!l4_verifies(pkt))
			__builtin_trap();
	}
}

static void
fuzz_interest(struct itm_interest *in, const struct itm_packet *pkt,
	      uint8_t sel, int dev)
{
	static const char *pfx[] = { "10.0.0.0/8",    "0.0.0.0/0", "::/0",
				     "2001:db8::/33", "192.0.2.1", "fe80::1" };

	itm_interest_init(in);
	if (sel & 1)
		itm_interest_add_protocol(in, pkt->l4proto ? pkt->l4proto : 6);
	if (sel & 2)
		itm_interest_add_saddr(in, pfx[(sel >> 2) % 6]);
	if (sel & 4)
		itm_interest_add_dst_port(in, pkt->dport, pkt->dport);
	if (sel & 8)
		itm_interest_add_src_port(in, 1, 1023);
	if (dev)
		itm_interest_add_indev(in, sel & 2 ? "lo" : "l+");
}

static void
fuzz_resize(struct itm_packet *pkt, const uint8_t *ctl)
{
	uint32_t len;

	if (itm_packet_push(pkt, ctl[1]) == NULL &&
	    !(pkt->flags & ITM_PKT_TRUNCATED) && ctl[1] <= HEAD)
		__builtin_trap(); /* the headroom was there */
	check_view(pkt);
	(void)itm_packet_pull(pkt, ctl[2]);
	check_view(pkt);
	len = ctl[3] & 1 ? pkt->len + ctl[3] : pkt->len - pkt->len / 3;
	(void)itm_packet_set_len(pkt, len);
	check_view(pkt);
	if (!(pkt->flags & ITM_PKT_TRUNCATED) &&
	    (pkt->data < buf || pkt->data + pkt->len > buf + sizeof(buf)))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct itm_interest in;
	struct itm_packet pkt;
	const uint8_t *ctl = data;
	uint32_t n;

	if (size < 4 || size - 4 > MAXPKT)
		return 0;
	n = (uint32_t)(size - 4);
	memset(&pkt, 0, sizeof(pkt));
	memcpy(buf + HEAD, data + 4, n);
	pkt.wire_len = ctl[0] & 1 ? n + 1 + ctl[3] * 16u : n;
	if (ctl[0] & 2)
		pkt.flags |= ITM_PKT_CSUM_NOTREADY | ITM_PKT_GSO;
	pkt.indev = ctl[0] & 4 ? 1 : 0;
	(void)itm__packet_wrap(&pkt, buf, HEAD + n + TAIL, buf + HEAD, n);
	check_view(&pkt);

	fuzz_interest(&in, &pkt, ctl[0] >> 4, ctl[0] & 4);
	if (itm_interest_match(&in, &pkt) > 1)
		__builtin_trap();
	(void)itm_flow_key(&pkt, ctl[1]);

	fuzz_csum(&pkt);
	check_view(&pkt);
	fuzz_resize(&pkt, ctl);
	return 0;
}
