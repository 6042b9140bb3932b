/*
 * test_ruleset.c - the agent's rule set as text (agent/ruleset.c), byte
 * for byte against saved scripts (bgpd regress/config style).
 *
 * Each test builds a stage layout and a settlement table in memory, as
 * layout.c would hand them over, writes the rule set with ruleset_write()
 * and compares it with tests/data/ruleset/<name>.rules.  The removal
 * script is written from a saved `iptables-nft-save -t mangle` output,
 * removal.saved, and compared with removal.rules.
 *
 * When the rules change on purpose, rewrite the saved scripts with
 *
 *	RULESET_REGEN=1 ctest --test-dir build -R unit.test_ruleset
 *
 * and review `git diff tests/data/ruleset` before committing: the diff is
 * exactly what changes in the kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent.h"
#include "ruleset.h"
#include "settle.h"

#define MAX_REGS   8
#define MAX_STAGES 8

/* A layout and a settlement table, with the registrations and stages they
 * point to. */
struct fixture {
	struct agent_reg regs[MAX_REGS];
	unsigned int n_regs;
	struct stage stages[MAX_STAGES];
	struct agent_reg *stage_regs[MAX_STAGES][MAX_REGS];
	unsigned int n_stages;
	struct layout L;
	struct settle_table st;
};

static void
fx_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	settle_init(&fx->st);
}

static struct agent_reg *
fx_reg(struct fixture *fx, const char *label, itm_where hook,
       enum reg_kind kind)
{
	struct agent_reg *r = &fx->regs[fx->n_regs++];

	assert_true(fx->n_regs <= MAX_REGS);
	snprintf(r->label, sizeof(r->label), "%s", label);
	r->hook = hook;
	r->kind = kind;
	r->may_settle = 1; /* as every module built before ABI 1.4 */
	itm_interest_init(&r->interest);
	return r;
}

/* Append a stage of @kind at @hook with @n of @regs, as layout.c would. */
static struct stage *
fx_stage(struct fixture *fx, itm_where hook, enum reg_kind kind, uint32_t bit,
	 uint16_t queue, unsigned int n_queues, struct agent_reg **regs,
	 unsigned int n)
{
	unsigned int k = fx->n_stages++;
	struct stage *st = &fx->stages[k];

	assert_true(fx->n_stages <= MAX_STAGES);
	st->hook = hook;
	st->kind = kind;
	st->index = fx->L.n[hook];
	st->bit = bit;
	st->queue = queue;
	st->n_queues = n_queues;
	for (unsigned int i = 0; i < n; i++) {
		fx->stage_regs[k][i] = regs[i];
		regs[i]->stage = st;
	}
	st->regs = fx->stage_regs[k];
	st->n_regs = n;
	fx->L.stages[hook][fx->L.n[hook]++] = st;
	return st;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return buf;
}

/* @got equals tests/data/ruleset/@name byte for byte (or, with
 * RULESET_REGEN set, becomes it). */
static void
expect_file(const struct rules_buf *got, const char *name)
{
	char path[512], *want;

	assert_false(got->failed);
	snprintf(path, sizeof(path), "%s/%s", RULESET_DATA, name);
	if (getenv("RULESET_REGEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fwrite(got->buf, 1, got->len, f);
		fclose(f);
	}
	want = slurp(path);
	if (want == NULL)
		fail_msg("%s: missing; RULESET_REGEN=1 writes it", path);
	if (strcmp(got->buf, want) != 0)
		fprintf(stderr, "--- %s: got:\n%s--- want:\n%s", name, got->buf,
			want);
	assert_string_equal(got->buf, want);
	free(want);
}

static void
expect_rules(const struct fixture *fx, int jumps, const char *name)
{
	struct rules_buf b = { 0 };
	char err[256] = "";

	assert_int_equal(ruleset_write(&fx->L, &fx->st, jumps, &b, err,
				       sizeof(err)),
			 0);
	assert_string_equal(err, "");
	expect_file(&b, name);
	rb_free(&b);
}

/* ------------------------------------------------------------------ */

/* No module: five empty chains, and the jumps to them on the first
 * install. */
static void
no_stage(void **state)
{
	struct fixture fx;

	fx_init(&fx);
	expect_rules(&fx, 1, "no_stage.rules");
}

/* qosmod alone: one in-agent stage at POST_ROUTE interested in TCP. */
static void
one_stage(void **state)
{
	struct fixture fx;
	struct agent_reg *r;

	fx_init(&fx);
	r = fx_reg(&fx, "qos_ctrl", ITM_POST_ROUTE, REG_AGENT);
	itm_interest_add_protocol(&r->interest, IPPROTO_TCP);
	fx_stage(&fx, ITM_POST_ROUTE, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1, &r,
		 1);
	expect_rules(&fx, 0, "one_stage.rules");
}

/* At FORWARD: two in-agent registrations sharing a stage, then a process
 * module's stage (its bit from the top, as leases get them). */
static void
agent_and_process(void **state)
{
	struct fixture fx;
	struct agent_reg *a[2], *p;

	fx_init(&fx);
	a[0] = fx_reg(&fx, "web", ITM_IP_FORWARD, REG_AGENT);
	itm_interest_add_protocol(&a[0]->interest, IPPROTO_TCP);
	itm_interest_add_dst_port(&a[0]->interest, 80, 80);
	itm_interest_add_dst_port(&a[0]->interest, 8000, 8080);
	a[1] = fx_reg(&fx, "dns", ITM_IP_FORWARD, REG_AGENT);
	itm_interest_add_protocol(&a[1]->interest, IPPROTO_UDP);
	itm_interest_add_dst_port(&a[1]->interest, 53, 53);
	p = fx_reg(&fx, "counter", ITM_IP_FORWARD, REG_PROCESS);
	itm_interest_add_saddr(&p->interest, "10.1.0.0/16");
	itm_interest_add_saddr(&p->interest, "192.0.2.7");
	itm_interest_add_indev(&p->interest, "veth-h1");
	fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1, a,
		 2);
	fx_stage(&fx, ITM_IP_FORWARD, REG_PROCESS, ITM_STAGE_BIT(4), 1001, 1,
		 &p, 1);
	expect_rules(&fx, 1, "agent_and_process.rules");
}

/* Stages at three hooks; POST_ROUTE has a process stage between two
 * in-agent ones. */
static void
several_hooks(void **state)
{
	struct fixture fx;
	struct agent_reg *r;

	fx_init(&fx);
	r = fx_reg(&fx, "pre", ITM_PRE_ROUTE, REG_AGENT);
	itm_interest_add_protocol(&r->interest, IPPROTO_ICMP);
	fx_stage(&fx, ITM_PRE_ROUTE, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1, &r,
		 1);
	r = fx_reg(&fx, "out", ITM_IP_OUT, REG_AGENT);
	itm_interest_add_daddr(&r->interest, "198.51.100.0/24");
	itm_interest_add_outdev(&r->interest, "eth0");
	fx_stage(&fx, ITM_IP_OUT, REG_AGENT, ITM_STAGE_BIT(0), 1001, 1, &r, 1);
	r = fx_reg(&fx, "post1", ITM_POST_ROUTE, REG_AGENT);
	fx_stage(&fx, ITM_POST_ROUTE, REG_AGENT, ITM_STAGE_BIT(0), 1002, 1, &r,
		 1);
	r = fx_reg(&fx, "post2", ITM_POST_ROUTE, REG_PROCESS);
	itm_interest_add_protocol(&r->interest, IPPROTO_UDP);
	itm_interest_add_src_port(&r->interest, 5000, 5001);
	fx_stage(&fx, ITM_POST_ROUTE, REG_PROCESS, ITM_STAGE_BIT(4), 1003, 1,
		 &r, 1);
	r = fx_reg(&fx, "post3", ITM_POST_ROUTE, REG_AGENT);
	itm_interest_add_protocol(&r->interest, IPPROTO_TCP);
	fx_stage(&fx, ITM_POST_ROUTE, REG_AGENT, ITM_STAGE_BIT(1), 1004, 1, &r,
		 1);
	expect_rules(&fx, 1, "several_hooks.rules");
}

/* --workers 3: the in-agent stage spreads over three queues. */
static void
workers_balance(void **state)
{
	struct fixture fx;
	struct agent_reg *a, *p;

	fx_init(&fx);
	a = fx_reg(&fx, "qos_ctrl", ITM_IP_FORWARD, REG_AGENT);
	itm_interest_add_protocol(&a->interest, IPPROTO_TCP);
	p = fx_reg(&fx, "proc", ITM_IP_FORWARD, REG_PROCESS);
	fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 3, &a,
		 1);
	fx_stage(&fx, ITM_IP_FORWARD, REG_PROCESS, ITM_STAGE_BIT(4), 1003, 1,
		 &p, 1);
	expect_rules(&fx, 1, "workers_balance.rules");
}

/* --workers 2 --queue-cpu-fanout: the queue is the packet's CPU's. */
static void
workers_fanout(void **state)
{
	struct fixture fx;
	struct agent_reg *a;
	struct stage *st;

	fx_init(&fx);
	a = fx_reg(&fx, "fig13", ITM_IP_FORWARD, REG_AGENT);
	a->may_settle = 0;
	st = fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 2,
		      &a, 1);
	st->cpu_fanout = 1;
	expect_rules(&fx, 1, "workers_fanout.rules");
}

/* fig13 at FORWARD never settles (no ITM_MAY_SETTLE): its chain has no
 * CONNMARK rule, so nothing turns on conntrack there; qosmod at
 * POST_ROUTE may settle: its chain has them from the start. */
static void
settle_declared(void **state)
{
	struct fixture fx;
	struct agent_reg *f, *q;

	fx_init(&fx);
	f = fx_reg(&fx, "fig13", ITM_IP_FORWARD, REG_AGENT);
	f->may_settle = 0;
	fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1, &f,
		 1);
	q = fx_reg(&fx, "qos_ctrl", ITM_POST_ROUTE, REG_AGENT);
	itm_interest_add_protocol(&q->interest, IPPROTO_TCP);
	fx_stage(&fx, ITM_POST_ROUTE, REG_AGENT, ITM_STAGE_BIT(0), 1001, 1, &q,
		 1);
	expect_rules(&fx, 1, "settle_declared.rules");
}

static unsigned int
settle(struct fixture *fx, const struct agent_reg *r,
       const struct itm_settle *s)
{
	unsigned int id;
	int is_new;

	assert_int_equal(settle_get(&fx->st, r, s, &id, &is_new), 0);
	return id;
}

/* Settlements: a TOS rewrite except FIN and a drop, both live; one asked
 * for and not yet installed; one released (its chain goes); one of a
 * registration that now shares its stage (chain left empty, no jumps). */
static void
settlements(void **state)
{
	struct itm_settle tos = { .class = 2,
				  .action = ITM_SETTLE_SET_TOS,
				  .tos_value = 0,
				  .tos_mask = 0x1c,
				  .except_tcp_flags = 0x01 };
	struct itm_settle drop = { .class = 3, .action = ITM_SETTLE_DROP };
	struct itm_settle acc = { .class = 1,
				  .action = ITM_SETTLE_ACCEPT,
				  .except_tcp_flags = 0x05 };
	struct agent_reg *q, *gone, *shared[2];
	struct fixture fx;

	fx_init(&fx);
	q = fx_reg(&fx, "qos_ctrl", ITM_POST_ROUTE, REG_AGENT);
	itm_interest_add_protocol(&q->interest, IPPROTO_TCP);
	gone = fx_reg(&fx, "gone", ITM_POST_ROUTE, REG_AGENT);
	shared[0] = fx_reg(&fx, "a", ITM_IP_FORWARD, REG_AGENT);
	shared[1] = fx_reg(&fx, "b", ITM_IP_FORWARD, REG_AGENT);
	fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1,
		 shared, 2);
	fx_stage(&fx, ITM_POST_ROUTE, REG_AGENT, ITM_STAGE_BIT(2), 1001, 1, &q,
		 1);
	assert_int_equal(settle(&fx, q, &tos), 1);
	assert_int_equal(settle(&fx, q, &drop), 2);
	assert_int_equal(settle(&fx, gone, &drop), 3);
	assert_int_equal(settle(&fx, shared[0], &tos), 4);
	settle_installed(&fx.st);
	settle_release(&fx.st, gone);
	assert_int_equal(settle(&fx, q, &acc), 5);
	expect_rules(&fx, 0, "settlements.rules");
	/* Once that went in, the released id's chain is gone for good. */
	settle_installed(&fx.st);
	assert_int_equal(fx.st.ids[3].state, SETTLE_FREE);
	assert_int_equal(fx.st.ids[5].state, SETTLE_LIVE);
}

/* An interest the kernel cannot express is refused, with its reason. */
static void
bad_interest(void **state)
{
	struct rules_buf b = { 0 };
	struct agent_reg *r;
	struct fixture fx;
	char err[256] = "";

	fx_init(&fx);
	r = fx_reg(&fx, "v6", ITM_IP_FORWARD, REG_AGENT);
	itm_interest_add_saddr(&r->interest, "2001:db8::/32");
	fx_stage(&fx, ITM_IP_FORWARD, REG_AGENT, ITM_STAGE_BIT(0), 1000, 1, &r,
		 1);
	assert_int_equal(ruleset_write(&fx.L, &fx.st, 1, &b, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "IPv4 only"));
	rb_free(&b);
}

/* What an agent that died left behind, removed: every jump to an ITM_
 * chain, then the chains, the operator's own rules untouched. */
static void
removal(void **state)
{
	struct rules_buf b = { 0 };
	char path[512], *saved;

	snprintf(path, sizeof(path), "%s/removal.saved", RULESET_DATA);
	saved = slurp(path);
	assert_non_null(saved);
	ruleset_removal(saved, &b);
	expect_file(&b, "removal.rules");
	rb_free(&b);
	free(saved);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_stage),
		cmocka_unit_test(one_stage),
		cmocka_unit_test(agent_and_process),
		cmocka_unit_test(several_hooks),
		cmocka_unit_test(workers_balance),
		cmocka_unit_test(workers_fanout),
		cmocka_unit_test(settle_declared),
		cmocka_unit_test(settlements),
		cmocka_unit_test(bad_interest),
		cmocka_unit_test(removal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
