/*
 * settle.c - flows settled in the kernel.
 *
 * A module may decide the rest of a flow once ("LONG: clear the
 * Minimize-Delay bit from now on"); the packets that follow should then
 * never cross to user space, as Suricata's bypass does.  Each distinct
 * (registration, class, action) gets a settlement id 1..255 with
 *
 *   - a chain ITM_S<id>: count in nfacct object "itm_s<id>", apply the
 *     action (TOS rewrite or drop), set the stage's mark bit so the stage's
 *     NFQUEUE rule is skipped;
 *   - two jumps before the stage's NFQUEUE rule, taken when the flow's
 *     conntrack mark holds the id for the packet's direction.
 *
 * The verdict of the settling packet carries the id in its mark and the
 * hook chain's CONNMARK rules store it (rules.c).  Telemetry stays exact:
 * the nfacct counters are added to the class's user-space counters.
 * Ids are handed out round robin so a released id is reused as late as
 * possible (flows may still carry it in their conntrack mark).
 *
 * settle_alloc() runs on the thread of the packet (a worker, with
 * --workers); its callers hold agent_lock().  The other entry points take
 * it themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_acct/libnetfilter_acct.h>

#include "agent.h"
#include "log.h"
#include "rules.h"

struct settle_id ids[ITM_SETTLE_IDS + 1];
static unsigned int next_id = 1;

/* ------------------------------------------------------------------ */
/* Ids                                                                  */
/* ------------------------------------------------------------------ */

static int
spec_same(const struct itm_settle *a, const struct itm_settle *b)
{
	return a->class == b->class && a->action == b->action &&
	       a->tos_value == b->tos_value && a->tos_mask == b->tos_mask &&
	       a->except_tcp_flags == b->except_tcp_flags;
}

static unsigned int
id_find(const struct agent_reg *r, const struct itm_settle *s)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if ((ids[i].state == SETTLE_NEW ||
		     ids[i].state == SETTLE_LIVE) &&
		    ids[i].reg == r && spec_same(&ids[i].spec, s))
			return i;
	return 0;
}

static unsigned int
id_take(void)
{
	for (unsigned int k = 0; k < ITM_SETTLE_IDS; k++) {
		unsigned int i = (next_id - 1 + k) % ITM_SETTLE_IDS + 1;

		if (ids[i].state == SETTLE_FREE) {
			next_id = i % ITM_SETTLE_IDS + 1;
			return i;
		}
	}
	return 0;
}

int
settle_alloc(struct agent_reg *r, const struct itm_settle *s, uint32_t *mark,
	     char *err, size_t errlen)
{
	struct itm_settle spec = *s;
	unsigned int id;
	int rc;

	if (spec.action != ITM_SETTLE_SET_TOS)
		spec.tos_value = spec.tos_mask = 0;
	id = id_find(r, &spec);
	if (id == 0) {
		id = id_take();
		if (id == 0) {
			snprintf(err, errlen, "all %d settlement ids in use",
				 ITM_SETTLE_IDS);
			return -ENOSPC;
		}
		rc = acct_create(id);
		if (rc < 0) {
			snprintf(err, errlen, "nfacct: %s", strerror(-rc));
			return rc;
		}
		ids[id] = (struct settle_id){ SETTLE_NEW, r, spec };
		rc = rules_apply(err, errlen);
		if (rc < 0) {
			ids[id].state = SETTLE_FREE;
			return rc;
		}
		log_info("%s: settlement %u: class %d, %s", r->label, id,
			 spec.class,
			 spec.action == ITM_SETTLE_DROP	     ? "drop"
			 : spec.action == ITM_SETTLE_SET_TOS ? "set tos"
							     : "accept");
	}
	*mark = (uint32_t)id << ITM_MARK_SETTLE_SHIFT;
	return 0;
}

void
settle_release(struct agent_reg *r)
{
	agent_lock();
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (ids[i].reg == r && ids[i].state != SETTLE_FREE) {
			ids[i].state = ids[i].state == SETTLE_NEW ? SETTLE_FREE
								  : SETTLE_DEAD;
			ids[i].reg = NULL;
		}
	agent_unlock();
}

int
settle_counts(const struct agent_reg *r, unsigned int cls, uint64_t *packets,
	      uint64_t *bytes)
{
	*packets = *bytes = 0;
	agent_lock();
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		uint64_t p = 0, b = 0;

		if (ids[i].reg != r || ids[i].state != SETTLE_LIVE ||
		    ids[i].spec.class != (int)cls)
			continue;
		if (acct_read(i, &p, &b) == 0) {
			*packets += p;
			*bytes += b;
		}
	}
	agent_unlock();
	return 0;
}

void
settle_chains_done(void)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		if (ids[i].state == SETTLE_NEW)
			ids[i].state = SETTLE_LIVE;
		else if (ids[i].state == SETTLE_DEAD)
			ids[i].state = SETTLE_FREE;
	}
}
