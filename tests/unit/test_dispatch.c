/*
 * test_dispatch.c - the ordered walk over a stage's registrations: the
 * five callbacks in the paper's order, class 0 skipping process_func, a
 * later module seeing an earlier one's change, DROP ending the walk,
 * interests checked in user space for shared stages, counters per class.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "dispatch.h"
#include "packet_int.h"

static char trace[512];

static void
note(const char *who, const char *what)
{
	size_t n = strlen(trace);

	snprintf(trace + n, sizeof(trace) - n, "%s%s.%s", n ? " " : "", who,
		 what);
}

/* Module "A": class 1, writes TOS 0x10; "B": echoes the TOS it sees as
 * its class; "Z": class 0; "D": drops. */
#define CB(name)                                                     \
	static void name##_log(itm_where h, struct itm_packet *p)    \
	{                                                            \
		note(#name, "log");                                  \
	}                                                            \
	static int name##_update(itm_where h, struct itm_packet *p)  \
	{                                                            \
		note(#name, "update");                               \
		return 0;                                            \
	}                                                            \
	static int name##_control(itm_where h, struct itm_packet *p) \
	{                                                            \
		note(#name, "control");                              \
		return 0;                                            \
	}

CB(A)
CB(B)
CB(Z)
CB(D)

static int
A_class(itm_where h, struct itm_packet *p)
{
	note("A", "class");
	return 1;
}

static int
A_process(itm_where h, int c, struct itm_packet *p)
{
	note("A", "process");
	p->iph->tos = 0x10;
	return ITM_ALTERED;
}

static int
B_class(itm_where h, struct itm_packet *p)
{
	note("B", "class");
	return p->iph->tos; /* sees A's change */
}

static int
B_process(itm_where h, int c, struct itm_packet *p)
{
	note("B", "process");
	return ITM_ACCEPT;
}

static int
Z_class(itm_where h, struct itm_packet *p)
{
	note("Z", "class");
	return 0;
}

static int
Z_process(itm_where h, int c, struct itm_packet *p)
{
	note("Z", "process"); /* must never run */
	return ITM_ACCEPT;
}

static int
D_class(itm_where h, struct itm_packet *p)
{
	note("D", "class");
	return 7;
}

static int
D_process(itm_where h, int c, struct itm_packet *p)
{
	note("D", "process");
	return ITM_DROP;
}

#define INFO(n)                                                            \
	{                                                                  \
		.label = #n, .class_func = n##_class, .log_func = n##_log, \
		.process_func = n##_process, .update_func = n##_update,    \
		.control_func = n##_control                                \
	}

static struct itm_info iA = INFO(A), iB = INFO(B), iZ = INFO(Z), iD = INFO(D);

static uint8_t buf[2048];
static struct itm_packet pkt;

/* A 60-byte TCP SYN 10.0.1.2:40000 -> 10.0.2.2:80, TOS 0. */
static void
make_packet(void)
{
	static const uint8_t syn[] = {
		0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
		0x00, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x0a, 0x00, 0x02, 0x02,
		0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
	};

	memset(&pkt, 0, sizeof(pkt));
	memset(buf, 0, sizeof(buf));
	memcpy(buf + 128, syn, sizeof(syn));
	pkt.hook = ITM_IP_FORWARD;
	pkt.wire_len = sizeof(syn);
	assert_int_equal(itm__packet_wrap(&pkt, buf, sizeof(buf), buf + 128,
					  sizeof(syn)),
			 0);
	trace[0] = '\0';
}

static void
callbacks_in_paper_order(void **state)
{
	struct itm__reg *a = itm__reg_new(&iA, ITM_IP_FORWARD, 0);
	struct itm__reg *b = itm__reg_new(&iB, ITM_IP_FORWARD, 1);
	struct itm__reg *regs[] = { a, b };
	struct itm__disp_result res;

	make_packet();
	itm__disp_run(regs, 2, 0, NULL, &pkt, &res);
	assert_string_equal(trace,
			    "A.class A.log A.process A.update A.control "
			    "B.class B.log B.process B.update B.control");
	assert_int_equal(res.verdict, ITM_ACCEPT);
	assert_true(pkt.flags & ITM_PKT_ALTERED);
	/* B classified by the TOS A wrote. */
	assert_int_equal(b->cls[0x10].packets, 1);
	assert_int_equal(a->cls[1].packets, 1);
	assert_int_equal(a->cls[1].bytes, 40);
	assert_int_equal(a->cls[1].flows, 1);
	itm__reg_free(a);
	itm__reg_free(b);
}

static void
class_zero_skips_process(void **state)
{
	struct itm__reg *z = itm__reg_new(&iZ, ITM_IP_FORWARD, 0);
	struct itm__disp_result res;

	make_packet();
	itm__disp_run(&z, 1, 0, NULL, &pkt, &res);
	assert_string_equal(trace, "Z.class Z.log Z.update Z.control");
	assert_int_equal(z->cls[0].packets, 1);
	assert_false(pkt.flags & ITM_PKT_ALTERED);
	itm__reg_free(z);
}

static void
drop_ends_the_walk(void **state)
{
	struct itm__reg *d = itm__reg_new(&iD, ITM_IP_FORWARD, 0);
	struct itm__reg *a = itm__reg_new(&iA, ITM_IP_FORWARD, 1);
	struct itm__reg *regs[] = { d, a };
	struct itm__disp_result res;

	make_packet();
	itm__disp_run(regs, 2, 0, NULL, &pkt, &res);
	assert_int_equal(res.verdict, ITM_DROP);
	assert_string_equal(trace,
			    "D.class D.log D.process D.update D.control");
	assert_int_equal(d->cls[7].packets, 1);
	assert_int_equal(a->packets, 0);
	itm__reg_free(d);
	itm__reg_free(a);
}

static void
shared_stage_checks_interest(void **state)
{
	struct itm_info iA2 = iA;
	struct itm__reg *a, *b;
	struct itm__reg *regs[2];
	struct itm__disp_result res;

	itm_interest_init(&iA2.interest);
	assert_int_equal(itm_interest_add_dst_port(&iA2.interest, 443, 443), 0);
	a = itm__reg_new(&iA2, ITM_IP_FORWARD, 0);
	b = itm__reg_new(&iB, ITM_IP_FORWARD, 1);
	regs[0] = a;
	regs[1] = b;
	make_packet(); /* to port 80: A is not interested */
	itm__disp_run(regs, 2, 1, NULL, &pkt, &res);
	/* B saw TOS 0, untouched by A: class 0, no process_func. */
	assert_string_equal(trace, "B.class B.log B.update B.control");
	assert_int_equal(b->cls[0].packets, 1); /* TOS still 0 */
	itm__reg_free(a);
	itm__reg_free(b);
}

static int
bad_class(itm_where h, struct itm_packet *p)
{
	return 4000;
}

static void
out_of_range_class_is_clamped(void **state)
{
	struct itm_info bad = iB;
	struct itm__reg *r;
	struct itm__disp_result res;

	bad.class_func = bad_class;
	r = itm__reg_new(&bad, ITM_IP_FORWARD, 0);
	make_packet();
	itm__disp_run(&r, 1, 0, NULL, &pkt, &res);
	assert_int_equal(r->cls[0].packets, 1);
	assert_string_equal(trace, "B.log B.update B.control");
	itm__reg_free(r);
}

static void
flows_counted_once(void **state)
{
	struct itm__reg *a = itm__reg_new(&iA, ITM_IP_FORWARD, 0);
	struct itm__disp_result res;

	for (int i = 0; i < 5; i++) {
		make_packet();
		itm__disp_run(&a, 1, 0, NULL, &pkt, &res);
	}
	assert_int_equal(a->cls[1].packets, 5);
	assert_int_equal(a->cls[1].flows, 1);
	make_packet();
	pkt.tcph->source = htons(40001); /* another flow */
	assert_int_equal(itm_packet_parse(&pkt), 0);
	itm__disp_run(&a, 1, 0, NULL, &pkt, &res);
	assert_int_equal(a->cls[1].flows, 2);
	itm__reg_free(a);
}

/* The host's enter hook: called before each registration and with NULL
 * after the walk; a non-zero return skips the registration (a module
 * being unloaded while workers still hold it). */
static struct itm__reg *skip_reg;
static char enter_trace[128];

static int
host_enter(void *arg, struct itm__reg *reg)
{
	strcat(enter_trace, reg == NULL ? "-"
			    : reg->info ? reg->info->label
					: "?");
	strcat(enter_trace, " ");
	return reg != NULL && reg == skip_reg;
}

static void
enter_can_skip_a_registration(void **state)
{
	struct itm__reg *a = itm__reg_new(&iA, ITM_IP_FORWARD, 0);
	struct itm__reg *b = itm__reg_new(&iB, ITM_IP_FORWARD, 1);
	struct itm__reg *regs[] = { a, b };
	const struct itm__disp_host host = { .enter = host_enter };
	struct itm__disp_result res;

	make_packet();
	enter_trace[0] = '\0';
	skip_reg = a;
	itm__disp_run(regs, 2, 0, &host, &pkt, &res);
	assert_string_equal(enter_trace, "A B - ");
	/* A did not set the TOS: B classifies 0 and skips process. */
	assert_string_equal(trace, "B.class B.log B.update B.control");
	assert_int_equal(a->packets, 0);
	assert_int_equal(b->packets, 1);
	assert_false(pkt.flags & ITM_PKT_ALTERED); /* A never ran */
	itm__reg_free(a);
	itm__reg_free(b);
}

/* A skipped registration's info is never read: its module may have freed
 * it in its unload, before the commit took it off the workers' runners. */
static void
enter_before_info(void **state)
{
	struct itm__reg *a = itm__reg_new(&iA, ITM_IP_FORWARD, 0);
	struct itm__reg *b = itm__reg_new(&iB, ITM_IP_FORWARD, 1);
	struct itm__reg *regs[] = { a, b };
	const struct itm__disp_host host = { .enter = host_enter };
	struct itm__disp_result res;

	make_packet();
	enter_trace[0] = '\0';
	skip_reg = a;
	a->info = NULL; /* freed, as far as the walk is concerned */
	itm__disp_run(regs, 2, 1, &host, &pkt, &res);
	assert_int_equal(b->packets, 1);
	itm__reg_free(a);
	itm__reg_free(b);
}

/* Settling needs the declaration: a registration without ITM_MAY_SETTLE
 * (built against ABI 1.4) is refused with a reason that names it, and its
 * verdict carries no settle request; one that declared it, or one built
 * before the declaration existed, settles. */
static int settle_rc;

static int
S_process(itm_where h, int c, struct itm_packet *p)
{
	const struct itm_settle s = { .class = 1, .action = ITM_SETTLE_ACCEPT };

	settle_rc = itm_packet_settle(p, &s);
	return ITM_ACCEPT;
}

static int
host_settle(void *arg, struct itm__reg *reg, const struct itm_settle *s,
	    uint32_t *mark)
{
	*mark = 1u << 16;
	return 0;
}

static uint32_t
settle_once(struct itm_info *info, unsigned int api_minor)
{
	const struct itm__disp_host host = { .settle = host_settle };
	struct itm__reg *r = itm__reg_new(info, ITM_IP_FORWARD, 0);
	struct itm__disp_result res;

	r->can_settle = 1;
	r->may_settle = itm__info_may_settle(info, api_minor);
	make_packet();
	itm__disp_run(&r, 1, 0, &host, &pkt, &res);
	itm__reg_free(r);
	return res.settle_mark;
}

static void
settle_needs_declaration(void **state)
{
	struct itm_info s = iA;

	s.label = "nosettle";
	s.process_func = S_process;
	assert_int_equal(settle_once(&s, 4), 0);
	assert_int_equal(settle_rc, -EPERM);
	assert_non_null(strstr(itm_last_error(), "nosettle did not declare "
						 "ITM_MAY_SETTLE"));
	s.flags = ITM_MAY_SETTLE;
	assert_int_equal(settle_once(&s, 4), 1u << 16);
	assert_int_equal(settle_rc, 0);
	s.flags = 0; /* an older module: no flags field, may settle */
	assert_int_equal(settle_once(&s, 3), 1u << 16);
	assert_int_equal(settle_rc, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(callbacks_in_paper_order),
		cmocka_unit_test(settle_needs_declaration),
		cmocka_unit_test(class_zero_skips_process),
		cmocka_unit_test(drop_ends_the_walk),
		cmocka_unit_test(shared_stage_checks_interest),
		cmocka_unit_test(out_of_range_class_is_clamped),
		cmocka_unit_test(flows_counted_once),
		cmocka_unit_test(enter_can_skip_a_registration),
		cmocka_unit_test(enter_before_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
