/*
 * ctl_fan.c - calls to many agents at once, and what they come to.
 *
 * A fan is one round of concurrent operations, one per node (a push, a
 * placement, a forwarded call): the owner starts each with its slot as
 * the callback argument, and the round's finish callback runs once, when
 * the last operation that started has reported.  The owner embeds the
 * fan in its own struct (container_of) and frees both in finish.
 *
 * The outcome of an operation on a node is ctl.h's enum ctl_outcome,
 * itm.proto's Outcome; its name is for the log only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

int
ctl_fan_init(struct ctl_fan *f, struct ctl *c, const char *const *nodes,
	     size_t n, ctl_fan_finish_cb finish)
{
	*f = (struct ctl_fan){ .c = c, .finish = finish };
	f->nodes = calloc(n ? n : 1, sizeof(*f->nodes));
	f->slots = calloc(n ? n : 1, sizeof(*f->slots));
	if (f->nodes == NULL || f->slots == NULL) {
		ctl_fan_fini(f);
		return -ENOMEM;
	}
	for (; f->n < n; f->n++) {
		f->slots[f->n] = (struct ctl_fan_slot){ .fan = f, .i = f->n };
		if ((f->nodes[f->n] = strdup(nodes[f->n])) == NULL) {
			ctl_fan_fini(f);
			return -ENOMEM;
		}
	}
	return 0;
}

void
ctl_fan_fini(struct ctl_fan *f)
{
	for (size_t i = 0; f->nodes && i < f->n; i++)
		free(f->nodes[i]);
	free(f->nodes);
	free(f->slots);
	f->nodes = NULL;
	f->slots = NULL;
	f->n = 0;
}

void
ctl_fan_run(struct ctl_fan *f, ctl_fan_start_cb start)
{
	/* Counted from 1, so that an operation that reports at once cannot
	 * finish the round before the last one started. */
	f->pending = 1;
	for (size_t i = 0; i < f->n; i++) {
		f->pending++;
		if (start(&f->slots[i]) < 0)
			f->pending--;
	}
	if (--f->pending == 0)
		f->finish(f);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ctl_fan_deadline(struct ctl_fan *f, const struct itm_rpc_call *call)
{
	int64_t left = call ? itm_rpc_deadline_left_ms(call) : -1;

	f->deadline_ms = left < 0 ? 0 : mono_ms() + left;
}

int
ctl_fan_timeout(const struct ctl_fan *f)
{
	int64_t t = f->c->cfg.push_timeout_ms, left;

	if (f->deadline_ms == 0)
		return (int)t;
	left = (f->deadline_ms - mono_ms()) * 4 / 5;
	if (left < t)
		t = left;
	return t > 0 ? (int)t : 1;
}

void
ctl_fan_done(struct ctl_fan_slot *s)
{
	struct ctl_fan *f = s->fan;

	if (--f->pending == 0)
		f->finish(f);
}

/* ------------------------------------------------------------------ */
/* Outcomes                                                             */
/* ------------------------------------------------------------------ */

static const char *const outcome_names[] = {
	[CTL_OUTCOME_NONE] = "-",
	[CTL_OUTCOME_UPDATED] = "updated",
	[CTL_OUTCOME_UNCHANGED] = "unchanged",
	[CTL_OUTCOME_UNREACHABLE] = "unreachable",
	[CTL_OUTCOME_REFUSED] = "refused",
};

const char *
ctl_outcome_name(enum ctl_outcome o)
{
	if ((unsigned int)o >= sizeof(outcome_names) / sizeof(*outcome_names))
		return "?";
	return outcome_names[o];
}

enum ctl_outcome
ctl_outcome_of(int code)
{
	switch (code) {
	case ITM_RPC_OK: return CTL_OUTCOME_NONE;
	case ITM_RPC_UNAVAILABLE:
	case ITM_RPC_DEADLINE_EXCEEDED:
	case ITM_RPC_CANCELLED: return CTL_OUTCOME_UNREACHABLE;
	default: return CTL_OUTCOME_REFUSED;
	}
}
