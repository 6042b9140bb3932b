/*
 * fuzz_qosmod.c - libFuzzer target for qosmod's callbacks behind the real
 * dispatch walk (and the parser in front of them).
 *
 * Input: 2 control bytes, then a packet from the IP header on.
 *   ctl[0]: the packet is sent 1 + ctl[0] % 48 times (same flow, so the
 *           flow crosses its thresholds and settles)
 *   ctl[1]: bits 0-2 threshold - 1; bit 3 dscp mode with three levels;
 *           bit 4 settle=no; bit 5 max_flows=16 with the source port
 *           changed per repetition (eviction)
 * qosmod must never crash, never read outside the packet, and leave an
 * IPv4 header with a valid checksum when it altered one.
 *
 * Loading qosmod allocates its flow table (65536 entries by default), so
 * loading it for every input ran ~50 inputs a second.  Each of the 64
 * configurations of ctl[1] is loaded once, on first use, and kept: later
 * inputs run against the flows earlier ones left (state across inputs, as
 * on a router), at thousands of inputs a second.  A crash that needs that
 * state replays from the corpus in order (tests/fuzz: the replay runs
 * files sorted by name).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "modhost.h"
#include "packet_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct itm_plugin itm_plugin;

#define HEAD   64
#define MAXPKT 4096

#define N_CONFIGS 64 /* bits 0-5 of ctl[1] */

static uint8_t buf[HEAD + MAXPKT + 64];
static struct itm_packet pkt;
static struct modhost hosts[N_CONFIGS];
static int loaded[N_CONFIGS];

static int
load(struct modhost *mh, uint8_t ctl)
{
	char thr[32];
	const char *kv[4];
	unsigned int n = 0;

	if (ctl & 0x08) {
		snprintf(thr, sizeof(thr), "thresholds=%u,%u", (ctl & 7) + 1,
			 (ctl & 7) + 3);
		kv[n++] = "mode=dscp";
	} else {
		snprintf(thr, sizeof(thr), "threshold=%u", (ctl & 7) + 1);
	}
	kv[n++] = thr;
	if (ctl & 0x10)
		kv[n++] = "settle=no";
	if (ctl & 0x20)
		kv[n++] = "max_flows=16";
	return modhost_load(mh, &itm_plugin, kv, n);
}

/* The module for configuration @ctl, loaded on first use and kept. */
static struct modhost *
host_for(uint8_t ctl)
{
	unsigned int i = ctl % N_CONFIGS;

	if (!loaded[i]) {
		if (load(&hosts[i], ctl) != 0)
			__builtin_trap(); /* every control byte is a valid
					     config */
		loaded[i] = 1;
	}
	return &hosts[i];
}

static void
check_ip_csum(const struct itm_packet *p)
{
	if (p->iph == NULL || !(p->flags & ITM_PKT_ALTERED))
		return;
	if (itm_csum_fold(itm_csum_partial(p->iph, p->l3_hlen, 0)) != 0 &&
	    itm_ip_fast_csum(p->iph, p->iph->ihl) != 0) {
		/* The host fixes it before the verdict; do the same here and
		 * insist that it then verifies. */
		itm_csum_fix_ip((struct itm_packet *)p);
		if (itm_ip_fast_csum(p->iph, p->iph->ihl) != 0)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct modhost *mh;
	unsigned int reps;
	size_t len;

	if (size < 3 || size - 2 > MAXPKT)
		return 0;
	reps = 1 + data[0] % 48;
	len = size - 2;
	mh = host_for(data[1]);
	for (unsigned int i = 0; i < reps; i++) {
		int verdict;

		memset(&pkt, 0, sizeof(pkt));
		memset(buf, 0, sizeof(buf));
		memcpy(buf + HEAD, data + 2, len);
		pkt.wire_len = (uint32_t)len;
		if (itm__packet_wrap(&pkt, buf, sizeof(buf), buf + HEAD,
				     (uint32_t)len) < 0 ||
		    pkt.family == 0)
			break; /* the runner never dispatches these */
		if ((data[1] & 0x20) && pkt.tcph)
			pkt.tcph->source = htons((uint16_t)i);
		modhost_run(mh, &pkt, &verdict, NULL);
		if (verdict != ITM_ACCEPT)
			__builtin_trap(); /* qosmod never drops */
		check_ip_csum(&pkt);
	}
	return 0;
}
