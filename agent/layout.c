/*
 * layout.c - the stages the registrations form at each hook, and the
 * commit that makes the runners and the kernel match them.
 *
 * Consecutive in-agent registrations at a hook share one stage, so a
 * packet crosses to user space once for all of them; a process
 * registration is a stage of its own, read by the process itself.  Each
 * stage has a queue (or one per worker) and a mark bit (marks.h).
 *
 * layout_commit() computes the new layout from the registration lists,
 * binds the queues of new in-agent stages (stagerun.c), installs the rule
 * set (written by ruleset.c, applied by kernel.c) and only then retires
 * the old stages.  If binding or installing fails the old layout stays.
 * The rule set also holds the settlements (settle.c), so a module asking
 * to settle a flow comes through here too: layout_settle().
 *
 * agent->layout and agent->settle are read and written under agent_lock():
 * a worker's packet callback may settle a flow, which rewrites the rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "kernel.h"
#include "log.h"
#include "ruleset.h"

/* ------------------------------------------------------------------ */
/* Layout                                                              */
/* ------------------------------------------------------------------ */

static struct stage *
stage_new(itm_where hook, enum reg_kind kind, unsigned int index)
{
	struct stage *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->hook = hook;
	st->kind = kind;
	st->index = index;
	return st;
}

static int
stage_append(struct stage *st, struct agent_reg *r)
{
	struct agent_reg **v;

	v = realloc(st->regs, (st->n_regs + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v[st->n_regs++] = r;
	st->regs = v;
	return 0;
}

static void
stage_free(struct stage *st)
{
	if (st == NULL)
		return;
	free(st->regs);
	free(st);
}

static void
layout_free(struct layout *L)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < L->n[h]; i++)
			stage_free(L->stages[h][i]);
}

/* Group the hook's registrations into stages. */
static int
layout_hook(struct layout *L, itm_where hook)
{
	struct stage *cur = NULL;
	struct agent_reg *r;

	TAILQ_FOREACH(r, &agent->hooks[hook], entry) {
		if (cur == NULL || r->kind == REG_PROCESS ||
		    cur->kind == REG_PROCESS) {
			cur = stage_new(hook, r->kind, L->n[hook]);
			if (cur == NULL)
				return -ENOMEM;
			L->stages[hook][L->n[hook]++] = cur;
		}
		if (stage_append(cur, r) < 0)
			return -ENOMEM;
		if (r->kind == REG_PROCESS) {
			cur->queue = r->queue;
			cur->n_queues = 1;
			cur->bit = r->stage_bit;
		}
	}
	return 0;
}

static uint32_t
stage_copy_bytes(const struct stage *st)
{
	uint32_t max = 0;

	for (unsigned int i = 0; i < st->n_regs; i++) {
		if (st->regs[i]->copy_bytes == 0)
			return 0;
		if (st->regs[i]->copy_bytes > max)
			max = st->regs[i]->copy_bytes;
	}
	return max;
}

/* An old in-agent stage whose runner the new stage @st can keep: it
 * shares the first registration and copies as many bytes. */
static struct stage *
old_stage_for(const struct stage *st, uint8_t *claimed)
{
	itm_where h = st->hook;

	for (unsigned int i = 0; i < agent->layout.n[h]; i++) {
		struct stage *old = agent->layout.stages[h][i];

		if (claimed[i] || old->kind != REG_AGENT)
			continue;
		for (unsigned int j = 0; j < old->n_regs; j++)
			if (old->regs[j] == st->regs[0] &&
			    stage_copy_bytes(old) == stage_copy_bytes(st)) {
				claimed[i] = 1;
				return old;
			}
	}
	return NULL;
}

static uint32_t
bits_in_use(const struct layout *L, itm_where h)
{
	uint32_t used = 0;

	for (unsigned int i = 0; i < L->n[h]; i++)
		used |= L->stages[h][i]->bit;
	return used;
}

/* Bits of the hook's current stages.  With workers, the runners of a
 * retiring stage give verdicts until they are closed, after the new rules
 * are in: a new stage should not take their bit while one is free. */
static uint32_t
bits_retiring(itm_where h)
{
	uint32_t used = 0;

	if (!workers_threaded())
		return 0;
	for (unsigned int i = 0; i < agent->layout.n[h]; i++)
		used |= agent->layout.stages[h][i]->bit;
	return used;
}

static uint32_t
free_bit(uint32_t used)
{
	for (int i = 0; i < ITM_MARK_STAGES; i++)
		if (!(used & ITM_STAGE_BIT(i)))
			return ITM_STAGE_BIT(i);
	return 0;
}

/* Give the in-agent stages of hook @h runners: kept or new. */
static int
layout_runners(struct layout *L, itm_where h, uint8_t *claimed, char *err,
	       size_t errlen)
{
	for (unsigned int i = 0; i < L->n[h]; i++) {
		struct stage *st = L->stages[h][i], *old;

		if (st->kind != REG_AGENT)
			continue;
		old = old_stage_for(st, claimed);
		if (old != NULL) {
			memcpy(st->runners, old->runners, sizeof(st->runners));
			st->queue = old->queue;
			st->n_queues = old->n_queues;
			st->bit = old->bit;
		}
	}
	for (unsigned int i = 0; i < L->n[h]; i++) {
		struct stage *st = L->stages[h][i];

		if (st->kind != REG_AGENT || st->runners[0] != NULL)
			continue;
		st->bit = free_bit(bits_in_use(L, h) | bits_retiring(h));
		if (st->bit == 0)
			st->bit = free_bit(bits_in_use(L, h));
		if (stage_runners_open(st, stage_copy_bytes(st), err, errlen) <
		    0)
			return -EIO;
	}
	return 0;
}

static int
stage_bind_regs(struct stage *st)
{
	struct itm__reg **v = calloc(st->n_regs + 1, sizeof(*v));
	unsigned int n = 0;
	int rc;

	if (v == NULL)
		return -ENOMEM;
	for (unsigned int j = 0; j < st->n_regs; j++) {
		if (st->regs[j]->removed)
			continue;
		v[n] = st->regs[j]->pr;
		/* Read by workers inside the module's callbacks. */
		__atomic_store_n(&v[n]->can_settle, st->n_regs == 1,
				 __ATOMIC_RELAXED);
		n++;
	}
	rc = stage_runners_set_regs(st, v, n);
	free(v);
	return rc;
}

static int
runner_in(struct layout *L, itm_where h, const struct itm__runner *r)
{
	for (unsigned int i = 0; i < L->n[h]; i++)
		if (L->stages[h][i]->runners[0] == r)
			return 1;
	return 0;
}

/* Close the runners of @from that @keep does not use, free @from. */
static void
layout_retire(struct layout *from, struct layout *keep)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < from->n[h]; i++) {
			struct stage *st = from->stages[h][i];

			if (st->kind == REG_AGENT && st->runners[0] &&
			    !runner_in(keep, h, st->runners[0]))
				stage_runners_close(st);
		}
	layout_free(from);
}

static void
layout_swap(struct layout *L)
{
	struct layout tmp = agent->layout;

	agent->layout = *L;
	*L = tmp;
}

static int
layout_build(struct layout *L, char *err, size_t errlen)
{
	uint8_t claimed[ITM_HOOK_MAX][ITM_MARK_STAGES] = { { 0 } };

	for (int h = 0; h < ITM_HOOK_MAX; h++)
		if (layout_hook(L, h) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		if (layout_runners(L, h, claimed[h], err, errlen) < 0)
			return -EIO;
	return 0;
}

static void
layout_bind(struct layout *L)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < L->n[h]; i++) {
			struct stage *st = L->stages[h][i];

			for (unsigned int j = 0; j < st->n_regs; j++)
				if (!st->regs[j]->removed)
					st->regs[j]->stage = st;
			if (st->kind == REG_AGENT && stage_bind_regs(st) < 0)
				log_warnx("stage %u at %s: out of memory "
					  "giving its runners their "
					  "registrations",
					  st->index, itm_hook_name(h));
		}
}

/* Say which hooks turned connection tracking on or off with the rules
 * just installed (ruleset.c writes its rules only where a registration
 * may settle). */
static void
log_tracking(void)
{
	static uint32_t was;
	uint32_t now = 0;

	for (int h = 0; h < ITM_HOOK_MAX; h++)
		if (ruleset_hook_tracks(&agent->layout, h))
			now |= 1u << h;
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		if ((now ^ was) & (1u << h))
			log_info("%s: settlement rules %s: connection "
				 "tracking %s",
				 itm_hook_name(h),
				 now & (1u << h) ? "written" : "removed",
				 now & (1u << h)
					 ? "on (a module there may settle)"
					 : "no longer needed there");
	was = now;
}

/* Install the rules of agent->layout and agent->settle, under
 * agent_lock(). */
static int
rules_install(char *err, size_t errlen)
{
	struct rules_buf b = { 0 };
	int rc;

	rc = ruleset_write(&agent->layout, &agent->settle,
			   !agent->rules_installed, &b, err, errlen);
	if (rc == 0)
		rc = kern_rules_install(&b, err, errlen);
	if (rc == 0) {
		agent->rules_installed = 1;
		settle_installed(&agent->settle);
		log_tracking();
	}
	rb_free(&b);
	return rc;
}

int
layout_commit(char *err, size_t errlen)
{
	struct layout L, cur;
	int rc;

	memset(&L, 0, sizeof(L));
	rc = layout_build(&L, err, errlen);
	if (rc == 0) {
		agent_lock();
		layout_swap(&L); /* L now holds the old layout */
		rc = rules_install(err, errlen);
		if (rc < 0)
			layout_swap(&L); /* back to the old one */
		agent_unlock();
	}
	/* Retire whichever layout lost, keeping the runners in use.  Even
	 * the old layout is re-bound: removed registrations must leave the
	 * packet path whatever happened to the rules. */
	cur = agent->layout;
	layout_bind(&cur);
	layout_retire(&L, &cur);
	return rc;
}

/* Remove every rule and stage; registrations stay listed. */
void
layout_shutdown(void)
{
	struct layout L, none;

	memset(&L, 0, sizeof(L));
	memset(&none, 0, sizeof(none));
	agent_lock();
	layout_swap(&L);
	kern_rules_remove();
	agent->rules_installed = 0;
	agent_unlock();
	layout_retire(&L, &none);
}

void
layout_init(void)
{
	settle_init(&agent->settle);
}

/* ------------------------------------------------------------------ */
/* Settlements                                                          */
/* ------------------------------------------------------------------ */

static const char *
action_name(enum itm_settle_action a)
{
	return a == ITM_SETTLE_DROP	 ? "drop"
	       : a == ITM_SETTLE_SET_TOS ? "set tos"
					 : "accept";
}

/* A new settlement: its counter, then a rule set with its chain. */
static int
install_settlement(unsigned int id, char *err, size_t errlen)
{
	int rc = kern_acct_create(id);

	if (rc < 0) {
		snprintf(err, errlen, "nfacct: %s", strerror(-rc));
		return rc;
	}
	return rules_install(err, errlen);
}

int
layout_settle(const struct agent_reg *r, const struct itm_settle *s,
	      uint32_t *mark, char *err, size_t errlen)
{
	unsigned int id;
	int rc, is_new;

	agent_lock();
	rc = settle_get(&agent->settle, r, s, &id, &is_new);
	if (rc < 0)
		snprintf(err, errlen, "all %d settlement ids in use",
			 ITM_SETTLE_IDS);
	else if (is_new && (rc = install_settlement(id, err, errlen)) < 0)
		settle_put(&agent->settle, id);
	agent_unlock();
	if (rc < 0)
		return rc;
	if (is_new)
		log_info("%s: settlement %u: class %d, %s", r->label, id,
			 s->class, action_name(s->action));
	*mark = settle_mark(id);
	return 0;
}

void
layout_settled(const struct agent_reg *r, unsigned int cls, uint64_t *packets,
	       uint64_t *bytes)
{
	unsigned int ids[ITM_SETTLE_IDS], n;

	*packets = *bytes = 0;
	agent_lock();
	n = settle_ids(&agent->settle, r, cls, ids);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t p = 0, b = 0;

		if (kern_acct_read(ids[i], &p, &b) == 0) {
			*packets += p;
			*bytes += b;
		}
	}
	agent_unlock();
}

/* ------------------------------------------------------------------ */
/* What others ask of the layout                                        */
/* ------------------------------------------------------------------ */

uint32_t
layout_process_bit(itm_where hook)
{
	struct agent_reg *r;
	uint32_t used = 0;

	for (unsigned int i = 0; i < agent->layout.n[hook]; i++)
		used |= agent->layout.stages[hook][i]->bit;
	TAILQ_FOREACH(r, &agent->hooks[hook], entry)
		if (r->kind == REG_PROCESS)
			used |= r->stage_bit;
	for (int i = ITM_MARK_STAGES - 1; i >= 0; i--)
		if (!(used & ITM_STAGE_BIT(i)))
			return ITM_STAGE_BIT(i);
	return 0;
}

void
layout_queue_totals(uint64_t *malformed, uint64_t *drops)
{
	*malformed = agent->malformed_closed;
	*drops = 0;
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		for (unsigned int i = 0; i < agent->layout.n[h]; i++) {
			struct stage *st = agent->layout.stages[h][i];

			if (st->kind != REG_AGENT)
				continue;
			*malformed += stage_runners_malformed(st);
			*drops += stage_runners_drops(st);
		}
}
