/*
 * registry.c - every registration of the agent and the stages they form.
 *
 * Per hook, registrations run in priority order, then registration order
 * (paper 6.1.2, with the priorities its conclusion asks for).  Consecutive
 * in-agent registrations share one stage, so a packet crosses to user space
 * once for all of them; a process registration is a stage of its own, read
 * by the process itself.  Each stage has a queue and a mark bit (marks.h).
 *
 * Changes are made in two steps: reg_add()/reg_remove() edit the lists,
 * reg_commit() computes the new stage layout, binds the queues of new
 * in-agent stages, installs the rules atomically and only then retires the
 * old stages.  If binding or installing fails the old layout stays.
 * Runners are opened, given their registrations and closed through
 * stagerun.c, on the workers' loops when there are workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "packet_int.h"

/* Layout being built by reg_commit(). */
struct layout {
	struct stage *stages[ITM_HOOK_MAX][ITM_MARK_STAGES];
	unsigned int n[ITM_HOOK_MAX];
};

void
reg_init(void)
{
	for (int h = 0; h < ITM_HOOK_MAX; h++)
		TAILQ_INIT(&agent->hooks[h]);
}

struct agent_reg *
reg_find(const char *label)
{
	struct agent_reg *r;

	for (int h = 0; h < ITM_HOOK_MAX; h++)
		TAILQ_FOREACH(r, &agent->hooks[h], entry)
			if (strcmp(r->label, label) == 0)
				return r;
	return NULL;
}

unsigned int
reg_count(void)
{
	struct agent_reg *r;
	unsigned int n = 0;

	for (int h = 0; h < ITM_HOOK_MAX; h++)
		TAILQ_FOREACH(r, &agent->hooks[h], entry)
			n++;
	return n;
}

/* Mark in @bound the queue numbers of our range that some socket has
 * bound: a process module still holding the queue a previous agent gave
 * it (it lets go when it re-attaches), or another program's queue. */
static void
queues_bound(uint8_t bound[AGENT_QUEUES])
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned int q;
	char line[256];

	memset(bound, 0, AGENT_QUEUES);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u", &q) == 1 && q >= agent->cfg.queue_base &&
		    q - agent->cfg.queue_base < AGENT_QUEUES)
			bound[q - agent->cfg.queue_base] = 1;
	fclose(f);
}

int
queue_alloc(uint16_t *num)
{
	return queue_alloc_n(num, 1);
}

/* The lowest run of @n numbers neither we nor anyone else has bound. */
int
queue_alloc_n(uint16_t *first, unsigned int n)
{
	uint8_t bound[AGENT_QUEUES];
	unsigned int run = 0;

	queues_bound(bound);
	for (unsigned int i = 0; i < AGENT_QUEUES && n > 0; i++) {
		run = agent->queue_used[i] || bound[i] ? 0 : run + 1;
		if (run < n)
			continue;
		for (unsigned int j = i + 1 - n; j <= i; j++)
			agent->queue_used[j] = 1;
		*first = (uint16_t)(agent->cfg.queue_base + i + 1 - n);
		return 0;
	}
	return -ENOSPC;
}

void
queue_free(uint16_t num)
{
	unsigned int i = (unsigned int)(num - agent->cfg.queue_base);

	if (i < AGENT_QUEUES)
		agent->queue_used[i] = 0;
}

static int
label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= AGENT_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return 0;
	}
	return 1;
}

/* Stages the hook would have: a run of in-agent registrations is one. */
static unsigned int
count_stages(itm_where hook)
{
	struct agent_reg *r;
	enum reg_kind prev = REG_PROCESS;
	unsigned int n = 0;

	TAILQ_FOREACH(r, &agent->hooks[hook], entry) {
		if (r->kind == REG_PROCESS || prev != REG_AGENT)
			n++;
		prev = r->kind;
	}
	return n;
}

static void
insert_sorted(struct agent_reg *r)
{
	struct agent_reg *it;

	TAILQ_FOREACH(it, &agent->hooks[r->hook], entry)
		if (r->priority < it->priority) {
			TAILQ_INSERT_BEFORE(it, r, entry);
			return;
		}
	TAILQ_INSERT_TAIL(&agent->hooks[r->hook], r, entry);
}

static int
reg_check(const struct agent_reg *r, char *err, size_t errlen)
{
	char **m;
	unsigned int n;
	int rc;

	if (!label_valid(r->label)) {
		snprintf(err, errlen, "label '%s': use 1-%d of [A-Za-z0-9_.-]",
			 r->label, AGENT_LABEL_MAX - 1);
		return -EINVAL;
	}
	if ((unsigned int)r->hook >= ITM_HOOK_MAX) {
		snprintf(err, errlen, "hook %d: no such hook", (int)r->hook);
		return -EINVAL;
	}
	if (reg_find(r->label) != NULL) {
		snprintf(err, errlen, "label '%s' is already registered",
			 r->label);
		return -EEXIST;
	}
	rc = itm__interest_check(&r->interest, r->hook, err, errlen);
	if (rc < 0)
		return rc;
	rc = match_compile(&r->interest, r->hook, &m, &n, err, errlen);
	if (rc < 0)
		return rc;
	match_free(m, n);
	return 0;
}

int
reg_add(struct agent_reg *r, char *err, size_t errlen)
{
	int rc;

	rc = reg_check(r, err, errlen);
	if (rc < 0)
		return rc;
	r->seq = agent->next_seq++;
	insert_sorted(r);
	if (count_stages(r->hook) > ITM_MARK_STAGES) {
		TAILQ_REMOVE(&agent->hooks[r->hook], r, entry);
		snprintf(err, errlen, "hook %s already has %d stages",
			 itm_hook_name(r->hook), ITM_MARK_STAGES);
		return -ENOSPC;
	}
	return 0;
}

void
reg_remove(struct agent_reg *r)
{
	TAILQ_REMOVE(&agent->hooks[r->hook], r, entry);
	r->stage = NULL;
	r->removed = 1;
}

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

	for (unsigned int i = 0; i < agent->n_stages[h]; i++) {
		struct stage *old = agent->stages[h][i];

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
	for (unsigned int i = 0; i < agent->n_stages[h]; i++)
		used |= agent->stages[h][i]->bit;
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
	struct itm__reg *v[64];
	unsigned int n = 0;

	for (unsigned int j = 0; j < st->n_regs && n < 64; j++) {
		if (st->regs[j]->removed)
			continue;
		v[n] = st->regs[j]->pr;
		/* Read by workers inside the module's callbacks. */
		module_lock(st->regs[j]->mod);
		v[n]->can_settle = st->n_regs == 1;
		module_unlock(st->regs[j]->mod);
		n++;
	}
	return stage_runners_set_regs(st, v, n);
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
	struct layout tmp;

	memcpy(tmp.stages, agent->stages, sizeof(tmp.stages));
	memcpy(tmp.n, agent->n_stages, sizeof(tmp.n));
	memcpy(agent->stages, L->stages, sizeof(tmp.stages));
	memcpy(agent->n_stages, L->n, sizeof(tmp.n));
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
layout_current(struct layout *out)
{
	memcpy(out->stages, agent->stages, sizeof(out->stages));
	memcpy(out->n, agent->n_stages, sizeof(out->n));
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
			if (st->kind == REG_AGENT)
				stage_bind_regs(st);
		}
}

/*
 * Make the kernel and the runners match the registration lists.  On error
 * the previous layout and rules stay in force and @err says why.
 */
int
reg_commit(char *err, size_t errlen)
{
	struct layout L, cur;
	int rc;

	memset(&L, 0, sizeof(L));
	rc = layout_build(&L, err, errlen);
	if (rc == 0) {
		/* Workers settling flows read the layout and rewrite the
		 * rules too. */
		agent_lock();
		layout_swap(&L); /* L now holds the old layout */
		rc = rules_apply(err, errlen);
		if (rc < 0)
			layout_swap(&L); /* back to the old one */
		agent_unlock();
	}
	/* Retire whichever layout lost, keeping the runners in use.  Even
	 * the old layout is re-bound: removed registrations must leave the
	 * packet path whatever happened to the rules. */
	layout_current(&cur);
	layout_bind(&cur);
	layout_retire(&L, &cur);
	return rc;
}

int
reg_stage_of(const struct agent_reg *r, unsigned int *index)
{
	if (r->stage == NULL)
		return -ENOENT;
	*index = r->stage->index;
	return 0;
}

/* Remove every rule and stage; registrations stay listed. */
void
reg_shutdown(void)
{
	struct layout L, none;

	memset(&L, 0, sizeof(L));
	memset(&none, 0, sizeof(none));
	agent_lock();
	layout_swap(&L);
	rules_remove();
	agent_unlock();
	layout_retire(&L, &none);
}
