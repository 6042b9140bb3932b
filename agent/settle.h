/*
 * settle.h - the settlement table: which settlement id each (registration,
 * class, action) a module settled has, and where each id is in its life.
 * Plain data and pure functions: the caller (layout.c) holds agent_lock(),
 * creates the nfacct counter and installs the rules.
 */
#ifndef ITM_AGENT_SETTLE_H
#define ITM_AGENT_SETTLE_H

#include <stdint.h>

#include "itm.h"
#include "marks.h"

struct agent_reg;

/*
 * FREE -> NEW (taken; its chain goes in with the next rule set) -> LIVE
 * (installed) -> DEAD (released; its chain is deleted by the next rule set)
 * -> FREE.  A NEW id released before it got in is FREE at once.
 */
enum settle_state { SETTLE_FREE = 0, SETTLE_NEW, SETTLE_LIVE, SETTLE_DEAD };

struct settle_id {
	enum settle_state state;
	const struct agent_reg *reg; /* whose; NULL once released */
	struct itm_settle spec;	     /* tos_* zero unless SET_TOS */
};

struct settle_table {
	struct settle_id ids[ITM_SETTLE_IDS + 1]; /* ids[0] is never used */
	unsigned int next;			  /* round robin from here */
};

void settle_init(struct settle_table *t);

/* The id of @r's settlement @s in *@id: the one it already has, or a free
 * one (*@is_new set, state NEW).  Ids are handed out round robin, so a
 * released id is reused as late as possible (flows may still carry it in
 * their conntrack mark).  -ENOSPC when every id is taken. */
int settle_get(struct settle_table *t, const struct agent_reg *r,
	       const struct itm_settle *s, unsigned int *id, int *is_new);
/* Give back a NEW id whose counter or rules could not be installed. */
void settle_put(struct settle_table *t, unsigned int id);
/* Every id of @r is released (@r is going away). */
void settle_release(struct settle_table *t, const struct agent_reg *r);
/* A rule set with every NEW chain and without the DEAD ones went in. */
void settle_installed(struct settle_table *t);
/* The LIVE ids of @r for class @cls into @ids (room for ITM_SETTLE_IDS);
 * returns how many. */
unsigned int settle_ids(const struct settle_table *t, const struct agent_reg *r,
			unsigned int cls, unsigned int *ids);

/* The id in a verdict's mark asking the kernel to settle the flow. */
static inline uint32_t
settle_mark(unsigned int id)
{
	return (uint32_t)id << ITM_MARK_SETTLE_SHIFT;
}

#endif /* ITM_AGENT_SETTLE_H */
