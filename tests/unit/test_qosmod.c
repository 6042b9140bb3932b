/*
 * test_qosmod.c - qosmod's classification, marking and settlement, driven
 * through the real dispatch walk: the threshold edge, FIN, precedence and
 * ECN bits, DSCP levels, the bounded flow table, and refused parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "modhost.h"

extern const struct itm_plugin itm_plugin; /* qosmod's descriptor */

#define H1 0x0a4d0102u
#define H2 0x0a4d0202u

static uint8_t buf[2048];
static struct itm_packet pkt;
static struct modhost mh; /* the instance most tests use */

static int
send_one(uint16_t sport, uint8_t tos, uint8_t flags, uint8_t *tos_out,
	 uint32_t *settle)
{
	int verdict, cls;

	modhost_packet(&pkt, buf, sizeof(buf), IPPROTO_TCP, H1, sport, H2, 80,
		       tos, flags, 1000);
	cls = modhost_run(&mh, &pkt, &verdict, settle);
	assert_int_equal(verdict, ITM_ACCEPT);
	*tos_out = pkt.iph->tos;
	return cls;
}

static int
load(const char *const *kv, unsigned int n)
{
	return modhost_load(&mh, &itm_plugin, kv, n);
}

static void
threshold_edge(void **state)
{
	const char *kv[] = { "threshold=20" };
	uint32_t settle;
	uint8_t tos;

	assert_int_equal(load(kv, 1), 0);
	for (int i = 1; i <= 20; i++) {
		assert_int_equal(send_one(40000, 0, 0x10, &tos, &settle), 1);
		assert_int_equal(tos, 0x10);
		assert_int_equal(settle, 0);
	}
	/* Packet 21 is the first LONG one, and settles the flow. */
	assert_int_equal(send_one(40000, 0x10, 0x10, &tos, &settle), 2);
	assert_int_equal(tos, 0x00);
	assert_int_not_equal(settle, 0);
	assert_int_equal(mh.settles, 1);
	assert_int_equal(mh.last_settle.class, 2);
	assert_int_equal(mh.last_settle.action, ITM_SETTLE_SET_TOS);
	assert_int_equal(mh.last_settle.tos_value, 0);
	assert_int_equal(mh.last_settle.tos_mask, 0x1c);
	assert_int_equal(mh.last_settle.except_tcp_flags, 0x01);
	/* Later packets (if any still arrive) stay LONG, no new request. */
	assert_int_equal(send_one(40000, 0x10, 0x10, &tos, &settle), 2);
	assert_int_equal(mh.settles, 1);
	assert_int_equal(mh.reg->cls[1].packets, 20);
	assert_int_equal(mh.reg->cls[2].packets, 2);
	assert_int_equal(mh.reg->cls[1].flows, 1);
	assert_int_equal(modhost_counter(&mh, "flows_created"), 1);
	modhost_unload(&mh);
}

static void
fin_is_short_and_precedence_kept(void **state)
{
	const char *kv[] = { "threshold=2" };
	uint32_t settle;
	uint8_t tos;

	assert_int_equal(load(kv, 1), 0);
	/* Precedence 0xe0 and ECN 0x03 survive both markings. */
	assert_int_equal(send_one(1, 0xe3, 0x10, &tos, &settle), 1);
	assert_int_equal(tos, 0xf3);
	assert_int_equal(send_one(1, 0xe3, 0x10, &tos, &settle), 1);
	assert_int_equal(send_one(1, 0xff, 0x10, &tos, &settle), 2);
	assert_int_equal(tos, 0xe3);
	/* FIN of a LONG flow: SHORT again (paper Figure 9). */
	assert_int_equal(send_one(1, 0x00, 0x11, &tos, &settle), 1);
	assert_int_equal(tos, 0x10);
	assert_int_equal(modhost_counter(&mh, "fin_packets"), 1);
	modhost_unload(&mh);
}

static void
no_settle_when_disabled(void **state)
{
	const char *kv[] = { "threshold=1", "settle=no" };
	uint32_t settle;
	uint8_t tos;

	assert_int_equal(load(kv, 2), 0);
	assert_int_equal(send_one(7, 0, 0x10, &tos, &settle), 1);
	assert_int_equal(send_one(7, 0, 0x10, &tos, &settle), 2);
	assert_int_equal(settle, 0);
	assert_int_equal(mh.settles, 0);
	modhost_unload(&mh);
}

static void
dscp_levels(void **state)
{
	const char *kv[] = { "thresholds=2,4", "mode=dscp" };
	static const uint8_t want[] = { 0xb8, 0xb8, 0x88, 0x88, 0x00, 0x00 };
	uint32_t settle;
	uint8_t tos;

	assert_int_equal(load(kv, 2), 0);
	for (int i = 0; i < 6; i++) {
		int cls = send_one(9, 0x01, 0x10, &tos, &settle);

		assert_int_equal(cls, i / 2 + 1);
		assert_int_equal(tos, want[i] | 0x01); /* ECN kept */
	}
	assert_int_equal(mh.last_settle.tos_mask, 0xfc);
	assert_string_equal(mh.info->class_names[2], "MEDIUM1");
	modhost_unload(&mh);
}

static void
flow_table_is_bounded(void **state)
{
	const char *kv[] = { "max_flows=16" };
	uint32_t settle;
	uint8_t tos;

	assert_int_equal(load(kv, 1), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(send_one((uint16_t)(1000 + i), 0, 0x02, &tos,
					  &settle),
				 1);
	assert_int_equal(modhost_counter(&mh, "flows_created"), 1000);
	assert_int_equal(modhost_counter(&mh, "flows_evicted"), 984);
	/* The most recent flow is still known: its 2nd packet counts on. */
	assert_int_equal(send_one(1999, 0, 0x10, &tos, &settle), 1);
	assert_int_equal(modhost_counter(&mh, "flows_created"), 1000);
	modhost_unload(&mh);
}

static void
unparsed_packets_are_not_classified(void **state)
{
	const char *kv[] = { "threshold=1" };
	int verdict;

	assert_int_equal(load(kv, 1), 0);
	modhost_packet(&pkt, buf, sizeof(buf), IPPROTO_TCP, H1, 5, H2, 80, 0,
		       0x10, 0);
	pkt.l4h = NULL; /* e.g. a non-first fragment */
	pkt.flags |= ITM_PKT_FRAGMENT;
	assert_int_equal(modhost_run(&mh, &pkt, &verdict, NULL), 0);
	assert_int_equal(pkt.iph->tos, 0);
	modhost_unload(&mh);
}

/* A packet of one flow through instance @h; its class, and its TOS. */
static int
send_to(struct modhost *h, uint8_t *tos_out)
{
	int verdict, cls;

	modhost_packet(&pkt, buf, sizeof(buf), IPPROTO_TCP, H1, 40000, H2, 80,
		       0, 0x10, 100);
	cls = modhost_run(h, &pkt, &verdict, NULL);
	*tos_out = pkt.iph->tos;
	return cls;
}

/* Two loads of qosmod at once, as two agents in one process would hold
 * them: each has its own levels, flow table, counters and timer, and one
 * going away leaves the other working. */
static void
two_instances_share_nothing(void **state)
{
	const char *ka[] = { "threshold=2" };
	const char *kb[] = { "threshold=5", "mode=dscp" };
	struct modhost a, b;
	uint8_t tos;

	assert_int_equal(modhost_load(&a, &itm_plugin, ka, 1), 0);
	assert_int_equal(modhost_load(&b, &itm_plugin, kb, 2), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send_to(&a, &tos), i < 2 ? 1 : 2);
		assert_int_equal(tos, i < 2 ? 0x10 : 0x00);
		assert_int_equal(send_to(&b, &tos), 1);
		assert_int_equal(tos, 46 << 2);
	}
	assert_int_equal(a.settles, 1);
	assert_int_equal(b.settles, 0);
	assert_int_equal(modhost_counter(&a, "flows_created"), 1);
	assert_int_equal(modhost_counter(&b, "flows_created"), 1);
	assert_int_equal(modhost_counter(&a, "packets_remarked"), 2);
	assert_int_equal(modhost_counter(&b, "packets_remarked"), 3);
	assert_string_equal(a.info->class_names[2], "LONG");
	/* Each timer carries its own instance. */
	assert_int_equal(a.n_timers, 1);
	assert_int_equal(b.n_timers, 1);
	assert_true(a.timers[0].arg != b.timers[0].arg);
	modhost_tick(&a);
	modhost_tick(&b);
	assert_int_equal(modhost_counter(&b, "flows_expired"), 0);
	/* a goes; b's flow goes on to its own threshold. */
	modhost_unload(&a);
	assert_int_equal(send_to(&b, &tos), 1);
	assert_int_equal(send_to(&b, &tos), 1);
	assert_int_equal(send_to(&b, &tos), 2);
	assert_int_equal(tos, 0x00);
	assert_int_equal(b.settles, 1);
	modhost_unload(&b);
	assert_int_equal(b.n_timers, 0);
	assert_null(b.info);
}

static void
bad_parameters_refused(void **state)
{
	static const struct {
		const char *kv[2];
		const char *msg;
	} cases[] = {
		{ { "thresholds=10,5", NULL }, "thresholds: must increase" },
		{ { "mode=fast", NULL }, "mode: 'fast': use tos or dscp" },
		{ { "thresholds=1,2", NULL },
		  "3 levels need mode=dscp (the TOS bit has two values)" },
		{ { "mode=dscp", "dscp=1,2,3" },
		  "dscp: 3 values for 2 levels" },
		{ { "hook=pre_route", NULL },
		  "hook: 'pre_route': use post_route, forward or ip_out" },
		{ { "threshold=0", NULL },
		  "threshold: 0 is outside 1..1000000000" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int n = cases[i].kv[1] ? 2 : 1;

		assert_true(load(cases[i].kv, n) < 0);
		assert_string_equal(mh.error, cases[i].msg);
		assert_null(mh.info); /* nothing registered */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threshold_edge),
		cmocka_unit_test(fin_is_short_and_precedence_kept),
		cmocka_unit_test(no_settle_when_disabled),
		cmocka_unit_test(dscp_levels),
		cmocka_unit_test(flow_table_is_bounded),
		cmocka_unit_test(unparsed_packets_are_not_classified),
		cmocka_unit_test(two_instances_share_nothing),
		cmocka_unit_test(bad_parameters_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
