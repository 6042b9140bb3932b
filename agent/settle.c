/*
 * settle.c - flows settled in the kernel: the settlement table.
 *
 * A module may decide the rest of a flow once ("LONG: clear the
 * Minimize-Delay bit from now on"); the packets that follow should then
 * never cross to user space, as Suricata's bypass does.  Each distinct
 * (registration, class, action) gets a settlement id 1..255, and with it
 *
 *   - a chain ITM_S<id>: count in nfacct object "itm_s<id>", apply the
 *     action (TOS rewrite or drop), set the stage's mark bit so the stage's
 *     NFQUEUE rule is skipped;
 *   - two jumps before the stage's NFQUEUE rule, taken when the flow's
 *     conntrack mark holds the id for the packet's direction.
 *
 * The verdict of the settling packet carries the id in its mark and the
 * hook chain's CONNMARK rules store it.  Telemetry stays exact: the nfacct
 * counters are added to the class's user-space counters.
 *
 * This file only keeps the table (settle.h); ruleset.c writes the chains
 * from it, kernel.c creates and reads the counters, and layout.c puts the
 * two together under agent_lock().
 */
#include <errno.h>
#include <string.h>

#include "settle.h"

void
settle_init(struct settle_table *t)
{
	memset(t, 0, sizeof(*t));
	t->next = 1;
}

static int
spec_same(const struct itm_settle *a, const struct itm_settle *b)
{
	return a->class == b->class && a->action == b->action &&
	       a->tos_value == b->tos_value && a->tos_mask == b->tos_mask &&
	       a->except_tcp_flags == b->except_tcp_flags;
}

static int
in_use(const struct settle_id *s)
{
	return s->state == SETTLE_NEW || s->state == SETTLE_LIVE;
}

static unsigned int
id_find(const struct settle_table *t, const struct agent_reg *r,
	const struct itm_settle *s)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (in_use(&t->ids[i]) && t->ids[i].reg == r &&
		    spec_same(&t->ids[i].spec, s))
			return i;
	return 0;
}

static unsigned int
id_take(struct settle_table *t)
{
	for (unsigned int k = 0; k < ITM_SETTLE_IDS; k++) {
		unsigned int i = (t->next - 1 + k) % ITM_SETTLE_IDS + 1;

		if (t->ids[i].state == SETTLE_FREE) {
			t->next = i % ITM_SETTLE_IDS + 1;
			return i;
		}
	}
	return 0;
}

int
settle_get(struct settle_table *t, const struct agent_reg *r,
	   const struct itm_settle *s, unsigned int *id, int *is_new)
{
	struct itm_settle spec = *s;

	if (spec.action != ITM_SETTLE_SET_TOS)
		spec.tos_value = spec.tos_mask = 0;
	*is_new = 0;
	*id = id_find(t, r, &spec);
	if (*id != 0)
		return 0;
	*id = id_take(t);
	if (*id == 0)
		return -ENOSPC;
	t->ids[*id] = (struct settle_id){ SETTLE_NEW, r, spec };
	*is_new = 1;
	return 0;
}

void
settle_put(struct settle_table *t, unsigned int id)
{
	if (id >= 1 && id <= ITM_SETTLE_IDS && t->ids[id].state == SETTLE_NEW)
		memset(&t->ids[id], 0, sizeof(t->ids[id]));
}

void
settle_release(struct settle_table *t, const struct agent_reg *r)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		struct settle_id *s = &t->ids[i];

		if (s->reg != r || s->state == SETTLE_FREE)
			continue;
		s->state = s->state == SETTLE_NEW ? SETTLE_FREE : SETTLE_DEAD;
		s->reg = NULL;
	}
}

void
settle_installed(struct settle_table *t)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		if (t->ids[i].state == SETTLE_NEW)
			t->ids[i].state = SETTLE_LIVE;
		else if (t->ids[i].state == SETTLE_DEAD)
			t->ids[i].state = SETTLE_FREE;
	}
}

unsigned int
settle_ids(const struct settle_table *t, const struct agent_reg *r,
	   unsigned int cls, unsigned int *ids)
{
	unsigned int n = 0;

	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (t->ids[i].reg == r && t->ids[i].state == SETTLE_LIVE &&
		    t->ids[i].spec.class == (int)cls)
			ids[n++] = i;
	return n;
}
