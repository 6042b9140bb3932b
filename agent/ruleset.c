/*
 * ruleset.c - the agent's netfilter rules as iptables-restore text: a pure
 * function of the stage layout and the settlement table (ruleset.h),
 * checked byte for byte by tests/unit/test_ruleset.c against the saved
 * scripts in tests/data/ruleset/.  kernel.c applies the text.
 *
 * The agent owns five chains in the mangle table, ITM_PRE, ITM_IN, ITM_FWD,
 * ITM_OUT and ITM_POST, jumped to first from PREROUTING ... POSTROUTING,
 * plus one chain ITM_S<id> per settlement (settle.c).  Every change
 * rewrites all of them in one iptables-nft-restore --noflush transaction,
 * so the kernel never sees half a rule set.  A hook chain with stages
 * reads (one without stages is empty):
 *
 *   another hook's tag -> clear the stage bits, set this hook's tag
 *   settle requests -> CONNMARK (only when a registration at the hook
 *                      may settle)
 *   for each stage, in order:
 *     its settled flows  -> ITM_S<id> (count, act, set stage bit)
 *     its interest, and neither its bit nor a later stage's bit set
 *                        -> NFQUEUE --queue-num Q --queue-bypass
 *                           (--queue-balance Q:Q+N-1 with N workers,
 *                           --queue-cpu-fanout if asked)
 *   clear ITM's mark bits
 *
 * Packets whose mark has a stage's bit skip that stage (marks.h), and so do
 * packets a later stage has seen: a later stage's change (a rewritten
 * port) must not bring the packet back to an earlier stage that it did
 * not interest at its turn.
 *
 * The CONNMARK rules (-m conntrack) turn on connection tracking for every
 * packet in the namespace, which costs the packet path a share that a
 * module that never settles should not pay: they are written for a hook
 * only when one of its registrations may settle (agent_reg.may_settle,
 * ITM_MAY_SETTLE), from its registration on, so a flow's first settle
 * request already finds its conntrack entry.  Settlement chains come
 * from such registrations only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ruleset.h"
#include "settle.h"

static const char *const hook_chain[ITM_HOOK_MAX] = { "ITM_PRE", "ITM_IN",
						      "ITM_FWD", "ITM_OUT",
						      "ITM_POST" };
static const char *const hook_builtin[ITM_HOOK_MAX] = { "PREROUTING", "INPUT",
							"FORWARD", "OUTPUT",
							"POSTROUTING" };

/* iptables names of the TCP flags, lowest bit first. */
static const char *const tcp_flag_names[8] = { "FIN", "SYN", "RST", "PSH",
					       "ACK", "URG", "ECE", "CWR" };

/* ------------------------------------------------------------------ */
/* Text buffer                                                          */
/* ------------------------------------------------------------------ */

void
rb_printf(struct rules_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->buf + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (rb_grow(b, (size_t)n + 1) < 0)
			return;
	}
}

int
rb_grow(struct rules_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (p == NULL) {
		b->failed = 1;
		return -ENOMEM;
	}
	b->buf = p;
	b->cap = cap;
	return 0;
}

void
rb_free(struct rules_buf *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------ */
/* Removing ITM's rules (start-up leftovers, exit)                      */
/* ------------------------------------------------------------------ */

/* From `iptables-nft-save -t mangle`, a script that removes every jump
 * to an ITM_ chain and every ITM_ chain.  Only the line itself is looked
 * at: the operator's own rules around ours stay. */
void
ruleset_removal(const char *saved, struct rules_buf *b)
{
	const char *line = saved;
	struct rules_buf chains = { 0 };

	rb_printf(b, "*mangle\n");
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		int len = eol ? (int)(eol - line) : (int)strlen(line);

		if (strncmp(line, ":ITM_", 5) == 0) {
			int nl = (int)strcspn(line + 1, " \n");

			rb_printf(b, ":%.*s - [0:0]\n", nl, line + 1);
			rb_printf(&chains, "-X %.*s\n", nl, line + 1);
		} else if (strncmp(line, "-A ", 3) == 0 &&
			   memmem(line, (size_t)len, " -j ITM_", 8) != NULL &&
			   strncmp(line, "-A ITM_", 7) != 0) {
			rb_printf(b, "-D %.*s\n", len - 3, line + 3);
		}
		line = eol ? eol + 1 : NULL;
	}
	if (chains.len)
		rb_printf(b, "%s", chains.buf);
	rb_printf(b, "COMMIT\n");
	rb_free(&chains);
}

/* ------------------------------------------------------------------ */
/* Settlements                                                          */
/* ------------------------------------------------------------------ */

/* The stage of @r in @L, if @r is alone there: only such a stage can
 * settle (its bit in the settlement's chain means "this stage is done"). */
static const struct stage *
sole_stage(const struct layout *L, const struct agent_reg *r)
{
	itm_where h = r->hook;

	for (unsigned int i = 0; i < L->n[h]; i++) {
		const struct stage *st = L->stages[h][i];

		if (st->n_regs == 1 && st->regs[0] == r)
			return st;
	}
	return NULL;
}

static int
settle_in_use(const struct settle_id *s)
{
	return s->state == SETTLE_NEW || s->state == SETTLE_LIVE;
}

/* ITM_S<id>: count, act, mark the stage done. */
static void
settle_chain(struct rules_buf *b, unsigned int id, const struct settle_id *s,
	     const struct stage *st)
{
	for (int f = 0; f < 8; f++)
		if (s->spec.except_tcp_flags & (1u << f))
			rb_printf(b,
				  "-A ITM_S%u -p tcp --tcp-flags %s %s "
				  "-j RETURN\n",
				  id, tcp_flag_names[f], tcp_flag_names[f]);
	rb_printf(b, "-A ITM_S%u -m nfacct --nfacct-name itm_s%u\n", id, id);
	if (s->spec.action == ITM_SETTLE_SET_TOS)
		rb_printf(b, "-A ITM_S%u -j TOS --set-tos 0x%02x/0x%02x\n", id,
			  s->spec.tos_value, s->spec.tos_mask);
	else if (s->spec.action == ITM_SETTLE_DROP)
		rb_printf(b, "-A ITM_S%u -j DROP\n", id);
	rb_printf(b, "-A ITM_S%u -j MARK --or-mark 0x%08x\n", id, st->bit);
}

/* The chains of settlements in use (empty when the registration no longer
 * has a stage of its own). */
static void
settle_chains(struct rules_buf *b, const struct layout *L,
	      const struct settle_table *t)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		const struct settle_id *s = &t->ids[i];
		const struct stage *st;

		if (!settle_in_use(s))
			continue;
		rb_printf(b, ":ITM_S%u - [0:0]\n", i);
		st = sole_stage(L, s->reg);
		if (st != NULL)
			settle_chain(b, i, s, st);
	}
}

/* Before stage @st's queue rule: its settled flows, by the id in their
 * conntrack mark for the packet's direction. */
static void
settle_jumps(struct rules_buf *b, const struct settle_table *t,
	     const struct stage *st, const char *chain)
{
	if (st->n_regs != 1)
		return;
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		if (!settle_in_use(&t->ids[i]) || t->ids[i].reg != st->regs[0])
			continue;
		rb_printf(b,
			  "-A %s -m mark ! --mark 0x%08x/0x%08x -m connmark "
			  "--mark 0x%08x/0x%08x -m conntrack --ctdir ORIGINAL "
			  "-j ITM_S%u\n",
			  chain, st->bit, st->bit, i << ITM_CTMARK_ORIG_SHIFT,
			  ITM_CTMARK_ORIG_MASK, i);
		rb_printf(b,
			  "-A %s -m mark ! --mark 0x%08x/0x%08x -m connmark "
			  "--mark 0x%08x/0x%08x -m conntrack --ctdir REPLY "
			  "-j ITM_S%u\n",
			  chain, st->bit, st->bit, i << ITM_CTMARK_REPLY_SHIFT,
			  ITM_CTMARK_REPLY_MASK, i);
	}
}

/* Released settlements: their chains go. */
static void
settle_dead_chains(struct rules_buf *b, const struct settle_table *t)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (t->ids[i].state == SETTLE_DEAD)
			rb_printf(b, ":ITM_S%u - [0:0]\n-X ITM_S%u\n", i, i);
}

/* ------------------------------------------------------------------ */
/* Hook chains                                                          */
/* ------------------------------------------------------------------ */

/* A verdict that asks to settle puts the settlement id in the mark; the
 * kernel stores it in the flow's conntrack mark for the packet's
 * direction, then the request bits are cleared. */
static void
chain_settle_requests(struct rules_buf *b, const char *chain)
{
	rb_printf(b,
		  "-A %s -m mark ! --mark 0x0/0x%08x -m conntrack "
		  "--ctdir ORIGINAL -j CONNMARK --save-mark --nfmask 0x%08x "
		  "--ctmask 0x%08x\n",
		  chain, ITM_MARK_SETTLE_MASK, ITM_MARK_SETTLE_MASK,
		  ITM_CTMARK_ORIG_MASK);
	rb_printf(b,
		  "-A %s -m mark ! --mark 0x0/0x%08x -m conntrack "
		  "--ctdir REPLY -j CONNMARK --save-mark --nfmask 0x%08x "
		  "--ctmask 0x%08x --left-shift-mark %d\n",
		  chain, ITM_MARK_SETTLE_MASK, ITM_MARK_SETTLE_MASK,
		  ITM_CTMARK_REPLY_MASK,
		  ITM_CTMARK_REPLY_SHIFT - ITM_MARK_SETTLE_SHIFT);
	rb_printf(b,
		  "-A %s -m mark ! --mark 0x0/0x%08x -j MARK --and-mark "
		  "0x%08x\n",
		  chain, ITM_MARK_SETTLE_MASK, ~ITM_MARK_SETTLE_MASK);
}

/* Does a registration at hook @h declare it may settle? */
int
ruleset_hook_tracks(const struct layout *L, int h)
{
	for (unsigned int i = 0; i < L->n[h]; i++) {
		const struct stage *st = L->stages[h][i];

		for (unsigned int j = 0; j < st->n_regs; j++)
			if (st->regs[j]->may_settle)
				return 1;
	}
	return 0;
}

/* One queue, or the workers' queues: the kernel hashes a flow's
 * addresses to one of them, so a flow's packets keep their order; or,
 * with --queue-cpu-fanout, takes the one of the CPU the packet is on. */
static void
queue_target(struct rules_buf *b, const struct stage *st)
{
	if (st->n_queues > 1)
		rb_printf(b, "--queue-balance %u:%u --queue-bypass%s\n",
			  st->queue, st->queue + st->n_queues - 1,
			  st->cpu_fanout ? " --queue-cpu-fanout" : "");
	else
		rb_printf(b, "--queue-num %u --queue-bypass\n", st->queue);
}

/* @done: the bits of this stage and of every later one at the hook. */
static int
chain_stage(struct rules_buf *b, const char *chain, const struct stage *st,
	    uint32_t done, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < st->n_regs; i++) {
		char **m;
		unsigned int n;
		int rc;

		rc = match_compile(&st->regs[i]->interest, st->hook, &m, &n,
				   err, errlen);
		if (rc < 0)
			return rc;
		for (unsigned int j = 0; j < n; j++) {
			rb_printf(b,
				  "-A %s%s -m mark --mark 0x0/0x%08x "
				  "-j NFQUEUE ",
				  chain, m[j], done);
			queue_target(b, st);
		}
		match_free(m, n);
	}
	return 0;
}

static int
chain_hook(struct rules_buf *b, const struct layout *L,
	   const struct settle_table *t, itm_where h, char *err, size_t errlen)
{
	const char *chain = hook_chain[h];
	int rc;

	if (L->n[h] == 0)
		return 0;
	/* Stage bits of another hook (a packet that left it by
	 * --queue-bypass, or a late verdict of a stage that is gone) are
	 * cleared; this hook's tag marks ours. */
	rb_printf(b,
		  "-A %s -m mark ! --mark 0x%08x/0x%08x -j MARK "
		  "--set-xmark 0x%08x/0x%08x\n",
		  chain, ITM_MARK_HOOK_TAG(h), ITM_MARK_HOOK_MASK,
		  ITM_MARK_HOOK_TAG(h), ITM_MARK_STAGE_MASK);
	/* Settle requests come back from this hook's own stages. */
	if (ruleset_hook_tracks(L, h))
		chain_settle_requests(b, chain);
	for (unsigned int i = 0; i < L->n[h]; i++) {
		uint32_t done = 0;

		for (unsigned int j = i; j < L->n[h]; j++)
			done |= L->stages[h][j]->bit;
		settle_jumps(b, t, L->stages[h][i], chain);
		rc = chain_stage(b, chain, L->stages[h][i], done, err, errlen);
		if (rc < 0)
			return rc;
	}
	rb_printf(b,
		  "-A %s -m mark ! --mark 0x0/0x%08x -j MARK "
		  "--and-mark 0x%08x\n",
		  chain, ITM_MARK_MASK, ~ITM_MARK_MASK);
	return 0;
}

int
ruleset_write(const struct layout *L, const struct settle_table *t, int jumps,
	      struct rules_buf *b, char *err, size_t errlen)
{
	int rc = 0;

	rb_printf(b, "*mangle\n");
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		rb_printf(b, ":%s - [0:0]\n", hook_chain[h]);
	settle_chains(b, L, t);
	for (int h = 0; h < ITM_HOOK_MAX && rc == 0; h++)
		rc = chain_hook(b, L, t, h, err, errlen);
	if (rc < 0)
		return rc;
	if (jumps)
		for (int h = 0; h < ITM_HOOK_MAX; h++)
			rb_printf(b, "-I %s 1 -j %s\n", hook_builtin[h],
				  hook_chain[h]);
	settle_dead_chains(b, t);
	rb_printf(b, "COMMIT\n");
	if (b->failed) {
		snprintf(err, errlen, "out of memory writing the rules");
		return -ENOMEM;
	}
	return 0;
}
