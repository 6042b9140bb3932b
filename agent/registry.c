/*
 * registry.c - every registration of the agent, in-agent and process, in
 * the order they run at each hook.
 *
 * Per hook, registrations run in priority order, then registration order
 * (paper 6.1.2, with the priorities its conclusion asks for).  Changes are
 * made in two steps: reg_add()/reg_remove() edit the lists here,
 * layout_commit() (layout.c) makes the stages, runners and rules follow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"
#include "packet_int.h"

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
	agent_lock();
	settle_release(&agent->settle, r);
	agent_unlock();
	TAILQ_REMOVE(&agent->hooks[r->hook], r, entry);
	r->stage = NULL;
	r->removed = 1;
}

int
reg_stage_of(const struct agent_reg *r, unsigned int *index)
{
	if (r->stage == NULL)
		return -ENOENT;
	*index = r->stage->index;
	return 0;
}
